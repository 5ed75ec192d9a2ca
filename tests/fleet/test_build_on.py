# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""`provision --build-on auto` on a `thor-jp72` device (Jetson AGX Thor, JetPack 7.2, L4T 39.2,
CUDA 13.2, TensorRT 10.16.1.7 as stub .deb files with the real SONAMEs, arm64 under qemu-user;
NVIDIA's real release/10.16 served as the TensorRT repository): the plugin is cross-built on the
controller (provision.cross, the link stub made from the device's own libnvinfer exports),
installed by the plugin swap with its usual verification (SONAME, SHA-256, the required plugin
creators, the loader binding every symbol), loaded by the device's own loader (a real
dlopen(RTLD_NOW)), and a rerun changes nothing.

The controller cache is the session's one (tests/cross_plugin.py), shared with
tests/test_cross_build.py: the release/10.16 cross compile (about 5 minutes on 2 cores) happens
once per session, here or there, whichever runs first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cross_plugin import assert_one_compile, controller_cache, record_compile
from elftools.elf.elffile import ELFFile

from fleet.helpers import ROOT, document, hosts, on_device
from provision.artifacts import ArtifactStore, sha256_file
from provision.capabilities.trt_oss import BUILD_LOG
from provision.cross import toolchain
from simfleet.upstreams import LOADER_SOURCE, trt_debs

HOST = "thor72b"
LIB_DIR = "/usr/lib/aarch64-linux-gnu"
LIB = f"{LIB_DIR}/libnvinfer_plugin.so.10"
JP72 = trt_debs.TREE_10_16_JP72
CREATORS = ("MultiscaleDeformableAttnPlugin_TRT", "EfficientNMS_TRT")  # dsprov_required_plugins: the swap greps them

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
        (handle.runtime_dir / "group_vars" / "thor.yml").write_text(f"dsprov_required_plugins: [{', '.join(CREATORS)}]\n")
        yield handle


def invoke(handle, cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args, "-i", str(handle.inventory)], cwd=ROOT, capture_output=True,
        text=True, timeout=3600,
        env={**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache)},
    )


def sha(handle) -> str:
    return on_device(handle, HOST, f"sha256sum $(readlink -f {LIB})").stdout.split()[0]


def test_the_device_is_jetpack_72_with_tensorrt_10_16_1(thor):
    assert on_device(thor, HOST, "head -1 /etc/nv_tegra_release").stdout.startswith("# R39 (release), REVISION: 2.0,")
    assert on_device(thor, HOST, "uname -m").stdout == "aarch64\n"
    packages = on_device(thor, HOST, "dpkg-query -W 'libnvinfer*'").stdout
    assert f"libnvinfer10\t{JP72.deb_version}\n" in packages and JP72.deb_version == "10.16.1.7-1+cuda13.2"
    dynamic = on_device(thor, HOST, f"readelf -h -d {LIB_DIR}/libnvinfer.so.10.16.1").stdout
    assert "Library soname: [libnvinfer.so.10]" in dynamic and "AArch64" in dynamic


def test_detect_and_dry_run_say_the_controller_builds(thor, tmp_path):
    detect = invoke(thor, tmp_path, "detect", "--host", HOST)
    assert detect.returncode == 0, detect.stdout + detect.stderr
    shown = " ".join(detect.stdout.split())  # as one line: rich wraps at the terminal's width
    assert "cross toolchain: ok" in shown
    assert "build on (--build-on auto): controller: cross-built on the controller (nvcc 13." in shown
    as_json = invoke(thor, tmp_path, "detect", "--host", HOST, "--json")
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    build = document(as_json)["build"]  # checked against detect.schema.json
    assert build["where"] == "controller" and build["why"].startswith("cross-built on the controller (nvcc 13.")
    assert build["toolchain"]["ok"] and 110 in build["toolchain"]["sms"] and build["toolchain"]["problems"] == []
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


def test_auto_cross_builds_installs_verifies_loads_and_reruns_unchanged(thor, tmp_path_factory):
    cache = controller_cache(tmp_path_factory)
    original = sha(thor)
    first = invoke(thor, cache, "provision", "--host", HOST, "--build-on", "auto", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    report = hosts(first)[0]
    assert report["result"] == "ok" and report["outcome"] in ("built", "copied"), report
    assert "cross-built on the controller" in report["message"]
    if report["outcome"] == "built":
        record_compile(tmp_path_factory, "tests/fleet/test_build_on.py (provision)")
        log = (cache / "logs" / f"{HOST}.log").read_text()
        lines = [line.partition(" ")[2] for line in log.splitlines()]  # each after its time
        assert "-- GPU_ARCHS defined as 110. Generating CUDA code for SM 110" in lines
        assert f"$ nm -D --defined-only --format=posix {LIB_DIR}/libnvinfer.so.10" in lines
        assert any(line.startswith("$ (controller) cmake --build ") for line in lines)
    assert_one_compile(tmp_path_factory)  # built here, or copied from tests/test_cross_build.py's compile

    built = ArtifactStore(cache).get(report["key"], "libnvinfer_plugin.so")
    assert built is not None and (built.parent / BUILD_LOG).is_file()
    parts = json.loads((built.parent / "meta.json").read_text())["parts"]
    assert parts["built_on"] == "controller" and parts["toolchain"].startswith("nvcc 13.") and parts["gpu_archs"] == "110"
    with built.open("rb") as f:
        assert ELFFile(f).header.e_machine == "EM_AARCH64"

    # what the swap verified, seen on the device: the SHA-256, the SONAME, the creators
    swapped = sha(thor)
    assert swapped != original and swapped == sha256_file(built)
    elf = on_device(thor, HOST, f"readelf -d $(readlink -f {LIB})").stdout
    assert "Library soname: [libnvinfer_plugin.so.10]" in elf and "Shared library: [libnvinfer.so.10]" in elf
    for creator in CREATORS:
        assert on_device(thor, HOST, f"grep -c -a {creator} {LIB}").stdout.strip() != "0"
    plan = "\n".join(report["plan"])  # the swap's own verification, run after it installed the library
    assert all(f"grep -q -a {creator} {LIB}" in plan for creator in CREATORS) and "LD_BIND_NOW=yes" in plan
    # the device's own loader: dlopen(RTLD_NOW) against its libnvinfer.so.10 (dpkg's 10.16.1 stub)
    loader = on_device(thor, HOST, f"cat > /tmp/trtcheck.c && gcc -o /tmp/trtcheck /tmp/trtcheck.c -ldl && /tmp/trtcheck {LIB}",
                       stdin=LOADER_SOURCE.read_text())
    assert loader.returncode == 0, loader.stdout + loader.stderr
    assert f"library: {LIB}\ngetInferLibVersion: 101601\n" in loader.stdout
    resolved = on_device(thor, HOST, f"realpath $(ldd {LIB} | awk '$1 == \"libnvinfer.so.10\" {{print $3}}')").stdout
    assert resolved == f"{LIB_DIR}/libnvinfer.so.10.16.1\n"

    again = invoke(thor, cache, "provision", "--host", HOST, "--build-on", "auto", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = hosts(again)[0]
    assert rerun["result"] == "ok" and not any(s["status"] == "changed" for s in rerun["steps"]), rerun
    assert sha(thor) == swapped
    assert_one_compile(tmp_path_factory)
