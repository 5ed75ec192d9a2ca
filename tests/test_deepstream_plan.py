# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Engines and models in the provision plan (pure), over the capture recorded on the H100 machine
with DeepStream 7.1's TensorRT/CUDA sections put in (as tests/test_plan.py does)."""

import json

import pytest
from captures import h100

from provision.errors import ProvisionError
from provision.matrix import Matrix
from provision.options import Flags, Settings
from provision.plan import make_plan, plan_options

MATRIX = Matrix.load()
DS71 = {  # DeepStream 7.1 on x86 (DeepStream dGPU setup guide, docs.nvidia.com/metropolis/deepstream/dev-guide): TensorRT 10.3.0.26, CUDA 12.6
    "dpkg_nvinfer": "tensorrt\t10.3.0.26-1+cuda12.5\nlibnvinfer10\t10.3.0.26-1+cuda12.5\n"
                    "libnvinfer-plugin10\t10.3.0.26-1+cuda12.5\ndeepstream-7.1\t7.1.0-1\n",
    "deepstream_version": "Version: 7.1\n",
    "nvinfer_plugin": "-rw-r--r-- 1 root root 40000 Aug  1 2024 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10.3.0\n",
    "cuda_version_txt": "CUDA Version 12.6.77\n", "nvcc_version": "",
}


@pytest.fixture(scope="module")
def h100_ds71():
    return h100(**DS71)


@pytest.fixture
def coco(tmp_path):
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"categories": [{"id": 1, "name": "person"}, {"id": 1, "name": "human"}]}))
    return str(path)


def model(coco, **extra):
    return {"kind": "dino", "onnx": "/m/dino.onnx", "coco": coco, "config": "/m/dino.txt", **extra}


def test_settings_give_models_then_engines_last(h100_ds71, coco):
    second = model(coco, onnx="/m/b.onnx", config="/m/b.txt")
    options = plan_options(Settings.read({"dsprov_models": [model(coco), second], "dsprov_engine_roots": "/srv/ds, ~"}))
    plan = make_plan(h100_ds71, MATRIX, options)
    assert [s.name for s in plan.steps] == ["trt-oss-build", "plugin-swap", "pyds-build", "pyds-install", "parser-library",
                                            "deepstream-config", "deepstream-config", "engines"]  # after the swap: it makes engines stale
    engines = plan.steps[-1]
    assert engines.configs == ("/m/dino.txt", "/m/b.txt") and engines.roots == ("/srv/ds", "~")
    assert engines.gpu_archs == "90" and engines.supported[0] == frozenset({"fp32", "fp16", "int8"})
    assert "/m/dino.txt: duplicate category id 1 is used by 'person' and 'human': kept 'person'" in plan.notes
    assert plan.steps[5].config_text.count("model-engine-file=/m/dino.onnx_b1_gpu0_fp16.engine") == 1


def test_default_roots_and_skip_flags(h100_ds71, coco):
    plain = make_plan(h100_ds71, MATRIX, plan_options(Settings.read({})))
    assert [s.name for s in plain.steps] == ["trt-oss-build", "plugin-swap", "pyds-build", "pyds-install", "engines"]
    assert plain.steps[-1].roots == ("/opt/nvidia/deepstream/deepstream/samples",)  # the home folder only when configured
    skipped = make_plan(h100_ds71, MATRIX, plan_options(Settings.read({"dsprov_models": [model(coco)]}),
                                                                 Flags(skip_models=True, skip_engines=True, skip_pyds=True)))
    assert [s.name for s in skipped.steps] == ["trt-oss-build", "plugin-swap"] and {"models: skipped (--skip-models)", "engines: skipped (--skip-engines)"} <= set(skipped.notes)


def test_bad_model_entries_are_one_line(h100_ds71, coco):
    with pytest.raises(ProvisionError, match=r"^dsprov_models\[0\]: unknown key\(s\) colour$"):
        make_plan(h100_ds71, MATRIX, plan_options(Settings.read({"dsprov_models": [model(coco, colour="red")]})))
    with pytest.raises(ProvisionError, match=r"^dsprov_models\[0\]: give kind, onnx, coco and config"):
        make_plan(h100_ds71, MATRIX, plan_options(Settings.read({"dsprov_models": [{"kind": "dino"}]})))
