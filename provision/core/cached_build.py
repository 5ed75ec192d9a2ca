# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A file built on a host from a git ref and kept in the controller's artifact cache.

The cache key is a hash of what decides the file's bytes, the ref's commit included, so a host
whose key is cached gets a copy instead of a build, and across a fleet (invoke's threads or
Ansible's forks) each key is built once: the others wait on the key's lock, then copy.

The commit comes from the repository (`git ls-remote`, asked from the host; once per run, the
first host's answer serving the others: run_commit), except on a rerun
whose installed build, as the state file records it, is what the plan would build with the
commit recorded: the rerun then asks nothing (a branch moved since is followed with --force).

Another local user must not be able to change what is built: the build folder and every folder
above it must be the login user's or root's and writable by no one else (sticky folders such as
/tmp excepted above it), checked as the folder is made; and the checkout must be the ref's commit
with a clean tree (checked in the clone's command) before anything is built or cached under the key.
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from provision.artifacts import ArtifactStore, build_key, sha256_file
from provision.outcomes import Outcome
from provision.runners.base import refusal
from provision.core.step import Step, StepContext, StepFailed, q, remote_commit


class Prerequisite(Protocol):
    """What a build must have on the host before it builds there (cmake): ensured only then."""

    def ensure(self, ctx: StepContext) -> None: ...


GIB = 1024 * 1024  # KiB
JOB_MEMORY_KIB = 3 * GIB // 2  # one nvcc/g++ job of the plugin build: about 1.5 GiB


def build_jobs(mem_available_kib: int | None, swap_free_kib: int | None, nproc: int | None) -> tuple[int, str | None]:
    """`-j` from memory and swap (a 4 GB Nano is OOM-killed at -j4), and a hint when swap would help."""
    cores = nproc or 1
    memory = (mem_available_kib or 0) + (swap_free_kib or 0)
    jobs = max(1, min(cores, memory // JOB_MEMORY_KIB))
    hint = None
    if jobs < cores and not swap_free_kib:
        hint = f"memory allows -j{jobs} of {cores} cores; adding swap (e.g. a 4 GB swap file) would allow more"
    return jobs, hint


@dataclass
class _Asked:
    """A ref's commit as one run found it (run_commit)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    commit: str | None = None


_ASKED: weakref.WeakKeyDictionary[ArtifactStore, dict[tuple[str, str], _Asked]] = weakref.WeakKeyDictionary()
_ASKED_LOCK = threading.Lock()


def run_commit(ctx: StepContext, store: ArtifactStore, repo: str, ref: str) -> str:
    """The ref's commit (remote_commit), asked once per run: the hosts of a run share its `store`
    (invoke's threads), and the first to ask tells the others, which wait for it, so a fleet builds
    and copies one commit with one `git ls-remote` (a branch that moves during the run is followed
    by the next). A host whose ask failed tells nobody: the next one asks."""
    with _ASKED_LOCK:
        asked = _ASKED.setdefault(store, {}).setdefault((repo, ref), _Asked())
    with asked.lock:
        if asked.commit is None:
            asked.commit = remote_commit(ctx, repo, ref)
        else:
            ctx.log(f"(asked in this run) git ls-remote -- {repo} {ref}: {asked.commit}")
        return asked.commit


@dataclass
class CachedBuild(Step):
    """Subclasses give `ref`, `installed_key`, `cached` and `built_file`; the spec gives `repo`,
    `build_dir`, `commands()` and `key_parts(commit)`."""

    spec: Any
    store: ArtifactStore
    artifact: Path | None = field(default=None, kw_only=True)
    key: str | None = field(default=None, kw_only=True)
    commit: str | None = field(default=None, kw_only=True)
    outcome: Outcome | None = field(default=None, kw_only=True)
    follow_ref: bool = field(default=False, kw_only=True)  # ask for the ref's commit even on a rerun (--force)
    # What a build needs first (cmake), done only where the key is built, not where it is copied
    before_build: list[Prerequisite] = field(default_factory=list, kw_only=True)
    _claim: IO | None = field(default=None, init=False, repr=False)  # the key's build lock, taken by builds_here
    what = "build"  # what the file is, in messages
    timeout = 6 * 3600  # seconds for each build command
    interruptible = True  # it only writes its build folder and the controller cache

    @property
    def ref(self) -> str:
        raise NotImplementedError

    def installed_key(self, ctx: StepContext) -> str | None:
        """The key of the build installed on the host now, per its state file."""
        raise NotImplementedError

    def installed_commit(self, ctx: StepContext) -> str | None:
        """The commit the state file records for the installed build of this ref, if any."""
        return None

    def cached(self, key: str) -> Path | None:
        """The cached file for `key`, if the controller has it."""
        raise NotImplementedError

    def built_file(self, ctx: StepContext) -> tuple[str, str]:
        """(the product's path on the host after the build, the name to cache it under)."""
        raise NotImplementedError

    def checkout_commands(self) -> int:
        """How many of the spec's commands check the source out (the clone; 0: the product is
        checked by its own SHA-256 instead)."""
        return 1

    def check_product(self, ctx: StepContext, local: Path) -> None:
        """Raise StepFailed when the fetched product must not enter the cache (default: keep it)."""

    def resolve_key(self, ctx: StepContext) -> str:
        """The key needs the ref's commit: the installed build's when that makes the installed key,
        else ask the repository (from the host, which clones)."""
        if self.key is None:
            recorded = None if self.follow_ref else self.installed_commit(ctx)
            if recorded and build_key(self.spec.key_parts(recorded)) == self.installed_key(ctx):
                self.commit = recorded
            else:
                self.commit = run_commit(ctx, self.store, self.spec.repo, self.ref)
            self.key = build_key(self.spec.key_parts(self.commit))
        return self.key

    def builds_here(self, ctx: StepContext) -> bool:
        """Whether this host is to build the key rather than copy it: not installed, not cached and
        (once the host is locked, not while the probe's facts stand) nobody else building it; the
        key's build lock is then claimed for apply."""
        key = self.resolve_key(ctx)
        if self.installed_key(ctx) == key or self.cached(key):
            return False
        if ctx.observed:
            return True
        if self._claim is None:
            self._claim = self.store.claim(key)
        return self._claim is not None

    def check(self, ctx: StepContext) -> str | None:
        key = self.resolve_key(ctx)
        if self.installed_key(ctx) == key:
            return f"{self.what} {key} is already installed"
        cached = self.cached(key)
        if cached:
            self.artifact, self.outcome = cached, Outcome.COPIED
            return f"cached {self.what} {cached.name} ({key})"
        return None

    def apply(self, ctx: StepContext) -> None:
        key = self.resolve_key(ctx)
        claimed, self._claim = self._claim, None
        with self.store.lock(key, claimed):
            cached = self.cached(key)
            if cached:  # another host of the fleet built it while we waited
                self.artifact, self.outcome = cached, Outcome.COPIED
                return
            self.artifact = self.build(ctx, key)
            self.outcome = Outcome.BUILT

    def build(self, ctx: StepContext, key: str) -> Path:
        """Build on the host, check the product and put it in the store under `key`."""
        made = ctx.sh(own_folder_command(self.spec.build_dir), check=False)
        if not made.ok:
            raise StepFailed(f"{ctx.runner.host}: {refusal(made)}")
        for step in self.before_build:
            step.ensure(ctx)
        commands = self.spec.commands()
        checked = self.checkout_commands()
        if checked:  # the last checkout command also proves what it checked out
            commands[checked - 1] += " && " + checkout_check_command(self.spec.src, self.commit)
        for command in commands:
            ctx.sh(f"PATH=/usr/local/bin:$PATH; {command}", stream=True, timeout=self.timeout)
        remote, name = self.built_file(ctx)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / name
            ctx.runner.get(remote, local)
            self.check_product(ctx, local)
            return self.store.put(key, name, local, self.spec.key_parts(self.commit))

    def verify(self, ctx: StepContext) -> None:
        if self.artifact is None or not self.artifact.exists():
            raise StepFailed(f"{ctx.runner.host}: no {self.what} for build {self.key}")

    @property
    def sha256(self) -> str | None:
        return sha256_file(self.artifact) if self.artifact else None


# Makes the build folder $1 (as the login user) and refuses, in one line, unless it and every
# folder above it (the path as given and as resolved) belong to the login user or root and no one
# else can write them: group or others may write a folder above it only when it is sticky (/tmp).
OWN_FOLDER_SCRIPT = r"""
me=$(id -u) top=$1
refuse() { echo "dsprov-refused: build folder $top: $*" >&2; exit 3; }
check() {
    p=$1
    set -- $(stat -c '%u %g %a' "$p")
    if [ -L "$p" ]; then
        [ "$1" = 0 ] || [ "$1" = "$me" ] || refuse "the link $p is uid $1's (another user could re-point it)"
        return
    fi
    [ "$1" = 0 ] || [ "$1" = "$me" ] || refuse "$p is owned by uid $1, not by you or root (set dsprov_build_dir to a folder of yours)"
    m=$((0$3))
    if [ $((m & 022)) != 0 ] && { [ "$p" = "$top" ] || [ $((m & 01000)) = 0 ]; }; then
        refuse "$p is writable by other users (mode $3; set dsprov_build_dir to a folder of yours)"
    fi
}
walk() {
    d=$1
    while :; do
        [ -e "$d" ] || [ -L "$d" ] && check "$d"
        [ "$d" = / ] && return
        d=$(dirname "$d")
    done
}
walk "$top"
mkdir -p "$top" || refuse "cannot create it"
walk "$top"
real=$(readlink -f "$top") && top=$real && walk "$real"
"""


def own_folder_command(folder: str) -> str:
    """Make the build folder, refusing one that another user controls (OWN_FOLDER_SCRIPT)."""
    return f"sh -c {q(OWN_FOLDER_SCRIPT)} build-folder {q(folder)}"


CHECKOUT_CHECK = r"""
[ "$(git -C "$1" rev-parse HEAD)" = "$2" ] || { echo "error: $1 is not at $2 after the clone" >&2; exit 1; }
[ -z "$(git -C "$1" status --porcelain --untracked-files=all)" ] || { echo "error: $1 is not a clean checkout of $2" >&2; exit 1; }
"""


def checkout_check_command(src: str, commit: str | None) -> str:
    """Fails (one `error:` line) unless the checkout in `src` is `commit` with a clean tree."""
    return f"sh -c {q(CHECKOUT_CHECK)} checkout {q(src)} {q(str(commit))}"
