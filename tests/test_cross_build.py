# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""provision.cross on this controller: the toolchain check, the private toolchain file, the
exact commands, the aarch64 link stub, and NVIDIA's real release/10.16 plugin cross-built for
SM 110 by the product's controller build (tests/cross_plugin.py: one compile per session, shared
with tests/fleet/test_build_on.py; about 5 minutes on 2 cores)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from packaging.version import Version

from cross_plugin import TREE, assert_one_compile, cross_built
from fleet.test_real_trt import fatbin_archs  # the .nv_fatbin reader of the real-tree tests
from provision.cross import build, choice, exports, toolchain
from simfleet.upstreams import trt_debs

CUDA = Path("/usr/local/cuda")
needs_toolchain = pytest.mark.skipif(not toolchain.check(Path("/nonexistent")).ok,
                                     reason="no cross toolchain here (nvcc 13, aarch64-linux-gnu-g++, arm64 libc)")
# TensorRT OSS release/10.16 CMakeLists.txt l.94-106 and plugin/CMakeLists.txt l.413-415: the BERT
# plugins are built only where an SM >= 75 other than 110 is asked for; their creator names
# (plugin/bertQKVToContextPlugin, embLayerNormPlugin, skipLayerNormPlugin, fcPlugin, geluPlugin).
BERT_CREATORS = ("CustomQKVToContextPluginDynamic", "CustomEmbLayerNormPluginDynamic",
                 "CustomSkipLayerNormPluginDynamic", "CustomFCPluginDynamic", "CustomGeluPluginDynamic")
CREATORS = ("MultiscaleDeformableAttnPlugin_TRT", "BatchedNMSDynamic_TRT", "EfficientNMS_TRT", "ROIAlign_TRT")


def elf(path: Path) -> tuple[str, str | None, list[str]]:
    """(machine, SONAME, NEEDED) of a shared library."""
    with path.open("rb") as f:
        e = ELFFile(f)
        tags = list(e.get_section_by_name(".dynamic").iter_tags())
        return (e.header.e_machine, next((t.soname for t in tags if t.entry.d_tag == "DT_SONAME"), None),
                [t.needed for t in tags if t.entry.d_tag == "DT_NEEDED"])


def test_a_controller_without_nvcc_or_compiler_is_reported(tmp_path):
    check = toolchain.check(tmp_path / "cache", cuda_root=tmp_path / "no-cuda")
    assert not check.ok and not check.supports([110])
    assert f"no nvcc at {tmp_path}/no-cuda/bin/nvcc" in check.problems
    assert "cross toolchain: unusable" in check.lines()


@needs_toolchain
def test_this_controller_has_a_cuda_13_cross_toolchain(tmp_path):
    check = toolchain.check(tmp_path)
    assert check.ok, check.problems
    assert check.nvcc_version.startswith("13.") and check.cuda_version == "13.0"
    # CUDA 13.0 dropped Volta: sm_75 is the oldest; Thor is sm_110 and Orin sm_87; Xavier (72) is out
    assert check.supports([110]) and check.supports([87]) and not check.supports([72])
    assert check.runtime == "13.0.96" and not check.runtime_cached  # the toolkit's cudart (dist-info)
    lines = check.lines()
    assert lines[0] == "cross toolchain: ok"
    assert "  aarch64 CUDA runtime: nvidia-cuda-runtime==13.0.96 (fetched with pip download)" in lines


def test_the_toolchain_file_points_at_the_private_tree_not_the_toolkit(tmp_path):
    check = toolchain.ToolchainCheck("/opt/cuda/bin/nvcc", "13.0.88", (87, 110), "/usr/bin/aarch64-linux-gnu-g++",
                                     "12.2.0", "13.0.96", False, "/usr/aarch64-linux-gnu/lib/librt.so.1")
    text = toolchain.toolchain_file_text(check, tmp_path / "tree", check.rt_lib)
    assert "/usr/local/cuda" not in text and "targets/sbsa-linux" not in text
    assert "set(CMAKE_SYSTEM_PROCESSOR aarch64)" in text
    assert "set(CMAKE_C_COMPILER /usr/bin/aarch64-linux-gnu-gcc)" in text
    assert "set(CMAKE_CUDA_COMPILER /opt/cuda/bin/nvcc)" in text
    assert "set(RT_LIB /usr/aarch64-linux-gnu/lib/librt.so.1)" in text
    assert f"set(CUDA_TOOLKIT_ROOT_DIR {tmp_path}/tree)" in text


def test_the_commands_are_exact():
    spec = build.CrossBuild(Path("/s/TensorRT"), Path("/s/TensorRT/build"), (87, 110), Path("/c/tc.cmake"),
                            Path("/c/stubs"), "13.0", 2)
    assert spec.script() == (
        "cmake -S /s/TensorRT -B /s/TensorRT/build -DCMAKE_TOOLCHAIN_FILE=/c/tc.cmake '-DGPU_ARCHS=87 110'"
        " -DTRT_LIB_DIR=/c/stubs -DTRT_OUT_DIR=/s/TensorRT/build/out -DTRT_PLATFORM_ID=aarch64 -DCUDA_VERSION=13.0"
        " -DBUILD_PARSERS=OFF -DBUILD_SAMPLES=OFF\n"
        "cmake --build /s/TensorRT/build --target nvinfer_plugin -- -j2\n")


@needs_toolchain
def test_the_link_stub_is_aarch64_with_the_soname_and_the_exports(tmp_path):
    names = TREE.recorded_exports()
    stub = toolchain.stub_library(names, "libnvinfer.so.10", tmp_path / "libnvinfer.so.10.16.0")
    assert elf(stub)[:2] == ("EM_AARCH64", "libnvinfer.so.10")
    defined = subprocess.run(["nm", "-D", "--defined-only", "--format=posix", str(stub)],
                             capture_output=True, text=True, check=True).stdout
    assert set(names) <= {line.split()[0] for line in defined.splitlines()}
    with pytest.raises(ValueError, match="not a symbol name"):
        toolchain.stub_library(["a; b"], "libx.so.1", tmp_path / "x.so")


@needs_toolchain
@pytest.mark.timeout(3600)
def test_the_real_tree_cross_builds_for_sm_110_only(tmp_path_factory):
    built = cross_built(tmp_path_factory, "tests/test_cross_build.py")
    assert_one_compile(tmp_path_factory)  # compiled here, or cached by the fleet test: once either way
    assert built.parts["built_on"] == "controller" and built.parts["gpu_archs"] == "110"
    log = built.log.read_text().splitlines()
    assert "-- GPU_ARCHS defined as 110. Generating CUDA code for SM 110" in log
    cmake = next(line for line in log if line.startswith("$ cmake -S "))
    assert "-DCMAKE_TOOLCHAIN_FILE=" in cmake and " -DGPU_ARCHS=110 " in cmake
    machine, soname, needed = elf(built.library)
    assert (machine, soname) == ("EM_AARCH64", f"libnvinfer_plugin.so.{TREE.major}")
    assert f"libnvinfer.so.{TREE.major}" in needed and not any(n.startswith("libcudart") for n in needed)  # static
    assert fatbin_archs(built.library) == {("sm", 110), ("ptx", 110)}
    data = built.library.read_bytes()
    assert all(name.encode() in data for name in CREATORS)
    assert not any(name.encode() in data for name in BERT_CREATORS)  # SM 110 alone leaves BERT out
    assert trt_debs.imports_from_nvinfer(built.library) == TREE.recorded_exports()


GOOD = toolchain.ToolchainCheck("/usr/local/cuda/bin/nvcc", "13.0.88", (75, 87, 110), "/usr/bin/aarch64-linux-gnu-g++",
                                "12.2.0", "13.0.96", True, "/usr/aarch64-linux-gnu/lib/librt.so.1")
BROKEN = toolchain.ToolchainCheck("/usr/local/cuda/bin/nvcc", None, (), "aarch64-linux-gnu-g++", None, None, False, None,
                                  ["no nvcc at /usr/local/cuda/bin/nvcc"])


@pytest.mark.parametrize("build_on, platform, jetpack, sms, check, where, why", [
    ("auto", "jetson", "7.2", [110], GOOD, "controller", "cross-built on the controller (nvcc 13.0.88, "),
    ("auto", "jetson", "7.2", [87], GOOD, "controller", "cross-built on the controller"),  # Orin on JetPack 7.2
    ("auto", "jetson", "6.2", [87], GOOD, "host", "built on the host: JetPack 6.2 predates the SBSA-style CUDA 13"),
    ("auto", "jetson", "4.6.1", [53], GOOD, "host", "built on the host: JetPack 4.6.1 predates"),
    ("auto", "x86", None, [75], GOOD, "host", "built on the host: the host is not a Jetson"),
    ("auto", "jetson", "7.2", [110], BROKEN, "host", "built on the host: the controller's cross toolchain is unusable: no nvcc"),
    ("auto", "jetson", "7.2", [72], GOOD, "host", "built on the host: nvcc 13.0.88 on the controller cannot build SM 72"),
    ("host", "jetson", "7.2", [110], GOOD, "host", "--build-on host"),
])
def test_where_a_build_happens(build_on, platform, jetpack, sms, check, where, why):
    place = choice.choose(build_on, platform, jetpack and Version(jetpack), sms, check)
    assert place.where == where and place.why.startswith(why), place


def test_build_on_controller_refuses_what_it_cannot_build():
    with pytest.raises(ValueError, match=r"^--build-on controller: JetPack 6.2 predates"):
        choice.choose("controller", "jetson", Version("6.2"), [87], GOOD)
    with pytest.raises(ValueError, match="is not one of auto, controller, host"):
        choice.choose("elsewhere", "jetson", Version("7.2"), [110], GOOD)


def test_the_build_key_says_where_and_how():
    assert choice.key_parts(choice.BuildPlace("host", ""), GOOD) == {"built_on": "host"}
    assert choice.key_parts(choice.choose("auto", "jetson", Version("7.2"), [110], GOOD), GOOD) == {
        "built_on": "controller",
        "toolchain": "nvcc 13.0.88; aarch64-linux-gnu-g++ 12.2.0; nvidia-cuda-runtime 13.0.96"}


@needs_toolchain
def test_a_device_librarys_exports_make_its_link_stub(tmp_path):
    """nm's view of a library (here the stub itself, as a device would print it) gives back its names."""
    stub = toolchain.stub_library(["getLogger", "getPluginRegistry", "_ZN8nvinfer18TensorRT"], "libnvinfer.so.10",
                                  tmp_path / "libnvinfer.so.10.16.1")
    nm = subprocess.run([*exports.NM_COMMAND.split(), str(stub)], capture_output=True, text=True, check=True).stdout
    assert exports.defined_symbols(nm) == ["_ZN8nvinfer18TensorRT", "getLogger", "getPluginRegistry"]
    assert exports.defined_symbols("getLogger U\nx@@GLIBC_2.17 T 10 4\nweird.name T 0 0\n") == ["x"]
