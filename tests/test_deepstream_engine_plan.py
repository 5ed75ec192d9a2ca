# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Engine targets and staleness (pure): downgrade, DeepStream names, what makes an engine stale."""

from dataclasses import replace

from provision.deepstream.engine_plan import BuildEnv, EngineRecord, classify, effective_precision, target_for
from provision.deepstream.nvinfer_config import parse_config
from provision.matrix import Matrix
from simfleet.profiles import PUBLISHED_DIR

PUBLISHED = PUBLISHED_DIR / "deepstream_configs"
YOLO = parse_config("/d/configs/nvinfer/yolov4_tao/c.txt", (PUBLISHED / "pgie_yolov4_tao_config.txt").read_text())
ENV = BuildEnv("8.0.1.6", "11.4.120", "75", "a" * 64)


def test_int8_on_a_nano_becomes_fp16_with_a_warning():
    matrix = Matrix.load()
    nano = target_for(YOLO, matrix.precisions("5.3"))
    assert nano.precision == "fp16" and "INT8 is not supported" in nano.warning
    assert nano.path == "/d/models/yolov4/yolov4_resnet18_epoch_080.onnx_b1_gpu0_fp16.engine"
    t4 = target_for(YOLO, matrix.precisions("7.5"))
    assert t4.precision == "int8" and t4.warning is None
    assert t4.path == YOLO.model_engine_file
    assert effective_precision("fp16", matrix.precisions("6.1")) == (
        "fp32", "FP16 is not supported on this GPU: building FP32 instead")


def test_classification():
    target = target_for(YOLO, frozenset({"fp32", "fp16", "int8"}))
    record = EngineRecord("8.0.1.6", "11.4.120", "75", "a" * 64, "int8", 1, "m" * 64)
    assert classify(target, False, None, ENV, "m" * 64)[0] == "missing"
    assert classify(target, True, None, ENV, "m" * 64) == (
        "stale", "no build record beside the engine (built elsewhere or by hand)")
    assert classify(target, True, record, ENV, "m" * 64)[0] == "current"
    swapped = replace(ENV, plugin_sha256="b" * 64)
    assert classify(target, True, record, swapped, "m" * 64) == ("stale", "changed since the build: plugin SHA-256 aaaaaaaaaaaa -> bbbbbbbbbbbb")
    upgraded = replace(ENV, tensorrt="8.2.1.8", gpu_archs="53")
    assert classify(target, True, record, upgraded, "m" * 64)[1] == "changed since the build: TensorRT 8.0.1.6 -> 8.2.1.8, GPU_ARCHS 75 -> 53"
    assert classify(target, True, record, ENV, "n" * 64) == ("stale", "changed since the build: the model file")
