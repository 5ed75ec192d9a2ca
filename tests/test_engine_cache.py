# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine cache key (pure): every part of what decides an engine's bytes changes the key, a host
whose device cannot be told apart gets no key, and the engines step keys each engine by its GPU,
model, calibration cache, flags and batch (or not at all with dsprov_engine_cache off)."""

import dataclasses
import functools

import pytest
from packaging.version import Version

from provision.artifacts import ArtifactStore
from provision.capabilities.engines import Engine, FileState, RebuildEngines
from provision.deepstream.engine_key import EngineKey, device_of
from provision.deepstream.engine_plan import BuildEnv, target_for
from provision.deepstream.nvinfer_config import parse_config
from provision.facts.host import Jetson
from provision.options import Settings, check_settings
from provision.validators import BadSetting
from tests.captures import h100

facts = functools.cache(lambda: h100().facts)  # the recorded H100 (analysed once)

BASE = EngineKey(device="NVIDIA H100 80GB HBM3", compute_cap="9.0", platform="driver 580.159.04", cuda="12.8",
                 tensorrt="10.16.0.72", plugin_sha256="a" * 64, model_sha256="b" * 64, calibration_sha256="",
                 flags="--fp16", batch=1)
CHANGED = {"device": "NVIDIA H200", "compute_cap": "8.9", "platform": "driver 570.86.15", "cuda": "12.9",
           "tensorrt": "10.16.1.1", "plugin_sha256": "c" * 64, "model_sha256": "d" * 64,
           "calibration_sha256": "e" * 64, "flags": "--int8 --calib", "batch": 4}


@pytest.mark.parametrize("part", sorted(CHANGED))
def test_each_part_changes_the_key(part):
    assert set(CHANGED) == {f.name for f in dataclasses.fields(EngineKey)}
    other = dataclasses.replace(BASE, **{part: CHANGED[part]})
    assert other.key != BASE.key
    assert other.parts()[part] == str(CHANGED[part]) and other.parts()["artifact"] == "tensorrt-engine"


def test_same_parts_same_key():
    assert dataclasses.replace(BASE).key == BASE.key and len(BASE.key) == 16


def test_an_x86_gpu_is_its_full_name_and_driver():
    device = device_of(facts(), 0)
    assert (device.name, device.compute_cap, device.platform) == ("NVIDIA H100 80GB HBM3", "9.0", "driver 580.159.04")
    assert device_of(facts(), 1) is None  # no such GPU
    assert device_of(dataclasses.replace(facts(), driver=None), 0) is None


def jetson(model: str, compatible: tuple[str, ...], l4t: str | None = "36.4.3"):
    h = facts()
    gpu = dataclasses.replace(h.gpus[0], name="Orin", compute_cap="8.7")
    board = Jetson(model, "orin", "tegra234", None, Version(l4t) if l4t else None, None, "8.7", compatible=compatible)
    return dataclasses.replace(h, jetson=board, gpus=(gpu,), smi=None, driver=None)


def test_a_jetson_is_its_module_not_deviceQuerys_orin():
    agx = device_of(jetson("NVIDIA Jetson AGX Orin Developer Kit", ("nvidia,p3737-0000+p3701-0005", "nvidia,tegra234")), 0)
    nx = device_of(jetson("NVIDIA Jetson Orin NX Engineering Reference Developer Kit",
                          ("nvidia,p3768-0000+p3767-0000", "nvidia,tegra234")), 0)
    assert agx.name != nx.name and "p3701-0005" in agx.name and agx.platform == "L4T 36.4.3"
    assert device_of(jetson("NVIDIA Jetson AGX Orin Developer Kit", ("nvidia,tegra234",), l4t=None), 0) is None


CONFIG = "[property]\nonnx-file=m.onnx\nnetwork-mode={mode}\nbatch-size={batch}\nint8-calib-file=cal.bin\n" \
         "uff-input-blob-name=input\ninfer-dims=3;224;224\n"


def step(cache, mode=2, batch=1, model="b" * 64, calib="c" * 64):
    config = parse_config("/m/c.txt", CONFIG.format(mode=mode, batch=batch))
    rebuild = RebuildEngines((), (), "90", {0: frozenset({"fp32", "fp16", "int8"})}, "/usr/lib/libnvinfer_plugin.so.10",
                             cache=cache)
    rebuild.env = BuildEnv("10.16.0.72", "12.8", "90", "a" * 64)
    rebuild.devices = {0: device_of(facts(), 0)}
    rebuild.states = {"/m/m.onnx": FileState(True, model, None), "/m/cal.bin": FileState(calib is not None, calib, None)}
    engine = Engine("/m/c.txt", config=config)
    engine.target = target_for(config, rebuild.supported[0])
    return rebuild, engine


def key(cache, **kw):
    rebuild, engine = step(cache, **kw)
    found = rebuild._key(engine, rebuild.states)
    return found and found.key


def test_the_step_keys_each_engine_by_model_calibration_flags_and_batch(tmp_path):
    cache = ArtifactStore(tmp_path)
    keys = {key(cache), key(cache, mode=1), key(cache, mode=1, calib="d" * 64), key(cache, mode=1, calib=None),
            key(cache, batch=4), key(cache, model="e" * 64)}
    assert None not in keys and len(keys) == 6
    assert key(cache, calib="d" * 64) == key(cache)  # FP16 reads no calibration cache
    rebuild, engine = step(cache, mode=1)
    parts = rebuild._key(engine, rebuild.states).parts()
    assert parts["flags"] == "--int8 --calib" and parts["calibration_sha256"] == "c" * 64


def test_no_key_when_the_cache_is_off_or_the_model_unknown(tmp_path):
    assert key(None) is None
    assert key(ArtifactStore(tmp_path), model=None) is None


def test_the_setting_is_auto_or_off():
    assert Settings().engine_cache == "auto" and Settings.read({"dsprov_engine_cache": "off"}).engine_cache == "off"
    check_settings({"dsprov_engine_cache": "off"})
    for bad in ("on", "yes please", "--off"):
        with pytest.raises(BadSetting, match="dsprov_engine_cache"):
            check_settings({"dsprov_engine_cache": bad})
