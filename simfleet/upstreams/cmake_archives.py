"""Kitware-layout cmake release archives made from PyPI ``cmake`` wheels (real binaries).

PyPI's ``cmake`` package ships a self-contained cmake in manylinux wheels for x86_64 and
aarch64 (``cmake/data/bin/cmake``, ``cmake/data/share/cmake-X.Y``). They are repackaged as
``cmake-<ver>-linux-<arch>.tar.gz`` with top folder ``cmake-<ver>-linux-<arch>/`` (the layout
of Kitware's release archives since 3.20) plus a ``cmake-<ver>-SHA-256.txt`` in ``sha256sum``
format (Kitware's checksum file name). Wheels are fetched once with ``pip download`` into
``~/.cache/dsprov-fleet/downloads/`` (``DSPROV_FLEET_CACHE`` overrides ``~/.cache/dsprov-fleet``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

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


def repackage(wheel: Path, arch: str, version: str, dest: Path) -> Path:
    """Write ``dest/cmake-<ver>-linux-<arch>.tar.gz`` from the wheel's ``cmake/data/`` tree."""
    top = f"cmake-{version}-linux-{arch}"
    target = dest / f"{top}.tar.gz"
    part = target.with_name(target.name + ".part")
    prefix = "cmake/data/"
    # gzip header with mtime 0 and no file name: the same wheel gives the same bytes.
    with zipfile.ZipFile(wheel) as zf, open(part, "wb") as raw, \
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = info.filename[len(prefix):]
            mode = (info.external_attr >> 16) & 0o777
            if rel.startswith("bin/"):
                mode = 0o755
            ti = tarfile.TarInfo(f"{top}/{rel}")
            ti.size = info.file_size
            ti.mode = mode or 0o644
            ti.mtime = 1700000000
            ti.uname = ti.gname = "root"
            with zf.open(info) as src:
                tar.addfile(ti, src)
    os.replace(part, target)
    return target


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
