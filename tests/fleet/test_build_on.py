"""`provision --build-on auto` on a `thor-jp72` device (JetPack 7.2, arm64 under qemu-user, NVIDIA's
real release/10.16 served as the TensorRT repository): the plugin is cross-built on the controller
(provision.cross, the link stub made from the device's own libnvinfer exports), installed by the
plugin swap with its usual verification, loaded by the device's own loader, and a rerun changes
nothing. The cross build takes about 5 minutes on 2 cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from fleet.helpers import ROOT, hosts, on_device
from provision.artifacts import sha256_file
from provision.cross import toolchain
from simfleet.upstreams import LOADER_SOURCE, trt_debs

HOST = "thor72b"
LIB = "/usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so.10"
JP72 = trt_debs.TREE_10_16_JP72

pytestmark = [
    pytest.mark.fleet,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(not toolchain.check(Path("/nonexistent")).ok,
                       reason="no cross toolchain here (nvcc 13, aarch64-linux-gnu-g++, arm64 libc)"),
]


@pytest.fixture(scope="module")
def thor(serve_fleet):
    if not JP72.bundle_path().is_file():
        pytest.skip(f"no TensorRT bundle at {JP72.bundle_path()} (set {JP72.env})")
    fleet = f"name: build-on\ntrt_oss: bundle\ndevices:\n  - {{name: {HOST}, profile: thor-jp72}}\n"
    with serve_fleet("build-on", fleet) as handle:
        yield handle


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """The controller's cache (artifacts, cross toolchain). DSPROV_BUILD_ON_CACHE keeps one across
    runs (while iterating: the cross build is then copied, not built)."""
    kept = os.environ.get("DSPROV_BUILD_ON_CACHE")
    return Path(kept) if kept else tmp_path_factory.mktemp("build-on-cache")


def invoke(handle, cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args, "-i", str(handle.inventory)], cwd=ROOT, capture_output=True,
        text=True, timeout=3600,
        env={**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache)},
    )


def sha(handle) -> str:
    return on_device(handle, HOST, f"sha256sum $(readlink -f {LIB})").stdout.split()[0]


def test_detect_and_dry_run_say_the_controller_builds(thor, tmp_path):
    detect = invoke(thor, tmp_path, "detect", "--host", HOST)
    assert detect.returncode == 0, detect.stdout + detect.stderr
    shown = " ".join(detect.stdout.split())  # as one line: rich wraps at the terminal's width
    assert "cross toolchain: ok" in shown
    assert "build on (--build-on auto): controller: cross-built on the controller (nvcc 13." in shown
    dry = invoke(thor, tmp_path, "provision", "--host", HOST, "--build-on", "auto", "--dry-run", "--verbose")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    shown = " ".join(dry.stdout.split())
    assert "cross-build nvinfer_plugin from TensorRT OSS release/10.16 on the controller for SM 110" in shown
    assert "(controller) cross toolchain: ok" in shown and "-DGPU_ARCHS=110 " in shown


def test_build_on_host_is_the_native_plan(thor, tmp_path):
    dry = invoke(thor, tmp_path, "provision", "--host", HOST, "--build-on", "host", "--dry-run", "--verbose")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    shown = " ".join(dry.stdout.split())
    assert "build nvinfer_plugin from TensorRT OSS release/10.16 for GPU_ARCHS 110" in shown
    assert "(controller) cross toolchain" not in shown


def test_auto_cross_builds_installs_loads_and_reruns_unchanged(thor, cache):
    original = sha(thor)
    first = invoke(thor, cache, "provision", "--host", HOST, "--build-on", "auto", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    report = hosts(first)[0]
    assert report["result"] == "ok" and report["outcome"] in ("built", "copied"), report
    assert "cross-built on the controller" in report["message"]
    if report["outcome"] == "built":  # a kept cache (DSPROV_BUILD_ON_CACHE) copies instead
        log = (cache / "logs" / f"{HOST}.log").read_text()
        lines = [line.partition(" ")[2] for line in log.splitlines()]  # each after its time
        assert "-- GPU_ARCHS defined as 110. Generating CUDA code for SM 110" in lines
        assert "$ nm -D --defined-only --format=posix /usr/lib/aarch64-linux-gnu/libnvinfer.so.10" in lines
        assert any(line.startswith("$ (controller) cmake --build ") for line in lines)

    built = next((cache / "artifacts").rglob("libnvinfer_plugin.so"))
    parts = json.loads((built.parent / "meta.json").read_text())["parts"]
    assert parts["built_on"] == "controller" and parts["toolchain"].startswith("nvcc 13."), parts
    with built.open("rb") as f:
        assert ELFFile(f).header.e_machine == "EM_AARCH64"
    swapped = sha(thor)
    assert swapped != original and swapped == sha256_file(built)
    # the device's own loader: dlopen(RTLD_NOW) against its libnvinfer.so.10 (the 10.16.1 stub)
    loader = on_device(thor, HOST, f"cat > /tmp/trtcheck.c && gcc -o /tmp/trtcheck /tmp/trtcheck.c -ldl && /tmp/trtcheck {LIB}",
                       stdin=LOADER_SOURCE.read_text())
    assert loader.returncode == 0, loader.stdout + loader.stderr
    assert "getInferLibVersion: 101601" in loader.stdout

    again = invoke(thor, cache, "provision", "--host", HOST, "--build-on", "auto", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = hosts(again)[0]
    assert rerun["result"] == "ok" and not any(s["status"] == "changed" for s in rerun["steps"]), rerun
    assert sha(thor) == swapped
