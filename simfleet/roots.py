# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Base root filesystems for simulated devices: Debian bookworm via debootstrap, cached by recipe.

An arm64 root runs under qemu-user-static through binfmt_misc (registered here when missing).
Roots carry what a device needs for building (gcc, make, git, openssh-server, sudo ...) and no
Python: the tool must work on targets without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from provision.errors import ProvisionError

CACHE_DIR = Path(os.environ.get("DSPROV_FLEET_CACHE", Path.home() / ".cache" / "dsprov-fleet"))
MIRROR = os.environ.get("DSPROV_DEBIAN_MIRROR", "http://deb.debian.org/debian")

PACKAGES = (
    "ca-certificates", "coreutils", "curl", "dash", "dpkg", "g++", "gcc", "git", "gzip",
    "libc6-dev", "make", "openssh-server", "patch", "procps", "sudo", "tar", "wget", "xz-utils",
)
"""What every device has. Nothing here may pull in python3 (checked after the build)."""

QEMU_AARCH64 = Path("/usr/bin/qemu-aarch64-static")
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
_AARCH64_MAGIC = r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
_AARCH64_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
_EXCLUDE_FROM_MINBASE = ("python3",)


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a base root's content; its hash names the cache entry."""

    arch: str  # Debian architecture: arm64 or amd64
    suite: str = "bookworm"
    variant: str = "minbase"
    packages: tuple[str, ...] = field(default=PACKAGES)
    revision: int = 1  # bump when the post-build steps change

    @property
    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return f"{self.suite}-{self.arch}-{hashlib.sha256(blob).hexdigest()[:12]}"


def host_arch() -> str:
    """The Debian architecture of this machine."""
    return {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]


def ensure_binfmt(arch: str) -> None:
    """Make foreign binaries of ``arch`` runnable: mount binfmt_misc and register qemu with
    flags F (interpreter opened at registration, so it works in chroots) and C (setuid binaries
    such as sudo keep their credentials). Replaces a registration that lacks either."""
    if arch == host_arch():
        return
    if arch != "arm64":
        raise ProvisionError(f"no emulation set up for architecture {arch}")
    if not (BINFMT_DIR / "register").exists():
        subprocess.run(["mount", "binfmt_misc", "-t", "binfmt_misc", str(BINFMT_DIR)], check=True)
    entry = BINFMT_DIR / "qemu-aarch64"
    if entry.exists():
        text = entry.read_text()
        flags = text.split("flags:")[1].splitlines()[0] if "flags:" in text else ""
        if text.startswith("enabled") and {"F", "C"} <= set(flags):
            return
        # Without F the interpreter is not found inside a chroot; without C setuid binaries
        # (sudo) run without their privileges.
        entry.write_text("-1")
    if not QEMU_AARCH64.exists():
        raise ProvisionError(f"{QEMU_AARCH64} missing: apt-get install qemu-user-static")
    (BINFMT_DIR / "register").write_text(
        f":qemu-aarch64:M:0:{_AARCH64_MAGIC}:{_AARCH64_MASK}:{QEMU_AARCH64}:POCF")


def _run(cmd: list[str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode:
            raise ProvisionError(f"{cmd[0]} failed while building a base root; see {log}")


def _unmount_under(path: Path) -> None:
    """Lazily unmount whatever a failed build left mounted below ``path`` (deepest first)."""
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def _finish(root: Path, log: Path) -> None:
    """Post-build steps: drop host keys (each device gets its own), caches, and check no python3."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    pythons = [p for p in ("usr/bin/python3", "usr/bin/python") if (root / p).exists()]
    if pythons:
        raise ProvisionError(f"base root has {pythons}: a package pulled Python in; see {log}")


def publish(tmp: Path, final: Path, meta: dict) -> None:
    """Mark a finished cache entry complete and move it into place in one rename; another process
    that finished the same recipe first wins, and a crashed build's leftovers are replaced."""
    (tmp / ".complete").write_text(json.dumps(meta))
    if final.exists() and not (final / ".complete").exists():
        shutil.rmtree(final)
    try:
        tmp.rename(final)
    except OSError:  # another process finished the same recipe first
        if not (final / ".complete").exists():
            raise


def build_root(recipe: Recipe, cache_dir: Path = CACHE_DIR) -> Path:
    """Return the cached root for ``recipe``, building it first (atomically) when absent."""
    ensure_binfmt(recipe.arch)
    final = cache_dir / "roots" / recipe.key
    if (final / ".complete").exists():
        return final
    for stale in (cache_dir / "roots").glob(f".tmp-{recipe.key}-*"):
        if not Path(f"/proc/{stale.name.rsplit('-', 1)[1]}").exists():  # its builder died
            _unmount_under(stale)
            shutil.rmtree(stale, ignore_errors=True)
    tmp = cache_dir / "roots" / f".tmp-{recipe.key}-{os.getpid()}"
    log = cache_dir / "roots" / f"{recipe.key}.log"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    foreign = recipe.arch != host_arch()
    started = time.monotonic()
    try:
        _run(["debootstrap", f"--arch={recipe.arch}", f"--variant={recipe.variant}",
              f"--include={','.join(recipe.packages)}",
              f"--exclude={','.join(_EXCLUDE_FROM_MINBASE)}",
              *(["--foreign"] if foreign else []), recipe.suite, str(tmp), MIRROR], log)
        if foreign:
            _run(["chroot", str(tmp), "/debootstrap/debootstrap", "--second-stage"], log)
        _finish(tmp, log)
        publish(tmp, final, {**asdict(recipe), "build_seconds": round(time.monotonic() - started, 1)})
    finally:
        if tmp.exists():
            _unmount_under(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def build_seconds(root: Path) -> float:
    """How long the cold build of a cached root took."""
    return json.loads((root / ".complete").read_text())["build_seconds"]
