# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kitware-layout cmake release archives made from PyPI ``cmake`` wheels (real binaries).

PyPI's ``cmake`` package ships a self-contained cmake in manylinux wheels for x86_64 and
aarch64 (``cmake/data/bin/cmake``, ``cmake/data/share/cmake-X.Y``). They are repackaged as
``cmake-<ver>-linux-<arch>.tar.gz`` with top folder ``cmake-<ver>-linux-<arch>/`` (the layout
of Kitware's release archives since 3.20) plus a ``cmake-<ver>-SHA-256.txt`` in ``sha256sum``
format (Kitware's checksum file name). Wheels are fetched once with ``pip download`` into
``~/.cache/dsprov-fleet/downloads/`` (``DSPROV_FLEET_CACHE`` overrides ``~/.cache/dsprov-fleet``).

A second, newer release for the refs that need cmake >= 3.31 (TensorRT OSS release/11.x) comes
from the ``cmake`` distribution installed with the test extra (pinned in ``.ci/constraints.txt``):
its installed ``cmake/data/`` tree is repackaged the same way (:func:`make_installed_cmake_archive`),
for this machine's architecture.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

CMAKE_VERSION = "3.27.9"
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}


def cache_home() -> Path:
    """``$DSPROV_FLEET_CACHE`` or ``~/.cache/dsprov-fleet``."""
    env = os.environ.get("DSPROV_FLEET_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "dsprov-fleet"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_cmake_wheel(arch: str, version: str = CMAKE_VERSION, downloads: Path | None = None) -> Path:
    """The cached PyPI cmake wheel for ``arch``; ``pip download`` it on first use."""
    downloads = downloads or cache_home() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    platform_tag = WHEEL_PLATFORMS[arch]
    pattern = f"cmake-{version}-*{arch}*.whl"
    found = sorted(downloads.glob(pattern))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", f"cmake=={version}", "--no-deps",
           "--only-binary=:all:", "--platform", platform_tag, "-d", str(downloads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(downloads.glob(pattern))
    if proc.returncode != 0 or not found:
        raise RuntimeError(
            f"could not fetch the cmake {version} wheel for {arch}; run on a machine with PyPI "
            f"access:\n  {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return found[0]


Member = tuple[str, int, int, Callable[[], BinaryIO]]  # path under cmake/data/, mode, size, opener


def _write_archive(members: Iterable[Member], arch: str, version: str, dest: Path) -> Path:
    """Write ``dest/cmake-<ver>-linux-<arch>.tar.gz`` (top folder of the same name) from ``members``."""
    top = f"cmake-{version}-linux-{arch}"
    target = dest / f"{top}.tar.gz"
    part = target.with_name(target.name + ".part")
    # gzip header with mtime 0 and no file name: the same input gives the same bytes.
    with open(part, "wb") as raw, \
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for rel, mode, size, opener in sorted(members, key=lambda m: m[0]):
            ti = tarfile.TarInfo(f"{top}/{rel}")
            ti.size = size
            ti.mode = 0o755 if rel.startswith("bin/") else (mode or 0o644)
            ti.mtime = 1700000000
            ti.uname = ti.gname = "root"
            with opener() as src:
                tar.addfile(ti, src)
    os.replace(part, target)
    return target


def repackage(wheel: Path, arch: str, version: str, dest: Path) -> Path:
    """Write ``dest/cmake-<ver>-linux-<arch>.tar.gz`` from the wheel's ``cmake/data/`` tree."""
    prefix = "cmake/data/"
    with zipfile.ZipFile(wheel) as zf:
        members = [(i.filename[len(prefix):], (i.external_attr >> 16) & 0o777, i.file_size,
                    lambda i=i: zf.open(i))
                   for i in zf.infolist() if i.filename.startswith(prefix) and not i.is_dir()]
        return _write_archive(members, arch, version, dest)


def installed_cmake() -> importlib.metadata.Distribution:
    """The ``cmake`` distribution of this Python (the test extra installs it)."""
    try:
        return importlib.metadata.distribution("cmake")
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError("the cmake distribution is not installed: pip install -c .ci/constraints.txt"
                           " -e '.[test]'") from None


def make_installed_cmake_archive(dest: Path) -> tuple[str, str, Path, str]:
    """The installed ``cmake`` distribution's binary as a Kitware-layout archive in ``dest`` (and its
    ``cmake-<ver>-SHA-256.txt``): ``(arch, version, path, sha256)``."""
    dist = installed_cmake()
    arch, version, prefix = platform.machine(), dist.version, "cmake/data/"
    members = []
    for file in dist.files or ():
        if str(file).startswith(prefix):
            path = Path(dist.locate_file(file))
            members.append((str(file)[len(prefix):], path.stat().st_mode & 0o777, path.stat().st_size,
                            lambda path=path: path.open("rb")))
    if not any(rel == "bin/cmake" for rel, *_ in members):
        raise RuntimeError(f"the installed cmake {version} has no cmake/data/bin/cmake")
    dest.mkdir(parents=True, exist_ok=True)
    archive = _write_archive(members, arch, version, dest)
    sha = sha256_file(archive)
    (dest / f"cmake-{version}-SHA-256.txt").write_text(f"{sha}  {archive.name}\n")
    return arch, version, archive, sha


def make_cmake_archives(dest: Path, version: str = CMAKE_VERSION) -> dict[str, tuple[Path, str]]:
    """Archives for x86_64 and aarch64 in ``dest``: ``{arch: (path, sha256)}``.

    Also writes ``dest/cmake-<ver>-SHA-256.txt`` (``<sha256>  <file name>`` lines).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    result: dict[str, tuple[Path, str]] = {}
    for arch in ("x86_64", "aarch64"):
        path = repackage(fetch_cmake_wheel(arch, version), arch, version, dest)
        result[arch] = (path, sha256_file(path))
    lines = "".join(f"{sha}  {path.name}\n" for path, sha in result.values())
    (dest / f"cmake-{version}-SHA-256.txt").write_text(lines)
    return result
