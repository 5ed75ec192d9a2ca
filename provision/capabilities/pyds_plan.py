"""Which pyds steps a host gets (pure): the deepstream_python_apps tag from the matrix, the host's
python3, or why pyds does not apply to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from provision.artifacts import ArtifactStore
from provision.core.detection import Detection
from provision.errors import ProvisionError
from provision.matrix import Matrix, Status
from provision.options import DEFAULT_BUILD_DIR, PydsOptions
from provision.capabilities.pyds_build import PIP_PLATFORMS, PydsBuildSpec
from provision.pyds.wheel_tags import Interpreter, check_wheel
from provision.capabilities.cmake import CmakeNeed
from provision.core.cached_build import CachedBuild
from provision.core.capability import Capability, Planning
from provision.core.plan import PlanRefused
from provision.core.step import Step
from provision.capabilities.pyds import PROBE, BuildPyds, InstallPyds
from provision.core.cached_build import build_jobs

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


CAPABILITY = Capability("pyds", probe=PROBE, plan=plan)
