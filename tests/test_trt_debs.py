"""The stub TensorRT 10.16 packages made from the real tree's bundle (upstreams/trt_debs.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from simfleet.upstreams import trt_debs

BUNDLE = trt_debs.bundle_path()
pytestmark = pytest.mark.skipif(not BUNDLE.is_file(), reason=f"no TensorRT bundle at {BUNDLE} ({trt_debs.BUNDLE_ENV})")
LIB = "usr/lib/x86_64-linux-gnu"


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> tuple[list[Path], Path]:
    folder = tmp_path_factory.mktemp("debs")
    debs = trt_debs.build_debs(BUNDLE, folder / "out")
    root = folder / "root"
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return debs, root


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()


def test_packages_are_named_and_versioned_like_nvidias(unpacked):
    debs, _ = unpacked
    assert sorted(field(d, "Package") for d in debs) == [
        "libnvinfer-dev", "libnvinfer-headers-dev", "libnvinfer-headers-plugin-dev", "libnvinfer-plugin-dev",
        "libnvinfer-plugin10", "libnvinfer10"]
    assert {field(d, "Version") for d in debs} == {"10.16.0.72-1+cuda13.0"}
    assert {field(d, "Architecture") for d in debs} == {"amd64"}
    assert all(d.name == f"{field(d, 'Package')}_10.16.0.72-1+cuda13.0_amd64.deb" for d in debs)


def test_libraries_have_real_sonames_and_the_derived_exports(unpacked):
    _, root = unpacked
    for lib, soname in (("libnvinfer.so.10.16.0", "libnvinfer.so.10"),
                        ("libnvinfer_plugin.so.10.16.0", "libnvinfer_plugin.so.10")):
        dynamic = subprocess.run(["readelf", "-d", str(root / LIB / lib)], capture_output=True, text=True).stdout
        assert f"Library soname: [{soname}]" in dynamic
        assert (root / LIB / soname).resolve() == (root / LIB / lib)
    assert (root / LIB / "libnvinfer.so").resolve() == root / LIB / "libnvinfer.so.10.16.0"
    defined = subprocess.run(["nm", "-D", "--defined-only", "--format=posix", str(root / LIB / "libnvinfer.so.10.16.0")],
                             capture_output=True, text=True, check=True).stdout
    names = {line.split()[0] for line in defined.splitlines()}
    assert set(trt_debs.recorded_exports()) | {"getInferLibVersion"} <= names


def test_headers_are_the_bundles(unpacked):
    _, root = unpacked
    version = (root / "usr/include/x86_64-linux-gnu/NvInferVersion.h").read_text()
    assert "#define TRT_MINOR_ENTERPRISE 16" in version and "#define TRT_BUILD_ENTERPRISE 72" in version
    assert (root / "usr/include/x86_64-linux-gnu/NvInferPlugin.h").is_file()


def test_recorded_exports_say_how_they_were_made():
    header = [line for line in trt_debs.EXPORTS_FILE.read_text().splitlines() if line.startswith("#")]
    assert any("nm -D --undefined-only" in line for line in header)
    assert "getPluginRegistry" in trt_debs.recorded_exports() and "getLogger" in trt_debs.recorded_exports()
