# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in of NVIDIA's CUDA network repository, and DeepStream's .deb files, for `x86-bare`.

NVIDIA's repository (https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/x86_64/)
is a flat apt repository: `deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] URL /`,
with `Packages`, `Release` and its signatures `InRelease` / `Release.gpg`, and the `cuda-keyring`
package that enrolls the key and the source. This one has that shape and is signed with a test key
(gpg, made once and cached); its packages are stand-ins (`dpkg-deb`, through trt_debs.build_deb)
under NVIDIA's real names and versions, taken from matrix/nvidia_stack.yml's x86 rows: the driver
pinning package, nvidia-open-<branch> and cuda-drivers-<branch>, cuda-toolkit-X-Y, cuDNN and every
TensorRT package of the row. Their Depends name only each other, so a Debian root satisfies them
(Ubuntu's archive is out of reach of the simulated fleet). The driver branch also carries a newer
version than the row's, so an install that the pinning package does not pin gets the wrong one.

The pinning package's content is not NVIDIA's (not read here): it holds an apt_preferences(5) file
pinning the branch's packages to the row's version at priority 1000, what NVIDIA's version-locking
page says such a package is for. The files the stand-ins carry are those `detect` reads:
/usr/local/cuda-X.Y/version.json, nvcc (the fleet's nvcc stand-in at NVIDIA's path,
/usr/local/cuda-X.Y/bin/nvcc, printing the release's recorded `nvcc --version` where one is
recorded, and the T4's recorded deviceQuery as profile t4's does), NvInferVersion.h, /opt/nvidia/deepstream/deepstream-X.Y/version,
and the simulated fleet's stand-in libnvinfer / libnvinfer_plugin (trtlibs.py: real SONAMEs, the
release's plugin creators) in the packages NVIDIA's carry them in, so the plugin, pyds and engine
steps plan on the installed stack.

The packages and the key are built once per recipe (this file and the matrix file) under the fleet
cache; the keyring package and the signed metadata are made when the mirror is served, because the
keyring's source line names the mirror's URL (a company mirror of NVIDIA's repository ships its own
keyring the same way).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from provision.matrix import Matrix
from provision.matrix.nvidia import StackRow
from simfleet.profiles import PROFILE_DIR, PUBLISHED_DIR, _standin

from .apt_repo import GnuPG, build_once, deepstream_deb, gpg, sign_index
from .trt_debs import build_deb
from .trtlibs import build_trt_libs

# The driver's nvidia-smi answers from the boot after its install (the package's postinst records the
# boot id); before, it fails as nvidia-smi does without a loaded driver (its message, widely quoted).
NVIDIA_SMI = """#!/bin/sh
# Stand-in (dsprov simulated fleet): the driver runs from the boot after its install.
if [ "$(cat /proc/sys/kernel/random/boot_id)" = "$(cat /var/lib/nvidia-standin/installed-boot 2>/dev/null)" ]; then
    echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
    exit 9
fi
exec /usr/lib/nvidia-standin/nvidia-smi "$@"
"""
POSTINST = """#!/bin/sh
set -e
mkdir -p /var/lib/nvidia-standin
cat /proc/sys/kernel/random/boot_id > /var/lib/nvidia-standin/installed-boot
"""
# x86-bare's GPU as x86-real's nvidia-smi stand-in answers for it (simfleet/profiles/x86-real.yml)
T4_SMI = {"table": {"published": "t4/nvidia_smi_r545.txt"}, "table_source": "simfleet/published/t4/nvidia_smi_r545.txt",
          "query": {"published": "t4/nvidia_smi_q_partial.txt"},
          "query_source": "simfleet/published/t4/nvidia_smi_q_partial.txt", "name": "Tesla T4",
          "memory_total": "15360 MiB", "has_compute_cap": "yes", "compute_cap": "7.5"}
# nvcc of a CUDA release with a recorded `nvcc --version` (none is recorded for 13.2: that toolkit has none)
NVCC = {"12.8": {"version": {"published": "t4/nvcc_version_12.8.txt"},
                 "version_source": "simfleet/published/t4/nvcc_version_12.8.txt",
                 "device_query": {"published": "t4/device_query.txt"},
                 "device_query_source": "simfleet/published/t4/device_query.txt (Tesla T4, CUDA 11.2)"}}

# Ubuntu's archive is out of reach from the simulated roots, so the system packages NVIDIA's guides
# list are dpkg status entries on the bare profiles, except this one, served here at Ubuntu noble's
# version (https://packages.ubuntu.com/noble/arm64/libssl-dev: 3.0.13-0ubuntu3) so that the plan's
# "system" phase runs a real `apt-get install` and its package can be seen installed.
UBUNTU_STANDINS = (("libssl-dev", "3.0.13-0ubuntu3"),)

HERE = Path(__file__).resolve()
REPO_PATH = "cuda/repos/ubuntu2404/x86_64"  # as NVIDIA's URL: .../compute/cuda/repos/ubuntu2404/x86_64/
KEYRING = "/usr/share/keyrings/cuda-archive-keyring.gpg"
SOURCES = "/etc/apt/sources.list.d/cuda-ubuntu2404-x86_64.list"


@dataclass(frozen=True)
class CudaMirror:
    """A served stand-in: the repository's URL, its keyring package's SHA-256, DeepStream's .deb URLs."""

    repository: str
    keyring_sha256: str
    deepstream: dict[str, str]  # DeepStream version -> URL of its .deb


def newer_driver(version: str) -> str:
    """A later version of the same branch (570.133.20 -> 570.133.99)."""
    major, minor, _ = version.split(".")
    return f"{major}.{minor}.99"


# The package of NVIDIA's that carries each stand-in file of trtlibs.build_trt_libs (NVIDIA's layout:
# the runtime library and its SONAME link in libnvinferN / libnvinfer-pluginN, the unversioned
# development link in the -dev package, NvInferVersion.h in libnvinfer-headers-dev).
TRT_FILES = {"libnvinfer.so.": "libnvinfer10", "libnvinfer_plugin.so.": "libnvinfer-plugin10",
             "libnvinfer.so": "libnvinfer-dev", "libnvinfer_plugin.so": "libnvinfer-plugin-dev",
             "NvInferVersion.h": "libnvinfer-headers-dev"}


def trt_files(arch: str, version: str, work: Path) -> dict[str, dict[str, Path | str | bytes]]:
    """The simulated fleet's stand-in TensorRT libraries (trtlibs.py: real SONAMEs, the release's
    plugin creators) as {package: {device path: file or link target}}."""
    files: dict[str, dict[str, Path | str | bytes]] = {}
    for path in build_trt_libs(arch, version, work):
        dev = "/" + str(path.relative_to(work))
        key = path.name if path.name in TRT_FILES else path.name.split(".so.", 1)[0] + ".so."
        content: Path | str = str(path.readlink()) if path.is_symlink() else path
        files.setdefault(TRT_FILES[key], {})[dev] = content
    return files


def _stack_debs(row: StackRow, work: Path, out: Path) -> list[Path]:
    """The stand-ins of one x86 row."""
    debs, driver = [], row.driver
    cuda = f"{row.cuda.release[0]}.{row.cuda.release[1]}"
    # apt_preferences(5) reads a preferences.d file only with no extension or ".pref"
    pin = (f"Package: /^nvidia-/ /^libnvidia-/ /^cuda-drivers/\nPin: version {driver.version}-*\n"
           "Pin-Priority: 1000\n")
    debs.append(build_deb(work, out, f"nvidia-driver-pinning-{driver.version}", f"{driver.version}-1", "all",
                          {f"/etc/apt/preferences.d/nvidia-driver-pinning-{driver.branch}.pref": pin.encode()}, [],
                          f"pins the NVIDIA driver to {driver.version} (stand-in)"))
    for version in (driver.version, newer_driver(driver.version)):
        smi = _standin("nvidia-smi", {**T4_SMI, "driver": version}).encode()
        for name in (f"nvidia-open-{driver.branch}", f"cuda-drivers-{driver.branch}"):
            debs.append(build_deb(work, out, name, f"{version}-0ubuntu1", "amd64",
                                  {"/usr/bin/nvidia-smi": NVIDIA_SMI.encode(), "/usr/lib/nvidia-standin/nvidia-smi": smi},
                                  [], f"NVIDIA driver {version} (stand-in)",
                                  {"Conflicts": f"cuda-drivers-{driver.branch}" if "open" in name
                                   else f"nvidia-open-{driver.branch}"}, {"postinst": POSTINST},
                                  ("/usr/bin/nvidia-smi", "/usr/lib/nvidia-standin/nvidia-smi")))
    toolkit = f"cuda-toolkit-{row.cuda.release[0]}-{row.cuda.release[1]}"
    version_json = json.dumps({"cuda": {"name": "CUDA SDK", "version": f"{cuda}.0"}}, indent=3) + "\n"
    files: dict[str, Path | str | bytes] = {f"/usr/local/cuda-{cuda}/version.json": version_json.encode(),
                                            "/usr/local/cuda": f"cuda-{cuda}"}
    nvcc = f"/usr/local/cuda-{cuda}/bin/nvcc"
    if cuda in NVCC:  # the release's recorded `nvcc --version`, and the T4's deviceQuery (as profile t4's nvcc)
        files[nvcc] = _standin("nvcc", NVCC[cuda]).encode()
    debs.append(build_deb(work, out, toolkit, f"{cuda}.0-1", "amd64", files, [], f"CUDA Toolkit {cuda} (stand-in)",
                          executables=(nvcc,)))
    if row.cudnn:
        major = row.cuda.release[0]
        lib = f"libcudnn9-cuda-{major}"
        debs.append(build_deb(work, out, lib, row.cudnn, "amd64", {f"/usr/share/doc/{lib}/stand-in": b"\n"}, [],
                              "cuDNN runtime (stand-in)"))
        for name in (f"libcudnn9-dev-cuda-{major}", f"libcudnn9-headers-cuda-{major}"):
            debs.append(build_deb(work, out, name, row.cudnn, "amd64", {f"/usr/share/doc/{name}/stand-in": b"\n"},
                                  [f"{lib} (= {row.cudnn})"], "cuDNN development files (stand-in)"))
    libs = trt_files("amd64", str(row.tensorrt_version), work / f"trt-{row.tensorrt_version}")
    for name in row.tensorrt_packages:
        files: dict[str, Path | str | bytes] = {f"/usr/share/doc/{name}/stand-in": b"\n", **libs.get(name, {})}
        depends = [] if name == "libnvinfer10" else [f"libnvinfer10 (= {row.tensorrt})"]
        debs.append(build_deb(work, out, name, row.tensorrt, "amd64", files, depends, "TensorRT (stand-in)"))
    return debs


def build_packages(cache_dir: Path) -> Path:
    """The stand-in packages (pool/), DeepStream's .deb files (deepstream/) and the test key
    (key.asc, secret), built once per recipe under ``cache_dir``; the folder."""
    def fill(work: Path, tmp: Path) -> None:
        for row in Matrix.load().nvidia.stacks:
            if row.platform == "x86":
                _stack_debs(row, work, tmp / "pool")
                deepstream_deb(row, "amd64", work, tmp / "deepstream")
        for name, version in UBUNTU_STANDINS:
            build_deb(work, tmp / "pool", name, version, "amd64",
                      {f"/usr/share/doc/{name}/README.dsprov": f"{name} {version}: a stand-in of Ubuntu noble's\n".encode()},
                      [], f"{name} (stand-in of Ubuntu noble's package)")

    # the recipe: this file, the nvidia-smi and nvcc stand-ins and the outputs they print
    sources = (HERE, PROFILE_DIR / "standins" / "nvidia-smi.sh", PROFILE_DIR / "standins" / "nvcc.sh",
               *(PUBLISHED_DIR / T4_SMI[k]["published"] for k in ("table", "query")),
               *(PUBLISHED_DIR / n[k]["published"] for n in NVCC.values() for k in ("version", "device_query")))
    return build_once(cache_dir / "cuda-repo", sources, "dsprov simulated CUDA repository", fill)


def lay_out(built: Path, served: Path, base_url: str) -> CudaMirror:
    """Into ``served`` (the HTTP root, its URL ``base_url``): the repository with a keyring package
    naming it, signed metadata, and DeepStream's .deb files on NVIDIA's paths."""
    repo = served / REPO_PATH
    repo.mkdir(parents=True, exist_ok=True)
    for deb in (built / "pool").glob("*.deb"):
        (repo / deb.name).unlink(missing_ok=True)
        (repo / deb.name).symlink_to(deb)
    with GnuPG() as home:
        gpg(home, "--import", str(built / "key.asc"))
        key = gpg(home, "--export").stdout
        url = f"{base_url}/{REPO_PATH}"
        with tempfile.TemporaryDirectory(prefix="cuda-keyring-") as work:
            keyring = build_deb(Path(work), repo, "cuda-keyring", "1.1-1", "all",
                                {KEYRING: key, SOURCES: f"deb [signed-by={KEYRING}] {url}/ /\n".encode()}, [],
                                "GPG keyring for the CUDA repository (stand-in, test key)")
        sign_index(home, repo, repo, ".", ".", "Label: NVIDIA CUDA\nArchitecture: x86_64\n")
    deepstream = {}
    for row in Matrix.load().nvidia.stacks:
        if row.platform != "x86":
            continue
        ds = row.deepstream_package
        path = (f"NVIDIA/DeepStream/releases/download/v{row.deepstream}.0/{ds.file}" if "github.com" in ds.url
                else f"deepstream/{row.deepstream}/{ds.file}")
        (served / path).parent.mkdir(parents=True, exist_ok=True)
        (served / path).unlink(missing_ok=True)
        (served / path).symlink_to(built / "deepstream" / ds.file)
        deepstream[str(row.deepstream)] = f"{base_url}/{path}"
    return CudaMirror(f"{url}/", hashlib.sha256(keyring.read_bytes()).hexdigest(), deepstream)
