# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cached extra layers for chosen devices, stacked over a base root, never written into it.

``python3``: Debian bookworm's python3 (3.11) with pip and build, for devices that build and
install pyds. The base roots stay without Python (the tool must work on targets without it), so
a fleet file asks for it per device (``python3: true``). The packages missing from the base
root are resolved by the controller's own apt-get against the base root's dpkg status (isolated
by APT_CONFIG: the controller's apt state is untouched), downloaded once and unpacked with
``dpkg-deb -x`` into ``layers/<key>/root``; ``layers/<key>/status`` holds their dpkg status
entries, which a device appends to its own. Cold cost: about 25 packages, 9 MB, seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from provision.errors import ProvisionError
from simfleet import roots

PYTHON3_PACKAGES = ("python3", "python3-pip", "python3-build")


@dataclass(frozen=True)
class LayerRecipe:
    """What decides a layer's content: its packages, over which base root."""

    base: str  # base root key (its dpkg status decides which packages are missing)
    arch: str  # Debian architecture
    packages: tuple[str, ...] = PYTHON3_PACKAGES
    suite: str = "bookworm"
    revision: int = 2  # bump when the unpacking changes

    @property
    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return f"{self.packages[0]}-{self.arch}-{hashlib.sha256(blob).hexdigest()[:12]}"


@dataclass(frozen=True)
class Layer:
    root: Path  # overlay lowerdir
    status: Path  # dpkg status stanzas of what it holds


def _apt(config: Path, *args: str, log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ apt-get {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(["apt-get", "-q", *args], env={**os.environ, "APT_CONFIG": str(config)},
                              stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise ProvisionError(f"apt-get {args[0]} failed while building a device layer; see {log}")


def _download(recipe: LayerRecipe, base_root: Path, work: Path, log: Path) -> list[Path]:
    """The .deb files of recipe.packages and their dependencies that the base root lacks."""
    for sub in ("etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
                "var/lib/apt/lists/partial", "var/cache/apt/archives/partial"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    keyring = base_root / "usr/share/keyrings/debian-archive-keyring.gpg"
    (work / "etc/apt/sources.list").write_text(
        f"deb [signed-by={keyring}] {roots.MIRROR} {recipe.suite} main\n")
    config = work / "apt.conf"
    config.write_text(
        f'Dir "{work}/";\n'
        f'Dir::State::status "{base_root}/var/lib/dpkg/status";\n'
        f'APT::Architecture "{recipe.arch}";\nAPT::Architectures {{ "{recipe.arch}"; }};\n'
        'APT::Install-Recommends "false";\n'
        'APT::Sandbox::User "root";\n'  # _apt cannot read a cache under /root
    )
    _apt(config, "update", log=log)
    _apt(config, "install", "-y", "--download-only", *recipe.packages, log=log)
    return sorted((work / "var/cache/apt/archives").glob("*.deb"))


def _status_stanza(deb: Path) -> str:
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True,
                             text=True).stdout.strip("\n")
    first, _, rest = control.partition("\n")
    return f"{first}\nStatus: install ok installed\n{rest}\n\n"


def _merge_usr(layer: Path, base_root: Path) -> None:
    """Move top-level folders that are links in the merged-/usr base root (/lib -> usr/lib ...)
    to their targets: a real folder in an upper layer would hide the base root's link."""
    for top in sorted(layer.iterdir()):
        link = base_root / top.name
        if top.is_dir() and not top.is_symlink() and link.is_symlink():
            target = layer / os.readlink(link).lstrip("/")
            shutil.copytree(top, target, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(top)


def build_layer(recipe: LayerRecipe, base_root: Path, cache_dir: Path = roots.CACHE_DIR) -> Layer:
    """Return the cached layer for ``recipe``, building it first (atomically) when absent."""
    final = cache_dir / "layers" / recipe.key
    if not (final / ".complete").exists():
        tmp = cache_dir / "layers" / f".tmp-{recipe.key}-{os.getpid()}"
        log = cache_dir / "layers" / f"{recipe.key}.log"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "root").mkdir(parents=True)
        log.write_text("")
        started = time.monotonic()
        try:
            debs = _download(recipe, base_root, tmp / "apt", log)
            if not debs:
                raise ProvisionError(f"no packages to unpack for {recipe.packages}; see {log}")
            status = ""
            for deb in debs:
                subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], check=True)
                status += _status_stanza(deb)
            _merge_usr(tmp / "root", base_root)
            (tmp / "status").write_text(status)
            shutil.rmtree(tmp / "apt")
            roots.publish(tmp, final, {**asdict(recipe), "debs": [d.name for d in debs],
                                       "build_seconds": round(time.monotonic() - started, 1)})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Layer(final / "root", final / "status")
