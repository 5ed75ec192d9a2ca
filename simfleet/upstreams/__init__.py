# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixture upstreams for the simulated fleet: everything the tool downloads, made locally.

* Stand-in TensorRT libraries (:func:`build_trt_libs`) and a loader check program
  (``csrc/trtcheck.c``, :func:`build_loader`).
* A TensorRT-OSS-shaped git repo with a submodule (:func:`make_trt_oss_repo`).
* A deepstream_python_apps-shaped git repo (:func:`make_pyds_repo`).
* A deepstream_tao_apps-shaped git repo with stand-in prebuilt plugin libraries
  (:func:`make_tao_apps_repo`).
* A DeepStream-Yolo-shaped git repo whose custom library the device builds
  (:func:`make_deepstream_yolo_repo`).
* Kitware-layout cmake archives with SHA-256 (:func:`make_cmake_archives`), and a newer one for
  this machine's architecture from the installed ``cmake`` distribution (TensorRT OSS 11.x needs >= 3.31).
* A local HTTP server for all of it (:func:`serve`).

:func:`build_upstreams` makes the repos and archives once per recipe and caches them. The tool
reaches them only through settings a real user has: repository URLs (``file://`` or the HTTP
server's), a git mirror base, a cmake archive URL with its SHA-256, and the git setting
``protocol.file.allow=always`` that cloning submodules over ``file://`` needs (git >= 2.38.1).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .cmake_archives import CMAKE_VERSION, cache_home, installed_cmake, make_cmake_archives, make_installed_cmake_archive, sha256_file
from .deepstream_yolo_repo import make_deepstream_yolo_repo
from .pyds_repo import PYDS_TAGS, make_pyds_repo
from .tao_apps_repo import make_tao_apps_repo
from .server import serve
from .trt_oss import OSS_REFS, make_trt_oss_repo
from .trtlibs import (
    LOADER_SOURCE,
    PLUGIN_CREATORS,
    build_loader,
    build_trt_libs,
    elf_machine,
    encode_version,
    plugins_for,
)

__all__ = [
    "Upstreams",
    "build_upstreams",
    "build_trt_libs",
    "build_loader",
    "make_trt_oss_repo",
    "make_pyds_repo",
    "make_tao_apps_repo",
    "make_deepstream_yolo_repo",
    "make_cmake_archives",
    "serve",
    "plugins_for",
    "encode_version",
    "elf_machine",
    "recipe_key",
    "OSS_REFS",
    "PYDS_TAGS",
    "PLUGIN_CREATORS",
    "LOADER_SOURCE",
    "CMAKE_VERSION",
]

_HERE = Path(__file__).resolve().parent
MANIFEST = "upstreams.json"


@dataclass(frozen=True)
class Upstreams:
    """Where the fixture upstreams are: URLs a user would configure, and archive checksums.

    ``cmake_archives`` maps ``x86_64``/``aarch64`` to ``(path or URL, sha256)``; ``newer_cmake`` is
    ``(arch, version, path or URL, sha256)`` of the cmake >= 3.31 archive, listed after them. URLs
    are ``file://`` until :meth:`over_http` rebases them on a running :func:`serve` of ``root``.
    """

    root: Path
    key: str
    git_base_url: str  # mirror base: <base>/NVIDIA/TensorRT.git, <base>/NVlabs/cub.git, ...
    trt_oss_url: str
    pyds_url: str
    tao_apps_url: str
    deepstream_yolo_url: str
    deepstream_yolo_commit: str  # dsprov_deepstream_yolo_ref: the fleet pins a commit, as upstream's is pinned
    cmake_version: str
    cmake_archives: dict[str, tuple[str, str]]
    cmake_sha256_url: str
    loader_source: Path
    newer_cmake: tuple[str, str, str, str]
    git_config: dict[str, str] = field(default_factory=lambda: {"protocol.file.allow": "always"})
    oss_refs: dict[str, str] = field(default_factory=dict)  # ref -> NvInferVersion.h version
    pyds_tags: dict[str, str] = field(default_factory=dict)  # tag -> pyds version
    prebuilt: dict = field(default_factory=dict)  # dsprov_prebuilt_plugins: {commit, libraries}

    def over_http(self, base_url: str) -> Upstreams:
        """The same upstreams as served by ``serve(self.root)`` at ``base_url``."""
        base = base_url.rstrip("/")
        archives = {arch: (f"{base}/cmake/{Path(loc).name}", sha)
                    for arch, (loc, sha) in self.cmake_archives.items()}
        arch, version, loc, sha = self.newer_cmake
        return replace(
            self,
            git_base_url=f"{base}/git",
            trt_oss_url=f"{base}/git/NVIDIA/TensorRT.git",
            pyds_url=f"{base}/git/NVIDIA-AI-IOT/deepstream_python_apps.git",
            tao_apps_url=f"{base}/git/NVIDIA-AI-IOT/deepstream_tao_apps.git",
            deepstream_yolo_url=f"{base}/git/marcoslucianops/DeepStream-Yolo.git",
            cmake_archives=archives,
            cmake_sha256_url=f"{base}/cmake/cmake-{self.cmake_version}-SHA-256.txt",
            newer_cmake=(arch, version, f"{base}/cmake/{Path(loc).name}", sha),
            git_config={},
        )


def recipe_key() -> str:
    """Hash of everything that decides the upstreams' bytes: this package's sources + versions."""
    h = hashlib.sha256(f"{CMAKE_VERSION} {installed_cmake().version}".encode())
    for path in sorted([*_HERE.glob("*.py"), *(_HERE / "csrc").glob("*.c")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _make(entry: Path, key: str) -> dict:
    git_root = entry / "git"
    trt = make_trt_oss_repo(git_root)
    pyds = make_pyds_repo(git_root)
    tao = make_tao_apps_repo(git_root)
    yolo = make_deepstream_yolo_repo(git_root)
    archives = make_cmake_archives(entry / "cmake")
    arch, version, newer, sha = make_installed_cmake_archive(entry / "cmake")
    (entry / "src").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LOADER_SOURCE, entry / "src" / LOADER_SOURCE.name)
    return {
        "key": key,
        "trt_oss": str(trt.relative_to(entry)),
        "pyds": str(pyds.relative_to(entry)),
        "tao_apps": str(tao.path.relative_to(entry)),
        "prebuilt": {"commit": tao.commit, "libraries": list(tao.libraries)},
        "deepstream_yolo": {"path": str(yolo.path.relative_to(entry)), "commit": yolo.commit},
        "cmake_version": CMAKE_VERSION,
        "cmake_archives": {a: [str(p.relative_to(entry)), sha] for a, (p, sha) in archives.items()},
        "newer_cmake": [arch, version, str(newer.relative_to(entry)), sha],
        "oss_refs": {r.name: r.version for r in OSS_REFS},
        "pyds_tags": {t.tag: t.version for t in PYDS_TAGS},
    }


def _load(entry: Path, manifest: dict, verify: bool) -> Upstreams:
    archives = {}
    for arch, (rel, sha) in manifest["cmake_archives"].items():
        path = entry / rel
        if verify and sha256_file(path) != sha:
            raise RuntimeError(f"{path}: SHA-256 differs from the recorded one")
        archives[arch] = (str(path), sha)
    arch, newer_version, rel, sha = manifest["newer_cmake"]
    if verify and sha256_file(entry / rel) != sha:
        raise RuntimeError(f"{entry / rel}: SHA-256 differs from the recorded one")
    version = manifest["cmake_version"]
    return Upstreams(
        root=entry,
        key=manifest["key"],
        git_base_url=(entry / "git").as_uri(),
        trt_oss_url=(entry / manifest["trt_oss"]).as_uri(),
        pyds_url=(entry / manifest["pyds"]).as_uri(),
        tao_apps_url=(entry / manifest["tao_apps"]).as_uri(),
        deepstream_yolo_url=(entry / manifest["deepstream_yolo"]["path"]).as_uri(),
        deepstream_yolo_commit=manifest["deepstream_yolo"]["commit"],
        cmake_version=version,
        cmake_archives=archives,
        cmake_sha256_url=(entry / "cmake" / f"cmake-{version}-SHA-256.txt").as_uri(),
        loader_source=entry / "src" / LOADER_SOURCE.name,
        newer_cmake=(arch, newer_version, str(entry / rel), sha),
        oss_refs=dict(manifest["oss_refs"]),
        pyds_tags=dict(manifest["pyds_tags"]),
        prebuilt=dict(manifest["prebuilt"]),
    )


UNUSED_SECONDS = 24 * 3600  # how long another recipe's entry is kept after its last use


def build_upstreams(root: Path | None = None, *, verify: bool = False) -> Upstreams:
    """Make (or reuse) the fixture upstreams under ``root/<recipe key>/``.

    ``root`` defaults to ``~/.cache/dsprov-fleet/upstreams``. A file lock serialises concurrent
    callers; an entry counts only once its manifest is written, so an interrupted build is
    redone. Entries of other recipes are removed once unused for a day (a checkout of another
    version, a parallel worktree, may still be serving one). ``verify`` re-hashes the cmake archives.
    """
    root = Path(root) if root is not None else cache_home() / "upstreams"
    root.mkdir(parents=True, exist_ok=True)
    key = recipe_key()
    entry = root / key
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (entry / MANIFEST).is_file():
            os.utime(entry / MANIFEST)  # in use: keeps it from being pruned by another recipe
            return _load(entry, json.loads((entry / MANIFEST).read_text()), verify)
        tmp = root / f".building-{key}-{time.time_ns()}"
        try:
            manifest = _make(tmp, key)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            if entry.exists():
                shutil.rmtree(entry)
            tmp.rename(entry)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        for other in root.iterdir():
            unused = other / MANIFEST
            if other.is_dir() and other.name != key and unused.is_file() and time.time() - unused.stat().st_mtime > UNUSED_SECONDS:
                shutil.rmtree(other, ignore_errors=True)
        return _load(entry, manifest, verify=False)
