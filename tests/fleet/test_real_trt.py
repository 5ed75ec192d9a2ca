# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""NVIDIA's real TensorRT OSS trees end to end: release/10.16 on the `x86-real` device and
release/11.1 on `x86-real-11`. Each has the controller's real CUDA 13.0 toolkit (read-only) and
stub TensorRT packages made from its tree, installed with dpkg -i; the bundles are served by the
fleet's mirror. `provision` clones the ref as it would github.com/NVIDIA/TensorRT, runs the real
CMakeLists with the derived architecture 75 (10.16: -DGPU_ARCHS; 11.1: -DCMAKE_CUDA_ARCHITECTURES,
with the cmake 3.31 the tool brings from the mirror), compiles the ref's plugin target with the
real nvcc (`nvinfer_plugin`, `tensorrt_plugins`: about 5 minutes of compile each on 2 cores, more
on a busy machine; once per ref per run, the artifact cache `real_trt_cache` is shared by the whole
session), swaps, verifies, reruns unchanged and rolls back.

Each tree's tests are skipped with the reason when its bundle (../shared/upstreams/, or
DSPROV_TRT_BUNDLE / DSPROV_TRT_BUNDLE_11) or the toolkit (/usr/local/cuda) is absent.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from simfleet.upstreams import LOADER_SOURCE, trt_debs

from .helpers import document, hosts

ROOT = Path(__file__).resolve().parents[2]
CUDA = Path("/usr/local/cuda")
LIB_DIR = "/usr/lib/x86_64-linux-gnu"


@dataclass(frozen=True)
class Case:
    """One real tree on its device, and what its build must show."""

    tree: trt_debs.RealTree
    profile: str
    host: str
    target: str  # the ref's plugin target (matrix/tensorrt_oss.yml: build_target)
    cmake_line: str  # CMake's architecture line, whole

    @property
    def lib(self) -> str:
        return f"{LIB_DIR}/libnvinfer_plugin.so.{self.tree.library_version}"


CASES = [
    Case(trt_debs.TREE_10_16, "x86-real", "x86r01", "nvinfer_plugin",
         "-- GPU_ARCHS defined as 75. Generating CUDA code for SM 75"),
    # release/11.1's CMakeLists.txt: message(STATUS "Generating CUDA code for SMs: ${CMAKE_CUDA_ARCHITECTURES}")
    Case(trt_debs.TREE_11_1, "x86-real-11", "x86r11", "tensorrt_plugins", "-- Generating CUDA code for SMs: 75"),
]

pytestmark = [
    pytest.mark.fleet,
    pytest.mark.timeout(3600),  # the real compile: about 5 minutes alone on 2 cores, far more on a busy one
    pytest.mark.skipif(not (CUDA / "bin" / "nvcc").exists(), reason=f"no CUDA toolkit at {CUDA}"),
]


@pytest.fixture(scope="session")
def real_trt_cache(tmp_path_factory) -> Path:
    """The controller's artifact cache for real plugin builds: one per session, so the real
    nvinfer_plugin is compiled once however many tests provision an x86-real device.
    DSPROV_REAL_TRT_CACHE keeps one across runs (while iterating: the build is then copied)."""
    kept = os.environ.get("DSPROV_REAL_TRT_CACHE")
    return Path(kept) if kept else tmp_path_factory.mktemp("real-trt-cache")


@pytest.fixture(scope="module", params=[
    pytest.param(case, id=case.profile, marks=pytest.mark.skipif(
        not case.tree.bundle_path().is_file(),
        reason=f"no TensorRT bundle at {case.tree.bundle_path()} (set {case.tree.env})"))
    for case in CASES])
def real(request, serve_fleet):
    """A one-device fleet per tree; the tests pass its password and cache to invoke themselves."""
    case = request.param
    fleet_file = f"name: real-trt\ntrt_oss: bundle\ndevices:\n  - {{name: {case.host}, profile: {case.profile}}}\n"
    with serve_fleet(f"real-{case.profile}", fleet_file) as handle:
        (handle.runtime_dir / "group_vars" / "x86.yml").write_text(
            "dsprov_required_plugins: [MultiscaleDeformableAttnPlugin_TRT]\n")
        handle.case = case
        yield handle


def invoke(handle, cache: Path, *args):
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args, "-i", str(handle.inventory)], cwd=ROOT, capture_output=True,
        text=True, timeout=3600,
        env={**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache)},
    )


def on_device(handle, command: str) -> subprocess.CompletedProcess:
    return subprocess.run([*handle.ssh_command(handle.case.host), command], capture_output=True, text=True, timeout=300)


def fatbin_archs(library: Path) -> set[tuple[str, int]]:
    """(kind, SM) of every entry in the library's `.nv_fatbin` section (the toolkit here has no
    cuobjdump). The section (FATBIN_DATA_SECTION_NAME in CUDA's include/fatbinary_section.h) holds
    fatbins: a 16-byte header (magic 0xBA55ED50, version, header size, payload size), then entries
    of kind (1 PTX, 2 ELF), version, header size, padded payload size, ..., SM at byte 28."""
    with library.open("rb") as f:
        data = ELFFile(f).get_section_by_name(".nv_fatbin").data()
    found, pos = set(), 0
    while pos + 16 <= len(data):
        magic, _, header, size = struct.unpack_from("<IHHQ", data, pos)
        if magic != 0xBA55ED50:
            pos += 8  # fatbins are 8-byte aligned
            continue
        entry, end = pos + header, pos + header + size
        while entry < end:
            kind, _, entry_header, padded = struct.unpack_from("<HHII", data, entry)
            found.add(({1: "ptx", 2: "sm"}.get(kind, str(kind)), struct.unpack_from("<I", data, entry + 28)[0]))
            entry += entry_header + padded
        pos = end
    return found


def soname(library: Path) -> str | None:
    with library.open("rb") as f:
        dynamic = ELFFile(f).get_section_by_name(".dynamic")
        return next((tag.soname for tag in dynamic.iter_tags() if tag.entry.d_tag == "DT_SONAME"), None)


def sha(handle) -> str:
    return on_device(handle, f"sha256sum {handle.case.lib}").stdout.split()[0]


def test_the_device_has_the_real_toolkit_and_the_packages(real):
    tree, m = real.case.tree, real.case.tree.major
    packages = on_device(real, "dpkg-query -W 'libnvinfer*'").stdout
    for name in (f"libnvinfer{m}", f"libnvinfer-plugin{m}", "libnvinfer-dev", "libnvinfer-plugin-dev",
                 "libnvinfer-headers-dev", "libnvinfer-headers-plugin-dev"):
        assert f"{name}\t{tree.deb_version}\n" in packages, packages
    owner = on_device(real, f"dpkg -S {real.case.lib}").stdout
    assert owner.startswith(f"libnvinfer-plugin{m}: "), owner
    soname = on_device(real, f"readelf -d {LIB_DIR}/libnvinfer.so.{tree.library_version}").stdout
    assert f"Library soname: [libnvinfer.so.{m}]" in soname
    nvcc = on_device(real, "/usr/local/cuda/bin/nvcc --version").stdout
    assert "release 13.0" in nvcc
    assert on_device(real, "touch /usr/local/cuda/x 2>&1").returncode != 0  # mounted read-only


def test_detect_falls_back_to_nvidia_smi_when_the_real_devicequery_fails(real, real_trt_cache):
    result = invoke(real, real_trt_cache, "detect", "--host", real.case.host, "--json")
    assert result.returncode == 0, result.stderr
    data = document(result)
    assert data["gpu_archs"]["archs"] == ["75"] and data["gpu_archs"]["source"] == "nvidia-smi"
    assert any(n.startswith("deviceQuery failed (cudaGetDeviceCount returned 35: ") and "(exit status 1)" in n
               for n in data["gpu_archs"]["notes"]), data["gpu_archs"]["notes"]
    assert data["facts"]["tensorrt"] == real.case.tree.version


def test_provision_builds_the_real_plugin_swaps_reruns_and_rolls_back(real, real_trt_cache):
    case, host = real.case, real.case.host
    m = case.tree.major
    original = sha(real)
    first = invoke(real, real_trt_cache, "provision", "--host", host, "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    report = hosts(first)[0]
    assert report["result"] == "ok" and report["outcome"] in ("built", "copied"), report
    swapped = sha(real)
    assert swapped != original

    if report["outcome"] == "built":  # a kept cache (DSPROV_REAL_TRT_CACHE) copies instead
        log = (real_trt_cache / "logs" / f"{host}.log").read_text()
        lines = [line.partition(" ")[2] for line in log.splitlines()]  # each after its time
        assert case.cmake_line in lines, [line for line in lines if "CUDA code" in line]
        assert f"git clone --depth 1 --single-branch --no-tags -b {case.tree.ref}" in log
        assert f"--target {case.target} " in log
    built = next(p for p in real_trt_cache.rglob("libnvinfer_plugin.so") if soname(p) == f"libnvinfer_plugin.so.{m}")
    assert fatbin_archs(built) == {("sm", 75), ("ptx", 75)}  # SASS and PTX for sm_75 only
    assert trt_debs.imports_from_nvinfer(built) == case.tree.recorded_exports()  # the stub's list still holds

    elf = on_device(real, f"readelf -d {case.lib}").stdout
    assert f"Library soname: [libnvinfer_plugin.so.{m}]" in elf and f"[libnvinfer.so.{m}]" in elf
    assert on_device(real, f"grep -c -a MultiscaleDeformableAttnPlugin_TRT {case.lib}").stdout.strip() != "0"
    # a real dlopen(RTLD_NOW) of the real plugin on the device, its libnvinfer the stub
    loader = subprocess.run([*real.ssh_command(host), "cat > /tmp/trtcheck.c && gcc -o /tmp/trtcheck"
                             f" /tmp/trtcheck.c -ldl && /tmp/trtcheck {LIB_DIR}/libnvinfer_plugin.so.{m}"],
                            input=LOADER_SOURCE.read_text(), capture_output=True, text=True, timeout=300)
    assert loader.returncode == 0, loader.stdout + loader.stderr
    major, minor, patch = (int(p) for p in case.tree.library_version.split("."))
    assert f"getInferLibVersion: {major * 10000 + minor * 100 + patch}" in loader.stdout

    again = invoke(real, real_trt_cache, "provision", "--host", host, "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = hosts(again)[0]
    assert rerun["result"] == "ok" and not any(s["status"] == "changed" for s in rerun["steps"]), rerun
    assert sha(real) == swapped

    back = invoke(real, real_trt_cache, "rollback", "--host", host)
    assert back.returncode == 0, back.stdout + back.stderr
    assert sha(real) == original
