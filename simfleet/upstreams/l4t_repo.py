# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in of NVIDIA's L4T apt repository, and DeepStream's Jetson .deb, for `orin-bare`.

NVIDIA's repository (https://repo.download.nvidia.com/jetson/) is a Debian repository per part:
`common` (JetPack's components) and one per SoC (`t234`: Orin), each with a release per L4T
major.minor (`deb https://repo.download.nvidia.com/jetson/common r36.4 main`), and the key
`jetson-ota-public.asc` at the root (JetPack install guide; matrix/nvidia_stack.yml cites it).
This one has that shape: `dists/r<l4t>/{InRelease,Release,Release.gpg}` and
`dists/r<l4t>/main/binary-arm64/Packages[.gz]` per part, signed with a test key (gpg, made once and
cached, as cuda_repo.py does), and the key served as the root's jetson-ota-public.asc.

The packages are stand-ins (`dpkg-deb`) under NVIDIA's names and versions from matrix/nvidia_stack.yml's
jetson rows: nvidia-jetpack with nvidia-jetpack-runtime and -dev (`Depends` as `apt-cache show
nvidia-jetpack` prints them for 6.1+b123), the component metapackages (nvidia-cuda, nvidia-cudnn,
nvidia-tensorrt and their -dev), and what they bring: cuda-toolkit-X-Y (its version.json),
libcudnn9-*-cuda-X, tensorrt-libs and every TensorRT package of the row (NvInferVersion.h). The
component metapackages' own Depends were not read in a source: these are authored to bring the
row's packages at its exact versions. The TensorRT packages carry the simulated fleet's stand-in
libnvinfer / libnvinfer_plugin (trtlibs.py: real SONAMEs, the release's plugin creators) where
NVIDIA's packages carry them, so the plugin, pyds and engine steps plan on the installed stack. The SoC part carries no package (the row's components all
come from `common`; an `apt-cache policy` output quoted in public notes shows nvidia-jetpack there).
Depends name only each other, so the Debian bookworm arm64 root satisfies them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from provision.matrix import Matrix
from provision.matrix.nvidia import JetsonStackRow

from .apt_repo import GnuPG, build_once, deepstream_deb, gpg, sign_index
from .cuda_repo import trt_files
from .trt_debs import build_deb

HERE = Path(__file__).resolve()
ROOT = "jetson"  # as NVIDIA's URL: https://repo.download.nvidia.com/jetson/
SOC = "t234"  # Orin


@dataclass(frozen=True)
class L4tMirror:
    """A served stand-in: the repository's URL, its key's SHA-256, DeepStream's Jetson .deb URLs."""

    repository: str
    key_sha256: str
    deepstream: dict[str, str]  # DeepStream version -> URL of its arm64 .deb


def _doc(name: str) -> dict[str, Path | str | bytes]:
    return {f"/usr/share/doc/{name}/stand-in": b"\n"}


def _row_debs(row: JetsonStackRow, work: Path, out: Path) -> None:
    """The stand-ins of one jetson row (arm64)."""
    v, trt, cudnn = row.components_version, row.tensorrt, row.cudnn
    cuda = f"{row.cuda.release[0]}.{row.cuda.release[1]}"
    cuda_major, toolkit = row.cuda.release[0], f"cuda-toolkit-{row.cuda.release[0]}-{row.cuda.release[1]}"

    def deb(name: str, version: str, depends: list[str], description: str,
            files: dict[str, Path | str | bytes] | None = None) -> None:
        build_deb(work, out, name, version, "arm64", files or _doc(name), depends, f"{description} (stand-in)")

    deb("nvidia-jetpack", v, [f"nvidia-jetpack-runtime (= {v})", f"nvidia-jetpack-dev (= {v})"], "NVIDIA JetPack")
    runtime = [c for c in row.components if not c.endswith("-dev")]
    deb("nvidia-jetpack-runtime", v, [f"{c} (= {v})" for c in runtime], "NVIDIA JetPack runtime")
    deb("nvidia-jetpack-dev", v, [f"{c}-dev (= {v})" for c in runtime], "NVIDIA JetPack development")
    version_json = json.dumps({"cuda": {"name": "CUDA SDK", "version": f"{cuda}.11"}}, indent=3) + "\n"
    deb(toolkit, f"{cuda}.11-1", [], f"CUDA Toolkit {cuda}",
        {f"/usr/local/cuda-{cuda}/version.json": version_json.encode(), "/usr/local/cuda": f"cuda-{cuda}"})
    deb("nvidia-cuda", v, [], "NVIDIA CUDA runtime")
    deb("nvidia-cuda-dev", v, [f"nvidia-cuda (= {v})", f"{toolkit} (= {cuda}.11-1)"], "NVIDIA CUDA development")
    lib = f"libcudnn9-cuda-{cuda_major}"
    deb(lib, cudnn, [], "cuDNN runtime")
    for name in (f"libcudnn9-dev-cuda-{cuda_major}", f"libcudnn9-headers-cuda-{cuda_major}"):
        deb(name, cudnn, [f"{lib} (= {cudnn})"], "cuDNN development files")
    deb("nvidia-cudnn", v, [f"{lib} (= {cudnn})"], "NVIDIA cuDNN")
    deb("nvidia-cudnn-dev", v, [f"nvidia-cudnn (= {v})", f"libcudnn9-dev-cuda-{cuda_major} (= {cudnn})"],
        "NVIDIA cuDNN development")
    runtime_trt = [n for n in row.tensorrt_packages if n[-2:].isdigit()]  # libnvinfer10, libnvonnxparsers10 ...
    dev_trt = [n for n in row.tensorrt_packages if n not in runtime_trt and n != "tensorrt-libs"]
    libs = trt_files("arm64", str(row.tensorrt_version), work / "trt")
    for name in row.tensorrt_packages:
        files = {**_doc(name), **libs.get(name, {})}
        depends = ([f"{n} (= {trt})" for n in runtime_trt] if name == "tensorrt-libs"
                   else [] if name == "libnvinfer10" else [f"libnvinfer10 (= {trt})"])
        deb(name, trt, depends, "TensorRT", files)
    deb("nvidia-tensorrt", v, [f"tensorrt-libs (= {trt})"], "NVIDIA TensorRT")
    deb("nvidia-tensorrt-dev", v, [f"nvidia-tensorrt (= {v})", *(f"{n} (= {trt})" for n in dev_trt)],
        "NVIDIA TensorRT development")


def build_packages(cache_dir: Path) -> Path:
    """The stand-in packages (pool/), DeepStream's .deb files (deepstream/) and the test key
    (key.asc, secret), built once per recipe under ``cache_dir``; the folder."""
    def fill(work: Path, tmp: Path) -> None:
        for row in Matrix.load().nvidia.jetson:
            _row_debs(row, work, tmp / "pool")
            deepstream_deb(row, "arm64", work, tmp / "deepstream")

    return build_once(cache_dir / "l4t-repo", (HERE, HERE.parent / "cuda_repo.py"), "dsprov simulated L4T repository",
                      fill)


def lay_out(built: Path, served: Path, base_url: str) -> L4tMirror:
    """Into ``served`` (the HTTP root, its URL ``base_url``): jetson/{common,t234} per L4T release
    of the matrix's rows, signed; the key; DeepStream's Jetson .deb files on NGC's path."""
    root = served / ROOT
    with GnuPG() as home:
        gpg(home, "--import", str(built / "key.asc"))
        root.mkdir(parents=True, exist_ok=True)
        (root / "jetson-ota-public.asc").write_bytes(gpg(home, "--armor", "--export").stdout)
        for part in ("common", SOC):
            pool = root / part / "pool" / "main"
            pool.mkdir(parents=True, exist_ok=True)
            if part == "common":
                for deb in (built / "pool").glob("*.deb"):
                    (pool / deb.name).unlink(missing_ok=True)
                    (pool / deb.name).symlink_to(deb)
            for suite in sorted({f"r{row.l4t}" for row in Matrix.load().nvidia.jetson}):
                sign_index(home, root / part / "dists" / suite, root / part, "pool", "main/binary-arm64",
                           f"Label: NVIDIA Jetson\nSuite: {suite}\nCodename: {suite}\nArchitectures: arm64\n"
                           "Components: main\n")
    deepstream = {}
    for row in Matrix.load().nvidia.jetson:
        ds = row.deepstream_package
        path = f"deepstream/{row.deepstream}/{ds.file}"
        (served / path).parent.mkdir(parents=True, exist_ok=True)
        (served / path).unlink(missing_ok=True)
        (served / path).symlink_to(built / "deepstream" / ds.file)
        deepstream[str(row.deepstream)] = f"{base_url}/{path}"
    key = (root / "jetson-ota-public.asc").read_bytes()
    return L4tMirror(f"{base_url}/{ROOT}/", hashlib.sha256(key).hexdigest(), deepstream)
