# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""cmake >= 3.13 for the TensorRT OSS build: keep a new enough one, else install a release archive.

The archive (Kitware layout `cmake-X.Y.Z-linux-<arch>/bin/cmake`) is downloaded once on the
controller, its SHA-256 checked, pushed to the host, unpacked under /opt and linked into
/usr/local/bin. Fleets are often air-gapped: the host itself needs no network for this.
Only when asked, the source release is built on the host as the guides do it (`./bootstrap`,
`make`, `make install`), into the same /opt folder and links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from provision.artifacts import fetch
from provision.core.cached_build import build_jobs
from provision.core.capability import Capability, Planning
from provision.core.plan import PlanRefused
from provision.core.step import Step, StepContext, StepFailed, q
from provision.facts.parsers import parse_cmake_version
from provision.matrix.rows import CmakeArchive
from provision.options import DEFAULT_BUILD_DIR

LINKED = ("cmake", "ctest", "cpack")


def _links(folder: str) -> str:
    return " && ".join(f"ln -sfn {q(folder + '/bin/' + t)} /usr/local/bin/{t}" for t in LINKED)


@dataclass
class EnsureCmake(Step):
    minimum: Version
    installed: Version | None
    archive: CmakeArchive
    for_builds: list[Any] = field(default_factory=list, kw_only=True)  # the CachedBuilds that need it
    uploaded: str | None = field(default=None, init=False)  # the archive's path on the host, once pushed
    verified: bool = field(default=False, init=False)  # this run's verify found it new enough
    name = "cmake"
    provides = frozenset({"cmake"})

    def serve(self, dependent: Step) -> None:
        """A build that needs this cmake where it builds (the step is skipped where every such build copies)."""
        self.for_builds.append(dependent)
        dependent.before_build.append(self)  # type: ignore[attr-defined]

    def summary(self) -> str:
        return f"install cmake {self.archive.version} (have {self.installed or 'none'}, need >= {self.minimum})"

    @property
    def staging(self) -> str:
        """The pushed archive: in a private folder the upload made (mktemp -d), never a fixed name."""
        return self.uploaded or f"/tmp/.dsprov-up.XXXXXXXXXX/{self.archive.filename}"

    def remove_staged(self) -> str:
        return f"rm -rf {q(str(Path(self.staging).parent))}"

    def check_staged(self) -> str:
        """The command that checks the copied archive against its SHA-256."""
        return f"echo {q(self.archive.sha256 + '  ' + self.staging)} | sha256sum -c - >/dev/null"

    def download_line(self) -> str:
        """What the controller does before the host's commands (describe's first line)."""
        a = self.archive
        return f"(controller) download {a.url}, check SHA-256 {a.sha256[:12]}..., copy to {self.staging}"

    def push(self, ctx: StepContext) -> None:
        """Download the archive once on the controller (SHA-256 checked) and copy it to the host."""
        a = self.archive
        self.uploaded = ctx.runner.upload(Path(fetch(a.url, a.sha256, a.filename, ctx.stall_timeout, a.size)))

    def install_command(self) -> str:
        """Check the copied archive, unpack it into a temp folder renamed into place, link the tools."""
        a, staging, tmp = self.archive, self.staging, f"{self.archive.folder}.dsprov-tmp"
        return (
            f"{self.check_staged()}"
            f" && rm -rf {q(tmp)} && mkdir -p {q(tmp)} && tar -xzf {q(staging)} -C {q(tmp)} --strip-components=1"
            f" && rm -rf {q(a.folder)} && mv {q(tmp)} {q(a.folder)} && mkdir -p /usr/local/bin && {_links(a.folder)}"
            f"; rc=$?; {self.remove_staged()}; exit $rc"
        )

    def describe(self) -> list[str]:
        return [self.download_line(), f"sudo {self.install_command()}"]

    def _current(self, ctx: StepContext) -> Version | None:
        result = ctx.runner.run("PATH=/usr/local/bin:$PATH cmake --version 2>/dev/null | head -n 1")
        return parse_cmake_version(result.stdout) if result.ok else None

    def check(self, ctx: StepContext) -> str | None:
        """New enough (the probe's version while its facts stand), or not needed: every build that
        needs it copies its key (installed, cached, or built by another host now)."""
        if ctx.observed and self.installed and self.installed >= self.minimum:
            return f"cmake {self.installed} is new enough"
        if self.for_builds and not any(build.builds_here(ctx) for build in self.for_builds):  # asked first: no
            return "not needed here: " + ", ".join(f"{b.name} copies {b.key}" for b in self.for_builds)  # cmake call
        current = self.installed if ctx.observed else self._current(ctx)
        if current and current >= self.minimum:
            return f"cmake {current} is new enough"
        return None

    def ensure(self, ctx: StepContext) -> None:
        """For a build that finds, after all, that it builds here: install unless new enough (known
        when this run's check or verify found it so)."""
        if self.verified:
            return
        current = self._current(ctx)
        if current and current >= self.minimum:
            return
        ctx.log(f"[{self.name}] {self.summary()} (this host builds)")
        self.apply(ctx)
        try:
            self.verify(ctx)
        except StepFailed:
            self.rollback(ctx)
            raise

    def apply(self, ctx: StepContext) -> None:
        self.push(ctx)
        ctx.sh(self.install_command(), sudo=True)

    def verify(self, ctx: StepContext) -> None:
        current = self._current(ctx)
        if not current or current < self.minimum:
            raise StepFailed(f"{ctx.runner.host}: cmake still {current or 'missing'} after installing {self.archive.filename}")
        self.verified = True

    def rollback(self, ctx: StepContext) -> None:
        links = " ".join(f"/usr/local/bin/{t}" for t in LINKED)
        ctx.sh(f"rm -f {links}; rm -rf {q(self.archive.folder)}", sudo=True, check=False)


@dataclass
class EnsureCmakeFromSource(EnsureCmake):
    """The guides' route, only when asked: build the source release on the host."""

    build_dir: str = DEFAULT_BUILD_DIR
    jobs: int = 1

    @property
    def src(self) -> str:
        return f"{self.build_dir}/{self.archive.filename.removesuffix('.tar.gz')}"

    def summary(self) -> str:
        return (f"build cmake {self.archive.version} from source with -j{self.jobs}"
                f" (have {self.installed or 'none'}, need >= {self.minimum})")

    def commands(self) -> list[str]:
        """Unpack and build as the user, then install as root (the last command)."""
        a, src, staging = self.archive, q(self.src), self.staging
        return [
            f"{self.check_staged()} && mkdir -p {q(self.build_dir)}"
            f" && rm -rf {src} && tar -xzf {q(staging)} -C {q(self.build_dir)}",
            f"cd {src} && ./bootstrap --prefix={q(a.folder)} --parallel={self.jobs} -- -DCMAKE_USE_OPENSSL=OFF"
            f" && make -j{self.jobs}",
            f"make -C {src} install && mkdir -p /usr/local/bin && {_links(a.folder)}",
        ]

    def describe(self) -> list[str]:
        *build, install = self.commands()
        return [self.download_line(), *build, f"sudo {install}"]

    def apply(self, ctx: StepContext) -> None:
        self.push(ctx)
        *build, install = self.commands()
        try:
            for command in build:
                ctx.sh(command, stream=True, timeout=6 * 3600)
        finally:
            ctx.sh(self.remove_staged(), check=False)
        ctx.sh(install, sudo=True)


@dataclass(frozen=True)
class CmakeNeed:
    """What a build asks of cmake: a minimum (None: the matrix's) and why, when it is higher."""

    minimum: Version | None = None
    because: str = ""  # e.g. " (release/11.0 needs it)"


WHY = ("cmake {have} is older than the {minimum} the build needs; only where the host builds: a host that"
       " copies a cached build needs no cmake")


def _minimum(p: Planning, need: CmakeNeed | None) -> Version:
    return (need.minimum if need else None) or p.matrix.cmake.minimum


def met(p: Planning, need: CmakeNeed | None) -> bool:
    """The host's cmake is new enough."""
    have = p.detection.facts.cmake
    return bool(have and have >= _minimum(p, need))


def _new_enough(archives: list[CmakeArchive], minimum: Version) -> CmakeArchive | None:
    """The first archive (in configured order) whose version is at least `minimum`."""
    return next((a for a in archives if a.version >= minimum), None)


def provide(p: Planning, need: CmakeNeed | None) -> tuple[str, EnsureCmake]:
    """Install a release archive >= the minimum for the host's architecture, or build the source
    when asked; the inventory's archives (a mirror) replace the matrix's. PlanRefused when none is
    known."""
    facts, options, host = p.detection.facts, p.options, p.host
    minimum, because = _minimum(p, need), need.because if need else ""
    why = WHY.format(have=facts.cmake or "none", minimum=minimum)
    if options.cmake_from_source:
        source = _new_enough([options.cmake_source] if options.cmake_source else list(p.matrix.cmake.source_archives),
                             minimum)
        if source is None:
            raise PlanRefused(f"{host}: no cmake source release >= {minimum}{because} is configured"
                              " (set dsprov_cmake_source)")
        jobs, _ = build_jobs(facts.mem_available_kib, facts.swap_total_kib, facts.nproc)
        return why, EnsureCmakeFromSource(minimum, facts.cmake, source, facts.build_dir or DEFAULT_BUILD_DIR, jobs)
    configured = [a for a in options.cmake_archives if a.arch == facts.arch]
    known = configured or [a for a in p.matrix.cmake.archives if a.arch == facts.arch]
    archive = _new_enough(known, minimum)
    if archive is None:
        have = ", ".join(str(a.version) for a in known) or "none"
        raise PlanRefused(
            f"{host}: cmake {facts.cmake or 'missing'} is older than {minimum}{because} and no cmake release"
            f" archive >= {minimum} is known for {facts.arch} (have: {have}; set dsprov_cmake_archives, or"
            " --cmake-from-source)"
        )
    return why, EnsureCmake(minimum, facts.cmake, archive)


CAPABILITY = Capability("cmake", provides="cmake", met=met, provide=provide)
