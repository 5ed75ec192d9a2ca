"""A file built on a host from a git ref and kept in the controller's artifact cache.

The cache key is a hash of what decides the file's bytes, the ref's commit included, so a host
whose key is cached gets a copy instead of a build, and across a fleet (invoke's threads or
Ansible's forks) each key is built once: the others wait on the key's lock, then copy.

The commit comes from the repository (`git ls-remote`, asked from the host), except on a rerun
whose installed build, as the state file records it, is what the plan would build with the
commit recorded: the rerun then asks nothing (a branch moved since is followed with --force).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from provision.artifacts import ArtifactStore, build_key, sha256_file
from provision.outcomes import Outcome
from provision.steps.base import Step, StepContext, StepFailed, q, remote_commit

if TYPE_CHECKING:
    from provision.steps.cmake import EnsureCmake


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
    before_build: list[EnsureCmake] = field(default_factory=list, kw_only=True)
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
                self.commit = remote_commit(ctx, self.spec.repo, self.ref)
            self.key = build_key(self.spec.key_parts(self.commit))
        return self.key

    def builds_here(self, ctx: StepContext) -> bool:
        """Whether this host is to build the key rather than copy it: not installed, not cached and
        (once the host is locked, not while the probe's facts stand) nobody else building it; the
        key's build lock is then claimed for apply."""
        key = self.resolve_key(ctx)
        if self.installed_key(ctx) == key or self.cached(key):
            return False
        if ctx.probed:
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
            for step in self.before_build:
                step.ensure(ctx)
            ctx.sh(f"mkdir -p {q(self.spec.build_dir)}")
            for command in self.spec.commands():
                ctx.sh(f"PATH=/usr/local/bin:$PATH; {command}", stream=True, timeout=self.timeout)
            remote, name = self.built_file(ctx)
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / name
                ctx.runner.get(remote, local)
                self.check_product(ctx, local)
                self.artifact = self.store.put(key, name, local, self.spec.key_parts(self.commit))
            self.outcome = Outcome.BUILT

    def verify(self, ctx: StepContext) -> None:
        if self.artifact is None or not self.artifact.exists():
            raise StepFailed(f"{ctx.runner.host}: no {self.what} for build {self.key}")

    @property
    def sha256(self) -> str | None:
        return sha256_file(self.artifact) if self.artifact else None
