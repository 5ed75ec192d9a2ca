# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Consistency of the data under matrix/: a typo in one file must not slip past the others."""

from __future__ import annotations

import dataclasses
import re

import pytest
from packaging.version import Version

from provision.matrix import PLATFORMS, Matrix, Stack, Status
from provision.matrix.rows import CmakeBuild, CmakeClaim, Dispute, is_primary


@pytest.fixture(scope="module")
def m() -> Matrix:
    return Matrix.load()


def _rows_with_source(value):
    """Every dataclass row reachable from the matrix that has a `source` field."""
    if dataclasses.is_dataclass(value):
        if any(f.name == "source" for f in dataclasses.fields(value)):
            yield value
        for f in dataclasses.fields(value):
            yield from _rows_with_source(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _rows_with_source(item)


def test_every_row_cites_a_public_https_source(m):
    rows = list(_rows_with_source(m))
    assert len(rows) > 100
    for row in rows:
        assert row.source.startswith("https://"), row


def test_every_row_cites_its_primary_source_or_says_it_is_secondary(m):
    """The publisher's own page (NVIDIA's, Kitware's for cmake) where one exists; a row with only a
    secondary source says so, and why. The schema enforces it on load (test_matrix.py)."""
    parts = (Dispute, CmakeClaim, CmakeBuild)  # the other sources a row names, not rows
    rows = [row for row in _rows_with_source(m) if not isinstance(row, parts)]
    secondary = [row for row in rows if not is_primary(row.source)]
    for row in secondary:
        assert getattr(row, "secondary", None), row
    assert 0 < len(secondary) < len(rows) / 2, "most rows cite NVIDIA's own pages"
    assert is_primary("https://github.com/NVIDIA/DeepStream/blob/v9.1.0/README.md")
    assert not is_primary("https://github.com/NVIDIA-fake/x") and not is_primary("https://evil.com/nvidia.com/")


def _documented_stacks(m: Matrix):
    """(who, Stack) for every combination a row of the data says NVIDIA supports."""
    for jp in m.jetpack_rows:
        base = dict(platform="jetson", jetpack=jp.version, l4t=jp.l4t, cuda=jp.cuda, ubuntu=jp.ubuntu,
                    python=jp.python)
        yield f"JetPack {jp.version}", Stack(tensorrt=jp.tensorrt, **base)
        for also in jp.tensorrt_also:
            yield f"JetPack {jp.version} + TensorRT {also}", Stack(tensorrt=also, **base)
    for ds in m.deepstream_rows:
        for version in ds.jetpacks:
            jp = m.jetpack(version)
            yield f"DeepStream {ds.version} on JetPack {version}", Stack(
                platform="jetson", jetpack=version, deepstream=ds.version, cuda=jp.cuda, tensorrt=jp.tensorrt,
                python=ds.python)
        if ds.x86:
            need = ds.x86
            yield f"DeepStream {ds.version} x86", Stack(
                platform="x86", deepstream=ds.version, tensorrt=need.tensorrt, cuda=need.cuda,
                driver=need.driver_min, ubuntu=need.ubuntu, python=ds.python)


def test_the_checker_never_fails_a_combination_the_data_documents(m):
    stacks = list(_documented_stacks(m))
    assert len(stacks) > 60
    for who, stack in stacks:
        fails = [v for v in m.check(stack) if v.status is Status.FAIL]
        assert not fails, (who, fails)


def test_disputed_rows_warn_naming_both_sources(m):
    """Where sources disagree the row follows one (NVIDIA's where it has one) and WARNs naming each."""
    rows = [("l4t", r, Stack(l4t=r.l4t)) for r in m.l4t_rows]
    rows += [("jetpack", r, Stack(platform="jetson", jetpack=r.version)) for r in m.jetpack_rows]
    rows += [("deepstream", r, Stack(platform="x86" if r.x86 else "jetson", deepstream=r.version))
             for r in m.deepstream_rows]
    rows += [("tensorrt.oss", r, Stack(platform=r.platforms[0], tensorrt=r.tensorrt)) for r in m.oss_refs
             if not r.exact_tag]
    disputed = [(name, row, stack) for name, row, stack in rows if row.disputed]
    assert len(disputed) >= 2
    for name, row, stack in disputed:
        verdict = next(v for v in m.check(stack) if v.rule == f"{name}.sources")
        assert verdict.status is Status.WARN
        assert f"followed {row.source}" in verdict.reason
        for other in row.disputed:
            assert other.source != row.source and other.source in verdict.reason and other.says in verdict.reason


def test_every_l4t_maps_to_a_jetpack_that_exists(m):
    for row in m.l4t_rows:
        assert m.jetpack(row.jetpack) is not None, f"L4T {row.l4t} -> JetPack {row.jetpack} missing"


def test_every_jetpack_l4t_is_in_l4t_yml_and_maps_back(m):
    unnamed = [jp for jp in m.jetpack_rows if jp.l4t is None]
    assert [jp.version for jp in unnamed] == [Version("7.2.2")] and all(jp.caveat for jp in unnamed)
    for jp in m.jetpack_rows:
        if jp.l4t is None:
            continue
        row = m.l4t(jp.l4t)
        assert row is not None, f"JetPack {jp.version}: L4T {jp.l4t} not in l4t.yml"
        assert row.jetpack == jp.version


def test_coverage_jetpack_4_4_to_6_and_deepstream_5_1_to_7_1(m):
    jetpacks = {str(r.version) for r in m.jetpack_rows}
    assert {"4.4", "4.5.1", "4.6", "4.6.1", "5.0.2", "5.1.2", "6.0", "6.1", "6.2"} <= jetpacks
    deepstreams = {str(r.version) for r in m.deepstream_rows}
    assert {"5.1", "6.0", "6.0.1", "6.1", "6.1.1", "6.2", "6.3", "6.4", "7.0", "7.1"} <= deepstreams


def test_every_deepstream_jetpack_exists_and_shares_its_python(m):
    for ds in m.deepstream_rows:
        for version in ds.jetpacks:
            jp = m.jetpack(version)
            assert jp is not None, f"DeepStream {ds.version} names unknown JetPack {version}"
            assert (jp.python.major, jp.python.minor) == (ds.python.major, ds.python.minor), ds.version


def test_pyds_rows_follow_their_deepstream(m):
    for ds in m.deepstream_rows:
        if ds.pyds:
            assert ds.pyds.deepstream == ds.version
            assert ds.pyds.python == ds.python
            assert ds.pyds.build_style == ("build" if ds.pyds.version >= Version("1.2") else "cmake")


def test_jetpack_generations_have_the_expected_ubuntu_and_python(m):
    expected = {4: ("18.04", "3.6"), 5: ("20.04", "3.8"), 6: ("22.04", "3.10"), 7: ("24.04", "3.12")}
    for jp in m.jetpack_rows:
        ubuntu, python = expected[jp.version.major]
        assert (jp.ubuntu, jp.python) == (Version(ubuntu), Version(python)), jp.version


def _named_tensorrt(m: Matrix):
    """(TensorRT, platform) for every TensorRT a JetPack or DeepStream row names."""
    for jp in m.jetpack_rows:
        yield jp.tensorrt, "jetson", f"JetPack {jp.version}"
    for ds in m.deepstream_rows:
        if ds.x86:
            yield ds.x86.tensorrt, "x86", f"DeepStream {ds.version} x86"


def test_no_gaps_in_oss_refs(m):
    named = list(_named_tensorrt(m))
    minors = {(trt.major, trt.minor) for trt, _, _ in named}
    assert {(7, 1), (7, 2), (8, 0), (8, 2), (8, 4), (8, 5), (8, 6), (10, 3)} <= minors
    for trt, platform, who in named:
        row = m.oss_ref(trt, platform)
        assert row is not None, f"{who}: TensorRT {trt} on {platform} has no OSS row"
        assert row.ref or row.reason, f"{who}: TensorRT {trt} row has neither ref nor reason"


def test_oss_refs_cover_every_minor_from_7_1_to_10_x_on_x86(m):
    x86 = sorted(r.tensorrt for r in m.oss_refs if "x86" in r.platforms and len(r.tensorrt.release) == 2)
    wanted = ["7.1", "7.2", "8.0", "8.2", "8.4", "8.5", "8.6", "9.0", "9.1", "9.2", "9.3"]
    wanted += [f"10.{n}" for n in range(0, 17)]
    assert [Version(w) for w in wanted] == [v for v in x86 if v < Version("11")]
    patches = sorted(str(r.tensorrt) for r in m.oss_refs if len(r.tensorrt.release) == 3)
    assert patches == ["10.13.2", "10.13.3", "8.2.1", "8.4.1", "8.5.2"]


def test_oss_rows_are_well_formed(m):
    for row in m.oss_refs:
        assert len(row.tensorrt.release) in (2, 3)
        assert set(row.platforms) <= set(PLATFORMS)
        if len(row.tensorrt.release) == 3:  # a patch-level ref: its NvInferVersion is that patch
            assert row.nvinfer_version.release[:3] == row.tensorrt.release, row.ref
        if row.ref is None:
            assert row.reason and not m.plugins_in(row)
        if row.nvinfer_version is not None and not row.caveat:
            assert (row.nvinfer_version.major, row.nvinfer_version.minor) == (row.tensorrt.major, row.tensorrt.minor)
        if row.ref and row.tensorrt >= Version("9"):
            assert row.nvinfer_version is not None, f"{row.ref}: NvInferVersion at the tip is known"
    # release/9.3 builds a 9.2 library: the row says so and the checker WARNs.
    assert m.oss_ref(Version("9.3"), "x86").nvinfer_version == Version("9.2.0.5")


def test_gpu_archs_are_two_or_three_digit_sm_numbers(m):
    assert m.gpu_arch_rules
    for rule in m.gpu_arch_rules:
        for sm in rule.base + tuple(e.sm for e in rule.extra):
            assert re.fullmatch(r"\d{2,3}", sm), (rule.name, sm)


def test_plugins_first_appear_in_a_ref_that_exists(m):
    refs = {r.tensorrt for r in m.oss_refs if r.ref}
    for plugin in m.plugin_rows:
        assert plugin.since in refs, plugin.name
        assert plugin.removed_in is None or plugin.removed_in in refs, plugin.name


def test_cmake_rows_of_10_13_2_to_10_16_name_both_sources(m):
    """NVIDIA's README asks cmake >= 3.31 from release/10.13.2 on; the CMakeLists says 3.13."""
    disputed = sorted((r.ref for r in m.oss_refs if r.cmake_readme), key=lambda ref: Version(ref.split("/")[1]))
    assert disputed == ["release/10.13.2", "release/10.13.3", "release/10.14", "release/10.15", "release/10.16"]
    for row in m.oss_refs:
        if row.cmake_readme:
            assert row.cmake_readme.minimum == Version("3.31") and m.cmake_minimum(row) == Version("3.13")
            assert row.cmake_readme.source == f"https://github.com/NVIDIA/TensorRT/blob/{row.ref}/README.md"
            assert row.source.endswith(f"/{row.ref}/CMakeLists.txt")


def test_default_cuda_per_branch(m):
    """DEFAULT_CUDA_VERSION at CMakeLists.txt line 70: 13.0 (10.14), 13.1 (10.15), 13.2 (10.16);
    release/10.13.2 and 10.13.3 test CUDA_VERSION before it is set: no default."""
    rules = {r.name: r for r in m.gpu_arch_rules}
    for trt, cuda in (("10.14", "13.0"), ("10.15", "13.1"), ("10.16", "13.2")):
        assert rules[m.oss_ref(Version(trt), "x86").gpu_arch_rule].default_cuda == Version(cuda), trt
    assert rules[m.oss_ref(Version("10.13.3"), "x86").gpu_arch_rule].default_cuda is None


def test_tensorrt_11_is_x86_only_until_11_4(m):
    for trt in ("11.0", "11.1"):
        assert m.oss_ref(Version(trt), "x86").ref == f"release/{trt}"
        jetson = m.oss_ref(Version(trt), "jetson")
        assert jetson.unsupported and jetson.ref is None and "11.4.1" in jetson.reason
    assert m.oss_ref(Version("11.4.1"), "jetson").ref is None and not m.oss_ref(Version("11.4.1"), "jetson").unsupported


def test_exact_match_tags_beside_the_guides_branches(m):
    for installed, tag, branch in (("8.2.1.8", "8.2.1", "release/8.2"), ("8.4.1.5", "8.4.1", "release/8.4"),
                                   ("8.5.2.2", "8.5.2", "release/8.5")):
        assert m.oss_ref(Version(installed), "jetson").ref == branch  # the guides' choice stays the default
        exact = m.exact_ref(Version(installed), "jetson")
        assert (exact.ref, exact.nvinfer_version) == (tag, Version(installed))
    assert m.exact_ref(Version("8.5.3.1"), "x86") is None


def test_device_table_is_complete(m):
    families = {d.family: d.compute_capability for d in m.device_rows}
    assert families == {"nano": "5.3", "tx1": "5.3", "tx2": "6.2", "xavier": "7.2", "orin": "8.7", "thor": "11.0"}
    socs = {s for d in m.device_rows for s in d.soc}
    assert socs == {"tegra210", "tegra186", "tegra194", "tegra234", "tegra264"}


def test_every_known_capability_runs_fp32(m):
    capabilities = {d.compute_capability for d in m.device_rows} | {g.compute_capability for g in m.gpu_rows}
    for cap in capabilities:
        assert "fp32" in m.precisions(cap), cap


def test_cmake_minimum_and_release_archives(m):
    assert m.cmake.minimum == Version("3.13")
    assert sorted({a.arch for a in m.cmake.archives}) == ["aarch64", "x86_64"]
    for a in m.cmake.archives:
        assert a.version >= m.cmake.minimum
        assert a.url == f"https://github.com/Kitware/CMake/releases/download/v{a.version}/{a.filename}"
        assert a.filename == f"cmake-{a.version}-linux-{a.arch}.tar.gz"


def test_l4t_to_jetpack_2026(m):
    """jetson_stats NVIDIA_JETPACK (and jetson-containers where they differ: those rows carry a caveat)."""
    expected = {"35.6.2": "5.1.5", "35.6.3": "5.1.5", "35.6.4": "5.1.6", "36.4.7": "6.2.1", "36.5.0": "6.2.2",
                "38.2.0": "7.0", "38.2.1": "7.0", "38.2.2": "7.0", "38.4.0": "7.1", "39.0.0": "7.2", "39.2.0": "7.2",
                "39.2.1": "7.2.1"}
    for l4t, jetpack in expected.items():
        assert m.l4t(Version(l4t)).jetpack == Version(jetpack), l4t
    assert m.l4t(Version("39.0.0")).preview
    assert "disagree" in m.l4t(Version("36.5.0")).caveat
    assert [d.says for d in m.l4t(Version("36.5.0")).disputed] == ["JetPack 6.2.1"]  # jetson-containers
    assert "unverified" in m.l4t(Version("39.1.0")).caveat


def test_jetpack_7_rows(m):
    for version in ("7.0", "7.1", "7.2"):
        jp = m.jetpack(Version(version))
        assert (jp.ubuntu, jp.python, jp.cuda.major) == (Version("24.04"), Version("3.12"), 13), version
    assert m.jetpack(Version("7.0")).tensorrt == Version("10.13.3")
    for version in ("7.0", "7.1"):  # 10.13.3: release/10.13.3 (release/10.13 is 10.13.0, before CUDA 13)
        ref = m.oss_ref(m.jetpack(Version(version)).tensorrt, "jetson")
        assert (ref.ref, ref.nvinfer_version) == ("release/10.13.3", Version("10.13.3.9")), version
    assert m.oss_ref(Version("10.13.0.35"), "x86").ref == "release/10.13"
    assert m.oss_ref(Version("10.13.2.6"), "x86").ref == "release/10.13.2"
    assert [str(v) for v in m.jetpack(Version("7.2.2")).tensorrt_also] == ["11.4.1"]
    assert m.jetpack(Version("7.2.1")).l4t == Version("39.2.1")


def test_deepstream_2026_rows(m):
    ds8 = m.deepstream(Version("8.0"))
    assert ds8.pyds.tag == "v1.2.2" and ds8.x86.cuda == Version("12.8") and ds8.python == Version("3.12")
    assert Version("7.0") in ds8.jetpacks and "disagree" in ds8.caveat
    ds9 = m.deepstream(Version("9.0"))
    assert ds9.jetpacks == (Version("7.1"),) and ds9.x86.cuda == Version("13.1") and "v9.0.0" in ds9.source
    ds91 = m.deepstream(Version("9.1"))
    assert ds91.jetpacks == (Version("7.2"),) and "v9.1.0" in ds91.source
    assert (ds91.x86.tensorrt, ds91.x86.cuda, ds91.x86.driver_min) == (Version("10.16"), Version("13.2"), Version("595"))
    assert m.deepstream(Version("9.2")).x86.tensorrt == Version("10.16.0.72")
    seven_one = m.deepstream(Version("7.1"))
    assert {g.platform for g in seven_one.trt_oss} == {"jetson", "x86"}
    assert all("tao_ds7.1ga" in g.source for g in seven_one.trt_oss)


def test_prebuilt_libraries(m):
    """The deepstream_tao_apps TRT-OSS files at the pinned commit, with LFS SHA-256 or a reason."""
    files = {(p.platform, str(p.tensorrt)) for p in m.prebuilt.libraries}
    assert files == {("jetson", v) for v in ("7.1.3", "8.0.1", "8.2.1", "8.4.0.11", "8.5.1", "8.5.3", "8.6.2")} | {
        ("x86", v) for v in ("7.2.2", "8.0.1", "8.2.5.1", "8.5.1", "8.5.3", "8.6.1", "8.6.2")}
    for p in m.prebuilt.libraries:
        assert p.pinned and (p.sha256 or p.reason), p
        assert m.prebuilt.commit in p.source and p.path in p.source
    blobs = {(p.platform, str(p.tensorrt)) for p in m.prebuilt.libraries if p.git_blob}
    assert blobs == {("jetson", "7.1.3"), ("jetson", "8.5.1"), ("jetson", "8.5.3"), ("x86", "7.2.2"),
                     ("x86", "8.5.1"), ("x86", "8.5.3"), ("x86", "8.6.1")}
    assert m.prebuilt_for("jetson", Version("8.6.2.3")).sha256.startswith("6ff83b55")
    assert m.prebuilt_for("jetson", Version("8.5.2.2")) is None
    assert m.prebuilt_for("x86", Version("8.2.5.1")).tensorrt == Version("8.2.5.1")
