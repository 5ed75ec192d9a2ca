# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""`--build-on` in the plan: a JetPack 7.2 Thor cross-builds on this controller (its real cross
toolchain), `host` and x86 hosts build on the host with the key they always had, and
`--build-on controller` where the controller cannot build is a one-line refusal.

The Thor is tests/cross_plugin.py's: the recorded H100 capture (tests/captures.py) with the
sections a JetPack 7.2 Thor prints replaced, GPU_ARCHS given as 110."""

from __future__ import annotations

from pathlib import Path

import pytest
from captures import h100
from cross_plugin import LIB, THOR

from provision import documents
from provision.capabilities.trt_oss import BuildPlugin, BuildView, CrossBuildPlugin, build_view
from provision.cross import choice, toolchain
from provision.documents import validate
from provision.matrix import Matrix
from provision.options import Flags, Options, check_settings
from provision.plan import PlanRefused, make_plan
from provision.validators import BadSetting

MATRIX = Matrix.load()
needs_toolchain = pytest.mark.skipif(not toolchain.check(Path("/nonexistent")).ok,
                                     reason="no cross toolchain here (nvcc 13, aarch64-linux-gnu-g++, arm64 libc)")
X86 = {  # DeepStream 7.1 on x86: TensorRT 10.3.0.26 (as tests/test_plan.py)
    "dpkg_nvinfer": "tensorrt\t10.3.0.26-1+cuda12.5\nlibnvinfer10\t10.3.0.26-1+cuda12.5\n"
                    "libnvinfer-plugin10\t10.3.0.26-1+cuda12.5\ndeepstream-7.1\t7.1.0-1\n",
    "deepstream_version": "Version: 7.1\n",
    "cuda_version_txt": "CUDA Version 12.6.77\n", "nvcc_version": "",
    "nvinfer_plugin": "-rw-r--r-- 1 root root 40000 Aug  1 2024 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10.3.0\n"
                      "lrwxrwxrwx 1 root root 28 Aug  1 2024 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10 ->"
                      " libnvinfer_plugin.so.10.3.0\n",
}


def plan_for(detection, build_on: str):
    return make_plan(detection, MATRIX, Options(force=True, flags=Flags(build_on=build_on)))


@needs_toolchain
def test_auto_cross_builds_a_jetpack_72_thor_on_the_controller(tmp_path, monkeypatch):
    monkeypatch.setenv("DSPROV_CACHE", str(tmp_path))
    thor = h100(gpu_archs="110", **THOR)
    assert thor.facts.jetson.jetpack.release[:2] == (7, 2)
    plan = plan_for(thor, "auto")
    build = plan.steps[0]
    assert isinstance(build, CrossBuildPlugin) and [s.name for s in plan.steps][:2] == ["trt-oss-build", "plugin-swap"]
    assert any(n.startswith("cross-built on the controller (nvcc 13.") for n in plan.notes), plan.notes
    parts = build.spec.key_parts("c0ffee")
    assert parts["built_on"] == "controller" and parts["toolchain"].startswith("nvcc 13.")
    assert parts["compiler"].startswith("aarch64-linux-gnu-g++ ") and parts["cuda"] == "13.0"
    text = "\n".join(plan.lines())
    assert "(controller) cross toolchain: ok" in text
    assert f"$ nm -D --defined-only --format=posix {LIB}/libnvinfer.so.10" in text
    assert "-DGPU_ARCHS=110 " in text and "--target nvinfer_plugin" in text
    assert "cmake" not in [s.name for s in plan.steps]  # nothing is built on the device


def test_build_on_host_keeps_the_native_build_and_its_key():
    thor = h100(gpu_archs="110", **THOR)
    build = plan_for(thor, "host").steps[0]
    assert type(build) is BuildPlugin
    assert "built_on" not in build.spec.key_parts("c0ffee")  # the keys of host builds are unchanged
    x86 = plan_for(h100(**X86), "auto").steps[0]
    assert type(x86) is BuildPlugin and "built_on" not in x86.spec.key_parts("c0ffee")


def test_build_on_controller_for_a_host_it_cannot_build_is_one_line():
    with pytest.raises(PlanRefused) as refused:
        plan_for(h100(**X86), "controller")
    assert str(refused.value) == ("localhost: --build-on controller: the host is not a Jetson (x86 hosts build on"
                                  " themselves)")


def test_build_on_is_checked_as_a_flag_and_as_a_setting():
    assert Flags.parse({"build_on": "controller"}).build_on == "controller"
    assert Flags().build_on == "auto"
    with pytest.raises(BadSetting, match=r"^--build-on: 'elsewhere' is not one of auto, controller, host$"):
        Flags.parse({"build_on": "elsewhere"})
    with pytest.raises(BadSetting, match=r"^h1: dsprov_build_on: 'cloud' is not one of auto, controller, host$"):
        check_settings({"dsprov_build_on": "cloud"}, "h1")


@needs_toolchain
def test_detect_shows_where_a_thor_builds_and_the_toolchain_check(tmp_path):
    thor = h100(gpu_archs="110", **THOR)
    view = build_view(thor, tmp_path)
    assert view.place.where == "controller" and view.check is not None and view.check.ok
    assert view.lines()[0] == "cross toolchain: ok"
    assert view.lines()[-1].startswith("build on (--build-on auto): controller: cross-built on the controller (nvcc 13.")
    doc = documents.detection(thor, view.to_json())
    validate(doc)
    assert doc["build"]["toolchain"]["ok"] and 110 in doc["build"]["toolchain"]["sms"]


def test_detect_shows_why_a_host_builds_on_itself(tmp_path):
    x86 = h100(**X86)
    view = build_view(x86, tmp_path)
    assert view.check is None  # not consulted: an x86 host builds on itself whatever the controller has
    assert view.lines() == ["build on (--build-on auto): host: built on the host: the host is not a Jetson"
                            " (x86 hosts build on themselves)"]
    validate(documents.detection(x86, view.to_json()))
    # a JetPack 7.2 Thor with a controller that cannot build: the check says why, in text and in JSON
    broken = toolchain.ToolchainCheck("/opt/none/bin/nvcc", None, (), "aarch64-linux-gnu-g++", None, None, False, None,
                                      ["no nvcc at /opt/none/bin/nvcc"])
    thor = h100(gpu_archs="110", **THOR)
    view = BuildView(choice.choose("auto", "jetson", thor.facts.jetson.jetpack, [110], broken), broken)
    assert "  problem: no nvcc at /opt/none/bin/nvcc" in view.lines()
    assert view.lines()[-1] == ("build on (--build-on auto): host: built on the host: the controller's cross toolchain"
                                " is unusable: no nvcc at /opt/none/bin/nvcc")
    doc = documents.detection(thor, view.to_json())
    validate(doc)
    assert doc["build"]["toolchain"]["problems"] == ["no nvcc at /opt/none/bin/nvcc"] and not doc["build"]["toolchain"]["ok"]
