"""Carry out a plan on hosts: locked, logged per host, in parallel across a fleet."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from provision.artifacts import ArtifactStore, cache_root
from provision.detect import BUILD_DIR_VAR, analyse, capture
from provision.errors import ProvisionError
from provision.inventory import Inventory
from provision.lock import acquire
from provision.matrix import Matrix
from provision.plan import Options, Plan, PlanRefused, make_plan
from provision.runners import runner_for
from provision.state import read_state
from provision.steps.base import StepContext, StepFailed
from provision.steps.plugin_files import PluginPaths
from provision.steps.plugin_swap import restore
from provision.steps.trt_oss import BuildPlugin


@dataclass
class StepReport:
    name: str
    status: str  # changed | unchanged | failed
    detail: str


@dataclass
class HostReport:
    host: str
    result: str = "ok"  # ok | failed | refused | planned
    outcome: str = "unchanged"  # built | copied | unchanged | restored | -
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
    """A per-host log file; each line also goes to an optional progress callback."""

    def __init__(self, path: Path, on_line: Callable[[str], None] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.handle, self.on_line = path, path.open("a"), on_line
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.handle.write(line + "\n")
        self.handle.flush()
        self.lines.append(line)
        if self.on_line:
            self.on_line(line)

    def close(self) -> None:
        self.handle.close()


def run_plan(plan: Plan, ctx: StepContext, report: HostReport, progress: Callable[[str], None]) -> None:
    """check -> apply -> verify per step; a failed verify rolls that step back, then stops."""
    for step in plan.steps:
        progress(step.name)
        done = step.check(ctx)
        if done:
            report.steps.append(StepReport(step.name, "unchanged", done))
            ctx.log(f"[{step.name}] unchanged: {done}")
        else:
            ctx.log(f"[{step.name}] {step.summary()}")
            try:
                step.apply(ctx)
                step.verify(ctx)
            except StepFailed:
                ctx.log(f"[{step.name}] failed: rolling back")
                step.rollback(ctx)
                raise
            report.steps.append(StepReport(step.name, "changed", step.summary()))
        if isinstance(step, BuildPlugin):
            report.key = step.key or "-"
            report.outcome = step.outcome or report.outcome


def provision_host(
    host: str,
    inventory: Inventory,
    flags: dict,
    matrix: Matrix,
    store: ArtifactStore,
    dry_run: bool = False,
    log_dir: Path | None = None,
    progress: Callable[[str], None] = lambda s: None,
) -> HostReport:
    """Detect, plan and (unless dry_run) apply on one host. Never raises: the report says."""
    report = HostReport(host)
    started = time.monotonic()
    log = HostLog((log_dir or cache_root() / "logs") / f"{host}.log")
    report.log = str(log.path)
    runner = None
    try:
        spec = inventory.host(host)
        runner = runner_for(spec)
        progress("detect")
        detection = analyse(host, capture(runner, spec.vars.get(BUILD_DIR_VAR)), flags.get("gpu_archs"), matrix)
        plan = make_plan(detection, matrix, Options.from_settings(spec.vars, **flags), store)
        report.plan = plan.lines()
        for line in report.plan:
            log(line)
        if dry_run:
            report.result, report.outcome = "planned", "-"
            return report
        held = acquire(runner)
        try:
            ctx = StepContext(runner, detection.facts, log)
            ctx.state = read_state(ctx)
            run_plan(plan, ctx, report, progress)
        finally:
            held.release()
        report.message = "; ".join(plan.notes) or ("changed" if report.changed else "nothing to change")
    except ProvisionError as exc:
        report.result = "refused" if isinstance(exc, PlanRefused) else "failed"
        report.message = str(exc)
        log(f"error: {exc}")
    finally:
        report.seconds = time.monotonic() - started
        if runner:
            runner.close()
        log.close()
    return report


def provision_hosts(
    inventory: Inventory,
    hosts: list[str],
    flags: dict,
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


def rollback_host(host: str, inventory_source: str | None) -> HostReport:
    """Restore the original plugin library exactly (same SHA-256) from the host's state file."""
    report = HostReport(host, outcome="-")
    inventory = Inventory(inventory_source)
    spec = inventory.host(host)
    runner = runner_for(spec)
    log = HostLog(cache_root() / "logs" / f"{host}.log")
    try:
        held = acquire(runner)
        try:
            ctx = StepContext(runner, None, log)
            ctx.state = read_state(ctx)
            plugin = ctx.state.get("plugin") or {}
            if not plugin.get("original_sha256"):
                report.message = "nothing to roll back: the state file records no swap"
                return report
            path = Path(plugin["path"])
            restore(ctx, PluginPaths(str(path.parent), path.name))
            report.outcome, report.message = "restored", f"{path} restored (SHA-256 {plugin['original_sha256'][:12]}...)"
        finally:
            held.release()
    finally:
        runner.close()
        log.close()
    return report
