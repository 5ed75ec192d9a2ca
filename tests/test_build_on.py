"""`--build-on` in the plan: a JetPack 7.2 Thor cross-builds on this controller (its real cross
toolchain), `host` and x86 hosts build on the host with the key they always had, and
`--build-on controller` where the controller cannot build is a one-line refusal.

The Thor is the recorded H100 capture (tests/captures.py) with the sections a JetPack 7.2 Thor
prints replaced (L4T R39.2 first line and device-tree model as in simfleet/profiles/thor-jp72.yml,
TensorRT 10.16.1.7, DeepStream 9.1) and GPU_ARCHS given as 110."""

from __future__ import annotations

from pathlib import Path

import pytest
from captures import h100

from provision.capabilities.trt_oss import BuildPlugin, CrossBuildPlugin
from provision.cross import toolchain
from provision.matrix import Matrix
from provision.options import Flags, Options, check_settings
from provision.plan import PlanRefused, make_plan
from provision.validators import BadSetting

MATRIX = Matrix.load()
needs_toolchain = pytest.mark.skipif(not toolchain.check(Path("/nonexistent")).ok,
                                     reason="no cross toolchain here (nvcc 13, aarch64-linux-gnu-g++, arm64 libc)")
LIB = "/usr/lib/aarch64-linux-gnu"
THOR = {
    "uname_m": "aarch64\n",
    "nv_tegra_release": "# R39 (release), REVISION: 2.0, GCID: 00000000, BOARD: generic, EABI: aarch64,"
                        " DATE: Thu Jan  1 00:00:00 UTC 2026\n",
    "dt_model": "NVIDIA Jetson AGX Thor Developer Kit\n",
    "dpkg_nvinfer": "tensorrt\t10.16.1.7-1+cuda13.2\nlibnvinfer10\t10.16.1.7-1+cuda13.2\n"
                    "libnvinfer-plugin10\t10.16.1.7-1+cuda13.2\ndeepstream-9.1\t9.1.0-1\n",
    "deepstream_version": "Version: 9.1\n",
    "nvinfer_plugin": f"-rw-r--r-- 1 root root 40000 Jan  1 2026 {LIB}/libnvinfer_plugin.so.10.16.1\n"
                      f"lrwxrwxrwx 1 root root 28 Jan  1 2026 {LIB}/libnvinfer_plugin.so.10 -> libnvinfer_plugin.so.10.16.1\n",
}
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
