# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""trtexec commands and refusals for engine rebuilds (pure): flags from the config, values quoted."""

from provision.deepstream.engine_plan import target_for
from provision.deepstream.nvinfer_config import parse_config
from provision.capabilities.engines import rebuild_refusal, trtexec_command
from simfleet.profiles import PUBLISHED_DIR

PUBLISHED = PUBLISHED_DIR / "deepstream_configs"
ALL = frozenset({"fp32", "fp16", "int8"})


def config(name: str, folder: str = "/d/configs/nvinfer/x"):
    return parse_config(f"{folder}/c.txt", (PUBLISHED / name).read_text())


def test_int8_with_calibration_cache_only_when_it_exists():
    target = target_for(config("pgie_yolov4_tao_config.txt"), ALL)
    command = trtexec_command(target, "/d/models/yolov4/.new", calib_exists=True)
    assert command.endswith("trtexec --onnx=/d/models/yolov4/yolov4_resnet18_epoch_080.onnx"
                            " --saveEngine=/d/models/yolov4/.new --int8 --calib=/d/models/yolov4/cal_trt10_x86.bin")
    assert "--calib" not in trtexec_command(target, "/x", calib_exists=False)


def test_batch_shapes_from_input_name_and_dims():
    text = (PUBLISHED / "config_infer_primary_peoplenet.txt").read_text().replace("batch-size=1", "batch-size=8")
    target = target_for(parse_config("/d/a/b/c/d/c.txt", text), frozenset({"fp32", "fp16"}))
    command = trtexec_command(target, "/x", calib_exists=True)
    assert "--fp16" in command and "--int8" not in command
    assert "--minShapes=input_1:1x3x544x960 --optShapes=input_1:8x3x544x960 --maxShapes=input_1:8x3x544x960" in command


def test_paths_are_quoted():
    text = "[property]\nonnx-file=m $(touch x).onnx\nnetwork-mode=2\n"
    target = target_for(parse_config("/d/my models/c.txt", text), ALL)
    assert "--onnx='/d/my models/m $(touch x).onnx'" in trtexec_command(target, "/d/my models/.new", True)


def test_refusals_say_why():
    assert "tao-converter" in rebuild_refusal(config("pgie_peoplenet_transformer_tao_config.txt"))
    caffe = parse_config("/d/c.txt", "[property]\nmodel-file=r.caffemodel\nmodel-engine-file=r.engine\n")
    assert "no onnx-file" in rebuild_refusal(caffe)
    batch = parse_config("/d/c.txt", "[property]\nonnx-file=m.onnx\nbatch-size=4\n")
    assert "needs the input name" in rebuild_refusal(batch)
    assert rebuild_refusal(config("pgie_retail_object_detection_binary_dino_tao_config.txt")) is None
