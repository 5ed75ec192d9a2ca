# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stub TensorRT packages made from the real trees' bundles (upstreams/trt_debs.py): 10.16 and 11.1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from simfleet.upstreams import trt_debs

LIB = "usr/lib/x86_64-linux-gnu"
TREES = [pytest.param(tree, id=tree.version,
                      marks=pytest.mark.skipif(not tree.bundle_path().is_file(),
                                               reason=f"no TensorRT bundle at {tree.bundle_path()} ({tree.env})"))
         for tree in trt_debs.TREES.values()]


@pytest.fixture(scope="module", params=TREES)
def unpacked(request, tmp_path_factory) -> tuple[trt_debs.RealTree, list[Path], Path]:
    tree = request.param
    folder = tmp_path_factory.mktemp("debs")
    debs = trt_debs.build_debs(tree, tree.bundle_path(), folder / "out")
    root = folder / "root"
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return tree, debs, root


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()


def test_packages_are_named_and_versioned_like_nvidias(unpacked):
    tree, debs, _ = unpacked
    m = tree.major
    assert sorted(field(d, "Package") for d in debs) == [
        "libnvinfer-dev", "libnvinfer-headers-dev", "libnvinfer-headers-plugin-dev", "libnvinfer-plugin-dev",
        f"libnvinfer-plugin{m}", f"libnvinfer{m}"]
    assert {field(d, "Version") for d in debs} == {tree.deb_version}
    assert tree.deb_version in ("10.16.0.72-1+cuda13.0", "11.1.0.106-1+cuda13.3", "10.16.1.7-1+cuda13.2")
    assert {field(d, "Architecture") for d in debs} == {"amd64"}
    assert all(d.name == f"{field(d, 'Package')}_{tree.deb_version}_amd64.deb" for d in debs)


def test_libraries_have_real_sonames_and_the_derived_exports(unpacked):
    tree, _, root = unpacked
    xyz, m = tree.library_version, tree.major
    for lib, soname in ((f"libnvinfer.so.{xyz}", f"libnvinfer.so.{m}"),
                        (f"libnvinfer_plugin.so.{xyz}", f"libnvinfer_plugin.so.{m}")):
        dynamic = subprocess.run(["readelf", "-d", str(root / LIB / lib)], capture_output=True, text=True).stdout
        assert f"Library soname: [{soname}]" in dynamic
        assert (root / LIB / soname).resolve() == (root / LIB / lib)
    assert (root / LIB / "libnvinfer.so").resolve() == root / LIB / f"libnvinfer.so.{xyz}"
    defined = subprocess.run(["nm", "-D", "--defined-only", "--format=posix", str(root / LIB / f"libnvinfer.so.{xyz}")],
                             capture_output=True, text=True, check=True).stdout
    names = {line.split()[0] for line in defined.splitlines()}
    assert set(tree.recorded_exports()) | {"getInferLibVersion"} <= names


def test_headers_are_the_bundles(unpacked):
    tree, _, root = unpacked
    major, minor, _, build = (tree.source_version or tree.version).split(".")
    version = (root / "usr/include/x86_64-linux-gnu/NvInferVersion.h").read_text()
    assert f"#define TRT_MAJOR_ENTERPRISE {major}" in version and f"#define TRT_MINOR_ENTERPRISE {minor}" in version
    assert f"#define TRT_BUILD_ENTERPRISE {build}" in version
    assert (root / "usr/include/x86_64-linux-gnu/NvInferPlugin.h").is_file()


@pytest.mark.parametrize("tree", trt_debs.TREES.values(), ids=trt_debs.TREES.keys())
def test_recorded_exports_say_how_they_were_made(tree):
    header = [line for line in tree.exports_file.read_text().splitlines() if line.startswith("#")]
    assert any("nm -D --undefined-only" in line for line in header)
    assert any(tree.ref in line for line in header)
    assert {"getPluginRegistry", "getLogger"} <= set(tree.recorded_exports())
