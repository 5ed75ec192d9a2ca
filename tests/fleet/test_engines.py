# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Engines on the simulated fleet: NVIDIA's published configs laid down on a T4 server and a Nano,
their engines classified and rebuilt by the trtexec stand-in, rebuilt again after a plugin swap,
kept when a rebuild fails; INT8 becomes FP16 on the Nano."""

import contextlib
import json
from pathlib import Path

import pytest

from simfleet.profiles import PUBLISHED_DIR

from .helpers import document, fleet_env, hosts, on_device
from .helpers import invoke as run_invoke

PUBLISHED = PUBLISHED_DIR / "deepstream_configs"
pytestmark = pytest.mark.fleet

T4_ROOT = "/home/ubuntu/ds"
DINO = f"{T4_ROOT}/tao/configs/nvinfer/retail_object_detection_tao/pgie_retail_object_detection_binary_dino_tao_config.txt"
YOLO = f"{T4_ROOT}/tao/configs/nvinfer/yolov4_tao/pgie_yolov4_tao_config.txt"
PEOPLENET = f"{T4_ROOT}/sdk/sources/deepstream_python_apps/apps/deepstream-test3/config_infer_primary_peoplenet.txt"
ETLT = "/home/ubuntu/etlt/tao/configs/nvinfer/peoplenet_transformer_tao/pgie_peoplenet_transformer_tao_config.txt"
# The first bytes of an ONNX file (ModelProto: ir_version 8, then producer_name), written for these
# tests after onnx/onnx.proto: deepstream.config checks them; the trtexec stand-in reads only bytes.
ONNX_HEAD = b"\x08\x08\x12\x0bdsprov-test"
DINO_ONNX = f"{T4_ROOT}/tao/models/retail_object_detection_binary_dino/retail_object_detection_dino_binary.onnx"
# The files each config names, laid down as small stand-ins (the trtexec stand-in reads only their bytes).
T4_FILES = {
    DINO: PUBLISHED / "pgie_retail_object_detection_binary_dino_tao_config.txt",
    YOLO: PUBLISHED / "pgie_yolov4_tao_config.txt",
    PEOPLENET: PUBLISHED / "config_infer_primary_peoplenet.txt",
    ETLT: PUBLISHED / "pgie_peoplenet_transformer_tao_config.txt",
    DINO_ONNX: b"onnx stand-in: dino\n",
    DINO_ONNX + "_b1_gpu0_fp32.engine": b"an engine of unknown provenance\n",
    f"{T4_ROOT}/tao/models/yolov4/yolov4_resnet18_epoch_080.onnx": b"onnx stand-in: yolov4\n",
    f"{T4_ROOT}/tao/models/yolov4/cal_trt10_x86.bin": b"calibration cache stand-in\n",
    f"{T4_ROOT}/sdk/samples/models/tao_pretrained_models/peopleNet/resnet34_peoplenet_int8.onnx": b"onnx: peoplenet\n",
    f"{T4_ROOT}/sdk/samples/models/tao_pretrained_models/peopleNet/resnet34_peoplenet_int8.txt": b"calibration\n",
    "/home/ubuntu/etlt/tao/models/peoplenet_transformer/resnet50_peoplenet_transformer.etlt": b"etlt stand-in\n",
}


@pytest.fixture(scope="module")
def fleet2(serve_fleet):
    fleet_file = "name: engines\ndevices:\n  - {name: t4-01, profile: t4}\n  - {name: nano01, profile: nano}\n"
    with serve_fleet("engines", fleet_file) as handle:
        folder = handle.runtime_dir.parent
        host_vars = handle.runtime_dir / "host_vars"
        host_vars.mkdir()
        (folder / "instances.json").write_text(json.dumps(COCO))
        model = {"kind": "dino", "onnx": f"{PROVISIONED}/dino.onnx", "coco": str(folder / "instances.json"),
                 "config": f"{PROVISIONED}/config_infer_dino.txt", "custom_lib_path": PROVISIONED_LIB}
        (host_vars / "t4-01.yml").write_text(json.dumps({"dsprov_engine_roots": [T4_ROOT], "dsprov_tao_apps_repo": TAO_APPS,
                                                         "dsprov_models": [model]}))
        yield handle


def on(handle, device, command, data: bytes | None = None):
    """A command on the device, bytes in and out (engines and models are binary)."""
    return on_device(handle, device, command, stdin=data, text=False)


def put(handle, device, path, data: bytes):
    result = on(handle, device, f"mkdir -p \"$(dirname '{path}')\" && cat > '{path}'", data)
    assert result.returncode == 0, result.stderr


def text(handle, device, path) -> str:
    return on(handle, device, f"cat '{path}'").stdout.decode()


def invoke(handle, *args):
    return run_invoke(handle, *args, env=fleet_env(handle))


def engines_json(result) -> dict[str, dict]:
    assert result.stdout, result.stderr
    return {e["config"]: e for e in document(result)["engines"]}


@contextlib.contextmanager
def phase(name: str):
    """A failure inside names the phase of the scenario it happened in."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"phase {name!r}: {exc}") from exc


def test_t4_rebuild_rerun_swap_and_failure(fleet2):
    for path, source in T4_FILES.items():
        put(fleet2, "t4-01", path, source.read_bytes() if isinstance(source, Path) else source)

    with phase('dry run: classify'):
        dry = invoke(fleet2, "engines", "--host", "t4-01", "--dry-run", "--json")
        planned = engines_json(dry)
        assert set(planned) == {DINO, YOLO, PEOPLENET}  # found under dsprov_engine_roots; the .etlt lies elsewhere
        assert planned[DINO]["status"] == "stale" and "no build record" in planned[DINO]["reason"]
        assert planned[YOLO]["status"] == planned[PEOPLENET]["status"] == "missing"
        assert any("trtexec --onnx=" in line and "--int8" in line and "--calib=" in line
                   for line in document(dry)["plan"])
        assert "an engine of unknown provenance" in text(fleet2, "t4-01", DINO_ONNX + "_b1_gpu0_fp32.engine")

    with phase('first run: rebuild'):
        first = invoke(fleet2, "engines", "--host", "t4-01", "--json")
        assert first.returncode == 0, first.stdout + first.stderr
        assert {c: e["outcome"] for c, e in engines_json(first).items()} == dict.fromkeys((DINO, YOLO, PEOPLENET), "rebuilt")
        dino_engine = text(fleet2, "t4-01", DINO_ONNX + "_b1_gpu0_fp32.engine")
        assert "tensorrt=8.0.1.6" in dino_engine and "precision=fp32" in dino_engine and f"onnx={DINO_ONNX}" in dino_engine
        yolo_engine = text(fleet2, "t4-01", f"{T4_ROOT}/tao/models/yolov4/yolov4_resnet18_epoch_080.onnx_b1_gpu0_int8.engine")
        assert "precision=int8" in yolo_engine
        record = json.loads(text(fleet2, "t4-01", DINO_ONNX + "_b1_gpu0_fp32.engine.dsprov.json"))
        assert (record["tensorrt"], record["gpu_archs"], record["precision"]) == ("8.0.1.6", "75", "fp32")
        for config in (DINO, YOLO, PEOPLENET):  # the T4 keeps every precision: same names, configs untouched
            assert text(fleet2, "t4-01", config) == T4_FILES[config].read_text()
        # root's SHA-256 cache, refreshed under sudo after the rebuilds: root's, world-readable, each entry right
        cache = on(fleet2, "t4-01", "stat -c '%U %a' /var/lib/dsprov/sha256; cut -f2,3 /var/lib/dsprov/sha256 |"
                   " while IFS='\t' read -r s f; do [ \"$(sha256sum < \"$f\" | cut -c1-64)\" = \"$s\" ] && echo \"$f\" || echo \"wrong $f\"; done")
        owner, *right = cache.stdout.decode().splitlines()
        assert owner == "root 644" and DINO_ONNX in right and not [f for f in right if f.startswith("wrong ")], right

    with phase('rerun: all current'):
        again = invoke(fleet2, "engines", "--host", "t4-01", "--json")
        assert again.returncode == 0 and {e["outcome"] for e in engines_json(again).values()} == {"current"}

    with phase('etlt: refused'):
        etlt = invoke(fleet2, "engines", "--host", "t4-01", "--config", ETLT)
        assert etlt.returncode == 1 and "tao-converter" in etlt.stdout

    with phase('provision: swap, models, engines'):
        # provision swaps the plugin library, builds the parser library and writes the config of the
        # dsprov_models entry, then its engines step rebuilds every engine and builds the new one
        tao_apps_standin(fleet2)
        put(fleet2, "t4-01", f"{PROVISIONED}/dino.onnx", ONNX_HEAD + b"onnx stand-in: provisioned dino\n")
        swap = invoke(fleet2, "provision", "--host", "t4-01", "--json")
        assert swap.returncode == 0, swap.stdout + swap.stderr
        steps = [(s["name"], s["status"]) for s in hosts(swap)[0]["steps"]]
        assert steps[-4:] == [("plugin-swap", "changed"), ("parser-library", "changed"), ("deepstream-config", "changed"),
                              ("engines", "changed")]
        assert "precision=fp16" in text(fleet2, "t4-01", f"{PROVISIONED}/dino.onnx_b1_gpu0_fp16.engine")
        assert text(fleet2, "t4-01", f"{PROVISIONED}/labels.txt") == "BG\nperson\nface\nbag\n"

    with phase('provision rerun: unchanged'):
        rerun = invoke(fleet2, "provision", "--host", "t4-01", "--json")
        assert {s["status"] for s in hosts(rerun)[0]["steps"]} == {"unchanged"}
        swapped = json.loads(text(fleet2, "t4-01", DINO_ONNX + "_b1_gpu0_fp32.engine.dsprov.json"))
        assert swapped["plugin_sha256"] != record["plugin_sha256"]
        for config in (YOLO, PEOPLENET):
            engine = parse_engine(fleet2, config)
            assert json.loads(text(fleet2, "t4-01", engine + ".dsprov.json"))["plugin_sha256"] == swapped["plugin_sha256"]

    with phase('rollback, then one rebuild fails'):
        # rollback makes them stale again; a missing ONNX makes that one rebuild fail, the rest go on
        assert invoke(fleet2, "rollback", "--host", "t4-01").returncode == 0
        assert on(fleet2, "t4-01", f"rm '{DINO_ONNX}'").returncode == 0
        before = on(fleet2, "t4-01", f"sha256sum '{DINO_ONNX}_b1_gpu0_fp32.engine'*").stdout
        failed = invoke(fleet2, "engines", "--host", "t4-01", "--json")
        assert failed.returncode == 1
        outcomes = engines_json(failed)
        assert outcomes[DINO]["outcome"] == "failed" and "is missing" in outcomes[DINO]["message"]
        assert outcomes[YOLO]["outcome"] == outcomes[PEOPLENET]["outcome"] == "rebuilt"
        assert on(fleet2, "t4-01", f"sha256sum '{DINO_ONNX}_b1_gpu0_fp32.engine'*").stdout == before
        assert text(fleet2, "t4-01", DINO) == T4_FILES[DINO].read_text()
        assert on(fleet2, "t4-01", f"ls -a '{Path(DINO_ONNX).parent}'").stdout.decode().count(".dsprov-new") == 0


def parse_engine(handle, config: str) -> str:
    from provision.deepstream.nvinfer_config import parse_config

    return parse_config(config, text(handle, "t4-01", config)).model_engine_file


NANO_YOLO = "/home/nvidia/tao/configs/nvinfer/yolov4_tao/pgie_yolov4_tao_config.txt"
NANO_MODELS = "/home/nvidia/tao/models/yolov4"


def test_nano_int8_becomes_fp16_config_points_at_it_old_engine_kept(fleet2):
    published = (PUBLISHED / "pgie_yolov4_tao_config.txt").read_text()
    put(fleet2, "nano01", NANO_YOLO, published.encode())
    put(fleet2, "nano01", f"{NANO_MODELS}/yolov4_resnet18_epoch_080.onnx", b"onnx stand-in: yolov4\n")
    put(fleet2, "nano01", f"{NANO_MODELS}/yolov4_resnet18_epoch_080.onnx_b1_gpu0_int8.engine", b"old int8 engine\n")

    result = invoke(fleet2, "engines", "--host", "nano01", "--config", NANO_YOLO, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = engines_json(result)[NANO_YOLO]
    assert report["outcome"] == "rebuilt" and report["precision"] == "fp16"
    assert any("INT8 is not supported" in w for w in report["warnings"])
    assert "precision=fp16" in text(fleet2, "nano01", f"{NANO_MODELS}/yolov4_resnet18_epoch_080.onnx_b1_gpu0_fp16.engine")
    assert text(fleet2, "nano01", f"{NANO_MODELS}/yolov4_resnet18_epoch_080.onnx_b1_gpu0_int8.engine") == "old int8 engine\n"
    config = text(fleet2, "nano01", NANO_YOLO)
    assert config == published.replace(
        "model-engine-file=../../../models/yolov4/yolov4_resnet18_epoch_080.onnx_b1_gpu0_int8.engine",
        "model-engine-file=../../../models/yolov4/yolov4_resnet18_epoch_080.onnx_b1_gpu0_fp16.engine")
    assert invoke(fleet2, "engines", "--host", "nano01", "--config", NANO_YOLO, "--json").returncode == 0


TAO_APPS = "/home/ubuntu/src/deepstream_tao_apps"
# A deepstream_tao_apps-shaped repository (authored stand-in): post_processor/ with a Makefile that,
# like NVIDIA's, refuses to run without CUDA_VER, and a source exporting the DINO parse function.
STANDIN_MAKEFILE = b"""CUDA_VER?=
ifeq ($(CUDA_VER),)
  $(error "CUDA_VER is not set")
endif
libnvds_infercustomparser_tao.so: nvdsinfer_custombboxparser_tao.cpp
\tg++ -shared -fPIC -o $@ $< -DBUILT_FOR=\\"cuda-$(CUDA_VER)\\"
"""
STANDIN_SOURCE = b"""extern "C" const char *dsprov_built_for = BUILT_FOR;
extern "C" bool NvDsInferParseCustomDDETRTAO() { return true; }
"""
COCO = {"categories": [{"supercategory": "person", "id": 1, "name": "person"},
                       {"supercategory": "face", "id": 2, "name": "face"},
                       {"supercategory": "bag", "id": 3, "name": "bag"},
                       {"supercategory": "bag", "id": 3, "name": "backpack"}]}
MODEL_DIR = "/home/ubuntu/models/dino"
PROVISIONED = "/home/ubuntu/models/provisioned"
PROVISIONED_LIB = "/home/ubuntu/lib/libnvds_infercustomparser_tao.so"
LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_infercustomparser_tao.so"


def tao_apps_standin(handle):
    if on(handle, "t4-01", f"[ -d {TAO_APPS}/.git ]").returncode == 0:
        return
    put(handle, "t4-01", f"{TAO_APPS}/post_processor/Makefile", STANDIN_MAKEFILE)
    put(handle, "t4-01", f"{TAO_APPS}/post_processor/nvdsinfer_custombboxparser_tao.cpp", STANDIN_SOURCE)
    git = on(handle, "t4-01", f"cd {TAO_APPS} && git init -q -b master && git add -A && "
             "git -c user.name=t -c user.email=t@t commit -qm stand-in")
    assert git.returncode == 0, git.stderr


def test_deepstream_config_dino_builds_parser_writes_config_and_labels(fleet2, tmp_path):
    from provision.deepstream.nvinfer_config import parse_config

    tao_apps_standin(fleet2)
    put(fleet2, "t4-01", f"{MODEL_DIR}/dino.onnx", ONNX_HEAD + b"onnx stand-in: dino\n")
    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps(COCO))
    args = ("deepstream.config", "--host", "t4-01", "--kind", "dino", "--onnx", f"{MODEL_DIR}/dino.onnx",
            "--coco", str(coco), "--out", f"{MODEL_DIR}/config_infer_dino.txt", "--json")

    first = invoke(fleet2, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    report = document(first)
    assert report["warnings"] == [f"{MODEL_DIR}/config_infer_dino.txt: duplicate category id 3 is used by 'bag' and 'backpack': kept 'bag'"]
    assert [(s["name"], s["status"]) for s in report["steps"]] == [("parser-library", "changed"),
                                                                   ("deepstream-config", "changed")]
    assert text(fleet2, "t4-01", f"{MODEL_DIR}/labels.txt") == "BG\nperson\nface\nbag\n"
    config = parse_config(f"{MODEL_DIR}/config_infer_dino.txt", text(fleet2, "t4-01", f"{MODEL_DIR}/config_infer_dino.txt"))
    assert (config.custom_lib_path, config.precision) == (LIB, "fp16")
    written = text(fleet2, "t4-01", f"{MODEL_DIR}/config_infer_dino.txt")
    for line in ("output-blob-names=pred_boxes;pred_logits", "parse-bbox-func-name=NvDsInferParseCustomDDETRTAO",
                 "cluster-mode=4", "num-detected-classes=4"):
        assert line in written.splitlines()
    assert on(fleet2, "t4-01", f"grep -c -a cuda-11.4 {LIB}").stdout.strip() == b"1"  # CUDA_VER from the facts

    again = document(invoke(fleet2, *args))
    assert [s["status"] for s in again["steps"]] == ["unchanged", "unchanged"]
    built = invoke(fleet2, "engines", "--host", "t4-01", "--config", f"{MODEL_DIR}/config_infer_dino.txt", "--json")
    assert built.returncode == 0 and engines_json(built)[f"{MODEL_DIR}/config_infer_dino.txt"]["outcome"] == "rebuilt"


def test_two_configs_sharing_an_engine_build_it_once(fleet2):
    shared = "/home/ubuntu/shared/tao"
    source = PUBLISHED / "pgie_retail_object_detection_binary_dino_tao_config.txt"
    for name in ("a", "b"):  # both resolve ../../../models/... to the same model and engine
        put(fleet2, "t4-01", f"{shared}/configs/nvinfer/{name}/config.txt", source.read_bytes())
    put(fleet2, "t4-01", f"{shared}/models/retail_object_detection_binary_dino/retail_object_detection_dino_binary.onnx",
        b"onnx stand-in: shared\n")
    log = fleet2.runtime_dir / "controller-cache" / "logs" / "t4-01.log"  # this run's log
    result = invoke(fleet2, "engines", "--host", "t4-01", "--root", "/home/ubuntu/shared", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {e["outcome"] for e in engines_json(result).values()} == {"rebuilt"} and len(engines_json(result)) == 2
    assert log.read_text().count(f"$PATH; trtexec --onnx={shared}/models/") == 1  # the command, not its echo
