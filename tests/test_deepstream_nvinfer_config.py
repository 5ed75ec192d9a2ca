# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""nvinfer configs: published NVIDIA configs parse; paths resolve; an edit changes one line only."""

import pytest

from provision.deepstream.nvinfer_config import (
    ConfigError,
    engine_name,
    is_nvinfer_config,
    parse_config,
    set_property,
)
from simfleet.profiles import PUBLISHED_DIR

PUBLISHED = PUBLISHED_DIR / "deepstream_configs"
TAO = "/home/u/tao/configs/nvinfer/x"


def published(name: str) -> str:
    return (PUBLISHED / name).read_text()


def test_dino_config_from_deepstream_tao_apps():
    c = parse_config(f"{TAO}/dino.txt", published("pgie_retail_object_detection_binary_dino_tao_config.txt"))
    model = "/home/u/tao/models/retail_object_detection_binary_dino/retail_object_detection_dino_binary.onnx"
    assert c.onnx_file == model
    assert c.model_engine_file == model + "_b1_gpu0_fp32.engine"
    assert (c.precision, c.batch_size, c.gpu_id, c.infer_dims) == ("fp32", 1, 0, (3, 544, 960))
    assert c.custom_lib_path == "/home/u/tao/post_processor/libnvds_infercustomparser_tao.so"
    assert c.labelfile_path.endswith("retail_object_detection_binary_dino/class_map.txt")


def test_yolov4_int8_with_calibration():
    c = parse_config(f"{TAO}/yolo.txt", published("pgie_yolov4_tao_config.txt"))
    assert c.precision == "int8" and c.int8_calib_file == "/home/u/tao/models/yolov4/cal_trt10_x86.bin"
    assert c.labelfile_path == f"{TAO}/yolov4_labels.txt"  # relative to the config's own folder


def test_etlt_model_and_key():
    c = parse_config(f"{TAO}/pnt.txt", published("pgie_peoplenet_transformer_tao_config.txt"))
    assert c.onnx_file is None and c.model.endswith("resnet50_peoplenet_transformer.etlt")
    assert (c.tlt_model_key, c.precision) == ("nvidia_tao", "fp16")


def test_python_apps_config_four_folders_up_and_legacy_input_dims():
    path = "/opt/nvidia/deepstream/deepstream/sources/deepstream_python_apps/apps/deepstream-test3/c.txt"
    c = parse_config(path, published("config_infer_primary_peoplenet.txt"))
    assert c.onnx_file == ("/opt/nvidia/deepstream/deepstream/samples/models/tao_pretrained_models/peopleNet/"
                           "resnet34_peoplenet_int8.onnx")
    assert c.infer_dims == (3, 544, 960) and c.input_name == "input_1"


@pytest.mark.parametrize("name", sorted(p.name for p in PUBLISHED.glob("*.txt")))
def test_every_published_config_is_recognised(name):
    assert is_nvinfer_config(published(name))


def test_set_property_changes_only_that_line():
    text = published("pgie_yolov4_tao_config.txt")
    new = set_property(text, "model-engine-file", "a_b1_gpu0_fp16.engine")
    before, after = text.splitlines(keepends=True), new.splitlines(keepends=True)
    changed = [(b, a) for b, a in zip(before, after) if b != a]
    assert len(before) == len(after) and changed == [(
        "model-engine-file=../../../models/yolov4/yolov4_resnet18_epoch_080.onnx_b1_gpu0_int8.engine\n",
        "model-engine-file=a_b1_gpu0_fp16.engine\n")]


def test_set_property_keeps_crlf_and_adds_a_missing_key_in_property():
    text = "[property]\r\nonnx-file=m.onnx\r\n\r\n[class-attrs-all]\r\ntopk=20\r\nmodel-engine-file=x\r\n"
    new = set_property(text, "model-engine-file", "e.engine")
    assert new == ("[property]\r\nonnx-file=m.onnx\r\nmodel-engine-file=e.engine\r\n\r\n"
                   "[class-attrs-all]\r\ntopk=20\r\nmodel-engine-file=x\r\n")


def test_inline_comment_and_bad_values():
    c = parse_config("/c/x.txt", "[property]\nonnx-file=m.onnx\nnetwork-mode=2 # 0=FP32, 1=INT8, 2=FP16\n")
    assert c.precision == "fp16"
    with pytest.raises(ConfigError, match="network-mode=5"):
        parse_config("/c/x.txt", "[property]\nonnx-file=m.onnx\nnetwork-mode=5\n")
    with pytest.raises(ConfigError, match="batch-size='two'"):
        parse_config("/c/x.txt", "[property]\nonnx-file=m.onnx\nbatch-size=two\n")
    with pytest.raises(ConfigError, match="no \\[property\\] group"):
        parse_config("/c/x.txt", "[application]\nenable-perf-measurement=1\n")
    assert not is_nvinfer_config("[property]\nenable=1\n")


def test_engine_name_follows_deepstream():
    assert engine_name("/m/model.onnx", 4, 0, "fp16") == "model.onnx_b4_gpu0_fp16.engine"


def test_a_config_text_is_parsed_once(monkeypatch):
    """The hosts of a fleet share their sample configs and one engine check reads each several
    times: configparser parses each text once; a text that is no key file names its own path."""
    import configparser

    from provision.deepstream import key_files
    from provision.deepstream.nvinfer_config import key_file

    monkeypatch.setattr(key_files, "_PARSED", {})
    reads = []
    monkeypatch.setattr(configparser.ConfigParser, "read_string",
                        lambda self, *a, real=configparser.ConfigParser.read_string, **k: reads.append(1) or real(self, *a, **k))
    text = "[property]\nonnx-file=once.onnx # a comment\n"
    assert key_file("/a/config.txt", text)["property"]["onnx-file"] == "once.onnx"
    assert key_file("/b/config.txt", text) is key_file("/a/config.txt", text) and len(reads) == 1
    for path in ("/c/bad.txt", "/d/bad.txt"):
        with pytest.raises(ConfigError, match=f"^{path}: not a key file: "):
            key_file(path, "no group\n")
