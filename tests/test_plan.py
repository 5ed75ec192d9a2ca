"""The plan is pure: facts + matrix + options -> steps, or a refusal that touches nothing.

The facts come from the capture recorded on the H100 machine (tests/fixtures/recorded/), with
single sections replaced where a case needs TensorRT/DeepStream that machine does not have.
"""

import re
from pathlib import Path

import pytest

from provision.detect import analyse, read_capture
from provision.errors import ProvisionError
from provision.matrix import Matrix
from provision.plan import Options, PlanRefused, make_plan
from provision.steps.trt_oss import JOB_MEMORY_KIB, MIN_DISK_KIB, build_jobs, preflight

MATRIX = Matrix.load()
CAPTURE = Path(__file__).parent / "fixtures" / "recorded" / "h100-ubuntu2404" / "probe-capture.txt"
# DeepStream 7.1 on x86 (FACTS.md): TensorRT 10.3.0.26, CUDA 12.6.
TRT10 = {
    "dpkg_nvinfer": "tensorrt\t10.3.0.26-1+cuda12.5\nlibnvinfer10\t10.3.0.26-1+cuda12.5\n"
                    "libnvinfer-plugin10\t10.3.0.26-1+cuda12.5\ndeepstream-7.1\t7.1.0-1\n",
    "deepstream_version": "Version: 7.1\n",
    "nvinfer_plugin": "-rw-r--r-- 1 root root 40000 Aug  1 2024 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10.3.0\n"
                      "lrwxrwxrwx 1 root root 28 Aug  1 2024 /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10 -> libnvinfer_plugin.so.10.3.0\n",
}


def h100(**sections: str):
    """The recorded H100 capture, with the given sections' text replaced."""
    host, text = read_capture(CAPTURE)
    for name, body in sections.items():
        text, count = re.subn(rf"(==> {name} <==\n)(?:(?!==> ).*\n)*", lambda m: m.group(1) + body, text)
        assert count == 1, name
    return analyse(host, text)


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
    ds63 = {  # DeepStream 6.3 on x86 (FACTS.md): TensorRT 8.5.3.1, CUDA 12.1
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
    assert "cd /tmp/dsprov/cmake-3.27.6 && ./bootstrap --prefix=/opt/cmake-3.27.6 --parallel=16 --" in text
    assert "sudo make -C /tmp/dsprov/cmake-3.27.6 install && mkdir -p /usr/local/bin" in text


def test_bad_cmake_archive_setting_is_one_line():
    with pytest.raises(ProvisionError, match="dsprov_cmake_archives: needs arch, version, url and sha256"):
        Options.from_settings({"dsprov_cmake_archives": [{"arch": "x86_64"}]})
