# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pyds capability: build the DeepStream Python bindings for the host's python3, then install
and import them.

Which steps a host gets is decided by `pyds_steps` (pure): the deepstream_python_apps tag from the
matrix, the host's python3, or why pyds does not apply to it. `BuildPyds` yields the wheel for a
build key (from the controller's artifact cache, or built on the host: the recipe is
provision/pyds/build_spec.py). `InstallPyds` checks the wheel's tags against the host's
interpreter before anything changes (a wheel for another platform or Python is refused with the
reason), installs it with the host's own pip, offline (`--no-index --no-deps`, the wheel file),
and proves it with an import. The state file records what is installed, so a rerun changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import parse_wheel_filename

from provision.artifacts import ArtifactStore, sha256_file
from provision.capabilities.cmake import CmakeNeed
from provision.core.cached_build import CachedBuild, build_jobs
from provision.core.capability import Capability, Planning
from provision.core.detection import Detection
from provision.core.plan import PlanRefused
from provision.core.step import Step, StepContext, StepFailed, list_command, q
from provision.errors import ProvisionError
from provision.matrix import Matrix, Status
from provision.options import DEFAULT_BUILD_DIR, PydsOptions
from provision.pyds.build_spec import PIP_PLATFORMS, PydsBuildSpec
from provision.pyds.wheel_tags import Interpreter, check_wheel
from provision.state import STATE_DIR, ObjectRecord, write_state

WHEEL_DIR = f"{STATE_DIR}/wheels"  # installed wheels, kept for an offline reinstall
IMPORT = "cd / && python3 -c 'import pyds; print(pyds.__version__)'"
# Once the state file records pyds: the version the host's python3 imports (imported_version).
PROBE = f"""
section pyds_import
if grep -qs '"pyds"' "$STATE_FILE"; then
    echo asked
    {IMPORT} 2>/dev/null
fi
"""
EXTERNALLY_MANAGED = (
    "python3 -c 'import os, sysconfig;"
    " print(os.path.exists(os.path.join(sysconfig.get_path(\"stdlib\"), \"EXTERNALLY-MANAGED\")))'"
)


@dataclass(frozen=True)
class PydsRecord(ObjectRecord):
    """The state file's "pyds": the wheel installed (kept for a reinstall) and what it was built from."""

    KEY = "pyds"
    key: str | None = None  # the build key (a given wheel: its SHA-256's first 16 digits)
    version: str | None = None  # pyds.__version__ it imports as
    wheel: str | None = None  # the wheel on the host
    sha256: str | None = None
    tag: str | None = None  # the deepstream_python_apps tag it was built from (a build only)
    commit: str | None = None


class WheelRefused(StepFailed):
    """The wheel's tags do not fit the host's interpreter: it is never installed."""


def imported_version(ctx: StepContext) -> str | None:
    """pyds.__version__ as the host's python3 imports it, or None: the probe's answer while its
    facts stand."""
    if ctx.observed and ctx.observed.facts.pyds_import is not None:
        return ctx.observed.facts.pyds_import or None
    result = ctx.runner.run(IMPORT)
    return (result.stdout.strip() or None) if result.ok else None


def installed_key(ctx: StepContext) -> str | None:
    """The build key of the pyds the state file records, if it still imports at that version."""
    record = ctx.state.record_of(PydsRecord)
    if record and record.key and imported_version(ctx) == record.version:
        return record.key
    return None


def cached_wheel(store: ArtifactStore, key: str) -> Path | None:
    """The wheel stored under `key` (its file name carries its tags), checksum-verified."""
    folder = store.root / key
    names = sorted(p.name for p in folder.glob("pyds-*.whl")) if folder.is_dir() else []
    return store.get(key, names[0]) if names else None


@dataclass
class BuildPyds(CachedBuild):
    """Produce the pyds wheel for a build key: from the cache, or built on this host."""

    spec: PydsBuildSpec
    name = "pyds-build"
    main_product = True
    what = "pyds wheel"
    timeout = 3 * 3600

    @property
    def ref(self) -> str:
        return self.spec.tag

    def summary(self) -> str:
        s = self.spec
        how = "cmake + make" if s.style == "cmake" else "python3 -m build"
        return (f"build pyds {s.tag} ({how}) for Python {s.python.major}.{s.python.minor}, {s.pip_platform},"
                f" DeepStream {s.deepstream} (or reuse a cached wheel)")

    def describe(self) -> list[str]:
        return [f"git ls-remote -- {q(self.spec.repo)} {q(self.spec.tag)}", f"mkdir -p {q(self.spec.build_dir)}",
                *self.spec.commands(), f"(controller) fetch {self.spec.wheel_dir}/pyds-*.whl into the artifact cache"]

    def installed_key(self, ctx: StepContext) -> str | None:
        return installed_key(ctx)

    def installed_commit(self, ctx: StepContext) -> str | None:
        record = ctx.state.record_of(PydsRecord) or PydsRecord()
        return record.commit if record.tag == self.spec.tag else None

    def cached(self, key: str) -> Path | None:
        return cached_wheel(self.store, key)

    def built_file(self, ctx: StepContext) -> tuple[str, str]:
        wheels = ctx.sh(list_command(self.spec.wheel_dir, "pyds-*.whl")).stdout.splitlines()
        if len(wheels) != 1:
            raise StepFailed(f"{ctx.runner.host}: expected one pyds wheel in {self.spec.wheel_dir}, found {len(wheels)}")
        return wheels[0], Path(wheels[0]).name


@dataclass
class InstallPyds(Step):
    """Install a pyds wheel (built by `build`, or a given file) with the host's pip, after the tag check."""

    interpreter: Interpreter
    build: BuildPyds | None = None
    wheel: Path | None = None  # a given wheel file on the controller, instead of a build
    before: str | None = None  # the pyds version that imported before pip ran (rollback)
    previous: PydsRecord | None = None  # the state record this install replaced (rollback)
    touched: bool = False  # pip ran
    name = "pyds-install"

    def _wheel(self) -> Path | None:
        return self.wheel or (self.build.artifact if self.build else None)

    def _key(self, ctx: StepContext) -> str:
        return self.build.resolve_key(ctx) if self.build else sha256_file(self.wheel)[:16]

    def summary(self) -> str:
        what = self.wheel.name if self.wheel else "the built wheel"
        return f"install {what} for {self.interpreter.describe()} with python3 -m pip (offline), then import pyds"

    def describe(self) -> list[str]:
        return [
            "(controller) check the wheel's tags against " + self.interpreter.describe(),
            f"(controller) copy the wheel to {WHEEL_DIR}/<wheel>",
            f"python3 -m pip install --no-index --no-deps --force-reinstall [--break-system-packages] {WHEEL_DIR}/<wheel>",
            IMPORT,
        ]

    def check(self, ctx: StepContext) -> str | None:
        key = self._key(ctx)
        if installed_key(ctx) == key:
            return f"pyds {(ctx.state.record_of(PydsRecord) or PydsRecord()).version} ({key}) is installed and imports"
        wheel = self._wheel()
        if wheel is None:
            raise StepFailed(f"{ctx.runner.host}: no pyds wheel to install")
        verdict = check_wheel(wheel.name, self.interpreter)
        if not verdict.ok:
            raise WheelRefused(f"{ctx.runner.host}: not installed: {verdict.reason}")
        ctx.log(verdict.reason)
        return None

    def _pip(self, ctx: StepContext, args: str, check: bool = True) -> None:
        """`python3 -m pip ARGS` as root; where the interpreter carries the PEP 668 marker
        (Debian 12, Ubuntu 23.04+) pip refuses system installs without --break-system-packages."""
        managed = ctx.sh(EXTERNALLY_MANAGED).stdout.strip() == "True"
        flag = " --break-system-packages" if managed else ""
        ctx.sh(f"python3 -m pip {args}{flag}", sudo=True, stream=True, timeout=1800, check=check)

    def apply(self, ctx: StepContext) -> None:
        wheel = self._wheel()
        remote = f"{WHEEL_DIR}/{wheel.name}"
        ctx.write(remote, wheel, mode="0644", sudo=True)
        self.before, self.previous, self.touched = imported_version(ctx), ctx.state.record_of(PydsRecord), True
        self._pip(ctx, f"install --no-index --no-deps --force-reinstall {q(remote)}")
        _, version, _, _ = parse_wheel_filename(wheel.name)
        record = PydsRecord.new(key=self._key(ctx), version=str(version), wheel=remote, sha256=sha256_file(wheel))
        if self.build:
            record = record.updated(tag=self.build.spec.tag, commit=self.build.commit)
        write_state(ctx, ctx.state.with_record(record))

    def verify(self, ctx: StepContext) -> None:
        expected = (ctx.state.record_of(PydsRecord) or PydsRecord()).version
        got = imported_version(ctx)
        if got != expected:
            raise StepFailed(f"{ctx.runner.host}: `import pyds` gives {got or 'an error'}, not pyds {expected}")

    def rollback(self, ctx: StepContext) -> None:
        """Reinstall the wheel this one replaced (recorded in the state file), or uninstall pyds when
        none imported before; a pyds this tool did not install cannot be restored: say so."""
        if not self.touched:
            return
        if self.previous and self.previous.wheel:
            self._pip(ctx, f"install --no-index --no-deps --force-reinstall {q(self.previous.wheel)}")
            write_state(ctx, ctx.state.with_record(self.previous))
        elif self.before is None:
            self._pip(ctx, "uninstall -y pyds", check=False)
            write_state(ctx, ctx.state.without(PydsRecord))
        else:
            ctx.log(f"pyds {self.before} was installed before, not by this tool: it cannot be restored")


class PydsNotApplicable(ProvisionError):
    """pyds cannot be built or installed on this host; the message says why."""


@dataclass
class PydsSteps:
    steps: list[Step]
    notes: list[str] = field(default_factory=list)
    builds: bool = False  # the steps build on the host (cmake needed)


def _given_wheel(path: str, interpreter: Interpreter) -> Path:
    """The --wheel file (checked when the flags were parsed), if its tags fit the host's python3."""
    wheel = Path(path)
    verdict = check_wheel(wheel.name, interpreter)
    if not verdict.ok:
        raise PydsNotApplicable(f"not installed: {verdict.reason}")
    return wheel


def pyds_steps(detection: Detection, matrix: Matrix, options: PydsOptions, store: ArtifactStore) -> PydsSteps:
    """The steps that put pyds for the host's DeepStream and python3 on it, or PydsNotApplicable."""
    facts = detection.facts
    interpreter = Interpreter.from_facts(facts)
    if interpreter is None:
        raise PydsNotApplicable("no python3 on the host (the bindings are a Python module)")
    if options.wheel:
        return PydsSteps([InstallPyds(interpreter, wheel=_given_wheel(options.wheel, interpreter))])
    if facts.deepstream is None:
        raise PydsNotApplicable("no DeepStream on the host (/opt/nvidia/deepstream/deepstream/version)")
    row = matrix.pyds(facts.deepstream)
    tag = options.ref or (row.tag if row else None)
    if tag is None:
        raise PydsNotApplicable(f"the matrix has no deepstream_python_apps tag for DeepStream {facts.deepstream} (override: --pyds-ref)")
    if facts.gcc is None:
        raise PydsNotApplicable("no C compiler (gcc) on the host to build the bindings: install build-essential")
    if options.ref:
        matrix_tag = row.tag if row else "none"
        notes = [f"pyds: --pyds-ref {options.ref} over the matrix's {matrix_tag} for DeepStream {facts.deepstream}"]
    else:
        notes = [
            f"pyds: {v.status.value}: {v.reason}" + (f"; {v.fix}" if v.fix else "")
            for v in detection.verdicts
            if v.rule == "pyds" and v.status is not Status.OK
        ]
    jobs, _ = build_jobs(facts.mem_available_kib, facts.swap_total_kib, facts.nproc)
    spec = PydsBuildSpec(
        repo=options.repo,
        tag=tag,
        python=facts.python,
        pip_platform=PIP_PLATFORMS[interpreter.arch],
        deepstream=str(facts.deepstream),
        compiler=f"gcc {facts.gcc}",
        glibc=str(facts.libc or "unknown"),
        build_dir=facts.build_dir or DEFAULT_BUILD_DIR,
        jobs=jobs,
    )
    build = BuildPyds(spec, store)
    return PydsSteps([build, InstallPyds(interpreter, build=build)], notes, builds=True)


def plan(p: Planning) -> None:
    """The pyds steps, and cmake (required) where they build; a host they do not apply to gets a
    note, or, for `invoke pyds` (only pyds), is refused with the reason."""
    options = p.options.pyds
    if options.skip and not options.only:
        p.plan.notes.append("pyds: skipped (--skip-pyds)")
        return
    try:
        pyds = pyds_steps(p.detection, p.matrix, options, p.store)
        if pyds.builds:
            try:
                p.require("cmake", [s for s in pyds.steps if isinstance(s, CachedBuild)], CmakeNeed())
            except PlanRefused as exc:
                raise PydsNotApplicable(str(exc).removeprefix(f"{p.host}: ")) from None
    except PydsNotApplicable as exc:
        if options.only:
            raise PlanRefused(f"{p.host}: pyds: {exc}") from None
        p.plan.notes.append(f"pyds: skipped: {exc}")
        return
    p.plan.add(f"the DeepStream Python bindings for python3 {p.detection.facts.python} (--skip-pyds leaves them out)",
               *pyds.steps)
    p.plan.notes += pyds.notes


CAPABILITY = Capability("pyds", probe=PROBE, plan=plan, records=(PydsRecord,))
