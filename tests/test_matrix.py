# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lookups, the checker, and strict loading of the version matrix."""

from __future__ import annotations

import os
import re
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
from packaging.version import Version as V

from provision.errors import ProvisionError
from provision.matrix import Matrix, MatrixError, Stack, Status, Verdict

MATRIX_DIR = Path(__file__).resolve().parents[1] / "matrix"
BUILDS = Path(__file__).resolve().parent / "fixtures" / "recorded" / "trt-oss-cmake"


@pytest.fixture(scope="module")
def m() -> Matrix:
    return Matrix.load()


def by_rule(verdicts: list[Verdict]) -> dict[str, Verdict]:
    rules = [v.rule for v in verdicts]
    assert len(rules) == len(set(rules)), rules
    return {v.rule: v for v in verdicts}


# -- lookups ---------------------------------------------------------------------------------


def test_l4t_to_jetpack(m):
    assert m.jetpack_for_l4t(V("32.7.1")).version == V("4.6.1")
    assert m.jetpack_for_l4t(V("32.5")).version == V("4.5")  # "32.5" == "32.5.0"
    assert m.jetpack_for_l4t(V("36.4.3")).version == V("6.2")
    assert m.jetpack_for_l4t(V("31.1.0")) is None


def test_jetpack_row(m):
    jp = m.jetpack(V("4.6.1"))
    assert (jp.l4t, jp.cuda, jp.tensorrt, jp.python) == (V("32.7.1"), V("10.2"), V("8.2.1.8"), V("3.6"))
    assert m.jetpack(V("6.1")).tensorrt.major == 10


def test_oss_ref_follows_installed_tensorrt_and_platform(m):
    assert m.oss_ref(V("8.2.1"), "jetson").ref == "release/8.2"
    assert m.oss_ref(V("8.2.1.8"), "jetson").ref == "release/8.2"
    assert m.oss_ref(V("7.1.3"), "jetson").ref == "release/7.1"
    assert m.oss_ref(V("7.2.2"), "x86").ref == "21.03"
    assert m.oss_ref(V("7.2.2"), "jetson") is None  # no JetPack ships 7.2
    assert m.oss_ref(V("8.6.2.3"), "jetson").ref is None  # prebuilt only
    assert m.oss_ref(V("8.6.1.6"), "x86").ref == "release/8.6"
    assert m.oss_ref(V("10.3.0.30"), "jetson").ref == "release/10.3"
    assert m.oss_ref(V("6.0.1"), "x86") is None


def test_default_gpu_archs_release_8_2(m):
    ref = m.oss_ref(V("8.2.1"), "jetson")
    archs = m.default_gpu_archs(ref, "jetson", V("10.2"))
    assert archs == ("53", "60", "61", "70", "75", "72")  # the CMakeLists order
    assert set(archs) == {"53", "60", "61", "70", "75", "72"}
    assert m.default_gpu_archs(ref, "x86", V("11.4")) == ("53", "60", "61", "70", "75", "80", "86")
    assert m.default_gpu_archs(ref, "x86", None) == ("53", "60", "61", "70", "75")


def test_orin_87_is_a_default_only_in_10_9_to_10_16(m):
    """Up to 10.8 the L4T check that adds 87 does not fire natively; 11.x dropped 87."""
    for ref in m.oss_refs:
        for platform in ref.platforms:
            has = "87" in m.default_gpu_archs(ref, platform, V("12.6"))
            assert has == (V("10.9") <= ref.tensorrt <= V("10.16")), ref.ref


def test_default_architectures_of_the_10_and_11_refs(m):
    def default(trt, cuda):
        return m.default_gpu_archs(m.oss_ref(V(trt), "x86"), "x86", V(cuda) if cuda else None)

    assert default("10.7", "12.6") == ("75", "80", "86")
    assert default("10.9", "12.6") == ("72", "75", "80", "86", "87", "89", "90")
    # release/10.13.3 (the real tree): no 72; 100 120 only with -DCUDA_VERSION, which it reads before its default
    assert default("10.13.3", "12.8") == ("75", "80", "86", "87", "89", "90", "100", "120")
    assert default("10.13.3", None) == ("75", "80", "86", "87", "89", "90")
    assert default("10.16", "12.8") == ("75", "80", "86", "87", "89", "90", "100", "120")
    assert default("10.16", None) == ("75", "80", "86", "87", "89", "90", "100", "120", "110")  # assumes CUDA 13
    assert default("11.0", "12.8") == ("80", "86", "89", "90", "100", "120")
    assert default("11.0", "13.0") == ("80", "86", "89", "90", "100", "120", "110")
    assert default("11.1", "13.0") == ("75", "80", "86", "89", "90", "100", "120", "110")


def test_build_target_and_library_per_ref(m):
    """11.x has no nvinfer_plugin target: tensorrt_plugins writes the same libnvinfer_plugin.so.X.Y.Z
    (the real release/11.1 tree, built in tests/fleet/test_real_trt.py)."""
    targets = {r.ref: r.build_target for r in m.oss_refs if r.ref}
    assert targets["release/11.1"] == "tensorrt_plugins"
    assert targets["release/10.16"] == targets["release/10.13.3"] == targets["release/8.2"] == "nvinfer_plugin"
    assert {r.library for r in m.oss_refs} == {"libnvinfer_plugin"}


def test_real_builds_decide_the_cmake_minimum_and_the_target(m):
    """The real trees configured and built with cmake 3.28.4 and 3.31.10 (fixtures/recorded/
    trt-oss-cmake/): a ref's cmake minimum is at most every version that built it and above every
    version its CMakeLists refused, whatever its README asks; the target built is the row's."""
    from simfleet.upstreams import trt_debs

    logs = sorted(BUILDS.glob("trt*-cmake*.log"))
    assert len(logs) == 6
    for log in logs:
        text = log.read_text()
        ref, cmake, target = re.search(r"^=== \S+: (\S+), cmake (\S+), target (\S+),", text, re.M).groups()
        row = next(r for r in m.oss_refs if r.ref == ref)
        built = text.rstrip().endswith(": OK")
        assert built == (m.cmake_minimum(row) <= V(cmake)), log.name
        assert built or f"CMake {m.cmake_minimum(row)} or higher is required" in text, log.name
        assert target == row.build_target, log.name
        if built:
            imports = re.search(r"imports from libnvinfer\):\n((?:  \S+\n)+)", text).group(1).split()
            tree = next((t for t in trt_debs.TREES.values() if t.ref == ref), None)
            assert imports == (tree.recorded_exports() if tree else ["getLogger", "getPluginRegistry"]), log.name
            assert re.search(rf"\(SONAME\) +Library soname: \[{row.library}\.so\.{row.tensorrt.major}\]", text), log.name


def test_how_each_ref_receives_architectures(m):
    """10.10/10.11 mangle GPU_ARCHS (literal SM) and 11.x ignore it: CMAKE_CUDA_ARCHITECTURES."""
    flags = {r.ref: r.arch_flag for r in m.oss_refs if r.ref}
    cmake_list = {ref for ref, flag in flags.items() if flag == "CMAKE_CUDA_ARCHITECTURES"}
    assert cmake_list == {"release/10.10", "release/10.11", "release/11.0", "release/11.1"}
    ref = m.oss_ref(V("10.10"), "jetson")
    assert ref.arch_define(["72", "87"]) == "72;87" and "SM" in ref.arch_note
    assert m.oss_ref(V("10.12"), "jetson").arch_define(["72", "87"]) == "72 87"


def test_cmake_minimum_per_ref(m):
    for ref in m.oss_refs:
        if ref.ref:
            expected = V("3.31") if ref.tensorrt >= V("11") else V("3.13")
            assert m.cmake_minimum(ref) == expected, ref.ref
    newest = {a.arch: max(b.version for b in m.cmake.archives if b.arch == a.arch) for a in m.cmake.archives}
    assert all(v >= V("3.31") for v in newest.values()), "an archive must be able to configure 11.x"


def test_release_7_and_8_0_defaults_still_build_sm35(m):
    ref = m.oss_ref(V("8.0.1"), "jetson")
    assert m.default_gpu_archs(ref, "jetson", V("10.2")) == ("35", "53", "61", "70", "75", "72")


def test_refs_that_no_longer_read_gpu_archs_take_cmake_cuda_architectures(m):
    ref = next(r for r in m.oss_refs if r.ref == "release/11.0")
    assert not ref.reads_gpu_archs and ref.arch_flag == "CMAKE_CUDA_ARCHITECTURES"


def test_plugins_by_ref(m):
    first = m.refs_with_plugin("MultiscaleDeformableAttnPlugin_TRT")[0]
    assert first.ref == "release/8.4"
    assert "MultiscaleDeformableAttnPlugin_TRT" not in m.plugins_in(m.oss_ref(V("8.2.1"), "jetson"))
    assert m.refs_with_plugin("EfficientNMS_TRT")[0].ref == "release/8.0"
    assert "EfficientNMS_TRT" not in m.plugins_in(m.oss_ref(V("7.1.3"), "jetson"))
    tao = {"BatchTilePlugin_TRT", "NMS_TRT", "BatchedNMS_TRT", "CropAndResize", "Proposal", "ResizeNearest_TRT",
           "GenerateDetection_TRT", "MultilevelCropAndResize_TRT", "MultilevelProposeROI_TRT"}
    assert tao <= m.plugins_in(m.oss_ref(V("7.1.3"), "jetson"))
    assert tao <= m.plugins_in(m.oss_ref(V("10.3"), "x86"))


def test_tensorrt_11_dropped_the_old_tao_plugins(m):
    eleven = m.plugins_in(m.oss_ref(V("11.0"), "x86"))
    for gone in ("BatchTilePlugin_TRT", "NMS_TRT", "BatchedNMS_TRT", "CropAndResize", "Proposal"):
        assert gone not in eleven
        assert m.refs_with_plugin(gone)[-1].tensorrt == V("10.16")
    assert "MultiscaleDeformableAttnPlugin_TRT" in eleven


def test_plugins_in_a_ref_less_row_is_empty(m):
    assert m.plugins_in(m.oss_ref(V("8.6.2"), "jetson")) == frozenset()


def test_refs_with_plugin_lists_each_ref_once_oldest_first(m):
    refs = m.refs_with_plugin("BatchedNMS_TRT")
    names = [r.ref for r in refs]
    assert len(names) == len(set(names))
    assert [r.tensorrt for r in refs] == sorted(r.tensorrt for r in refs)
    assert m.refs_with_plugin("NoSuchPlugin_TRT") == []


def test_precisions(m):
    assert m.precisions("5.3") == {"fp32", "fp16"}
    assert m.precisions("6.2") == {"fp32", "fp16"}
    assert m.precisions("6.1") == {"fp32", "int8"}
    assert m.precisions("6.0") == {"fp32", "fp16"}
    assert m.precisions("7.2") == {"fp32", "fp16", "int8"}
    assert m.precisions("8.7") == {"fp32", "fp16", "int8"}
    assert m.precisions("11.0") == {"fp32", "fp16", "int8"}
    assert m.precisions("5.2") == {"fp32"}
    assert m.precisions("garbage") == frozenset()


@pytest.mark.parametrize(
    ("model", "compatible", "family", "cap"),
    [
        ("NVIDIA Jetson Nano Developer Kit", ["nvidia,p3450-0000", "nvidia,tegra210"], "nano", "5.3"),
        ("jetson_tx1", ["nvidia,jetson-cv", "nvidia,tegra210"], "tx1", "5.3"),
        ("quill", ["nvidia,quill", "nvidia,tegra186"], "tx2", "6.2"),
        ("Jetson-AGX", ["nvidia,galen", "nvidia,tegra194"], "xavier", "7.2"),
        ("NVIDIA Jetson Xavier NX Developer Kit", ["nvidia,p3449-0000+p3668-0000", "nvidia,tegra194"], "xavier", "7.2"),
        ("NVIDIA Jetson Orin Nano Developer Kit", ["nvidia,p3768-0000+p3767-0005", "nvidia,tegra234"], "orin", "8.7"),
        ("NVIDIA Jetson AGX Orin Developer Kit", [], "orin", "8.7"),  # model only
        ("NVIDIA Jetson Orin Nano Developer Kit", [], "orin", "8.7"),  # not "Jetson Nano"
        (None, ["nvidia,tegra234"], "orin", "8.7"),  # SoC only
        ("NVIDIA Jetson AGX Thor Developer Kit", ["nvidia,tegra264"], "thor", "11.0"),
    ],
)
def test_device_for(m, model, compatible, family, cap):
    device = m.device_for(model, compatible)
    assert (device.family, device.compute_capability) == (family, cap)


def test_device_for_unknown(m):
    assert m.device_for("Raspberry Pi 4 Model B", ["raspberrypi,4-model-b", "brcm,bcm2711"]) is None
    assert m.device_for(None, []) is None


@pytest.mark.parametrize(
    ("name", "cap"),
    [
        ("Tesla T4", "7.5"),
        ("NVIDIA A10", "8.6"),
        ("NVIDIA A10G", "8.6"),
        ("NVIDIA A100-SXM4-40GB", "8.0"),
        ("NVIDIA A100 80GB PCIe", "8.0"),
        ("NVIDIA L4", "8.9"),
        ("NVIDIA L40S", "8.9"),
        ("NVIDIA H100 80GB HBM3", "9.0"),
        ("Tesla V100-SXM2-16GB", "7.0"),
        ("Tesla P4", "6.1"),
        ("NVIDIA GeForce RTX 3090", "8.6"),
        ("NVIDIA GeForce RTX 4090", "8.9"),
        ("NVIDIA GeForce RTX 5090", "12.0"),
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "12.0"),
        ("NVIDIA RTX 6000 Ada Generation", "8.9"),
        ("NVIDIA RTX 4000 SFF Ada Generation", "8.9"),
        ("NVIDIA RTX A6000", "8.6"),
        ("NVIDIA RTX PRO 4500 Blackwell", "12.0"),
        ("Quadro RTX 6000", None),  # Turing (7.5): not the Ada card
        ("NVIDIA GB200", "10.0"),
        ("NVIDIA B300 SXM6 AC", "10.3"),
        ("NVIDIA GB10", "12.1"),
        ("NVIDIA H200", "9.0"),
        ("", None),
    ],
)
def test_compute_capability_for_gpu_name(m, name, cap):
    assert m.compute_capability_for_gpu_name(name) == cap


def test_pyds(m):
    pyds = m.pyds(V("6.0.1"))
    assert (pyds.tag, pyds.python, pyds.build_style) == ("v1.1.1", V("3.6"), "cmake")
    assert m.pyds(V("6.3")).python == V("3.8")
    pyds = m.pyds(V("7.1"))
    assert (pyds.tag, pyds.python, pyds.build_style) == ("v1.2.0", V("3.10"), "build")
    assert m.pyds(V("5.1")) is None
    assert m.pyds(V("9.9")) is None


# -- checker ---------------------------------------------------------------------------------


def test_what_if_jetpack_4_6_1_with_deepstream_6_3_fails(m):
    for platform in ("jetson", None):  # platform inferred from --jetpack
        verdicts = by_rule(m.check(Stack(platform=platform, jetpack=V("4.6.1"), deepstream=V("6.3"))))
        v = verdicts["deepstream.jetpack"]
        assert v.status is Status.FAIL
        assert "DeepStream 6.3 needs JetPack 5.1.2+" in v.reason and "5.1.3" in v.reason
        assert "DeepStream 6.0.1" in v.fix  # what does fit JetPack 4.6.1


def test_jetpack_4_6_1_with_deepstream_6_0_1_is_ok(m):
    verdicts = m.check(Stack(platform="jetson", jetpack=V("4.6.1"), deepstream=V("6.0.1")))
    assert verdicts and all(v.status is Status.OK for v in verdicts), verdicts
    rules = by_rule(verdicts)
    assert "release/8.2" in rules["tensorrt.oss"].reason


def test_full_nano_host_is_ok(m):
    stack = Stack(
        platform="jetson", family="nano", l4t=V("32.7.1"), jetpack=V("4.6.1"), cuda=V("10.2.300"),
        tensorrt=V("8.2.1.8"), deepstream=V("6.0.1"), python=V("3.6.9"), ubuntu=V("18.04"), compute_caps=("5.3",),
    )
    verdicts = by_rule(m.check(stack))
    assert all(v.status is Status.OK for v in verdicts.values()), verdicts
    assert {"l4t", "jetpack", "jetpack.cuda", "jetpack.tensorrt", "deepstream.jetpack", "tensorrt.oss",
            "gpu_archs.default", "compute_capability", "pyds"} <= verdicts.keys()


def test_orin_needs_explicit_gpu_archs(m):
    stack = Stack(platform="jetson", family="orin", jetpack=V("5.0.1"), tensorrt=V("8.4.0.11"), compute_caps=("8.7",))
    v = by_rule(m.check(stack))["gpu_archs.default"]
    assert v.status is Status.WARN and "87" in v.reason and '-DGPU_ARCHS="87"' in v.fix


def test_l4t_that_contradicts_the_claimed_jetpack_fails(m):
    v = by_rule(m.check(Stack(l4t=V("32.7.1"), jetpack=V("4.6"))))["l4t"]
    assert v.status is Status.FAIL and "JetPack 4.6.1" in v.reason


def test_l4t_alone_derives_the_jetpack(m):
    verdicts = by_rule(m.check(Stack(l4t=V("36.2.0"), deepstream=V("6.4"))))
    assert "developer preview" in verdicts["l4t"].reason
    assert verdicts["deepstream.jetpack"].status is Status.OK


def test_unknown_versions_warn_and_never_raise(m):
    verdicts = by_rule(m.check(Stack(l4t=V("99.1"), deepstream=V("1.0"), tensorrt=V("3.0"))))
    assert verdicts["l4t"].status is Status.WARN
    assert verdicts["deepstream"].status is Status.WARN
    assert verdicts["tensorrt.oss"].status is Status.FAIL  # jetson inferred from --l4t; no ref for 3.0
    assert m.check(Stack()) == []
    by_rule(m.check(Stack(platform="jetson", family="unknown-board", compute_caps=("5.3",))))
    by_rule(m.check(Stack(platform="mainframe", tensorrt=V("8.2"), deepstream=V("6.3"))))


def test_platform_unknown_is_said(m):
    v = by_rule(m.check(Stack(deepstream=V("6.3"))))["platform"]
    assert v.status is Status.WARN


def test_jetpack_components_must_match(m):
    stack = Stack(platform="jetson", jetpack=V("4.6.1"), cuda=V("11.4"), tensorrt=V("7.1.3"))
    verdicts = by_rule(m.check(stack))
    assert verdicts["jetpack.cuda"].status is Status.FAIL
    assert verdicts["jetpack.tensorrt"].status is Status.FAIL
    # JetPack 5 can carry a CUDA upgrade package: WARN only
    verdicts = by_rule(m.check(Stack(platform="jetson", jetpack=V("5.1.2"), cuda=V("12.2"))))
    assert verdicts["jetpack.cuda"].status is Status.WARN


def test_unlisted_jetpack_with_the_same_components_warns(m):
    v = by_rule(m.check(Stack(platform="jetson", jetpack=V("4.6.3"), deepstream=V("6.0.1"))))["deepstream.jetpack"]
    assert v.status is Status.WARN and "4.6.1" in v.reason


def test_too_new_jetpack_fails(m):
    v = by_rule(m.check(Stack(platform="jetson", jetpack=V("5.1"), deepstream=V("6.0.1"))))["deepstream.jetpack"]
    assert v.status is Status.FAIL and "only" in v.reason and "DeepStream 6.2" in v.fix


def test_tensorrt_8_6_on_jetson_has_no_oss_build(m):
    verdicts = by_rule(m.check(Stack(platform="jetson", jetpack=V("6.0"), deepstream=V("7.0"))))
    assert verdicts["tensorrt.oss"].status is Status.WARN
    assert "8.6.1.5" in verdicts["tensorrt.oss"].reason
    assert verdicts["tensorrt.oss.guide"].status is Status.WARN


def test_x86_deepstream_requirements(m):
    good = Stack(platform="x86", deepstream=V("6.3"), tensorrt=V("8.5.3.1"), cuda=V("12.1"),
                 driver=V("525.125.06"), ubuntu=V("20.04"), python=V("3.8.10"), compute_caps=("7.5",))
    verdicts = by_rule(m.check(good))
    assert all(v.status is Status.OK for v in verdicts.values()), verdicts
    bad = Stack(platform="x86", deepstream=V("6.3"), tensorrt=V("8.2.5.1"), cuda=V("11.6"),
                driver=V("510.47.03"), ubuntu=V("18.04"), python=V("3.6.9"))
    verdicts = by_rule(m.check(bad))
    for rule in ("deepstream.tensorrt", "deepstream.cuda", "deepstream.driver"):
        assert verdicts[rule].status is Status.FAIL, rule
        assert verdicts[rule].fix
    assert "525.125.06" in verdicts["deepstream.driver"].reason
    assert verdicts["deepstream.ubuntu"].status is Status.WARN and "20.04" in verdicts["deepstream.ubuntu"].reason
    assert verdicts["pyds"].status is Status.WARN


def test_x86_what_if_takes_tensorrt_from_deepstream(m):
    verdicts = by_rule(m.check(Stack(platform="x86", deepstream=V("5.1"))))
    assert "21.03" in verdicts["tensorrt.oss"].reason


def test_h100_defaults_lack_sm90(m):
    stack = Stack(platform="x86", tensorrt=V("8.6.1"), cuda=V("12.2"), compute_caps=("9.0",))
    v = by_rule(m.check(stack))["gpu_archs.default"]
    assert v.status is Status.WARN and '-DGPU_ARCHS="90"' in v.fix


def test_compute_capability_disagreement_warns(m):
    v = by_rule(m.check(Stack(platform="jetson", family="xavier", compute_caps=("8.7",))))["compute_capability"]
    assert v.status is Status.WARN and "7.2" in v.reason


def test_every_fail_or_warn_has_a_reason_and_fail_a_fix(m):
    stacks = [
        Stack(jetpack=V("4.6.1"), deepstream=V("6.3"), cuda=V("11.4"), tensorrt=V("7.1.3"), python=V("3.8")),
        Stack(platform="x86", deepstream=V("7.1"), tensorrt=V("8.6.1"), cuda=V("12.2"), driver=V("470.1")),
    ]
    for stack in stacks:
        for v in m.check(stack):
            assert v.reason
            if v.status is Status.FAIL:
                assert v.fix, v


# -- loading ---------------------------------------------------------------------------------


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "matrix"
    shutil.copytree(MATRIX_DIR, root)
    return root


def test_the_package_data_is_the_matrix_folder():
    """pyproject.toml maps provision.matrix.data onto matrix/: what people edit is what runs."""
    assert Path(str(files("provision.matrix.data"))).resolve() == MATRIX_DIR.resolve()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_load_from_a_copy(data):
    assert Matrix.load(data).jetpack(V("4.6.1")) is not None


def test_the_same_files_are_parsed_once_per_process(data, monkeypatch, tmp_path):
    """Matrix.load keeps what it parsed by the files' SHA-256: a second load of the same files (any
    folder) parses nothing, a changed file is parsed again; a new process reads the kept one back
    (provision/matrix/kept.py)."""
    import provision.matrix
    from provision.matrix import load

    monkeypatch.setenv("DSPROV_CACHE", str(tmp_path / "cache"))
    parsed = []
    monkeypatch.setattr(load, "read", lambda texts, read=load.read: parsed.append(1) or read(texts))
    (data / "l4t.yml").write_text((data / "l4t.yml").read_text() + "# a change\n")
    first = Matrix.load(data)
    assert Matrix.load(data) is first and len(parsed) == 1
    edit(data / "l4t.yml", "# a change", "# another change")
    assert Matrix.load(data) is not first and len(parsed) == 2
    assert Matrix.load() is Matrix.load()
    before = len(parsed)
    monkeypatch.setattr(provision.matrix, "_LOADED", {})  # as a new process starts
    assert Matrix.load(data) == first and len(parsed) == before  # read back, not parsed
    edit(data / "l4t.yml", "# another change", "# a third change")
    monkeypatch.setattr(provision.matrix, "_LOADED", {})
    assert Matrix.load(data) == first and len(parsed) == before + 1
    for kept in (tmp_path / "cache" / "matrix").glob("*.pickle"):
        kept.chmod(0o666)  # a kept matrix that another user could have written is not unpickled
    monkeypatch.setattr(provision.matrix, "_LOADED", {})
    assert Matrix.load(data) == first and len(parsed) == before + 2


def test_a_kept_matrix_is_read_back_under_a_group_writable_umask(data, monkeypatch, tmp_path):
    """Ubuntu's default umask for a user with a private group is 002: the kept file is still 0600,
    so the next run reads it (read_private refuses a file the group may write)."""
    import provision.matrix
    from provision.matrix import load

    monkeypatch.setenv("DSPROV_CACHE", str(tmp_path / "cache"))
    parsed = []
    monkeypatch.setattr(load, "read", lambda texts, read=load.read: parsed.append(1) or read(texts))
    (data / "l4t.yml").write_text((data / "l4t.yml").read_text() + "# umask\n")
    old = os.umask(0o002)
    try:
        first = Matrix.load(data)
    finally:
        os.umask(old)
    kept, = (tmp_path / "cache" / "matrix").glob("*.pickle")
    assert kept.stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(provision.matrix, "_LOADED", {})
    assert Matrix.load(data) == first and len(parsed) == 1


def test_matrix_error_is_a_provision_error():
    assert issubclass(MatrixError, ProvisionError)


@pytest.mark.parametrize(
    ("filename", "old", "new", "message"),
    [
        ("l4t.yml", 'jetpack: "4.6.1"', "jetpack: 4.6", "l4t.yml: l4t row 7 (l4t: 32.7.1): jetpack must be a quoted"),
        ("l4t.yml", 'jetpack: "4.6.1"', 'jetpak: "4.6.1"', "l4t.yml: l4t row 7 (l4t: 32.7.1): missing field 'jetpack'"),
        ("l4t.yml", '- l4t: "32.7.2"', '- l4t: "32.7.1"', "l4t.yml: duplicate L4T 32.7.1"),
        ("jetpack.yml", 'cudnn: "8.2.1"', 'cudnn: "8.2.1"\n    cudn: "8"', "jetpack.yml: jetpack row 5 (version: 4.6): unknown field(s) cudn"),
        ("jetpack.yml", 'tensorrt: "8.0.1.6"', 'tensorrt: "eight"', "tensorrt 'eight' is not a version"),
        ("deepstream.yml", "source: https://github.com/marcoslucianops", "source: http://github.com/marcoslucianops",
         "deepstream.yml: deepstream row 1 (version: 5.1): source must be an https:// URL"),
        ("deepstream.yml", "{guide: build,", "{guide: maybe,", "guide must be one of build, not-needed, binary-only"),
        ("tensorrt_oss.yml", 'base: ["35",', 'base: [35,', "is not a quoted two- or three-digit SM number"),
        ("tensorrt_oss.yml", "gpu_arch_rule: trt7", "gpu_arch_rule: trt6", "gpu_arch_rule 'trt6' is not defined"),
        ("tensorrt_oss.yml", 'tensorrt: "8.5"', 'tensorrt: "8.4"', "duplicate ref for TensorRT 8.4 on jetson"),
        ("devices.yml", 'compute_capability: "5.3"', "compute_capability: 5.3", "compute_capability must be a non-empty string"),
        ("precision.yml", 'capabilities: ["6.1"]', 'capabilities: ["61"]', "'61' is not a quoted compute capability"),
        ("cmake.yml", 'minimum: "3.13"', "minimum: 3.13", "cmake.yml: oss_build: minimum must be a quoted version"),
        ("l4t.yml", "l4t:\n  # ---- JetPack 4", "l4t: [\n  # ---- JetPack 4", "l4t.yml: not valid YAML"),
    ],
)
def test_malformed_data_names_file_and_row(data, filename, old, new, message):
    edit(data / filename, old, new)
    with pytest.raises(MatrixError) as excinfo:
        Matrix.load(data)
    assert message in str(excinfo.value)


def test_cmake_archives_are_checked(data):
    x86, arm, *_ = Matrix.load(data).cmake.archives
    assert (arm.arch, arm.version, arm.source) == ("aarch64", V("3.27.6"), arm.url)
    edit(data / "cmake.yml", arm.sha256, "not-a-hash")
    with pytest.raises(MatrixError, match="sha256 must be 64"):
        Matrix.load(data)


def test_missing_file(data):
    (data / "devices.yml").unlink()
    with pytest.raises(MatrixError, match="devices.yml: cannot read"):
        Matrix.load(data)


def test_disputed_or_unverified_rows_warn_with_their_caveat(m):
    def sources(**stack):
        return {v.rule: v for v in m.check(Stack(**stack)) if v.rule.endswith(".sources")}

    l4t = sources(l4t=V("36.5.0"))["l4t.sources"]
    assert l4t.status is Status.WARN and l4t.fix.startswith("check it")
    assert "followed https://github.com/rbonghi/jetson_stats/" in l4t.reason
    assert "jetson-containers/blob/master/jetson_containers/l4t_version.py says JetPack 6.2.1" in l4t.reason
    assert "tensorrt.oss.sources" in sources(platform="x86", tensorrt=V("9.3.0"))
    assert sources(jetpack=V("7.0"), deepstream=V("8.0")).keys() == {"deepstream.sources"}
    assert sources(jetpack=V("6.2"), deepstream=V("7.1")) == {}
    assert "unverified" in sources(l4t=V("39.1.0"))["l4t.sources"].reason


# -- the 2026 stack (issue 22) -----------------------------------------------------------------


def test_thor_on_jetpack_7_1_with_deepstream_9_0_is_ok(m):
    """NVIDIA/DeepStream README at v9.0.0: Jetson on JetPack 7.1 GA (CUDA 13.0, TensorRT 10.13.x)."""
    stack = Stack(platform="jetson", family="thor", l4t=V("38.4.0"), jetpack=V("7.1"), cuda=V("13.0.48"),
                  tensorrt=V("10.13.3.9"), deepstream=V("9.0"), ubuntu=V("24.04"), compute_caps=("11.0",))
    verdicts = by_rule(m.check(stack))
    assert not [v for v in verdicts.values() if v.status is Status.FAIL], verdicts
    assert verdicts["deepstream.jetpack"].status is Status.OK
    assert "release/10.13.3 (NvInferVersion 10.13.3.9)" in verdicts["tensorrt.oss"].reason
    assert verdicts["gpu_archs.default"].status is Status.WARN  # 10.13.3 has no 110 by default: passed


def test_x86_deepstream_9_1_with_cuda_13_2_and_tensorrt_10_16_is_ok(m):
    """README at v9.1.0: x86 Ubuntu 24.04, CUDA 13.2, TensorRT 10.16.x, driver 595+."""
    for trt in ("10.16.0.72", "10.16.1.7"):  # "10.16.x": any patch
        stack = Stack(platform="x86", deepstream=V("9.1"), tensorrt=V(trt), cuda=V("13.2"),
                      driver=V("595.45.04"), ubuntu=V("24.04"), compute_caps=("12.0",))
        verdicts = by_rule(m.check(stack))
        for rule in ("deepstream.tensorrt", "deepstream.cuda", "deepstream.driver", "deepstream.ubuntu", "tensorrt.oss"):
            assert verdicts[rule].status is Status.OK, (trt, verdicts[rule])
        assert verdicts["tensorrt.oss.cmake"].status is Status.WARN
    old = by_rule(m.check(Stack(platform="x86", deepstream=V("9.1"), tensorrt=V("10.14.1.48"), driver=V("590.1"))))
    assert old["deepstream.tensorrt"].status is Status.FAIL and old["deepstream.driver"].status is Status.FAIL


def test_jetson_with_tensorrt_11_1_fails_with_the_reason(m):
    v = by_rule(m.check(Stack(platform="jetson", family="thor", jetpack=V("7.1"), tensorrt=V("11.1.0.106"))))
    assert v["tensorrt.oss"].status is Status.FAIL
    assert "TensorRT 11.0 - 11.3 do not support JetPack" in v["tensorrt.oss"].reason
    assert "11.4.1" in v["tensorrt.oss"].reason and "7.2.2" in v["tensorrt.oss"].reason
    assert v["jetpack.tensorrt"].status is Status.FAIL  # not JetPack 7.1's 10.13.3 either
    assert by_rule(m.check(Stack(platform="x86", tensorrt=V("11.1.0.106"))))["tensorrt.oss"].status is Status.OK
    # TensorRT 11.0's own Jetson page said otherwise: named beside the FAIL
    eleven = by_rule(m.check(Stack(platform="jetson", tensorrt=V("11.0.0.114"))))
    assert eleven["tensorrt.oss"].status is Status.FAIL
    assert "tensorrt/11.0.0/api/migration/tensorrt-10x-to-11x-jetson.html" in eleven["tensorrt.oss.sources"].reason


def test_jetpack_7_2_2_with_tensorrt_11_4_1_is_supported(m):
    """TensorRT 11.4.1 supports JetPack 7.2.2 or later; the OSS repository has no release/11.4 (WARN)."""
    v = by_rule(m.check(Stack(platform="jetson", jetpack=V("7.2.2"), tensorrt=V("11.4.1.3"))))
    assert v["jetpack.tensorrt"].status is Status.OK and "11.4.1" in v["jetpack.tensorrt"].reason
    assert v["tensorrt.oss"].status is Status.WARN and "release/11.4" in v["tensorrt.oss"].reason
    assert by_rule(m.check(Stack(platform="jetson", jetpack=V("7.2"), tensorrt=V("11.4.1.3"))))[
        "jetpack.tensorrt"].status is Status.FAIL  # 7.2 GA is not 7.2.2 or later


def test_l4t_36_5_is_jetpack_6_2_2_and_39_2_1_is_7_2_1(m):
    assert m.jetpack_for_l4t(V("36.5.0")).version == V("6.2.2")
    assert m.jetpack_for_l4t(V("39.2.1")).version == V("7.2.1")
    v = by_rule(m.check(Stack(l4t=V("39.2.1"), deepstream=V("9.1"))))
    assert v["deepstream.jetpack"].status is Status.WARN and "same CUDA and TensorRT as 7.2" in v["deepstream.jetpack"].reason


def test_exact_match_tag_is_named_beside_the_guides_branch(m):
    v = by_rule(m.check(Stack(platform="jetson", jetpack=V("4.6.1"), deepstream=V("6.0.1"))))
    assert v["tensorrt.oss"].status is Status.OK
    assert "release/8.2 (NvInferVersion 8.2.3.0)" in v["tensorrt.oss"].reason
    assert "tag 8.2.1 is NvInferVersion 8.2.1.8 exactly (--trt-oss-ref 8.2.1)" in v["tensorrt.oss"].reason


def test_release_10_13_3_defaults_need_cuda_version_for_100_and_120(m):
    ref = m.oss_ref(V("10.13.3.9"), "jetson")
    assert m.default_gpu_archs(ref, "jetson", None) == ("75", "80", "86", "87", "89", "90")
    assert m.default_gpu_archs(ref, "jetson", V("13.0")) == ("75", "80", "86", "87", "89", "90", "100", "120")
    for trt, cuda in (("10.14", "13.0"), ("10.15", "13.1"), ("10.16", "13.2")):
        ref = m.oss_ref(V(trt), "x86")
        assert "110" in m.default_gpu_archs(ref, "x86", None), trt  # each assumes CUDA 13.x


def test_cmake_warn_names_both_sources_and_quotes_recorded_builds(m, data):
    v = by_rule(m.check(Stack(platform="x86", tensorrt=V("10.16.0.72"))))["tensorrt.oss.cmake"]
    assert v.status is Status.WARN
    assert "https://github.com/NVIDIA/TensorRT/blob/release/10.16/README.md" in v.reason
    assert "https://github.com/NVIDIA/TensorRT/blob/release/10.16/CMakeLists.txt" in v.reason
    assert ">= 3.31" in v.reason and "requires 3.13" in v.reason
    assert ("cmake 3.28.4 built it (2026-12-07, tests/fixtures/recorded/trt-oss-cmake/trt10.16-cmake3.28.log)"
            in v.reason)
    assert "tensorrt.oss.cmake" not in by_rule(m.check(Stack(platform="x86", tensorrt=V("11.1"))))  # both say 3.31
    v = by_rule(m.check(Stack(platform="x86", tensorrt=V("10.14.1.48"))))["tensorrt.oss.cmake"]
    assert "no build recorded yet" in v.reason
    record = ('{cmake: "3.28.3", ok: false, date: "2026-12-07", command: "cmake --build build --target nvinfer_plugin",'
              ' log: "ci/build.log"}')
    marker = 'release/10.14/README.md"},\n     cmake_builds: []'
    edit(data / "tensorrt_oss.yml", marker, marker[:-2] + f"[{record}]")
    v = by_rule(Matrix.load(data).check(Stack(platform="x86", tensorrt=V("10.14.1.48"))))["tensorrt.oss.cmake"]
    assert "cmake 3.28.3 failed (2026-12-07, ci/build.log)" in v.reason


def test_a_row_citing_a_secondary_source_must_say_so(data):
    """The schema: a source that is not the publisher's own page needs `secondary` (why)."""
    text = (data / "devices.yml").read_text()
    start = text.index("    secondary: >-\n      NVIDIA's compute-capability pages do not list the TX1")
    end = text.index("  - family: tx2")
    (data / "devices.yml").write_text(text[:start] + text[end:])
    with pytest.raises(MatrixError) as excinfo:
        Matrix.load(data)
    assert str(excinfo.value) == (
        "devices.yml: jetson row 2 (family: tx1): source https://github.com/rbonghi/jetson_stats/blob/master/"
        "jtop/core/jetson_variables.py is not the publisher's own page: say so, and why, in `secondary`")
