"""Carry out a plan on hosts: locked, logged per host, in parallel across a fleet."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from provision import cancel
from provision.artifacts import ArtifactStore, cache_root
from provision.detect import Detection, analyse, capture
from provision.errors import HostUnreachable, ProvisionError
from provision.inventory import Inventory
from provision.lock import acquire
from provision.matrix import Matrix
from provision.plan import Options, Plan, PlanRefused, make_plan
from provision.runners import Runner, WrongSudoPassword, runner_for
from provision.options import Flags, Settings, check_settings
from provision.state import read_state, write_state
from provision.steps.base import StepContext, StepFailed
from provision.steps.plugin_files import PluginPaths
from provision.steps.plugin_swap import restore, takeover
from provision.steps.prebuilt_plugin import FetchPrebuiltPlugin
from provision.steps.pyds import BuildPyds
from provision.steps.trt_oss import BuildPlugin

LOGS_KEPT = 20
NOTHING_TO_ROLL_BACK = "nothing to roll back: the state file records no swap"


@dataclass
class StepReport:
    name: str
    status: str  # changed | unchanged | failed
    detail: str


@dataclass
class HostReport:
    host: str
    result: str = "ok"  # ok | failed | refused | unreachable | planned | cancelled
    outcome: str = "unchanged"  # built | fetched | copied | unchanged | restored | -
    key: str = "-"
    seconds: float = 0.0
    message: str = ""
    steps: list[StepReport] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    log: str = ""

    @property
    def changed(self) -> bool:
        return any(s.status == "changed" for s in self.steps)


class HostLog:
    """One run's log of one host; each line also goes to an optional progress callback.

    Each run writes its own file, `<logs>/<host>/<UTC time>-<pid>.log`; `<logs>/<host>.log` links to
    the newest, and the newest LOGS_KEPT of a host are kept.
    """

    def __init__(self, host: str, folder: Path | None = None, on_line: Callable[[str], None] | None = None) -> None:
        folder = folder or cache_root() / "logs"
        host = host.replace("/", "_").lstrip(".") or "_"  # an inventory name is a file name here, inside `folder`
        runs = folder / host
        runs.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%f")
        self.path = runs / f"{stamp}-{os.getpid()}-{threading.get_ident()}.log"
        self.handle, self.on_line = self.path.open("x"), on_line
        self.lines: list[str] = []
        latest = folder / f".{host}.log.{os.getpid()}.{threading.get_ident()}"
        latest.unlink(missing_ok=True)
        latest.symlink_to(self.path.relative_to(folder))
        latest.replace(folder / f"{host}.log")
        for old in sorted(runs.glob("*.log"))[:-LOGS_KEPT]:
            old.unlink(missing_ok=True)

    def __call__(self, line: str) -> None:
        self.handle.write(line + "\n")
        self.handle.flush()
        self.lines.append(line)
        if self.on_line:
            self.on_line(line)

    def close(self) -> None:
        self.handle.close()


def run_plan(
    plan: Plan, ctx: StepContext, report: HostReport, progress: Callable[[str], None], check_only: bool = False
) -> None:
    """check -> apply -> verify per step; a failed verify rolls that step back, then stops.

    With check_only, only ask each step whether it would change anything (Ansible's --check);
    the steps after one that would change are taken to change too, unasked: their check may need
    what that step makes (the swap reads the built library).
    """
    first_change = None  # check_only: the first step that would change
    for step in plan.steps:
        if cancel.requested():
            raise cancel.Cancelled(f"{ctx.runner.host}: cancelled before {step.name}{_done(report)}")
        progress(step.name)
        try:
            _run_step(step, ctx, report, check_only, first_change)
        except cancel.Cancelled:
            raise cancel.Cancelled(
                f"{ctx.runner.host}: cancelled during {step.name}, its command stopped on the host{_done(report)}"
            ) from None
        if check_only and not first_change and report.steps[-1].status == "changed":
            first_change = step.name
        if isinstance(step, (BuildPlugin, FetchPrebuiltPlugin, BuildPyds)) and report.key == "-":  # the plan's main build
            report.key = step.key or "-"
            report.outcome = step.outcome or report.outcome


def _run_step(step, ctx: StepContext, report: HostReport, check_only: bool, first_change: str | None) -> None:
    """One step of run_plan. A cancel may stop only an interruptible step's apply (a build); any
    other step, and every rollback, finishes once started."""
    done = None if first_change else step.check(ctx)
    if done:
        report.steps.append(StepReport(step.name, "unchanged", done))
        ctx.log(f"[{step.name}] unchanged: {done}")
    elif check_only:
        after = f" (after {first_change})" if first_change else ""
        report.steps.append(StepReport(step.name, "changed", f"would {step.summary()}{after}"))
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
        report.steps.append(StepReport(step.name, "changed", step.summary()))


def _done(report: HostReport) -> str:
    done = [s.name for s in report.steps]
    return f" (done: {', '.join(done)})" if done else " (nothing changed)"


def provision_on(
    runner: Runner,
    host_vars: dict,
    flags: Flags,
    matrix: Matrix,
    store: ArtifactStore,
    log: HostLog,
    dry_run: bool = False,
    check_only: bool = False,
    progress: Callable[[str], None] = lambda s: None,
) -> tuple[HostReport, Detection | None]:
    """Detect, plan and apply on the host behind `runner` (invoke and Ansible alike).

    `host_vars` are the host's inventory vars. dry_run stops after the plan; check_only also asks
    each step whether it would change anything, still changing nothing (no lock either). Never
    raises a ProvisionError: the report says; the detection is None when the probe failed.
    """
    report = HostReport(runner.host, log=str(log.path))
    started = time.monotonic()
    detection = None
    try:
        check_settings(host_vars, runner.host)
        settings = Settings.read(host_vars)
        stall = settings.stall_timeout
        progress("detect")
        detection = analyse(runner.host, capture(runner, settings.build_dir), flags.gpu_archs, matrix)
        plan = make_plan(detection, matrix, Options.from_settings(host_vars, flags), store)
        report.plan = plan.lines()
        for line in report.plan:
            log(line)
        if dry_run or check_only:
            if check_only:
                ctx = StepContext(runner, detection.facts, log, stall_timeout=stall)
                ctx.state = read_state(ctx)
                run_plan(plan, ctx, report, progress, check_only=True)
                report.message = "; ".join(plan.notes) or ("would change" if report.changed else "nothing to change")
            report.result, report.outcome = "planned", "-"
            return report, detection
        held = acquire(runner)
        try:
            ctx = StepContext(runner, detection.facts, log, stall_timeout=stall)
            ctx.state = read_state(ctx)
            run_plan(plan, ctx, report, progress)
        finally:
            held.release()
        report.message = "; ".join([*plan.notes, *ctx.notes]) or ("changed" if report.changed else "nothing to change")
    except cancel.Cancelled as exc:
        stopped = str(exc) if report.plan else f"{runner.host}: cancelled during detect (nothing changed)"
        report.result, report.message = "cancelled", stopped + "; lock released"
        log(report.message)
    except ProvisionError as exc:
        report.result = _result_of(exc)
        report.message = str(exc)
        log(f"error: {exc}")
    finally:
        report.seconds = time.monotonic() - started
    return report, detection


def _result_of(exc: ProvisionError) -> str:
    """refused (the plan said no), unreachable (no connection, host key or sudo login) or failed."""
    if isinstance(exc, PlanRefused):
        return "refused"
    return "unreachable" if isinstance(exc, (HostUnreachable, WrongSudoPassword)) else "failed"


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
    log = HostLog(host, log_dir)
    runner = None
    try:
        spec = inventory.host(host)
        runner = runner_for(spec)
        report, _ = provision_on(runner, spec.vars, flags, matrix, store, log, dry_run, progress=progress)
    except ProvisionError as exc:
        report = HostReport(host, result=_result_of(exc), message=str(exc), log=str(log.path))
        log(f"error: {exc}")
    finally:
        if runner:
            runner.close()
        log.close()
    return report


def provision_hosts(
    inventory: Inventory,
    hosts: list[str],
    flags: Flags,
    dry_run: bool = False,
    log_dir: Path | None = None,
    progress: Callable[[str, str], None] = lambda host, s: None,
) -> list[HostReport]:
    """Provision hosts in parallel; each build key builds once (the others wait, then copy)."""
    matrix, store = Matrix.load(), ArtifactStore()
    with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
        futures = [
            pool.submit(
                provision_host, h, inventory, flags, matrix, store, dry_run, log_dir, lambda s, h=h: progress(h, s)
            )
            for h in hosts
        ]
        return [f.result() for f in futures]


def rollback_on(runner: Runner, log: HostLog, check_only: bool = False) -> HostReport:
    """Restore the original plugin library exactly (same SHA-256) from the host's state file.

    With check_only, say whether there is anything to restore and change nothing. A host with
    nothing to restore is left as it is (no lock is taken, no folder made). Never raises a
    ProvisionError: the report says.
    """
    report = HostReport(runner.host, outcome="-", log=str(log.path))
    started = time.monotonic()
    try:
        plugin = read_state(StepContext(runner, None, log)).get("plugin") or {}
        if not plugin.get("original_sha256"):
            report.message = NOTHING_TO_ROLL_BACK
        elif check_only:
            report.outcome, report.message = "restored", f"would restore {plugin['path']}"
        else:
            _restore_locked(runner, log, report)
    except ProvisionError as exc:
        report.result, report.message = _result_of(exc), str(exc)
        log(f"error: {exc}")
    finally:
        report.seconds = time.monotonic() - started
    return report


def _restore_locked(runner: Runner, log: HostLog, report: HostReport) -> None:
    held = acquire(runner)
    try:
        ctx = StepContext(runner, None, log)
        ctx.state = read_state(ctx)  # again, under the lock
        plugin = ctx.state.get("plugin") or {}
        if not plugin.get("original_sha256"):
            report.message = NOTHING_TO_ROLL_BACK
            return
        path = Path(plugin["path"])
        paths = PluginPaths(str(path.parent), path.name)
        taken = takeover(ctx, paths, force=False)  # refuses to overwrite someone else's library
        if taken:  # a package upgrade: its library is what rollback puts back
            log(taken.note)
            ctx.state = {**ctx.state, "plugin": {**plugin, "original_sha256": taken.sha256}}
            write_state(ctx, ctx.state)
        restore(ctx, paths)
        report.outcome = "restored"
        report.message = f"{path} restored (SHA-256 {plugin['original_sha256'][:12]}...)"
    finally:
        held.release()


def rollback_host(host: str, inventory_source: str | None) -> HostReport:
    """Roll back one inventory host (see rollback_on); unreachable or refused, the report says."""
    inventory = Inventory(inventory_source)
    spec = inventory.host(host)
    log = HostLog(host)
    runner = None
    try:
        runner = runner_for(spec)
        return rollback_on(runner, log)
    except ProvisionError as exc:
        return HostReport(host, result=_result_of(exc), outcome="-", message=str(exc), log=str(log.path))
    finally:
        if runner:
            runner.close()
        log.close()
