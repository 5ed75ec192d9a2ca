# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plugin library's files on a host, and what the state file says is installed there."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from provision.core.step import StepContext, q, readlink_command
from provision.facts.parsers import PluginFiles, Sections, parse_plugin_files
from provision.state import SAVED_DIR, ObjectRecord, StateRecord


@dataclass(frozen=True)
class PluginRecord(ObjectRecord):
    """The state file's "plugin": the swapped library's original (saved for rollback) and the build
    installed in its place (written by provision/capabilities/plugin_swap.py)."""

    KEY = "plugin"
    path: str | None = None  # the library swapped
    saved: str | None = None  # where its original is kept
    original_sha256: str | None = None
    package_version: str | None = None  # the dpkg version of the original's package
    installing_sha256: str | None = None  # the library being swapped in (a swap that stopped halfway)
    installed_sha256: str | None = None  # the library swapped in
    key: str | None = None  # its build key
    ref: str | None = None
    commit: str | None = None
    gpu_archs: Any = None
    previous_originals: list[dict[str, Any]] | None = None  # originals replaced by a takeover, kept on the host


@dataclass(frozen=True)
class KeptOriginals(StateRecord):
    """The state file's top-level "previous_originals": the originals a takeover replaced, still on
    the host after the swap they belonged to was rolled back."""

    KEY = "previous_originals"
    originals: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, value: Any) -> Self:
        return cls(tuple(value))

    def to_json(self) -> list[dict[str, Any]]:
        return list(self.originals)


@dataclass(frozen=True)
class PluginPaths:
    """Where the plugin library lives on the host."""

    lib_dir: str
    name: str  # the real file: libnvinfer_plugin.so.8.2.1

    @property
    def path(self) -> str:
        return f"{self.lib_dir}/{self.name}"

    @property
    def soname_link(self) -> str:  # libnvinfer_plugin.so.8
        return f"{self.lib_dir}/libnvinfer_plugin.so.{self.name.split('.so.')[1].split('.')[0]}"

    @property
    def dev_link(self) -> str:
        return f"{self.lib_dir}/libnvinfer_plugin.so"

    @property
    def saved(self) -> str:
        return f"{SAVED_DIR}/{self.name}"


def soname(library: Path) -> str | None:
    """The DT_SONAME of a shared library on the controller (None if it has none or is no ELF): read once
    per file as it is (path, inode, size, mtime), so that the hosts of a fleet that copy one build, each
    checking it twice (before and under the lock), do not each parse it again."""
    try:
        seen = library.stat()
    except OSError:
        return None
    return _soname(library, seen.st_ino, seen.st_size, seen.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _soname(library: Path, inode: int, size: int, mtime_ns: int) -> str | None:
    from elftools.common.exceptions import ELFError  # here: only a run that copies a library reads one
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    try:
        with library.open("rb") as handle:
            for section in ELFFile(handle).iter_sections():
                if isinstance(section, DynamicSection):
                    return next((t.soname for t in section.iter_tags("DT_SONAME")), None)  # type: ignore[attr-defined]
    except (ELFError, OSError):
        return None
    return None


# The probe's `plugin_files` section: what a rerun's checks compare with the state file, so that they
# need not ask again: the final target of each libnvinfer_plugin link and, once dsprov recorded a
# swap, the SHA-256 of each library and saved original. `dir`/`hashed` lines name the folders these
# lines cover.
# The section is kept in the probe's cache (probe.sh's `cached`) under the stat of the plugin files of
# both folders (following links: a link moved to another file changes it) and whether the state file is.
PROBE = r"""
section plugin_files
plugin_files() {
    printf 'dir\t%s\n' "$lib"
    for f in "$lib"/libnvinfer_plugin.so*; do
        [ -L "$f" ] && printf 'link\t%s\t%s\n' "$f" "$(readlink -f "$f")"
    done
    if [ -e "$STATE_FILE" ]; then
        for d in "$lib" "$SAVED_DIR"; do
            printf 'hashed\t%s\n' "$d"
            for f in "$d"/libnvinfer_plugin.so*; do
                [ -f "$f" ] && [ ! -L "$f" ] && printf 'sha256\t%s\t%s\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)"
            done
        done
    fi
    return 0
}
lib=/usr/lib/$(triplet)
state=absent; [ -e "$STATE_FILE" ] && state=present
cached plugin_files "$(printf '%s\n' "${PROBE_SHA256:-}" "$lib" "$SAVED_DIR" "state file $state"
                       stat -L -c '%i %s %Y %Z %n' "$lib"/libnvinfer_plugin.so* "$SAVED_DIR"/libnvinfer_plugin.so* 2>/dev/null
                      )" plugin_files
"""
VIEW = "plugin_swap"  # the capability whose observed view PluginFiles is


def observe(sections: Sections) -> PluginFiles:
    return parse_plugin_files(sections["plugin_files"])


def _seen(ctx: StepContext) -> PluginFiles | None:
    return ctx.observed.view(VIEW) if ctx.observed else None


def file_sha256(ctx: StepContext, path: str) -> str | None:
    """A plugin file's SHA-256 (None when it is absent): the probe's when observed, else asked."""
    seen = _seen(ctx)
    answered, digest = seen.digest(path) if seen else (False, None)
    return digest if answered else ctx.runner.sha256(path)


def resolved(ctx: StepContext, link: str) -> str | None:
    """`readlink -f link`: the probe's answer when observed, else asked."""
    seen = _seen(ctx)
    answered, target = seen.resolved(link) if seen else (False, None)
    if answered:
        return target
    result = ctx.runner.run(readlink_command(link))
    return result.stdout.strip() if result.ok else None


def package_version(ctx: StepContext, package: str) -> str | None:
    """The dpkg version of a libnvinfer* package: the probe's (it lists libnvinfer*) when
    observed, else asked."""
    if ctx.observed and package.startswith("libnvinfer"):
        return ctx.observed.facts.packages.get(package) or None
    result = ctx.runner.run(f"dpkg-query -W -f '${{Version}}' {q(package)} 2>/dev/null")
    return result.stdout.strip() or None if result.ok else None


def installed_build(ctx: StepContext, p: PluginPaths) -> str | None:
    """The build key installed at `p` per the state file, if the file and link still say so."""
    plugin = ctx.state.record_of(PluginRecord) or PluginRecord()
    if not plugin.installed_sha256 or file_sha256(ctx, p.path) != plugin.installed_sha256:
        return None
    if resolved(ctx, p.soname_link) != p.path:
        return None
    return plugin.key
