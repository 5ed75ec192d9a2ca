# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Carry out a plan on hosts: locked, logged per host, in parallel across a fleet."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import datetime as dt
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

from provision import cancel
from provision.artifacts import ArtifactStore, cache_root
from provision.core.detection import Detection
from provision.detect import analyse, capture, observed
from provision.errors import HostUnreachable, ProvisionError
from provision.inventory import Inventory
from provision.runners.lock import acquire
from provision.matrix import Matrix
from provision.plan import Plan, PlanRefused, make_plan, plan_options
from provision.runners import Runner, WrongSudoPassword, runner_for
from provision.options import Flags, Settings
from provision.outcomes import Outcome, RunResult, StepStatus
from provision.capabilities.engines import engine_roots, rebuild_engines_step, search_bound
from provision.capabilities.model_config import check_onnx, model_steps
from provision.deepstream.model_config import ModelSetup
from provision.rollback import NOTHING_TO_ROLL_BACK, rollback_steps
from provision.state import read_state
from provision.core.step import StepContext, StepFailed

LOGS_KEPT = 20
REPLANS = 2  # plans made after an earlier plan's steps ran (Plan.stop), at most: a stop that comes back ends the run


@dataclass
class StepReport:
    name: str
    status: StepStatus
    detail: str


@dataclass
class HostReport:
    host: str
    result: RunResult = RunResult.OK
    outcome: Outcome = Outcome.UNCHANGED
    key: str = "-"
    seconds: float = 0.0
    commands: int = 0  # round trips to the host: commands run or held, files copied (the runner counts)
    message: str = ""
    steps: list[StepReport] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    log: str = ""
    detection: Detection | None = None  # the probe's, for the summary line and --verbose (None: never probed)
    notes: list[str] = field(default_factory=list)  # the plan's
    results: dict[str, Any] = field(default_factory=dict)  # what the steps report (Step.results): engines, configs

    @property
    def changed(self) -> bool:
        return any(s.status is StepStatus.CHANGED for s in self.steps)


def check_log_folder(folder: Path | None) -> None:
    """An unwritable log folder (`--log-dir /dev/null`) is one line before any host is touched."""
    folder = folder or cache_root() / "logs"
    if folder.exists() and not folder.is_dir():
        raise ProvisionError(f"cannot write the logs under {folder}: not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise ProvisionError(f"cannot write the logs under {folder}: {exc.strerror or exc}") from None


class HostLog:
    """One run's log of one host; each line also goes to an optional progress callback.

    Each run writes its own file, `<logs>/<host>/<UTC time>-<pid>.log`; `<logs>/<host>.log` links to
    the newest, and the newest LOGS_KEPT of a host are kept. Every line starts with its UTC time,
    ISO 8601 to the millisecond (`2026-12-07T06:57:35.123Z line`), and is written at once (a
    long step's log can be followed). The file is the host's own, written directly, not through
    the `logging` module: no other logger or handler sees a line (commands and their output may
    carry a host's secrets), and a no-op's 30-odd lines per host cost no log records.
    """

    def __init__(self, host: str, folder: Path | None = None, on_line: Callable[[str], None] | None = None) -> None:
        folder = folder or cache_root() / "logs"
        try:
            self._open(host, folder, on_line)
        except OSError as exc:
            raise ProvisionError(f"cannot write the logs under {folder}: {exc.strerror or exc}") from None

    def _open(self, host: str, folder: Path, on_line: Callable[[str], None] | None) -> None:
        host = host.replace("/", "_").lstrip(".") or "_"  # an inventory name is a file name here, inside `folder`
        runs = folder / host
        os.makedirs(runs, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%f")
        self.path = runs / f"{stamp}-{os.getpid()}-{threading.get_ident()}.log"
        self.file = open(self.path, "x", encoding="utf-8", errors="replace")  # a new file, never another's
        self.on_line, self.lock = on_line, threading.Lock()
        self.lines: list[str] = []
        latest = folder / f".{host}.log.{os.getpid()}.{threading.get_ident()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(latest)
        os.symlink(f"{host}/{self.path.name}", latest)
        os.replace(latest, folder / f"{host}.log")
        kept = sorted(name for name in os.listdir(runs) if name.endswith(".log") and not name.startswith("."))
        for old in kept[:-LOGS_KEPT]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(runs / old)

    def __call__(self, text: str) -> None:
        self.add_lines(text.splitlines() or [""])

    def add_lines(self, lines: list[str]) -> None:
        """Log these lines (none spans a line break) in one write."""
        now = time.time()
        stamp = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))}.{int(now % 1 * 1000):03d}Z "
        with self.lock:
            self.file.write("".join(f"{stamp}{line}\n" for line in lines))
            self.file.flush()
            self.lines += lines
        if self.on_line:
            for line in lines:
                self.on_line(line)

    def close(self) -> None:
        with self.lock:
            self.file.close()


def run_plan(
    plan: Plan, ctx: StepContext, report: HostReport, progress: Callable[[str], None], check_only: bool = False
) -> None:
    """check -> apply -> verify per step; a failed verify rolls that step back, then stops.

    With check_only, only ask each step whether it would change anything (Ansible's --check);
    the steps after one that would change are taken to change too, unasked: their check may need
    what that step makes (the swap reads the built library).
    """
    first_change = None  # check_only: the first step that would change
    for step in plan.steps:  # every input checked before the first change
        step.validate(ctx)
    for step in plan.steps:
        if cancel.requested():
            raise cancel.Cancelled(f"{ctx.runner.host}: cancelled before {step.name}{_done(report)}")
        progress(step.name)
        try:
            _run_step(step, ctx, report, check_only, first_change)
        except cancel.StoppedBetween:
            raise
        except cancel.Cancelled:
            raise cancel.Cancelled(
                f"{ctx.runner.host}: cancelled during {step.name}, its command stopped on the host{_done(report)}"
            ) from None
        if check_only and not first_change and report.steps[-1].status is StepStatus.CHANGED:
            first_change = step.name
        if step.main_product and report.key == "-":
            report.key = step.key or "-"
            report.outcome = Outcome(step.outcome) if step.outcome else report.outcome


def _run_step(step, ctx: StepContext, report: HostReport, check_only: bool, first_change: str | None) -> None:
    """One step of run_plan. A cancel may stop only an interruptible step's apply (a build); any
    other step, and every rollback, finishes once started."""
    done = None if first_change else step.check(ctx)
    if done:
        report.steps.append(StepReport(step.name, StepStatus.UNCHANGED, done))
        ctx.log(f"[{step.name}] unchanged: {done}")
    elif check_only:
        after = f" (after {first_change})" if first_change else ""
        report.steps.append(StepReport(step.name, StepStatus.CHANGED, f"would {step.summary()}{after}"))
        ctx.log(f"[{step.name}] would {step.summary()}{after}")
    else:
        ctx.log(f"[{step.name}] {step.summary()}")
        try:
            with contextlib.nullcontext() if step.interruptible else cancel.shielded():
                step.apply(ctx)
                step.verify(ctx)
        except StepFailed:
            ctx.log(f"[{step.name}] failed: rolling back")
            with cancel.shielded():
                step.rollback(ctx)
            raise
        report.steps.append(StepReport(step.name, StepStatus.CHANGED, step.summary()))


def _done(report: HostReport) -> str:
    done = [s.name for s in report.steps]
    return f" (done: {', '.join(done)})" if done else " (nothing changed)"


Planner = Callable[[StepContext, "Detection | None"], Plan]


@dataclass(frozen=True)
class Job:
    """What a command does on one host: `plan` makes its plan from the probe's detection (None
    when `probe` is False) and may read the host through the context, never change it; a
    ProvisionError it raises is a refusal. The executor (run_job) runs the plan."""

    plan: Planner
    gpu_archs: str | None = None  # --gpu-archs for the detection
    matrix: Matrix | None = None
    config_search: tuple[str, ...] = ()  # the engines step's search (f:CONFIG, r:ROOT), done by the probe
    probe: bool = True
    checked: RunResult = RunResult.PLANNED  # the result of a --check run (rollback's is ok)
    # a state file that is not a JSON object reads as {} (rollback: dpkg's diversions stand in)
    tolerant_state: bool = False


def run_job(
    runner: Runner,
    settings: Settings,
    job: Job,
    log: HostLog,
    dry_run: bool = False,
    check_only: bool = False,
    progress: Callable[[str], None] = lambda s: None,
) -> tuple[HostReport, Detection | None]:
    """The one executor of every command (invoke and Ansible alike): detect, plan, lock, run, report.

    A plan whose `stop` says the rest waits for its steps (Plan.replanned) is followed, once they
    ran, by another probe and plan under the same lock: the report's steps, plan lines and notes hold
    every part in order. A dry run or check mode shows the first part and its stop line.

    `settings` are the host's, resolved at the edge (Settings.resolve). dry_run stops after the plan; check_only also asks
    each step whether it would change anything, still changing nothing (no lock either); a plan
    without steps takes no lock. Never raises a ProvisionError: the report says; the detection is
    None when the probe failed (or the job needs none).
    """
    report = HostReport(runner.host, log=str(log.path))
    started = time.monotonic()
    detection, plans = None, []
    try:
        detection = _probe(runner, settings, job, log, progress) if job.probe else None
        report.detection = detection
        ctx = StepContext(runner, detection.facts if detection else None, log, stall_timeout=settings.stall_timeout)
        runner.stall_timeout = settings.stall_timeout
        plans.append(_planned(job, ctx, detection))
        plan = plans[-1]
        _add_plan(plan, report, log)
        if dry_run or check_only:
            if check_only:
                run_plan(plan, _seen(ctx, detection, job.tolerant_state), report, progress, check_only=True)
                report.message = "; ".join(plan.messages) or ("would change" if report.changed else "nothing to change")
            report.result, report.outcome = (job.checked if check_only else RunResult.PLANNED), Outcome.NONE
            return report, detection
        if plan.steps and _will_change(plan, ctx, detection, report, progress):
            held = acquire(runner)
            try:
                ctx.state = held.state(ctx, strict=not job.tolerant_state)  # read as root by the lock's command
                run_plan(plan, ctx, report, progress)
                while plan.replanned and len(plans) <= REPLANS:  # the rest, on what those steps made
                    report.notes.remove(plan.stop)  # what it said waits is planned now
                    detection = _probe(runner, settings, job, log, progress) if job.probe else None
                    report.detection = detection or report.detection
                    ctx = StepContext(runner, detection.facts if detection else None, log, notes=ctx.notes,
                                      stall_timeout=settings.stall_timeout)
                    plans.append(_planned(job, ctx, detection))
                    plan = plans[-1]
                    _add_plan(plan, report, log)
                    ctx.state = read_state(ctx, sudo=True, strict=not job.tolerant_state)
                    run_plan(plan, ctx, report, progress)
            finally:
                held.release()
        report.message = "; ".join([*report.notes, *ctx.notes]) or ("changed" if report.changed else "nothing to change")
    except cancel.Cancelled as exc:
        stopped = str(exc) if report.plan else f"{runner.host}: cancelled during detect (nothing changed)"
        report.result, report.message = RunResult.CANCELLED, stopped + "; lock released"
        log(report.message)
    except ProvisionError as exc:
        report.result = _result_of(exc)
        report.message = str(exc)
        log(f"error: {exc}")
    finally:
        report.seconds = time.monotonic() - started
        report.commands = runner.round_trips
        for step in (step for plan in plans for step in plan.steps):
            report.results.update(step.results())
    return report, detection


def _probe(runner: Runner, settings: Settings, job: Job, log: HostLog,
           progress: Callable[[str], None]) -> Detection:
    """The probe's one round trip (with the engine search the job asks for), analysed."""
    roots = [item[2:] for item in job.config_search if item.startswith("r:")]
    search = f", engine search in {', '.join(roots)}" if roots else ""
    progress("detect" + search)
    log("probe (provision/facts/probe.sh)" + search)
    probed = time.monotonic()
    captured = capture(runner, settings.build_dir, job.config_search)
    log(f"probe done after {time.monotonic() - probed:.2f}s")
    return analyse(runner.host, captured, job.gpu_archs, job.matrix)


def _add_plan(plan: Plan, report: HostReport, log: HostLog) -> None:
    """A plan's lines and notes into the report (after an earlier part's) and the log."""
    lines = plan.lines()  # (made once: each step's lines are worked out anew)
    report.plan += lines
    report.notes += plan.messages
    if lines:
        log.add_lines([part for line in lines for part in line.splitlines() or [""]])  # as log(line) each, one write


def _seen(ctx: StepContext, detection: Detection | None, tolerant_state: bool = False) -> StepContext:
    """A context whose checks compare with what the probe saw (its state file, the capabilities'
    views): no lock, no command more. Without a probe, the state file is read now."""
    if detection is None:
        return dataclasses.replace(ctx, state=read_state(ctx, strict=not tolerant_state), notes=[])
    seen = observed(detection)
    return dataclasses.replace(ctx, state=seen.state, observed=seen, notes=[])


def _will_change(plan: Plan, ctx: StepContext, detection: Detection | None, report: HostReport,
                 progress: Callable[[str], None]) -> bool:
    """Whether a step would change the host, asked of the steps' checks against what the probe saw
    (a rerun with nothing to change is the probe's round trip alone: their answers are then the
    report). When one would, the answers were a preview: under the lock the run asks the host."""
    if detection is None:
        return True
    seen = _seen(ctx, detection)
    preview = HostReport(ctx.runner.host)
    run_plan(plan, seen, preview, progress, check_only=True)
    if preview.changed:
        return True
    report.steps, report.key, report.outcome = preview.steps, preview.key, preview.outcome
    ctx.notes += seen.notes
    return False


def _planned(job: Job, ctx: StepContext, detection: Detection | None) -> Plan:
    """The job's plan; a ProvisionError while planning (a step that cannot be made) is a refusal,
    a lost connection or a cancel stays what it is."""
    try:
        return job.plan(ctx, detection)
    except (PlanRefused, cancel.Cancelled, HostUnreachable, WrongSudoPassword):
        raise
    except ProvisionError as exc:
        raise PlanRefused(str(exc)) from None


def _result_of(exc: ProvisionError) -> RunResult:
    """refused (the plan said no), unreachable (no connection, host key or sudo login) or failed."""
    if isinstance(exc, PlanRefused):
        return RunResult.REFUSED
    return RunResult.UNREACHABLE if isinstance(exc, (HostUnreachable, WrongSudoPassword)) else RunResult.FAILED


def provision_job(settings: Settings, flags: Flags, matrix: Matrix, store: ArtifactStore) -> Job:
    """`provision` and `pyds` (flags.pyds_only): the plan of plan.py for the host's facts."""
    options = plan_options(settings, flags)
    search = () if flags.skip_engines or flags.pyds_only else (
        *search_bound(settings), *(f"f:{setup.config}" for setup, _ in options.models),
        *(f"r:{root}" for root in options.engine_roots))
    return Job(lambda ctx, detection: make_plan(detection, matrix, options, store), flags.gpu_archs, matrix,
               config_search=search)


def engines_job(settings: Settings, matrix: Matrix, configs: tuple[str, ...], roots: tuple[str, ...],
                dry_run: bool = False, progress: Callable[[str], None] | None = None) -> Job:
    """`engines`: the engines capability's step alone, for the given configs and roots (else the
    host's dsprov_engine_roots); a dry run classifies them (reads only), so that the plan lists
    each rebuild's commands. The report's results carry the engines and graphs."""
    searched = roots or (() if configs else engine_roots(settings))

    def plan(ctx: StepContext, detection: Detection | None) -> Plan:
        cache = ArtifactStore() if settings.engine_cache == "auto" else None
        step = rebuild_engines_step(detection, matrix, configs, searched, progress=progress, bound=search_bound(settings),
                                    cache=cache)
        if dry_run:
            step.survey(ctx)
        return Plan(ctx.runner.host, [step])

    return Job(plan, matrix=matrix)


def model_config_job(settings: Settings, matrix: Matrix, models: list[tuple[ModelSetup, dict]],
                     dry_run: bool = False) -> Job:
    """`deepstream.config`: the model capability's steps for one model (its parser library, its
    config); a wrong ONNX file is refused before the lock (unless a dry run). The report's results
    carry the config and labels, its notes the warnings."""

    def plan(ctx: StepContext, detection: Detection | None) -> Plan:
        steps = model_steps(detection, matrix, settings, models)
        if not dry_run:
            check_onnx(ctx, models[0][0].onnx)  # before the lock and the parser library: a wrong --onnx changes nothing
        return Plan(ctx.runner.host, steps.steps, steps.warnings)

    return Job(plan, matrix=matrix)


def rollback_job() -> Job:
    """`rollback`: restore what the host's state file records, the plugin and the power mode and
    clocks before --max-clocks (no probe needed); a plugin library dpkg diverts for dsprov is
    restored from the diversion's saved copy even when the state file cannot be read."""

    def plan(ctx: StepContext, detection: Detection | None) -> Plan:
        steps = rollback_steps(ctx)
        return Plan(ctx.runner.host, steps, [] if steps else [NOTHING_TO_ROLL_BACK])

    return Job(plan, probe=False, checked=RunResult.OK, tolerant_state=True)


def run_on_host(
    host: str,
    inventory: Inventory,
    job_for: Callable[[Settings], Job],
    dry_run: bool = False,
    log_dir: Path | None = None,
    progress: Callable[[str], None] = lambda s: None,
) -> HostReport:
    """Run the job `job_for(settings)` on one inventory host (its settings resolved here, once).
    Never raises: the report says."""
    log = HostLog(host, log_dir)
    runner = None
    try:
        spec = inventory.host(host)
        runner = runner_for(spec)
        settings = spec.settings
        report, _ = run_job(runner, settings, job_for(settings), log, dry_run, progress=progress)
    except ProvisionError as exc:
        report = HostReport(host, result=_result_of(exc), message=str(exc), log=str(log.path))
        log(f"error: {exc}")
    finally:
        if runner:
            runner.close()
        log.close()
    return report


def provision_host(
    host: str,
    inventory: Inventory,
    flags: Flags,
    matrix: Matrix,
    store: ArtifactStore,
    dry_run: bool = False,
    log_dir: Path | None = None,
    progress: Callable[[str], None] = lambda s: None,
) -> HostReport:
    """Detect, plan and (unless dry_run) apply on one inventory host. Never raises: the report says."""
    return run_on_host(host, inventory, lambda settings: provision_job(settings, flags, matrix, store),
                       dry_run, log_dir, progress)


def provision_hosts(
    inventory: Inventory,
    hosts: list[str],
    flags: Flags,
    dry_run: bool = False,
    log_dir: Path | None = None,
    progress: Callable[[str, str], None] = lambda host, s: None,
) -> list[HostReport]:
    """Provision hosts in parallel, `flags.forks` at a time; each build key builds once (the others
    wait, then copy)."""
    check_log_folder(log_dir)
    matrix, store = Matrix.load(), ArtifactStore()
    with ThreadPoolExecutor(max_workers=max(1, min(flags.forks, len(hosts)))) as pool:
        futures = [
            pool.submit(
                provision_host, h, inventory, flags, matrix, store, dry_run, log_dir, functools.partial(progress, h)
            )
            for h in hosts
        ]
        return [f.result() for f in futures]


def rollback_host(host: str, inventory_source: str | None) -> HostReport:
    """Restore one inventory host's original plugin library exactly (same SHA-256) from its state
    file; a host with nothing to restore is left as it is (no lock is taken, no folder made)."""
    inventory = Inventory(inventory_source)
    inventory.host(host)  # an unknown host is an error, not a report
    return run_on_host(host, inventory, lambda settings: rollback_job())
