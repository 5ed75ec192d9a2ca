# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Config writer: the DINO and YOLOv4 keys of NVIDIA's published configs; bad settings refused."""

import pytest

from provision.deepstream.model_config import ModelSetup, render_config
from provision.deepstream.nvinfer_config import parse_config
from provision.errors import ProvisionError
from simfleet.profiles import PUBLISHED_DIR

PUBLISHED = PUBLISHED_DIR / "deepstream_configs"


def keys(text: str) -> dict[str, str]:
    props = text.split("[property]", 1)[1].split("[class-attrs-all]")[0]
    return dict(l.split("=", 1) for l in props.splitlines() if "=" in l and not l.startswith("#"))


@pytest.mark.parametrize("kind, published", [
    ("dino", "pgie_retail_object_detection_binary_dino_tao_config.txt"),
    ("yolov4", "pgie_yolov4_tao_config.txt"),
])
def test_model_keys_match_nvidia_configs(kind, published):
    setup = ModelSetup(kind, "/m/model.onnx", "/m/config.txt", "/m/labels.txt")
    written = keys(render_config(setup, 4, "fp16"))
    theirs = keys((PUBLISHED / published).read_text())
    for key in ("net-scale-factor", "offsets", "model-color-format", "cluster-mode", "output-blob-names",
                "parse-bbox-func-name", "maintain-aspect-ratio", "infer-dims"):
        assert written[key] == theirs[key], key


def test_written_config_parses_with_engine_name_and_precision():
    setup = ModelSetup("dino", "/m/dino.onnx", "/m/config.txt", "/m/labels.txt", batch_size=2)
    config = parse_config("/m/config.txt", render_config(setup, 4, "fp32"))
    assert config.model_engine_file == "/m/dino.onnx_b2_gpu0_fp32.engine" and config.precision == "fp32"
    assert config.labelfile_path == "/m/labels.txt" and config.batch_size == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "ssd"}, "choose one of"),
    ({"onnx": "model.onnx"}, "absolute path"),
    ({"precision": "fp8"}, "fp32, fp16 or int8"),
    ({"infer_dims": "544x960"}, "C;H;W"),
])
def test_bad_settings(kwargs, message):
    args = {"kind": "dino", "onnx": "/m/d.onnx", "config": "/m/c.txt", "labels": "/m/l.txt", **kwargs}
    with pytest.raises(ProvisionError, match=message):
        ModelSetup(**args)
