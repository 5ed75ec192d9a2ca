# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""YOLO models (pure): the DeepStream-Yolo and yolo_deepstream config keys, --streams as the batch of
the config and engine, the parser choice, the custom library's build commands, Darknet configs
reported as built by DeepStream."""

import pytest

from provision.deepstream.custom_lib import DEEPSTREAM_YOLO, TAO_APPS, YOLO_DEEPSTREAM
from provision.deepstream.engine_plan import built_by_deepstream, target_for
from provision.deepstream.labels import coco_labels
from provision.deepstream.model_config import ModelSetup, render_config
from provision.deepstream.nvinfer_config import parse_config
from provision.errors import ProvisionError
from provision.options import Flags
from provision.capabilities.engines import rebuild_refusal, trtexec_command
from provision.capabilities.parser_lib import ParserSpec
from simfleet.profiles import PUBLISHED_DIR

PUBLISHED = PUBLISHED_DIR / "deepstream_configs"
ALL = frozenset({"fp32", "fp16", "int8"})


def groups(text: str) -> tuple[dict[str, str], dict[str, str]]:
    props, attrs = text.split("[property]", 1)[1].split("[class-attrs-all]")
    pairs = [dict(l.split("=", 1) for l in part.splitlines() if "=" in l and not l.startswith("#")) for part in (props, attrs)]
    return pairs[0], pairs[1]


def yolo(kind="yolo", streams=1, **kwargs) -> ModelSetup:
    return ModelSetup(kind, "/m/yolov8s.pt.onnx", "/m/cfg/config_infer_primary_yoloV8.txt", "/m/cfg/labels.txt",
                      batch_size=streams, **kwargs)


def test_yolo_keys_are_deepstream_yolos():
    written, written_attrs = groups(render_config(yolo(), 80, "fp32"))
    theirs, their_attrs = groups((PUBLISHED / "config_infer_primary_yoloV8.txt").read_text())
    for key in ("gpu-id", "net-scale-factor", "model-color-format", "batch-size", "network-mode", "num-detected-classes",
                "interval", "gie-unique-id", "process-mode", "network-type", "cluster-mode", "maintain-aspect-ratio",
                "symmetric-padding", "parse-bbox-func-name", "engine-create-func-name"):
        assert written[key] == theirs[key], key
    assert written_attrs == their_attrs
    # their relative custom-lib-path, resolved beside the config as nvinfer does
    assert written["custom-lib-path"] == "/m/cfg/" + theirs["custom-lib-path"]


@pytest.mark.parametrize("streams", [1, 4, 16, 1024])
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_streams_are_the_batch_of_config_and_engine(streams, precision):
    config = parse_config("/m/cfg/c.txt", render_config(yolo(streams=streams, precision=precision), 80, precision))
    assert config.batch_size == streams and config.precision == precision
    assert config.model_engine_file == f"/m/yolov8s.pt.onnx_b{streams}_gpu0_{precision}.engine"
    target = target_for(config, ALL)
    assert target.path == config.model_engine_file and rebuild_refusal(config) is None
    command = trtexec_command(target, "/m/.new", calib_exists=False)
    if streams > 1:  # DeepStream-Yolo's export names the input `input`; --dynamic gives it a batch axis
        assert (f"--minShapes=input:1x3x640x640 --optShapes=input:{streams}x3x640x640 "
                f"--maxShapes=input:{streams}x3x640x640") in command
    else:
        assert "Shapes" not in command


@pytest.mark.parametrize("kind, parser, function, host_copy", [
    ("yolo", None, "NvDsInferParseYolo", None),
    ("yolo", "cpu", "NvDsInferParseYolo", None),
    ("yolo", "cuda", "NvDsInferParseYoloCuda", None),
    ("yolov7", None, "NvDsInferParseCustomYoloV7_cuda", "1"),  # yolo_deepstream's default
    ("yolov7", "cuda", "NvDsInferParseCustomYoloV7_cuda", "1"),
    ("yolov7", "cpu", "NvDsInferParseCustomYoloV7", "0"),
])
def test_parser_choice(kind, parser, function, host_copy):
    props, attrs = groups(render_config(yolo(kind, 2, parser=parser, gpu_id=1, infer_dims="3;416;416"), 3, "fp16"))
    assert props["parse-bbox-func-name"] == function
    assert props.get("disable-output-host-copy") == host_copy
    assert props["infer-dims"] == "3;416;416" and props["gpu-id"] == "1" and props["cluster-mode"] == "2"
    assert props["custom-lib-path"] == "/m/cfg/nvdsinfer_custom_impl_Yolo/libnvdsinfer_custom_impl_Yolo.so"
    assert props["uff-input-blob-name"] == {"yolo": "input", "yolov7": "images"}[kind]
    assert attrs["nms-iou-threshold"] == {"yolo": "0.45", "yolov7": "0.65"}[kind]
    assert ("engine-create-func-name" in props) == (kind == "yolo")


def test_custom_lib_path_given_and_library_functions():
    setup = yolo(custom_lib_path="/opt/yolo/lib.so")
    assert groups(render_config(setup, 80, "fp16"))[0]["custom-lib-path"] == "/opt/yolo/lib.so"
    assert setup.model_kind.functions == ("NvDsInferParseYolo", "NvDsInferParseYoloCuda", "NvDsInferYoloCudaEngineGet")
    assert yolo("yolov7").model_kind.library is YOLO_DEEPSTREAM
    dino = ModelSetup("dino", "/m/d.onnx", "/m/c.txt", "/m/l.txt")
    assert dino.library_path == "/opt/nvidia/deepstream/deepstream/lib/libnvds_infercustomparser_tao.so"
    assert dino.dims == "3;544;960"


@pytest.mark.parametrize("kind, parser", [("dino", "cuda"), ("yolov4", "cuda"), ("yolo", "gpu")])
def test_a_parser_the_kind_lacks_is_refused(kind, parser):
    with pytest.raises(ProvisionError, match=f"parser '{parser}': a {kind} model has"):
        ModelSetup(kind, "/m/d.onnx", "/m/c.txt", "/m/l.txt", parser=parser)


@pytest.mark.parametrize("flags, message", [
    ({"streams": "0"}, "--streams: '0' is not a whole number from 1 to 1024"),
    ({"streams": "four"}, "--streams: 'four' is not a whole number"),
    ({"streams": "-4"}, "--streams"),
    ({"streams": True}, "--streams"),
    ({"parser": "gpu"}, "--parser: 'gpu' is not one of cpu, cuda"),
])
def test_flags_refused_at_parse(flags, message):
    with pytest.raises(ProvisionError, match=message):
        Flags.parse(flags)


def test_flags_parsed():
    assert (Flags.parse({"streams": "4", "parser": "cuda"}).streams, Flags.parse({"streams": 12}).streams) == (4, 12)


def test_coco_labels_in_id_order_without_background():
    # COCO's ids run 1..90 with gaps: the model's classes are the categories in id order
    categories = [{"id": i, "name": f"c{i}"} for i in range(90, 0, -1) if i % 9]
    labels = coco_labels({"categories": categories}, yolo().model_kind.background_first)
    assert len(labels.names) == 80 and labels.names[:3] == ("c1", "c2", "c3") and labels.names[-1] == "c89"


@pytest.mark.parametrize("cuda", ["10.2", "11.4", "12.6", "13.0"])
def test_library_build_commands(cuda):
    pinned = ParserSpec(DEEPSTREAM_YOLO, "https://m/DeepStream-Yolo.git", DEEPSTREAM_YOLO.ref, cuda, "aarch64", "6.0",
                        "/tmp/dsprov")
    clone, make = pinned.commands()
    assert pinned.pinned and pinned.src == "/tmp/dsprov/DeepStream-Yolo-2ccf52987ce1"
    assert clone.endswith(f"git -C /tmp/dsprov/DeepStream-Yolo-2ccf52987ce1 checkout -q {DEEPSTREAM_YOLO.ref}")
    assert make == f"make -C /tmp/dsprov/DeepStream-Yolo-2ccf52987ce1/nvdsinfer_custom_impl_Yolo CUDA_VER={cuda}"
    assert pinned.built == "/tmp/dsprov/DeepStream-Yolo-2ccf52987ce1/nvdsinfer_custom_impl_Yolo/libnvdsinfer_custom_impl_Yolo.so"
    branch = ParserSpec(TAO_APPS, "https://m/tao.git", "release/tao5.1", cuda, "x86_64", "6.4", "/b")
    clone, make = branch.commands()
    assert not branch.pinned and "--depth 1 --single-branch -b release/tao5.1" in clone
    assert make.endswith(f"CUDA_VER={cuda} DS_SRC_PATH=/opt/nvidia/deepstream/deepstream")
    assert pinned.key_parts("c")["cuda"] == cuda and pinned.key_parts("c") != branch.key_parts("c")


def test_darknet_is_built_by_deepstream():
    darknet = parse_config("/d/c.txt", (PUBLISHED / "config_infer_primary_darknet_yolov4.txt").read_text())
    assert darknet.custom_network_config == "/d/yolov4.cfg" and darknet.model_file == "/d/yolov4.weights"
    says = built_by_deepstream(darknet)
    assert "yolov4.cfg + yolov4.weights" in says and "libnvdsinfer_custom_impl_Yolo.so's NvDsInferYoloCudaEngineGet" in says
    assert "not trtexec" in says
    onnx = parse_config("/d/c.txt", (PUBLISHED / "config_infer_primary_yoloV8.txt").read_text())
    assert built_by_deepstream(onnx) is None and rebuild_refusal(onnx) is None
    bare = parse_config("/d/c.txt", "[property]\ncustom-network-config=y.cfg\nmodel-engine-file=e\n")
    assert "the engine-create function" in built_by_deepstream(bare) and "(no model-file)" in built_by_deepstream(bare)
