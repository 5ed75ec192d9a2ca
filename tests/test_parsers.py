# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parsers over real recorded and published outputs (each fixture folder's SOURCE.md names its origin)."""

from pathlib import Path

import pytest
from packaging.version import Version

from provision.facts import parsers as p
from simfleet.profiles import PUBLISHED_DIR

FIXTURES = Path(__file__).parent / "fixtures"
PUBLISHED = PUBLISHED_DIR
H100 = FIXTURES / "recorded" / "h100-ubuntu2404"


def read(path: Path) -> str:
    return path.read_text()


@pytest.mark.parametrize(
    "fixture, name, cc, versions",
    [
        ("nano/device_query.txt", "NVIDIA Tegra X1", "5.3", ("10.2", "10.2")),
        ("tx2/device_query.txt", "NVIDIA Tegra X2", "6.2", ("8.0", "8.0")),
        ("xavier/device_query_partial.txt", "Xavier", "7.2", ("11.8", "11.8")),
        ("orin/device_query_partial.txt", "Orin", "8.7", ("12.9", "12.9")),
        ("orin/device_query_orinnx_cuda11.4.txt", "Orin", "8.7", ("11.4", "11.4")),
    ],
)
def test_device_query_published(fixture, name, cc, versions):
    dq = p.parse_device_query(read(PUBLISHED / fixture))
    assert dq.error is None
    assert [(d.index, d.name, d.compute_cap) for d in dq.devices] == [(0, name, cc)]
    assert (dq.driver_cuda, dq.runtime_cuda) == versions


def test_device_query_published_four_t4():
    dq = p.parse_device_query(read(PUBLISHED / "t4" / "device_query_4gpu.txt"))
    assert [(d.name, d.compute_cap) for d in dq.devices] == [("Tesla T4", "7.5")] * 4


def test_device_query_failure_recorded_here():
    capture = read(FIXTURES / "recorded" / "nogpu-debian12" / "probe-output.txt")
    dq = p.parse_device_query(p.split_sections(capture)["device_query"])
    assert dq.devices == ()
    assert dq.error == "cudaGetDeviceCount returned 35: CUDA driver version is insufficient for CUDA runtime version"


def test_device_query_two_devices_and_garbage():
    text = (
        'Detected 2 CUDA Capable device(s)\n\nDevice 0: "Tesla T4"\n'
        "  CUDA Capability Major/Minor version number:    7.5\n\nDevice 1: \"NVIDIA A10\"\n"
        "  CUDA Capability Major/Minor version number:    8.6\n"
    )
    assert [d.compute_cap for d in p.parse_device_query(text).devices] == ["7.5", "8.6"]
    assert p.parse_device_query("sh: 1: devicequery: not found").error.startswith("sh: 1")
    assert p.parse_device_query("") is None


def test_nvidia_smi_query_h100():
    smi = p.parse_nvidia_smi_query(read(H100 / "nvidia-smi-query.csv"))
    assert smi.error is None
    assert smi.gpus == (p.SmiGpu("NVIDIA H100 80GB HBM3", "9.0", "580.159.04", 81559),)


def test_nvidia_smi_query_old_driver_rejects_compute_cap():
    rejected = read(PUBLISHED / "misc" / "nvidia_smi_compute_cap_rejected.txt")
    # what the probe prints on R470: the rejection, then the query again without compute_cap
    text = rejected + "name, driver_version, memory.total [MiB]\nTesla T4, 470.63.01, 15109 MiB\n"
    smi = p.parse_nvidia_smi_query(text)
    assert smi.gpus == (p.SmiGpu("Tesla T4", None, "470.63.01", 15109),)
    assert "not a valid field" in smi.error


def test_nvcc_version_h100():
    assert p.parse_nvcc_version(read(H100 / "nvcc-version.txt")) == Version("13.0.88")


def test_cuda_version_files():
    assert p.parse_cuda_version_txt("CUDA Version 10.2.89\n") == Version("10.2.89")
    json_text = '{"cuda": {"name": "CUDA SDK", "version": "11.4.19"}, "cuda_nvcc": {"version": "11.4.315"}}'
    assert p.parse_cuda_version_json(json_text) == Version("11.4.315")
    missing = read(H100 / "cuda-version-json-missing.txt")
    assert p.parse_cuda_version_json(missing) is None


def test_nv_tegra_release_published_tx2():
    tegra = p.parse_nv_tegra_release(read(PUBLISHED / "tx2" / "nv_tegra_release.txt"))
    assert tegra == p.TegraRelease(Version("32.5.1"), "t186ref")


def test_nv_tegra_release_odd_input():
    assert p.parse_nv_tegra_release("") is None
    assert p.parse_nv_tegra_release("# R32 (release), REVISION: x") is None


def test_dpkg_published_nano():
    packages = p.parse_dpkg(read(PUBLISHED / "nano" / "dpkg_nvinfer.txt"))
    assert packages["libnvinfer8"] == "8.2.1-1+cuda10.2"
    assert p.tensorrt_from_dpkg(packages) == Version("8.2.1.9")  # the `tensorrt` package row
    assert p.upstream_version(packages["nvidia-l4t-core"]) == Version("32.7.4")


def test_dpkg_query_w_lines():
    text = "nvidia-l4t-core\t32.7.1-20220219090432\ntensorrt\t8.2.1.8-1+cuda10.2\nlibnvinfer-bin\t\ndeepstream-6.0\t6.0.1-1\n"
    packages = p.parse_dpkg(text)
    assert "libnvinfer-bin" not in packages  # matched by the pattern but not installed
    assert p.tensorrt_from_dpkg(packages) == Version("8.2.1.8")
    assert p.deepstream_from_dpkg(packages) == Version("6.0.1")


def test_nvinfer_version_h_8_and_10():
    v8 = "#define NV_TENSORRT_MAJOR 8\n#define NV_TENSORRT_MINOR 2\n#define NV_TENSORRT_PATCH 1\n#define NV_TENSORRT_BUILD 8\n"
    assert p.parse_nvinfer_version_h(v8) == Version("8.2.1.8")
    v10 = (
        "#define TRT_MAJOR_ENTERPRISE 10\n#define TRT_MINOR_ENTERPRISE 3\n#define TRT_PATCH_ENTERPRISE 0\n"
        "#define TRT_BUILD_ENTERPRISE 26\n#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE\n"
        "#define NV_TENSORRT_MINOR TRT_MINOR_ENTERPRISE\n#define NV_TENSORRT_PATCH TRT_PATCH_ENTERPRISE\n"
        "#define NV_TENSORRT_BUILD TRT_BUILD_ENTERPRISE\n"
    )
    assert p.parse_nvinfer_version_h(v10) == Version("10.3.0.26")
    assert p.parse_nvinfer_version_h("#define NV_TENSORRT_MAJOR\n") is None


def test_small_sections():
    assert p.parse_deepstream_version("Version: 6.0\n") == Version("6.0")
    assert p.parse_python3_version("Python 3.6.9\n") == Version("3.6.9")
    assert p.parse_cmake_version("cmake version 3.10.2\n") == Version("3.10.2")
    assert p.parse_libc_version("glibc 2.27\n") == Version("2.27")
    assert p.parse_dt_model("NVIDIA Jetson Nano Developer Kit\x00") == "NVIDIA Jetson Nano Developer Kit"
    assert p.parse_dt_compatible("nvidia,p3450-0000\nnvidia,jetson-nano\nnvidia,tegra210\n")[-1] == "nvidia,tegra210"
    assert p.parse_nproc("0-3") == 4 and p.parse_nproc("0-3,6") == 5 and p.parse_nproc("0") == 1
    assert p.parse_nproc("16") == 16 and p.parse_nproc("x-y") is None
    assert p.parse_uname_m("aarch64\n") == "aarch64"


def test_recorded_capture_here():
    sections = p.split_sections(read(FIXTURES / "recorded" / "nogpu-debian12" / "probe-output.txt"))
    assert p.parse_uname_m(sections["uname_m"]) == "x86_64"
    assert p.parse_os_release(sections["os_release"]).id == "debian"
    assert p.parse_meminfo(sections["meminfo"]).total_kib > 1_000_000
    assert p.parse_df(sections["df_build"]).available_kib > 0
    assert sections["nv_tegra_release"] == "" and "nv_tegra_release" in sections


def test_ls_libraries():
    text = (
        "lrwxrwxrwx 1 root root 26 Feb  1  2022 /usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so -> libnvinfer_plugin.so.8.2.1\n"
        "-rw-r--r-- 1 root root 9176616 Feb  1  2022 /usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so.8.2.1\n"
    )
    files = p.parse_ls_libraries(text)
    assert files[0] == p.LibraryFile("libnvinfer_plugin.so", link_target="libnvinfer_plugin.so.8.2.1")
    assert files[1] == p.LibraryFile("libnvinfer_plugin.so.8.2.1", size=9176616)


@pytest.mark.parametrize(
    "fixture, l4t, board",
    [("nano/nv_tegra_release.txt", "32.7.1", "t210ref"), ("orin/nv_tegra_release.txt", "36.3.0", None)],
)
def test_nv_tegra_release_published(fixture, l4t, board):
    tegra = p.parse_nv_tegra_release(read(PUBLISHED / fixture))
    assert str(tegra.l4t) == l4t
    if board:
        assert tegra.board == board


def _probe(**sections: str) -> str:
    """A probe output with just these sections (the rest absent, as on a bare host)."""
    return "".join(f"==> {name} <==\n{text}" for name, text in sections.items())


def test_thor_published_outputs():
    thor = PUBLISHED / "thor"
    assert p.parse_nv_tegra_release(read(thor / "nv_tegra_release.txt")).l4t == Version("38.2.2")
    dq = p.parse_device_query(read(thor / "device_query.txt"))
    assert [(d.name, d.compute_cap) for d in dq.devices] == [("NVIDIA Thor", "11.0")]
    assert p.parse_nvcc_version(read(thor / "nvcc_version.txt")) == Version("13.0.48")
    nano = PUBLISHED / "orin-nano"
    assert p.parse_nv_tegra_release(read(nano / "nv_tegra_release.txt")).l4t == Version("36.4.3")


def test_jetson_without_nv_tegra_release_says_what_is_unknown():
    """In a container: the device tree is the host's, the release file and l4t packages absent."""
    from provision.detect import analyse

    d = analyse("ctr", _probe(
        uname_m="aarch64\n", container="docker\n",
        dt_model="NVIDIA Jetson Orin Nano Developer Kit\n",
        dt_compatible="nvidia,p3768-0000+p3767-0005\nnvidia,p3767-0005\nnvidia,tegra234\n",
        dpkg_nvinfer="tensorrt\t10.3.0.30-1+cuda12.5\nlibnvinfer10\t10.3.0.30-1+cuda12.5\n"))
    j = d.facts.jetson
    assert (d.facts.platform, j.family, j.container, j.l4t, j.jetpack) == ("jetson", "orin", "docker", None, None)
    assert j.unknown == ("L4T", "JetPack", "board") and j.compute_cap == "8.7"
    assert any("inside a docker container" in w for w in d.facts.warnings)
    # an nvidia-l4t-* package other than core still gives the L4T
    with_pkg = analyse("ctr", _probe(uname_m="aarch64\n", dt_compatible="nvidia,tegra234\n",
                                     dpkg_nvinfer="nvidia-l4t-cuda\t36.4.3-20250107174145\n"))
    assert (with_pkg.facts.jetson.l4t, with_pkg.facts.jetson.jetpack) == (Version("36.4.3"), Version("6.2"))
    assert with_pkg.facts.jetson.unknown == ("board",)


def test_tx2_nx_lanai_model_and_thor_soc():
    from provision.matrix import Matrix

    m = Matrix.load()
    assert m.device_for("lanai-3636", ()).family == "tx2"
    assert m.device_for("NVIDIA Jetson AGX Thor Developer Kit",
                        ("nvidia,p3971-0080+p3834-0008", "nvidia,tegra264")).family == "thor"


def test_plugin_files_answer_only_for_the_folders_the_probe_covered():
    lib, saved = "/usr/lib/x86_64-linux-gnu", "/var/lib/dsprov/orig"
    digest = "0123456789abcdef" * 4
    text = (f"dir\t{lib}\nlink\t{lib}/libnvinfer_plugin.so.8\t{lib}/libnvinfer_plugin.so.8.0.1\n"
            f"hashed\t{lib}\nsha256\t{lib}/libnvinfer_plugin.so.8.0.1\t{digest}\nhashed\t{saved}\n")
    files = p.parse_plugin_files(text)
    assert files.resolved(f"{lib}/libnvinfer_plugin.so.8") == (True, f"{lib}/libnvinfer_plugin.so.8.0.1")
    assert files.resolved(f"{lib}/libnvinfer_plugin.so.8.0.1") == (True, f"{lib}/libnvinfer_plugin.so.8.0.1")
    assert files.digest(f"{lib}/libnvinfer_plugin.so.8.0.1") == (True, digest)
    assert files.digest(f"{saved}/libnvinfer_plugin.so.8.0.1") == (True, None)  # hashed folder, no such file
    assert files.digest(f"{lib}/libnvinfer.so.8") == (False, None)  # not a plugin file: ask the host
    assert p.parse_plugin_files("").resolved(f"{lib}/libnvinfer_plugin.so.8") == (False, None)  # an older capture
    assert p.parse_plugin_files(f"dir\t{lib}\n").digest(f"{lib}/libnvinfer_plugin.so.8.0.1") == (False, None)


def test_pyds_import_says_whether_it_was_asked():
    assert p.parse_pyds_import("") is None
    assert p.parse_pyds_import("asked") == ""
    assert p.parse_pyds_import("asked\n1.1.11") == "1.1.11"


@pytest.mark.parametrize(
    ("model", "family"),
    [
        # JetPack 5.1.4's Orin Nano devkit: jetson_release prints "Model: NVIDIA Orin Nano Developer Kit"
        # (the device-tree model; SnapDragonfly/jetson-fpv doc/TESTENV.md): no "Jetson" in it.
        ("NVIDIA Orin Nano Developer Kit", "orin"),
        ("quill", "tx2"),  # the TX2 devkit's L4T R32 device tree names the board
        ("lanai-3636", "tx2"),  # TX2 NX (devices.yml)
    ],
)
def test_a_model_the_family_map_knows_makes_a_jetson(model, family):
    """No /etc/nv_tegra_release, no tegra compatible, no "Jetson": the family map decides."""
    from provision.detect import analyse

    d = analyse("dev", _probe(uname_m="aarch64\n", dt_model=f"{model}\n",
                              dpkg_nvinfer="tensorrt\t8.5.2.2-1+cuda11.4\n"))
    assert (d.facts.platform, d.facts.jetson.family, d.facts.jetson.model) == ("jetson", family, model)
    assert not any("neither a Jetson nor an x86 server" in w for w in d.facts.warnings)


def test_the_platform_gate_and_the_family_map_agree():
    """Every model string the family map recognises passes the gate; an unknown board does not."""
    from provision.detect import analyse
    from provision.matrix import Matrix

    for device in Matrix.load().device_rows:
        for part in device.model_substrings:
            d = analyse("dev", _probe(uname_m="aarch64\n", dt_model=f"{part}\n"))
            assert d.facts.platform == "jetson" and d.facts.jetson.family == device.family, part
    pi = analyse("pi", _probe(uname_m="aarch64\n", dt_model="Raspberry Pi 4 Model B Rev 1.4\n",
                              dt_compatible="raspberrypi,4-model-b\nbrcm,bcm2711\n"))
    assert pi.facts.platform is None and pi.facts.jetson is None
    assert any("aarch64 host without L4T" in w for w in pi.facts.warnings)
