"""NVIDIA's real TensorRT OSS release/10.16 tree, end to end on the `x86-real` device: the
controller's real CUDA 13.0 toolkit (read-only), stub TensorRT 10.16 packages installed with
dpkg -i, the bundle served by the fleet's mirror. `provision` clones it as it would
github.com/NVIDIA/TensorRT, runs the real CMakeLists with the derived GPU_ARCHS 75, compiles
`nvinfer_plugin` with the real nvcc (about 5 minutes of compile on 2 cores, more on a busy
machine: once per run, the artifact cache `real_trt_cache` is shared by the whole session),
swaps, verifies, reruns unchanged and rolls back.

Skipped with the reason when the bundle (../shared/upstreams/TensorRT-release-10.16.bundle,
or DSPROV_TRT_BUNDLE) or the toolkit (/usr/local/cuda) is absent.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from simfleet.upstreams import LOADER_SOURCE, trt_debs

from .helpers import document, hosts

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = trt_debs.bundle_path()
CUDA = Path("/usr/local/cuda")
LIB = "/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10.16.0"
HOST = "x86r01"

pytestmark = [
    pytest.mark.fleet,
    pytest.mark.timeout(3600),  # the real compile: about 5 minutes alone on 2 cores, far more on a busy one
    pytest.mark.skipif(not BUNDLE.is_file(), reason=f"no TensorRT bundle at {BUNDLE} (set {trt_debs.BUNDLE_ENV})"),
    pytest.mark.skipif(not (CUDA / "bin" / "nvcc").exists(), reason=f"no CUDA toolkit at {CUDA}"),
]


@pytest.fixture(scope="session")
def real_trt_cache(tmp_path_factory) -> Path:
    """The controller's artifact cache for real plugin builds: one per session, so the real
    nvinfer_plugin is compiled once however many tests provision an x86-real device.
    DSPROV_REAL_TRT_CACHE keeps one across runs (while iterating: the build is then copied)."""
    kept = os.environ.get("DSPROV_REAL_TRT_CACHE")
    return Path(kept) if kept else tmp_path_factory.mktemp("real-trt-cache")


@pytest.fixture(scope="module")
def real(serve_fleet):
    """A one-device fleet; the tests pass its password and cache to invoke themselves."""
    fleet_file = f"name: real-trt\ntrt_oss: bundle\ndevices:\n  - {{name: {HOST}, profile: x86-real}}\n"
    with serve_fleet("real-trt", fleet_file) as handle:
        (handle.runtime_dir / "group_vars" / "x86.yml").write_text(
            "dsprov_required_plugins: [MultiscaleDeformableAttnPlugin_TRT]\n")
        yield handle


def invoke(handle, cache: Path, *args):
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args, "-i", str(handle.inventory)], cwd=ROOT, capture_output=True,
        text=True, timeout=3600,
        env={**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache)},
    )


def on_device(handle, command: str) -> subprocess.CompletedProcess:
    return subprocess.run([*handle.ssh_command(HOST), command], capture_output=True, text=True, timeout=300)


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


def sha(handle) -> str:
    return on_device(handle, f"sha256sum {LIB}").stdout.split()[0]


def test_the_device_has_the_real_toolkit_and_the_packages(real):
    packages = on_device(real, "dpkg-query -W 'libnvinfer*'").stdout
    for name in ("libnvinfer10", "libnvinfer-plugin10", "libnvinfer-dev", "libnvinfer-plugin-dev",
                 "libnvinfer-headers-dev", "libnvinfer-headers-plugin-dev"):
        assert f"{name}\t{trt_debs.DEB_VERSION}\n" in packages, packages
    owner = on_device(real, f"dpkg -S {LIB}").stdout
    assert owner.startswith("libnvinfer-plugin10: "), owner
    soname = on_device(real, "readelf -d /usr/lib/x86_64-linux-gnu/libnvinfer.so.10.16.0").stdout
    assert "Library soname: [libnvinfer.so.10]" in soname
    nvcc = on_device(real, "/usr/local/cuda/bin/nvcc --version").stdout
    assert "release 13.0" in nvcc
    assert on_device(real, "touch /usr/local/cuda/x 2>&1").returncode != 0  # mounted read-only


def test_detect_falls_back_to_nvidia_smi_when_the_real_devicequery_fails(real, real_trt_cache):
    result = invoke(real, real_trt_cache, "detect", "--host", HOST, "--json")
    assert result.returncode == 0, result.stderr
    data = document(result)
    assert data["gpu_archs"]["archs"] == ["75"] and data["gpu_archs"]["source"] == "nvidia-smi"
    assert any(n.startswith("deviceQuery failed (cudaGetDeviceCount returned 35: ") and "(exit status 1)" in n
               for n in data["gpu_archs"]["notes"]), data["gpu_archs"]["notes"]
    assert data["facts"]["tensorrt"] == trt_debs.TRT_VERSION


def test_provision_builds_the_real_plugin_swaps_reruns_and_rolls_back(real, real_trt_cache):
    original = sha(real)
    first = invoke(real, real_trt_cache, "provision", "--host", HOST, "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    report = hosts(first)[0]
    assert report["result"] == "ok" and report["outcome"] in ("built", "copied"), report
    swapped = sha(real)
    assert swapped != original

    if report["outcome"] == "built":  # a kept cache (DSPROV_REAL_TRT_CACHE) copies instead
        log = (real_trt_cache / "logs" / f"{HOST}.log").read_text()
        assert "GPU_ARCHS defined as 75. Generating CUDA code for SM 75" in log
        assert "git clone --depth 1 --single-branch --no-tags -b release/10.16" in log
    built = next(real_trt_cache.rglob("libnvinfer_plugin.so"))
    assert fatbin_archs(built) == {("sm", 75), ("ptx", 75)}  # SASS and PTX for sm_75 only
    assert trt_debs.imports_from_nvinfer(built) == trt_debs.recorded_exports()  # the stub's list still holds

    elf = on_device(real, f"readelf -d {LIB}").stdout
    assert "Library soname: [libnvinfer_plugin.so.10]" in elf and "[libnvinfer.so.10]" in elf
    assert on_device(real, f"grep -c -a MultiscaleDeformableAttnPlugin_TRT {LIB}").stdout.strip() != "0"
    # a real dlopen(RTLD_NOW) of the real plugin on the device, its libnvinfer the stub
    loader = subprocess.run([*real.ssh_command(HOST), "cat > /tmp/trtcheck.c && gcc -o /tmp/trtcheck"
                             " /tmp/trtcheck.c -ldl && /tmp/trtcheck /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10"],
                            input=LOADER_SOURCE.read_text(), capture_output=True, text=True, timeout=300)
    assert loader.returncode == 0, loader.stdout + loader.stderr
    assert "getInferLibVersion: 101600" in loader.stdout

    again = invoke(real, real_trt_cache, "provision", "--host", HOST, "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = hosts(again)[0]
    assert rerun["result"] == "ok" and not any(s["status"] == "changed" for s in rerun["steps"]), rerun
    assert sha(real) == swapped

    back = invoke(real, real_trt_cache, "rollback", "--host", HOST)
    assert back.returncode == 0, back.stdout + back.stderr
    assert sha(real) == original
