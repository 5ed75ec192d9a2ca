# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""YOLO on the simulated fleet: `deepstream.config --kind yolo --streams 4` on a Jetson Nano
(arm64 under qemu, CUDA 10.2) and a T4 server (x86_64, CUDA 11.4) builds DeepStream-Yolo's custom
library on the device from the fleet's mirror at its pinned commit, with the CUDA_VER of the facts,
installs it beside the config, writes the config and labels; the engines step builds the `_b4_`
engine; a rerun changes nothing. A second camera count gets its own engine; a Darknet config is
reported as built by DeepStream."""

import json
import re

import pytest
from elftools.elf.elffile import ELFFile
from onnx_models import yolo_like

from simfleet.profiles import PUBLISHED_DIR

from .helpers import document, fleet_env, on_device
from .helpers import invoke as run_invoke

pytestmark = pytest.mark.fleet

# COCO 2017's categories (ids 1..90 with gaps): a YOLO model's 80 classes are them in id order.
COCO_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant - stop_sign"
    " parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe - backpack umbrella - -"
    " handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard"
    " surfboard tennis_racket bottle - wine_glass cup fork knife spoon bowl banana apple sandwich orange"
    " broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed - dining_table - - toilet - tv"
    " laptop mouse remote keyboard cell_phone microwave oven toaster sink refrigerator - book clock vase"
    " scissors teddy_bear hair_drier toothbrush"
).split()
COCO = {"categories": [{"id": i, "name": n.replace("_", " "), "supercategory": "x"}
                       for i, n in enumerate(COCO_NAMES, 1) if n != "-"]}
DEVICES = {"t4-01": ("/home/ubuntu/yolo", "11.4", "EM_X86_64"), "nano01": ("/home/nvidia/yolo", "10.2", "EM_AARCH64")}
LIBRARY = "nvdsinfer_custom_impl_Yolo/libnvdsinfer_custom_impl_Yolo.so"


@pytest.fixture(scope="module")
def yolo_fleet(serve_fleet, tmp_path_factory):
    fleet_file = "name: yolo\ndevices:\n  - {name: t4-01, profile: t4}\n  - {name: nano01, profile: nano}\n"
    with serve_fleet("yolo", fleet_file) as handle:
        models = tmp_path_factory.mktemp("yolo-models")
        (models / "instances.json").write_text(json.dumps(COCO))
        yolo_like(models / "yolov8s.pt.onnx")
        handle.models = models
        yield handle


def invoke(handle, *args):
    return run_invoke(handle, *args, env=fleet_env(handle))


def on(handle, device, command, data=None):
    return on_device(handle, device, command, stdin=data, text=False)


def text(handle, device, path) -> str:
    return on(handle, device, f"cat '{path}'").stdout.decode()


def config_args(handle, device, out, *more):
    folder = DEVICES[device][0]
    return ("deepstream.config", "--host", device, "--kind", "yolo", "--onnx", f"{folder}/yolov8s.pt.onnx",
            "--coco", str(handle.models / "instances.json"), "--out", f"{folder}/{out}", "--dims", "3;64;64",
            "--json", *more)


@pytest.mark.parametrize("device", list(DEVICES))
def test_yolov8_for_four_cameras(yolo_fleet, device, tmp_path):
    from provision.deepstream.nvinfer_config import parse_config

    folder, cuda, machine = DEVICES[device]
    model = (yolo_fleet.models / "yolov8s.pt.onnx").read_bytes()
    assert on(yolo_fleet, device, f"mkdir -p {folder} && cat > {folder}/yolov8s.pt.onnx", model).returncode == 0
    args = config_args(yolo_fleet, device, "config_infer_primary_yoloV8.txt", "--streams", "4")

    first = invoke(yolo_fleet, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    report = document(first)
    assert [(s["name"], s["status"]) for s in report["steps"]] == [("parser-library", "changed"),
                                                                   ("deepstream-config", "changed")]
    plan = "\n".join(report["plan"])
    assert "checkout -q" in plan  # the pinned commit
    make = re.search(rf"\$ make -C (\S+/nvdsinfer_custom_impl_Yolo) CUDA_VER={re.escape(cuda)}$", plan, re.M)
    assert make, plan
    # the mirror's Makefile, like DeepStream-Yolo's, will not build without CUDA_VER
    unset = on(yolo_fleet, device, f"make -C {make.group(1)} clean all")
    assert unset.returncode != 0 and b"CUDA_VER is not set" in unset.stderr

    config_path = f"{folder}/config_infer_primary_yoloV8.txt"
    written = text(yolo_fleet, device, config_path)
    config = parse_config(config_path, written)
    assert config.batch_size == 4 and config.custom_lib_path == f"{folder}/{LIBRARY}"
    engine = f"{folder}/yolov8s.pt.onnx_b4_gpu0_fp16.engine"
    assert config.model_engine_file == engine
    for line in ("parse-bbox-func-name=NvDsInferParseYolo", "engine-create-func-name=NvDsInferYoloCudaEngineGet",
                 "cluster-mode=2", "num-detected-classes=80", "batch-size=4"):
        assert line in written.splitlines()
    labels = text(yolo_fleet, device, f"{folder}/labels.txt").splitlines()
    assert labels == [n.replace("_", " ") for n in COCO_NAMES if n != "-"] and len(labels) == 80

    # the library was compiled on the device for its own architecture, with the facts' CUDA
    library = tmp_path / "lib.so"
    library.write_bytes(on(yolo_fleet, device, f"cat {folder}/{LIBRARY}").stdout)
    with library.open("rb") as handle:
        elf = ELFFile(handle)
        exported = {s.name for s in elf.get_section_by_name(".dynsym").iter_symbols()
                    if s["st_info"]["bind"] == "STB_GLOBAL" and s["st_shndx"] != "SHN_UNDEF"}
        assert elf["e_machine"] == machine
    assert {"NvDsInferParseYolo", "NvDsInferParseYoloCuda", "NvDsInferYoloCudaEngineGet"} <= exported
    assert f"cuda-{cuda}".encode() in library.read_bytes()

    built = invoke(yolo_fleet, "engines", "--host", device, "--config", config_path, "--json")
    assert built.returncode == 0, built.stdout + built.stderr
    (row,) = document(built)["engines"]
    assert row["outcome"] == "rebuilt" and row["new_engine"] == engine
    made = text(yolo_fleet, device, engine)
    assert "minShapes=input:1x3x64x64" in made and "maxShapes=input:4x3x64x64" in made
    assert json.loads(text(yolo_fleet, device, engine + ".dsprov.json"))["batch"] == 4

    again = document(invoke(yolo_fleet, *args))
    assert [s["status"] for s in again["steps"]] == ["unchanged", "unchanged"]
    rerun = invoke(yolo_fleet, "engines", "--host", device, "--config", config_path, "--json")
    assert [e["outcome"] for e in document(rerun)["engines"]] == ["current"]
    assert text(yolo_fleet, device, config_path) == written


def test_two_camera_counts_two_engines_and_darknet(yolo_fleet):
    """Same model for 4 and for 2 cameras: one engine per batch; the library is shared. A Darknet
    config is left to DeepStream, said so in the plan."""
    device, (folder, _, _) = "t4-01", DEVICES["t4-01"]
    model = (yolo_fleet.models / "yolov8s.pt.onnx").read_bytes()
    assert on(yolo_fleet, device, f"mkdir -p {folder} && cat > {folder}/yolov8s.pt.onnx", model).returncode == 0
    four = invoke(yolo_fleet, *config_args(yolo_fleet, device, "config_infer_primary_yoloV8.txt", "--streams", "4"))
    two = invoke(yolo_fleet, *config_args(yolo_fleet, device, "two_cameras.txt", "--streams", "2", "--parser", "cuda"))
    assert four.returncode == 0 and two.returncode == 0, two.stdout + two.stderr
    assert "parse-bbox-func-name=NvDsInferParseYoloCuda" in document(two)["config_text"]
    darknet = f"{folder}/darknet/config_infer_primary.txt"
    published = (PUBLISHED_DIR / "deepstream_configs" / "config_infer_primary_darknet_yolov4.txt").read_bytes()
    assert on(yolo_fleet, device, f"mkdir -p {folder}/darknet && cat > {darknet}", published).returncode == 0

    result = invoke(yolo_fleet, "engines", "--host", device, "--root", folder, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {e["config"]: e for e in document(result)["engines"]}
    assert rows[f"{folder}/two_cameras.txt"]["new_engine"] == f"{folder}/yolov8s.pt.onnx_b2_gpu0_fp16.engine"
    assert rows[darknet]["outcome"] == "deepstream" and "NvDsInferYoloCudaEngineGet" in rows[darknet]["message"]
    assert text(yolo_fleet, device, darknet).encode() == published
    engines = on(yolo_fleet, device, f"ls {folder}").stdout.decode().split()
    assert {"yolov8s.pt.onnx_b4_gpu0_fp16.engine", "yolov8s.pt.onnx_b2_gpu0_fp16.engine"} <= set(engines)

    dry = document(invoke(yolo_fleet, "engines", "--host", device, "--root", folder, "--dry-run", "--json"))
    assert any(line.startswith(f"# {darknet}: Darknet model yolov4.cfg") for line in dry["plan"])
