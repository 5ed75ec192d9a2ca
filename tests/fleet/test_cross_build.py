"""The plugin cross-built on the controller (tests/cross_plugin.py: NVIDIA's release/10.16 for
SM 110) on a `thor-jp72` device: JetPack 7.2 (L4T 39.2, CUDA 13.2), arm64 under qemu-user,
TensorRT 10.16.1.7 as stub .deb files with the real SONAMEs, installed with dpkg -i. The
device's own loader dlopens the library (RTLD_NOW) against its libnvinfer, as the real-tree
tests do for a native build."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from cross_plugin import TREE, cross_built
from simfleet.upstreams import LOADER_SOURCE, trt_debs

HOST = "thor72a"
LIB_DIR = "/usr/lib/aarch64-linux-gnu"
JP72 = trt_debs.TREE_10_16_JP72
DEST = f"/tmp/cross/libnvinfer_plugin.so.{TREE.library_version}"

pytestmark = [pytest.mark.fleet, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def thor(serve_fleet):
    if not JP72.bundle_path().is_file():
        pytest.skip(f"no TensorRT bundle at {JP72.bundle_path()} (set {JP72.env})")
    with serve_fleet("cross-thor", f"name: cross\ntrt_oss: bundle\ndevices:\n  - {{name: {HOST}, profile: thor-jp72}}\n") as handle:
        yield handle


def on_device(handle, command: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*handle.ssh_command(HOST), command], input=stdin, capture_output=True, timeout=600)


def test_the_device_is_jetpack_72_with_tensorrt_10_16_1(thor):
    assert on_device(thor, "head -1 /etc/nv_tegra_release").stdout.startswith(b"# R39 (release), REVISION: 2.0,")
    assert on_device(thor, "uname -m").stdout == b"aarch64\n"
    packages = on_device(thor, "dpkg-query -W 'libnvinfer*'").stdout.decode()
    assert f"libnvinfer10\t{JP72.deb_version}\n" in packages and JP72.deb_version == "10.16.1.7-1+cuda13.2"
    dynamic = on_device(thor, f"readelf -h -d {LIB_DIR}/libnvinfer.so.10.16.1").stdout.decode()
    assert "Library soname: [libnvinfer.so.10]" in dynamic and "AArch64" in dynamic


def test_the_cross_built_plugin_loads_on_the_device(thor):
    built = cross_built()
    data = built.library.read_bytes()
    copied = on_device(thor, f"mkdir -p /tmp/cross && cat > {DEST} && sha256sum {DEST}", stdin=data)
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    elf = on_device(thor, f"readelf -d {DEST}").stdout.decode()
    assert "Library soname: [libnvinfer_plugin.so.10]" in elf and "Shared library: [libnvinfer.so.10]" in elf
    assert on_device(thor, f"grep -c -a MultiscaleDeformableAttnPlugin_TRT {DEST}").stdout.strip() != b"0"
    # a real dlopen(RTLD_NOW) on the device: its loader, its libnvinfer.so.10 (the 10.16.1 stub)
    loader = on_device(thor, f"cat > /tmp/trtcheck.c && gcc -o /tmp/trtcheck /tmp/trtcheck.c -ldl && /tmp/trtcheck {DEST}",
                       stdin=LOADER_SOURCE.read_bytes())
    assert loader.returncode == 0, loader.stdout + loader.stderr
    assert f"library: {DEST}\ngetInferLibVersion: 101601\n".encode() in loader.stdout
    resolved = on_device(thor, f"realpath $(ldd {DEST} | awk '$1 == \"libnvinfer.so.10\" {{print $3}}')").stdout.decode()
    assert resolved == f"{LIB_DIR}/libnvinfer.so.10.16.1\n"  # dpkg's libnvinfer10 (10.16.1.7)
