# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the stand-in apt repositories (cuda_repo.py, l4t_repo.py) share: a test key made once per
recipe, DeepStream's .deb stand-in, and signed metadata in Debian's repository format
(https://wiki.debian.org/DebianRepository/Format: `Packages[.gz]`, `Release` with its hash lists,
`InRelease` and `Release.gpg`)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

from provision.matrix.nvidia import JetsonStackRow, StackRow

from .trt_debs import build_deb
from .trtlibs import source_digest

HERE = Path(__file__).resolve()


def gpg(home: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--no-tty", *args], check=True,
                          capture_output=True, **kwargs)


class GnuPG:
    """A gpg home of its own for a `with`, its agent stopped and the folder removed after."""

    def __enter__(self) -> Path:
        self.home = Path(tempfile.mkdtemp(prefix="apt-repo-gnupg-"))
        return self.home

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"], check=False,
                       capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


def build_once(folder: Path, sources: tuple[Path, ...], signer: str, fill: Callable[[Path, Path], None]) -> Path:
    """A repository's packages made once per recipe under ``folder`` (the recipe: ``sources``, this
    file, trt_debs.py, the matrix's nvidia_stack.yml and the stand-in libraries' sources):
    `fill(work, built)` puts the packages into built's pool/ and deepstream/ (work: a scratch
    folder), then a test signing key (key.asc, secret) named ``signer`` is made; all of it beside the
    folder and renamed into place, so a concurrent build or a killed one leaves no half."""
    from importlib.resources import files
    h = hashlib.sha256()
    for src in (HERE, HERE.parent / "trt_debs.py", Path(str(files("provision.matrix.data") / "nvidia_stack.yml")),
                *sources):
        h.update(src.read_bytes())
    h.update(source_digest().encode())
    built = folder / h.hexdigest()[:12]
    if (built / ".complete").exists():
        return built
    built.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=built.parent, prefix=".tmp-"))
    for sub in ("pool", "deepstream"):
        (tmp / sub).mkdir()
    fill(tmp / "work", tmp)
    with GnuPG() as home:
        gpg(home, "--passphrase", "", "--quick-gen-key", f"{signer} <noreply@localhost>", "ed25519", "sign", "never")
        (tmp / "key.asc").write_bytes(gpg(home, "--armor", "--export-secret-keys").stdout)
    shutil.rmtree(tmp / "work", ignore_errors=True)
    (tmp / ".complete").write_text("\n")
    try:
        tmp.rename(built)
    except OSError:  # built concurrently
        shutil.rmtree(tmp)
    return built


def deepstream_deb(row: StackRow | JetsonStackRow, arch: str, work: Path, out: Path) -> Path:
    """DeepStream's .deb of the row (stand-in): its version file and the deepstream link."""
    ds = row.deepstream_package
    folder = f"/opt/nvidia/deepstream/deepstream-{row.deepstream}"
    return build_deb(work, out, ds.package, ds.version, arch,
                     {f"{folder}/version": f"Version: {row.deepstream}\n".encode(),
                      "/opt/nvidia/deepstream/deepstream": f"deepstream-{row.deepstream}"},
                     [f"libnvinfer10 (= {row.tensorrt})"], f"DeepStream {row.deepstream} SDK (stand-in)")


def sign_index(home: Path, dist: Path, scan: Path, pool: str, binary: str, header: str) -> None:
    """Into ``dist``: `binary`/Packages[.gz] of the .deb files under ``scan``/``pool``
    (dpkg-scanpackages), a Release (``header`` lines, then the MD5Sum and SHA256 lists of those two)
    and its signatures by the key in ``home``."""
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", pool], cwd=scan, check=True,
                              capture_output=True).stdout
    (dist / binary).mkdir(parents=True, exist_ok=True)
    names = tuple(str(Path(binary) / n) for n in ("Packages", "Packages.gz"))
    (dist / names[0]).write_bytes(packages)
    (dist / names[1]).write_bytes(gzip.compress(packages, mtime=0))
    text = f"Origin: NVIDIA (dsprov stand-in)\n{header}Date: {formatdate(usegmt=True)}\n"
    for field, algo in (("MD5Sum", "md5"), ("SHA256", "sha256")):
        text += f"{field}:\n" + "".join(
            f" {hashlib.new(algo, (dist / n).read_bytes()).hexdigest()} {(dist / n).stat().st_size:>8} {n}\n"
            for n in names)
    (dist / "Release").write_text(text)
    for name in ("InRelease", "Release.gpg"):
        (dist / name).unlink(missing_ok=True)
    gpg(home, "--clearsign", "-o", str(dist / "InRelease"), str(dist / "Release"))
    gpg(home, "--detach-sign", "--armor", "-o", str(dist / "Release.gpg"), str(dist / "Release"))
