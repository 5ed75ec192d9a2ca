# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixture upstreams of the simulated fleet: stand-in TensorRT libraries, the TensorRT-OSS and
deepstream_python_apps shaped repos, cmake archives and the local HTTP server."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from simfleet.upstreams import (
    build_loader,
    build_trt_libs,
    MANIFEST,
    UNUSED_SECONDS,
    build_upstreams,
    elf_machine,
    encode_version,
    plugins_for,
    serve,
)
from simfleet.upstreams.trtlibs import TRIPLETS
from provision.capabilities.trt_oss import BuildSpec

needs_cmake = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
needs_cross = pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-gcc") is None, reason="gcc-aarch64-linux-gnu not installed")
X86_LIBDIR = "usr/lib/x86_64-linux-gnu"
GIT_FILE_OK = ["-c", "protocol.file.allow=always"]  # submodules over file:// (git >= 2.38.1)


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def ups():
    """The cached upstreams (default cache root, so reruns are quick)."""
    return build_upstreams()


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """x86_64 stand-in TensorRT 8.2.1 libraries and the compiled loader check program."""
    root = tmp_path_factory.mktemp("trt821")
    written = build_trt_libs("x86_64", "8.2.1.8", root)
    loader = build_loader(root / "trtcheck")
    return root, written, loader


def loader_report(loader: Path, lib: Path, libdir: Path) -> dict[str, list[str]]:
    env = {**os.environ, "LD_LIBRARY_PATH": str(libdir)}
    out = run([str(loader), str(lib)], env=env).stdout
    report: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(": ")
        report.setdefault(key, []).append(value)
    return report


# --- stand-in libraries -------------------------------------------------------------------

def test_version_encoding_and_plugin_sets():
    assert encode_version("8.2.3") == 8203
    assert encode_version("7.1.3.4") == 7103
    assert encode_version("10.3.0.26") == 100300
    assert "MultiscaleDeformableAttnPlugin_TRT" not in plugins_for("8.2.1")
    assert "MultiscaleDeformableAttnPlugin_TRT" in plugins_for("8.4.1")
    assert "EfficientNMS_TRT" not in plugins_for("7.2.2") and "EfficientNMS_TRT" in plugins_for("8.0.1")
    tao = {"BatchTilePlugin_TRT", "NMS_TRT", "BatchedNMS_TRT", "CropAndResize", "Proposal",
           "ResizeNearest_TRT", "GenerateDetection_TRT", "MultilevelCropAndResize_TRT",
           "MultilevelProposeROI_TRT"}
    for version in ("7.1.3", "8.2.1", "8.5.2", "8.6.2", "10.3.0"):
        assert tao <= set(plugins_for(version)), version


def test_stand_in_layout_and_loader(stand_in):
    root, written, loader = stand_in
    libdir = root / X86_LIBDIR
    real = libdir / "libnvinfer_plugin.so.8.2.1"
    assert real.is_file() and not real.is_symlink()
    assert os.readlink(libdir / "libnvinfer_plugin.so.8") == "libnvinfer_plugin.so.8.2.1"
    assert os.readlink(libdir / "libnvinfer_plugin.so") == "libnvinfer_plugin.so.8"
    assert os.readlink(libdir / "libnvinfer.so.8") == "libnvinfer.so.8.2.1"
    assert "#define NV_TENSORRT_PATCH 1" in (root / "usr/include/x86_64-linux-gnu/NvInferVersion.h").read_text()
    assert {p.name for p in written} >= {"libnvinfer.so.8.2.1", "libnvinfer_plugin.so.8.2.1"}
    data = real.read_bytes()
    assert data.count(b"BatchTilePlugin_TRT") >= 1 and b"MultiscaleDeformableAttnPlugin_TRT" not in data
    if shutil.which("readelf"):
        dyn = run(["readelf", "-d", str(real)]).stdout
        assert "[libnvinfer_plugin.so.8]" in dyn and "[libnvinfer.so.8]" in dyn
    report = loader_report(loader, libdir / "libnvinfer_plugin.so.8", libdir)
    assert report["getInferLibVersion"] == ["8201"]
    assert report["initLibNvInferPlugins"] == ["1"]
    assert report["creator"] == plugins_for("8.2.1")
    core = loader_report(loader, libdir / "libnvinfer.so.8", libdir)
    assert core["getInferLibVersion"] == ["8201"] and "creator" not in core


@needs_cross
def test_aarch64_stand_in_is_aarch64_elf(tmp_path):
    written = build_trt_libs("arm64", "8.2.1", tmp_path, gpu_archs=["53"])
    libdir = tmp_path / "usr/lib" / TRIPLETS["aarch64"]
    for name in ("libnvinfer.so.8.2.1", "libnvinfer_plugin.so.8.2.1"):
        header = (libdir / name).read_bytes()[:20]
        assert header[:4] == b"\x7fELF" and header[4] == 2  # ELFCLASS64
        assert int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
        assert elf_machine(libdir / name) == "aarch64"
    assert b"GPU_ARCHS=53" in (libdir / "libnvinfer_plugin.so.8.2.1").read_bytes()
    assert libdir / "libnvinfer_plugin.so.8" in written


# --- TensorRT OSS repo --------------------------------------------------------------------

def test_oss_refs_and_versions(ups):
    refs = run(["git", "ls-remote", ups.trt_oss_url]).stdout
    for ref in ("refs/tags/21.03", "refs/tags/21.08", "refs/heads/release/7.1",
                "refs/heads/release/8.2", "refs/heads/release/8.6", "refs/heads/release/10.3"):
        assert ref in refs
    bare = ups.root / "git/NVIDIA/TensorRT.git"
    for ref, version in ups.oss_refs.items():
        header = run(["git", "show", f"{ref}:include/NvInferVersion.h"], cwd=bare).stdout
        major, minor, patch, build = version.split(".")
        assert f"#define NV_TENSORRT_MAJOR {major} " in header
        assert f"#define NV_TENSORRT_MINOR {minor} " in header
        assert f"#define NV_TENSORRT_PATCH {patch} " in header
        assert f"#define NV_TENSORRT_BUILD {build} " in header
    assert ups.oss_refs["release/8.2"] == "8.2.3.0" and ups.oss_refs["21.03"] == "7.2.2.3"


def clone_oss(ups, ref: str, dest: Path, cuda: str = "13.0") -> Path:
    """Clone as the tool does for a host with CUDA `cuda` (BuildSpec.clone_commands)."""
    spec = BuildSpec(ups.trt_oss_url, ref, "53", "", "x86_64", cuda, "gcc", "", str(dest.parent), 1)
    env = {**os.environ, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.file.allow",
           "GIT_CONFIG_VALUE_0": "always"}  # submodules over file:// (git >= 2.38.1)
    for command in spec.clone_commands():
        run(["sh", "-c", command], env=env)
    Path(spec.src).rename(dest)
    return dest


def test_recursive_clone_fails_as_on_an_offline_host(ups, tmp_path):
    """protobuf and onnx-tensorrt are GitHub-only gitlinks, as in the real tree."""
    fail = run(["git", *GIT_FILE_OK, "clone", "--quiet", "--recursive", "-b", "release/8.2", ups.trt_oss_url,
                str(tmp_path / "TensorRT")], check=False)
    assert fail.returncode != 0 and "parsers/onnx" in fail.stderr


@needs_cmake
@pytest.mark.parametrize("ref,version,has_msda", [
    ("release/8.2", "8.2.3", False),
    ("release/8.4", "8.4.3", True),
])
def test_oss_builds_only_nvinfer_plugin(ups, stand_in, tmp_path, ref, version, has_msda):
    root, _, loader = stand_in
    libdir = root / X86_LIBDIR
    src = clone_oss(ups, ref, tmp_path / "TensorRT")
    assert not any((src / "third_party/cub").iterdir())  # CUDA 13 has its own CUB
    assert int(run(["git", "rev-list", "--count", "HEAD"], cwd=src).stdout) == 1  # shallow
    build, out = src / "build", tmp_path / "out"
    build.mkdir()
    conf = run(["cmake", "..", "-DGPU_ARCHS=53", f"-DTRT_LIB_DIR={libdir}", f"-DTRT_OUT_DIR={out}",
                "-DTRT_PLATFORM_ID=x86_64", f"-DCMAKE_C_COMPILER={shutil.which('gcc') or 'cc'}"],
               cwd=build)
    assert "Targeting TRT Platform: x86_64" in conf.stdout
    run(["cmake", "--build", ".", "--target", "nvinfer_plugin"], cwd=build)
    real = out / f"libnvinfer_plugin.so.{version}"
    assert real.is_file() and not real.is_symlink()
    assert os.readlink(out / "libnvinfer_plugin.so.8") == real.name
    assert not (out / "trtexec").exists()  # only the plugin target was built
    data = real.read_bytes()
    assert data.count(b"GPU_ARCHS=53\0") == 1
    assert (b"MultiscaleDeformableAttnPlugin_TRT" in data) is has_msda
    report = loader_report(loader, out / "libnvinfer_plugin.so.8", libdir)
    assert report["getInferLibVersion"] == [str(encode_version(version))]
    assert report["gpu_archs"] == ["53"]
    assert ("MultiscaleDeformableAttnPlugin_TRT" in report["creator"]) is has_msda


@needs_cmake
def test_oss_cuda10_needs_cuda_version_flag(ups, stand_in, tmp_path):
    """NVIDIA/TensorRT#2159: CUDA 10.2 toolkit + default CUDA_VERSION fails on cub/cub.cuh."""
    root, _, _ = stand_in
    toolkit = tmp_path / "cuda"
    toolkit.mkdir()
    (toolkit / "version.txt").write_text("CUDA Version 10.2.89\n")
    src = clone_oss(ups, "release/8.2", tmp_path / "TensorRT", cuda="10.2")
    assert (src / "third_party/cub/cub/cub.cuh").is_file()  # the one submodule a CUDA 10 build needs
    assert not any((src / "parsers/onnx").iterdir())
    common = [f"-DTRT_LIB_DIR={root / X86_LIBDIR}", f"-DCUDA_TOOLKIT_ROOT_DIR={toolkit}",
              "-DTRT_PLATFORM_ID=aarch64"]
    bad = src / "build-default"
    bad.mkdir()
    conf = run(["cmake", "..", *common], cwd=bad)
    assert "default SMs: 53;60;61;70;75;72;80;86" in conf.stdout  # 87 never added
    fail = run(["cmake", "--build", ".", "--target", "nvinfer_plugin"], cwd=bad, check=False)
    assert fail.returncode != 0 and "cub/cub.cuh" in fail.stdout + fail.stderr
    good = src / "build-102"
    good.mkdir()
    conf = run(["cmake", "..", *common, "-DCUDA_VERSION=10.2"], cwd=good)
    assert "default SMs: 53;60;61;70;75;72\n" in conf.stdout
    run(["cmake", "--build", ".", "--target", "nvinfer_plugin"], cwd=good)
    assert (good / "libnvinfer_plugin.so.8.2.3").is_file()  # TRT_OUT_DIR defaults to build dir


# --- deepstream_python_apps repo ----------------------------------------------------------

def clone_pyds(ups, tag: str, dest: Path) -> Path:
    run(["git", "clone", "--quiet", "-b", tag, ups.pyds_url, str(dest)])
    return dest


@needs_cmake
def test_pyds_111_wheel(ups, tmp_path):
    src = clone_pyds(ups, "v1.1.1", tmp_path / "dpa")
    ds = tmp_path / "deepstream"
    ds.mkdir()
    build = src / "bindings/build"
    build.mkdir()
    minor = sys.version_info[1]
    run(["cmake", "..", "-DPYTHON_MAJOR_VERSION=3", f"-DPYTHON_MINOR_VERSION={minor}",
         "-DPIP_PLATFORM=linux_x86_64", f"-DDS_PATH={ds}",
         f"-DPYDS_PYTHON={sys.executable}"], cwd=build)
    run(["make"], cwd=build)
    wheel = build / "pyds-1.1.1-py3-none-linux_x86_64.whl"
    assert wheel.is_file()
    name, version, _, tags = parse_wheel_filename(wheel.name)
    assert (name, str(version)) == ("pyds", "1.1.1")
    assert {str(t) for t in tags} == {"py3-none-linux_x86_64"}
    with zipfile.ZipFile(wheel) as zf:
        assert "Tag: py3-none-linux_x86_64" in zf.read("pyds-1.1.1.dist-info/WHEEL").decode()
        for line in zf.read("pyds-1.1.1.dist-info/RECORD").decode().splitlines():
            path, digest, _ = line.split(",")
            if digest:
                raw = hashlib.sha256(zf.read(path)).digest()
                assert digest == "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    target = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(target), str(wheel)])
    out = run([sys.executable, "-c", "import pyds; print(pyds.__version__)"],
              env={**os.environ, "PYTHONPATH": str(target)}).stdout
    assert out.strip() == "1.1.1"


@needs_cmake
def test_pyds_configure_fails_clearly(ups, tmp_path):
    src = clone_pyds(ups, "v1.1.1", tmp_path / "dpa")
    ds = tmp_path / "deepstream"
    ds.mkdir()
    cmake, cc = shutil.which("cmake"), shutil.which("gcc") or shutil.which("cc")
    tools = tmp_path / "bin"  # a PATH with a toolchain but no python at all
    tools.mkdir()
    for name in ("make", "cc", "gcc", "as", "ld", "ld.bfd", "sh"):
        if shutil.which(name):
            (tools / name).symlink_to(shutil.which(name))
    b1 = src / "bindings/b1"
    b1.mkdir()
    no_python = run([cmake, "..", "-DPYTHON_MINOR_VERSION=6", f"-DDS_PATH={ds}",
                     f"-DCMAKE_C_COMPILER={cc}",
                     "-DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF"], cwd=b1,  # as if /usr/bin had none
                    env={"PATH": str(tools), "HOME": str(tmp_path)}, check=False)
    assert no_python.returncode != 0
    assert "needs python3 on this host" in " ".join(no_python.stderr.split())  # cmake wraps
    b2 = src / "bindings/b2"
    b2.mkdir()
    no_ds = run([cmake, "..", f"-DDS_PATH={tmp_path / 'missing'}"], cwd=b2, check=False)
    assert no_ds.returncode != 0 and "does not exist" in " ".join(no_ds.stderr.split())


@needs_cmake
def test_pyds_120_pep517_wheel(ups, tmp_path):
    src = clone_pyds(ups, "v1.2.0", tmp_path / "dpa")
    ds = tmp_path / "deepstream"
    ds.mkdir()
    env = {**os.environ, "CMAKE_ARGS": f"-DDS_PATH={ds}"}
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "-w",
         str(tmp_path / "dist"), "."], cwd=src / "bindings", env=env)
    py = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    wheels = list((tmp_path / "dist").glob("*.whl"))
    assert [w.name for w in wheels] == [f"pyds-1.2.0-{py}-{py}-linux_x86_64.whl"]
    _, version, _, tags = parse_wheel_filename(wheels[0].name)
    assert str(version) == "1.2.0" and {str(t) for t in tags} == {f"{py}-{py}-linux_x86_64"}


# --- cmake archives, HTTP server, cache ---------------------------------------------------

def test_cmake_archives(ups, tmp_path):
    listed = (ups.root / "cmake" / f"cmake-{ups.cmake_version}-SHA-256.txt").read_text()
    for arch, (path, sha) in ups.cmake_archives.items():
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        assert digest == sha and f"{sha}  {Path(path).name}" in listed
        top = f"cmake-{ups.cmake_version}-linux-{arch}"
        assert Path(path).name == f"{top}.tar.gz"
        with tarfile.open(path) as tar:
            names = set(tar.getnames())
        minor = ".".join(ups.cmake_version.split(".")[:2])
        assert f"{top}/bin/cmake" in names
        assert any(n.startswith(f"{top}/share/cmake-{minor}/Modules/") for n in names)
    x86, _ = ups.cmake_archives["x86_64"]
    with tarfile.open(x86) as tar:
        member = tar.getmember(f"cmake-{ups.cmake_version}-linux-x86_64/bin/cmake")
        assert member.mode & 0o111
        if hasattr(tarfile, "tar_filter"):  # Python >= 3.11.4
            tar.extractall(tmp_path, filter="tar")
        else:
            tar.extractall(tmp_path)
    out = run([str(tmp_path / f"cmake-{ups.cmake_version}-linux-x86_64/bin/cmake"), "--version"]).stdout
    assert out.startswith(f"cmake version {ups.cmake_version}")
    aarch64, _ = ups.cmake_archives["aarch64"]
    with tarfile.open(aarch64) as tar:
        head = tar.extractfile(f"cmake-{ups.cmake_version}-linux-aarch64/bin/cmake").read(20)
    assert int.from_bytes(head[18:20], "little") == 183


def test_newer_cmake_archive_is_the_installed_distributions_binary(ups, tmp_path):
    """cmake >= 3.31 for TensorRT OSS 11.x: the `cmake` test dependency (pinned in .ci/constraints.txt)
    repackaged in Kitware's layout, listed in its own SHA-256 file, and it runs."""
    import importlib.metadata

    arch, version, path, sha = ups.newer_cmake
    assert version == importlib.metadata.version("cmake") and tuple(int(p) for p in version.split(".")[:2]) >= (3, 31)
    top = f"cmake-{version}-linux-{arch}"
    assert Path(path).name == f"{top}.tar.gz" and hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha
    assert f"{sha}  {top}.tar.gz\n" == (ups.root / "cmake" / f"cmake-{version}-SHA-256.txt").read_text()
    with tarfile.open(path) as tar:
        assert {f"{top}/bin/cmake", f"{top}/share/cmake-{version.rsplit('.', 1)[0]}/Modules/FindCUDAToolkit.cmake"} <= set(tar.getnames())
        tar.extractall(tmp_path, filter="tar")
    out = run([str(tmp_path / top / "bin" / "cmake"), "--version"]).stdout
    assert out.startswith(f"cmake version {version}\n")
    assert ups.over_http("http://127.0.0.1:1").newer_cmake == (arch, version, f"http://127.0.0.1:1/cmake/{top}.tar.gz", sha)


def test_http_server_serves_archives_and_git(ups, tmp_path):
    url, stop = serve(ups.root)
    try:
        http = ups.over_http(url)
        sums = urllib.request.urlopen(http.cmake_sha256_url, timeout=10).read().decode()
        for _, sha in http.cmake_archives.values():
            assert sha in sums
        head = urllib.request.Request(http.cmake_archives["aarch64"][0], method="HEAD")
        assert urllib.request.urlopen(head, timeout=10).status == 200
        dest = tmp_path / "TensorRT"
        clone_oss(http, "21.08", dest, cuda="10.2")  # dumb HTTP: the full single-branch clone
        assert "NV_TENSORRT_MAJOR 8 " in (dest / "include/NvInferVersion.h").read_text()
        assert (dest / "third_party/cub/cub/cub.cuh").is_file()
    finally:
        stop()
    stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/", timeout=2)


def test_build_upstreams_caches(tmp_path):
    """Built once per recipe; another recipe's entry (a parallel checkout's) is kept while in use."""
    for name, age in (("recent-recipe", 60), ("stale-recipe", UNUSED_SECONDS + 60)):
        (tmp_path / name).mkdir()
        (tmp_path / name / MANIFEST).write_text("{}")
        os.utime(tmp_path / name / MANIFEST, (time.time() - age, time.time() - age))
    start = time.monotonic()
    first = build_upstreams(tmp_path)
    assert (tmp_path / "recent-recipe").is_dir() and not (tmp_path / "stale-recipe").exists()
    cold = time.monotonic() - start
    start = time.monotonic()
    second = build_upstreams(tmp_path, verify=True)
    warm = time.monotonic() - start
    assert second.key == first.key and second.cmake_archives == first.cmake_archives
    assert warm < 5 and warm < cold
    assert first.trt_oss_url.startswith("file://") and first.git_config == {"protocol.file.allow": "always"}
