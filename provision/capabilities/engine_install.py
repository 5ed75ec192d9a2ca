# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Putting new TensorRT engines in place on a host: the login user's private folder they are made in,
and the one script that installs them (each engine, then its build record, then the configs that
name it), as the login user where it may write and as root only for the rest
(provision/capabilities/engines.py runs it)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from provision.core.step import StepContext, StepFailed
from provision.runners.base import FILE_FUNCTIONS

WORK_TEMPLATE = "/tmp/.dsprov-engines.XXXXXXXXXX"
DEFERRED = "deferred"


def digest(data: bytes) -> tuple[str, int]:
    """SHA-256 and size, as INSTALL_ENGINES_SCRIPT checks a file."""
    return hashlib.sha256(data).hexdigest(), len(data)


@dataclass
class Product:
    """A new engine in the private folder, ready to install."""

    target: str  # where it goes
    file: str  # its name in the private folder
    sha256: str
    size: int
    key: str | None = None  # its cache key (copied from, or built into, the cache)
    copied: bool = False
    loaded: bool = False  # a copied engine that trtexec loaded here


@dataclass(frozen=True)
class InstallItem:
    """One file INSTALL_ENGINES_SCRIPT puts in place."""

    file: str  # in the private folder
    target: str
    sha256: str
    size: int
    expect: str = "-"  # the SHA-256 the target must still have (a config edited from what was read)
    deps: tuple[str, ...] = ()  # items that must be in place first

    def args(self, tag: str, deps: list[str] | None = None) -> list[str]:
        return [tag, self.file, self.target, self.sha256, str(self.size), self.expect,
                ",".join(self.deps if deps is None else deps) or "-"]


@dataclass
class WorkFolder:
    """The login user's private folder for new engines (mode 0700, a fresh name), made at first use:
    by `mktemp -d` for a build, or with the first copies (Runner.put_files: the folder and every
    engine copied from the controller in one round trip)."""

    path: str | None = None
    pending: list[tuple[Path, str, str]] = field(default_factory=list)  # (cached file, name, key) to copy

    def make(self, ctx: StepContext) -> str:
        if self.path is None:
            made = ctx.sh(f"mktemp -d {WORK_TEMPLATE}", check=False)
            folder = made.stdout.strip()
            if not made.ok or not folder.startswith(WORK_TEMPLATE.rstrip("X")):
                raise StepFailed(f"{ctx.runner.host}: cannot make a private folder in /tmp: {made.reason()}")
            self.path = folder
        return self.path

    def copy(self, cached: Path, name: str, key: str) -> None:
        """Copy an engine from the controller's cache into the folder as `name`, with the others (flush)."""
        self.pending.append((cached, name, key))

    def flush(self, ctx: StepContext) -> None:
        """Copy the pending engines, all in one transfer (and the folder made with them if need be)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        started = time.monotonic()
        self.path = ctx.runner.put_files([(cached, name) for cached, name, _ in pending], self.path)
        for _, name, key in pending:
            ctx.log(f"$ (controller) copy the cached engine {key} to {self.path}/{name}")
        ctx.log(f"copied {len(pending)} engine(s) in {time.monotonic() - started:.2f}s")


# As the login user (`user`) or root (`root`), for the private folder $2 and items of 7 arguments
# each (tag, file in the folder, target, SHA-256, size, the SHA-256 the target must still have or
# `-`, the tags that must be in place first, comma-separated, or `-`): `place` each (FILE_FUNCTIONS:
# verified, beside the target, renamed over it). The login user leaves (`deferred`) what it cannot
# write, and what waits on that; root writes only where FILE_FUNCTIONS' safe_folder allows. Prints
# `ok<TAB>tag`, `deferred<TAB>tag` or `failed<TAB>tag<TAB>why` per item; removes the folder unless
# something was deferred.
INSTALL_ENGINES_SCRIPT = FILE_FUNCTIONS + r"""
mode=$1 dir=$2; shift 2
ok=" " held=" "
my_uid  # once, before the subshells that place each file
while [ $# -ge 7 ]; do
    tag=$1 f=$2 t=$3 sha=$4 size=$5 expect=$6 deps=$7; shift 7
    wait= ifs=$IFS IFS=,
    for d in $deps; do
        [ "$d" = - ] && continue
        case $ok in *" $d "*) ;; *) wait=$d ;; esac
    done
    IFS=$ifs
    if [ -n "$wait" ]; then
        case $held in
            *" $wait "*) printf 'deferred\t%s\n' "$tag"; held="$held$tag " ;;
            *) printf 'failed\t%s\t%s\n' "$tag" "not written: what it names was not installed" ;;
        esac
        continue
    fi
    if [ "$mode" = user ]; then
        parent "$t"; d=$up_dir
        [ -d "$d" ] || mkdir -p "$d" 2>/dev/null
        if [ ! -w "$d" ]; then printf 'deferred\t%s\n' "$tag"; held="$held$tag "; continue; fi
    fi
    if [ "$expect" != - ] && { sum_=$(sha256sum < "$t" 2>/dev/null); [ "${sum_%% *}" != "$expect" ]; }; then
        printf 'failed\t%s\t%s\n' "$tag" "$t changed since it was read: not rewritten (run again)"
        continue
    fi
    if err=$( (place "$dir/$f" "$t" "" "$sha" "$size") 2>&1 ); then
        printf 'ok\t%s\n' "$tag"; ok="$ok$tag "
    else
        printf 'failed\t%s\t%s\n' "$tag" "$(printf '%s\n' "$err" | tail -n 1 | sed 's/^dsprov-refused: //')"
    fi
done
[ "$held" != " " ] || rm -rf "$dir"
"""


def install_status(text: str) -> dict[str, tuple[bool, str]]:
    """INSTALL_ENGINES_SCRIPT's lines: tag -> (installed, why not)."""
    status = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if parts[0] == "ok" and len(parts) == 2:
            status[parts[1]] = (True, "")
        elif parts[0] == DEFERRED and len(parts) == 2:
            status[parts[1]] = (False, DEFERRED)
        elif parts[0] == "failed" and len(parts) == 3:
            status[parts[1]] = (False, parts[2])
    return status
