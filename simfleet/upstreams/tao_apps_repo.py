# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A deepstream_tao_apps-shaped git repository carrying prebuilt plugin libraries (stand-ins).

``make_tao_apps_repo(dest)`` writes bare ``dest/NVIDIA-AI-IOT/deepstream_tao_apps.git``, branch
``master``, with ``TRT-OSS/Jetson/TRT8.6/libnvinfer_plugin.so.8.6.2`` (aarch64) and
``TRT-OSS/x86/TRT8.6/libnvinfer_plugin.so.8.6.2`` (x86_64) at the paths NVIDIA's repository
uses (matrix/prebuilt_plugins.yml). The files are the fixture builder's stand-in libraries
(``trtlibs.build_trt_libs``: real ELF, SONAME ``libnvinfer_plugin.so.8``, the 8.6 plugin
names), built for SM 72 as NVIDIA's Jetson file was ("built with Jetson Xavier", its README),
so their bytes differ from a device's own stand-in library. They are NOT NVIDIA's files: their
SHA-256 is the fixture's own, recorded in the upstreams manifest and handed to the tool through
the fleet inventory's ``dsprov_prebuilt_plugins``, as a user with a mirror would.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .trt_oss import _publish, git
from .trtlibs import build_trt_libs

# (platform in the matrix, builder arch, TensorRT, path in the repository)
PREBUILT = (
    ("jetson", "aarch64", "8.6.2", "TRT-OSS/Jetson/TRT8.6/libnvinfer_plugin.so.8.6.2"),
    ("x86", "x86_64", "8.6.2", "TRT-OSS/x86/TRT8.6/libnvinfer_plugin.so.8.6.2"),
)
README = """# deepstream_tao_apps (simulated fleet stand-in)

Carries stand-in prebuilt libnvinfer_plugin libraries at NVIDIA's TRT-OSS/ paths.
"""


@dataclass(frozen=True)
class TaoAppsRepo:
    path: Path
    commit: str
    libraries: tuple[dict, ...]  # {platform, tensorrt, path, sha256}: dsprov_prebuilt_plugins' shape


def make_tao_apps_repo(dest: Path) -> TaoAppsRepo:
    """Create the bare repository; return it with its commit and the libraries' SHA-256."""
    libraries = []
    with tempfile.TemporaryDirectory(prefix="tao-apps-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        git("init", "--quiet", "-b", "master", cwd=work)
        (work / "README.md").write_text(README)
        for platform, arch, version, path in PREBUILT:
            built = Path(tmp) / f"build-{arch}"
            build_trt_libs(arch, version, built, gpu_archs=["72"])
            library = next((built / "usr" / "lib").glob(f"*/libnvinfer_plugin.so.{version}"))
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(library, target)
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            libraries.append({"platform": platform, "tensorrt": version, "path": path, "sha256": digest})
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", "TRT-OSS prebuilt plugin libraries (stand-ins)", cwd=work)
        commit = git("rev-parse", "HEAD", cwd=work)
        bare = _publish(work, Path(dest) / "NVIDIA-AI-IOT" / "deepstream_tao_apps.git", "master")
    return TaoAppsRepo(bare, commit, tuple(libraries))
