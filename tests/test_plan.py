# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan is pure: facts + matrix + options -> steps, or a refusal that touches nothing.

The facts come from the capture recorded on the H100 machine (tests/fixtures/recorded/), with
single sections replaced where a case needs TensorRT/DeepStream that machine does not have.
"""

import dataclasses

import pytest
from captures import h100
from packaging.version import Version

from provision.errors import ProvisionError
from provision.matrix import Matrix
from provision.options import DEFAULT_BUILD_DIR, Flags, Options, Settings
from provision.plan import PlanRefused, make_plan, plan_options
from provision.core.step import q
from provision.capabilities.trt_oss import JOB_MEMORY_KIB, MIN_DISK_KIB, build_jobs, preflight

MATRIX = Matrix.load()
# DeepStream 7.1 on x86 (DeepStream dGPU setup guide, docs.nvidia.com/metropolis/deepstream/dev-guide): TensorRT 10.3.0.26, CUDA 12.6.
TRT10 = {
    "dpkg_nvinfer": "tensorrt\t10.3.0.26-1+cuda12.5\nlibnvinfer10\t10.3.0.26-1+cuda12.5\n"
                    "libnvinfer-plugin10\t10.3.0.26-1+cuda12.5\ndeepstream-7.1\t7.1.0-1\n",
    "deepstream_version": "Version: 7.1\n",
    "nvinfer_plugin": "-rw-r--r-- 1 root root 40000 Aug  1 2024 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10.3.0\n"
                      "lrwxrwxrwx 1 root root 28 Aug  1 2024 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10 -> libnvinfer_plugin.so.10.3.0\n",
}


def test_a_host_without_tensorrt_is_refused():
    with pytest.raises(PlanRefused, match="no TensorRT found"):
        make_plan(h100(), MATRIX, Options())


# What-if: the H100's CUDA 13.0 as DeepStream 7.1's CUDA 12.6 (the version.txt layout of CUDA <= 11).
CUDA126 = {"cuda_version_txt": "CUDA Version 12.6.77\n", "nvcc_version": ""}


def test_matrix_fail_refuses_with_the_fix():
    with pytest.raises(PlanRefused) as refused:
        make_plan(h100(**TRT10), MATRIX, Options(force=True))
    assert str(refused.value) == "localhost: DeepStream 7.1 needs CUDA 12.6; this host has 13.0.88 (fix: install CUDA 12.6)"


def test_guides_say_no_build_unless_forced():
    ds63 = {  # DeepStream 6.3 on x86 (DeepStream dGPU setup guide, docs.nvidia.com/metropolis/deepstream/dev-guide): TensorRT 8.5.3.1, CUDA 12.1
        "dpkg_nvinfer": "tensorrt\t8.5.3.1-1+cuda12.0\nlibnvinfer8\t8.5.3-1+cuda12.0\ndeepstream-6.3\t6.3.0-1\n",
        "deepstream_version": "Version: 6.3\n",
        "nvinfer_plugin": "-rw-r--r-- 1 root root 40000 Aug  1 2023 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8.5.3\n",
        "cuda_version_txt": "CUDA Version 12.1.105\n", "nvcc_version": "",
    }
    plan = make_plan(h100(**ds63), MATRIX, Options())
    assert "nothing to do (--force builds anyway)" in plan.notes[0]
    assert [s.name for s in plan.steps] == ["pyds-build", "pyds-install"]  # the host's python3 still gets pyds


def test_forced_plan_builds_the_installed_trt_ref_for_the_gpu():
    plan = make_plan(h100(**TRT10, **CUDA126), MATRIX, Options(force=True))
    assert [s.name for s in plan.steps] == ["trt-oss-build", "plugin-swap", "pyds-build", "pyds-install"]  # cmake new enough
    text = "\n".join(plan.lines())
    assert "git clone --depth 1 --single-branch --no-tags -b release/10.3" in text
    assert "submodule" not in text  # CUDA 12.6 has its own CUB
    assert "-DGPU_ARCHS=90 -DTRT_LIB_DIR=/usr/lib/x86_64-linux-gnu" in text
    assert "-DTRT_PLATFORM_ID=x86_64 -DCUDA_VERSION=12.6" in text
    assert "--target nvinfer_plugin -- -j16" in text


def test_a_plugin_the_ref_lacks_is_refused_before_building():
    nano_trt = {**TRT10, "dpkg_nvinfer": "tensorrt\t8.2.1.8-1+cuda10.2\nlibnvinfer8\t8.2.1-1+cuda10.2\n",
                "deepstream_version": ""}
    with pytest.raises(PlanRefused) as refused:
        make_plan(h100(**nano_trt, **CUDA126), MATRIX,
                  Options(force=True, required_plugins=("MultiscaleDeformableAttnPlugin_TRT",)))
    assert "MultiscaleDeformableAttnPlugin_TRT is not in release/8.2" in str(refused.value)


def test_preflight_refuses_small_disk_and_memory():
    assert preflight(3_000_000, 2_000_000, 10 * MIN_DISK_KIB, "/b") is None
    assert preflight(3_000_000, 0, 1024, "/tmp/full/b") == (
        "only 1 MiB free in /tmp/full/b; the build needs 2048 MiB (free space or set dsprov_build_dir)"
    )
    short = preflight(JOB_MEMORY_KIB // 2, 0, 10 * MIN_DISK_KIB, "/b")
    assert short.startswith("only 768 MiB of memory and swap available") and short.endswith("(add swap)")


def test_jobs_follow_memory_not_cores():
    # Jetson Nano 4 GB profile: ~3 GiB available + ~1.9 GiB zram swap, 4 cores -> 3 jobs
    assert build_jobs(3_146_012, 2_029_728, 4) == (3, None)
    # the same Nano without swap: 2 jobs, and a hint that swap would allow more
    jobs, hint = build_jobs(3_146_012, 0, 4)
    assert jobs == 2 and "adding swap" in hint
    # a 32 GiB, 8-core T4 server: cores decide
    assert build_jobs(31_224_652, 0, 8) == (8, None)


def test_old_cmake_gets_the_release_archive_for_the_host_arch():
    plan = make_plan(h100(**TRT10, **CUDA126, cmake_version="cmake version 3.10.2\n"), MATRIX, Options(force=True))
    assert [s.name for s in plan.steps] == ["cmake", "trt-oss-build", "plugin-swap", "pyds-build", "pyds-install"]
    cmake = plan.steps[0]
    assert cmake.archive.url.endswith("/v3.27.6/cmake-3.27.6-linux-x86_64.tar.gz")
    assert cmake.summary() == "install cmake 3.27.6 (have 3.10.2, need >= 3.13)"


def test_cmake_source_build_only_when_asked():
    d = h100(**TRT10, **CUDA126, cmake_version="")
    plan = make_plan(d, MATRIX, Options(force=True, cmake_from_source=True))
    cmake = plan.steps[0]
    assert cmake.summary() == "build cmake 3.27.6 from source with -j16 (have none, need >= 3.13)"
    text = "\n".join(cmake.describe())
    src = q(f"{DEFAULT_BUILD_DIR}/cmake-3.27.6")  # the recorded capture predates the probe's build_dir section
    assert f"cd {src} && ./bootstrap --prefix=/opt/cmake-3.27.6 --parallel=16 --" in text
    assert f"sudo make -C {src} install && mkdir -p /usr/local/bin" in text


def test_bad_cmake_archive_setting_is_one_line():
    with pytest.raises(ProvisionError, match="dsprov_cmake_archives: needs arch, version, url and sha256"):
        plan_options(Settings.read({"dsprov_cmake_archives": [{"arch": "x86_64"}]}))


# TensorRT 10.3 without DeepStream: no guide says the build is unneeded, so it builds unforced.
TRT10_ONLY = {**TRT10, **CUDA126, "deepstream_version": "",
              "dpkg_nvinfer": "tensorrt\t10.3.0.26-1+cuda12.5\nlibnvinfer-plugin10\t10.3.0.26-1+cuda12.5\n"}


def test_gpu_archs_the_host_gpu_cannot_run_are_refused_unless_forced():
    """The H100 (compute capability 9.0, from deviceQuery there) runs SASS built for 9.0 only."""
    assert make_plan(h100("90", **TRT10_ONLY), MATRIX, Options()).steps[0].spec.gpu_archs == "90"
    assert make_plan(h100("75 90", **TRT10_ONLY), MATRIX, Options()).steps[0].spec.gpu_archs == "75 90"
    for archs in ("75", "87", "100"):  # an older major, a newer minor of another major, a newer major
        with pytest.raises(PlanRefused) as refused:
            make_plan(h100(archs, **TRT10_ONLY), MATRIX, Options())
        assert str(refused.value) == (
            f"localhost: --gpu-archs {archs} has no code this host's GPU (compute capability 9.0) runs: a build for"
            " X.y runs on X.z with z >= y only (NVIDIA CUDA binary compatibility); --force builds it anyway")
        assert make_plan(h100(archs, **TRT10_ONLY), MATRIX, Options(force=True)).steps[0].spec.gpu_archs == archs


def _trt(version: str, major: str) -> dict[str, str]:
    """An x86 host with this TensorRT and no DeepStream (no guide applies)."""
    base = ".".join(version.split(".")[:3])
    return {"dpkg_nvinfer": f"tensorrt\t{version}-1+cuda12.8\nlibnvinfer{major}\t{version}-1+cuda12.8\n",
            "deepstream_version": "",
            "nvinfer_plugin": f"-rw-r--r-- 1 root root 40000 Aug  1 2025 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.{base}\n"}


def test_release_10_10_gets_cmake_cuda_architectures_not_gpu_archs():
    """release/10.10 appends the literal text SM for each GPU_ARCHS entry: pass the list it reads."""
    plan = make_plan(h100(**_trt("10.10.0.31", "10")), MATRIX, Options())
    build = next(s for s in plan.steps if s.name == "trt-oss-build")
    text = "\n".join(build.describe())
    assert "-DCMAKE_CUDA_ARCHITECTURES=90 " in text and "-DGPU_ARCHS" not in text
    assert any("literal text SM" in n and "CMAKE_CUDA_ARCHITECTURES" in n for n in plan.notes)
    twelve = make_plan(h100(**_trt("10.12.0.36", "10")), MATRIX, Options())
    assert "-DGPU_ARCHS=90 " in "\n".join(next(s for s in twelve.steps if s.name == "trt-oss-build").describe())


def test_release_11_needs_cmake_3_31_and_its_architecture_list():
    d = h100(**_trt("11.1.0.106", "11"), cmake_version="cmake version 3.28.3\n")  # Ubuntu 24.04's cmake
    plan = make_plan(d, MATRIX, Options())
    assert [s.name for s in plan.steps][:3] == ["cmake", "trt-oss-build", "plugin-swap"]
    cmake, build = plan.steps[0], plan.steps[1]
    assert cmake.summary() == "install cmake 3.31.6 (have 3.28.3, need >= 3.31)"
    assert cmake.archive.sha256 == "5a1133ff103c71eb5120e2cc3de922733e7d8a26a98ae716397e8676adb367bf"
    assert build.spec.arch_flag == "CMAKE_CUDA_ARCHITECTURES" and "-DGPU_ARCHS" not in "\n".join(build.describe())
    # 11.x has no nvinfer_plugin target: tensorrt_plugins writes libnvinfer_plugin.so.11.1.0
    assert "--target tensorrt_plugins -- -j" in "\n".join(build.describe())
    assert build.summary().startswith("build tensorrt_plugins from TensorRT OSS release/11.1 for CMAKE_CUDA_ARCHITECTURES 90 ")
    # an Orin-like override with two SMs: the semicolon list CMake reads
    assert make_plan(analyse_with(d, "87,90"), MATRIX, Options()).steps[1].spec.gpu_archs == "87;90"
    # the same host under 10.x: 3.28 is new enough, no cmake step
    assert make_plan(h100(**_trt("10.3.0.26", "10"), cmake_version="cmake version 3.28.3\n"),
                     MATRIX, Options()).steps[0].name == "trt-oss-build"


def analyse_with(d, gpu_archs):
    from provision.detect import analyse
    return analyse(d.host, d.capture, gpu_archs=gpu_archs)


def test_a_mirror_without_a_new_enough_cmake_is_refused_with_the_reason():
    d = h100(**_trt("11.0.0.114", "11"), cmake_version="cmake version 3.28.3\n")
    settings = {"dsprov_cmake_archives": [{"arch": "x86_64", "version": "3.27.6", "url": "http://m/cmake-3.27.6-linux-x86_64.tar.gz",
                                           "sha256": "0" * 64}]}
    with pytest.raises(PlanRefused) as refused:
        make_plan(d, MATRIX, plan_options(Settings.read(settings)))
    assert str(refused.value) == (
        "localhost: cmake 3.28.3 is older than 3.31 (release/11.0 needs it) and no cmake release archive >= 3.31 is"
        " known for x86_64 (have: 3.27.6; set dsprov_cmake_archives, or --cmake-from-source)")
    source = make_plan(d, MATRIX, Options(cmake_from_source=True)).steps[0]
    assert source.archive.version == Version("3.31.6") and source.minimum.public == "3.31"


def test_prebuilt_plugin_when_asked_for_the_exact_tensorrt():
    plan = make_plan(h100(**_trt("8.2.5.1", "8"), **CUDA126), MATRIX, Options(plugin_source="prebuilt"))
    assert [s.name for s in plan.steps][:2] == ["prebuilt-plugin", "plugin-swap"]
    fetch = plan.steps[0]
    assert fetch.spec.path == "TRT-OSS/x86/TRT8.2/libnvinfer_plugin.so.8.2.5.1"
    assert fetch.spec.sha256 == "1ed52b5cbcec884b9d9e7f700660e7555838882ad4e354edb62495467023fc71"
    assert fetch.spec.commit == MATRIX.prebuilt.commit and fetch.spec.repo == MATRIX.prebuilt.repo
    text = "\n".join(plan.lines())
    assert f"checkout -q {MATRIX.prebuilt.commit} -- TRT-OSS/x86/TRT8.2/libnvinfer_plugin.so.8.2.5.1" in text
    # auto (the default) builds where the guide asks for a build and an OSS ref exists
    assert make_plan(h100(**_trt("8.2.5.1", "8"), **CUDA126), MATRIX, Options()).steps[0].name == "trt-oss-build"


def test_prebuilt_pinned_by_git_blob_where_no_sha256_exists():
    """x86 TRT-OSS/x86/TRT8.6/libnvinfer_plugin.so.8.6.1 is a plain git blob at the pinned commit:
    its blob id (from the commit's tree) pins it."""
    fetch = make_plan(h100(**_trt("8.6.1.6", "8"), **CUDA126), MATRIX, Options(plugin_source="prebuilt")).steps[0]
    assert (fetch.spec.sha256, fetch.spec.git_blob) == (None, "b2945de4b4370de7db6ec0cb808e89bb4ff0aa2d")
    assert fetch.spec.pin == ("git blob", "b2945de4b4370de7db6ec0cb808e89bb4ff0aa2d")
    assert "check git blob b2945de4b4370de7db6ec0cb808e89bb4ff0aa2d" in fetch.describe()[-1]


def test_prebuilt_refused_without_a_pin_or_a_file():
    libraries = tuple(dataclasses.replace(p, git_blob=None) if p.git_blob else p for p in MATRIX.prebuilt.libraries)
    unpinned = dataclasses.replace(MATRIX, prebuilt=dataclasses.replace(MATRIX.prebuilt, libraries=libraries))
    with pytest.raises(PlanRefused) as refused:
        make_plan(h100(**_trt("8.6.1.6", "8"), **CUDA126), unpinned, Options(plugin_source="prebuilt"))
    assert "libnvinfer_plugin.so.8.6.1: a plain git blob" in str(refused.value)
    with pytest.raises(PlanRefused, match="none for TensorRT 10.3.0.26 on x86"):
        make_plan(h100(**_trt("10.3.0.26", "10"), **CUDA126), MATRIX, Options(plugin_source="prebuilt"))


def test_inventory_pin_replaces_the_matrix_pin_and_bad_values_are_one_line():
    pin = {"commit": "a" * 40, "libraries": [{"platform": "x86", "tensorrt": "8.2.5.1", "sha256": "b" * 64,
                                              "path": "TRT-OSS/x86/TRT8.2/libnvinfer_plugin.so.8.2.5.1"}]}
    options = plan_options(Settings.read({"dsprov_prebuilt_plugins": pin, "dsprov_tao_apps_repo": "http://m/tao.git"}),
                                    Flags(plugin_source="prebuilt"))
    fetch = make_plan(h100(**_trt("8.2.5.1", "8"), **CUDA126), MATRIX, options).steps[0]
    assert (fetch.spec.repo, fetch.spec.commit, fetch.spec.sha256) == ("http://m/tao.git", "a" * 40, "b" * 64)
    with pytest.raises(ProvisionError, match=r"^--plugin-source: 'binary' is not one of auto, prebuilt, build$"):
        plan_options(Settings.read({}), Flags.parse({"plugin_source": "binary"}))
    with pytest.raises(ProvisionError, match="dsprov_prebuilt_plugins: commit 'main' is not 40 hex digits"):
        plan_options(Settings.read({"dsprov_prebuilt_plugins": {**pin, "commit": "main"}}))


def test_a_stop_is_one_note_and_only_a_continuing_one_is_planned_again():
    from provision.core.plan import Plan
    from provision.capabilities.nvidia_stack import Reboot

    plan = Plan("h", notes=["a note"], stop="the rest is planned after these steps")
    assert not plan.replanned  # no steps: nothing to plan after
    plan.add("why", Reboot("driver 570"))
    assert plan.replanned and plan.messages == ["a note", "the rest is planned after these steps"]
    assert plan.lines()[1:3] == ["  note: a note", "  note: the rest is planned after these steps"]
    plan.continues = False  # a reboot must come first: the next run goes on
    assert not plan.replanned
    assert not Plan("h", [Reboot("x")]).replanned and Plan("h").messages == []
