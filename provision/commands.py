# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each invoke task does, callable from Python (provision/tasks.py only parses options)."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any
from pathlib import Path

from provision.closed_pipe import Console
from rich.markup import escape
from rich.text import Text

from provision import cancel, documents, report, validators
from provision.core.detection import Detection
from provision.artifacts import cache_root
from provision.capabilities.trt_oss import build_view
from provision.detect import analyse, capture, read_capture
from provision.fleet_report import records
from provision.errors import ProvisionError
from provision.facts.parsers import to_version
from provision.inventory import Inventory
from provision.matrix import Matrix, Stack, Status
from provision.exit_codes import fleet_exit
from provision.outcomes import NOT_OK, EngineOutcome, RunResult
from provision.runners import runner_for
from provision.options import Flags, Settings

console = Console()


def _capture_host(host: str, inventory: str | None) -> str:
    spec = Inventory(inventory).host(host)
    runner = runner_for(spec)
    try:
        return capture(runner, Settings.read(spec.vars).build_dir)
    finally:
        runner.close()


def _detection(host: str | None, capture_file: str | None, inventory: str | None, gpu_archs: str | None) -> Detection:
    if bool(host) == bool(capture_file):
        raise ProvisionError("give exactly one of --host or --capture")
    if capture_file:
        name, text = read_capture(Path(capture_file))
        return analyse(name, text, gpu_archs)
    return analyse(host, _capture_host(host, inventory), gpu_archs)


def detect(host=None, capture_file=None, inventory=None, as_json=False, gpu_archs=None) -> int:
    """Print a host's facts, GPU_ARCHS and matrix verdicts; 0 unless the matrix says FAIL."""
    d = _detection(host, capture_file, inventory, gpu_archs)
    build = build_view(d, cache_root())
    if host:
        records.save_detection(d, inventory=Inventory(inventory), build=build.to_json())
    if as_json:
        print(documents.dumps(documents.detection(d, build.to_json())))
    else:
        report.print_detection(d, console)
        for line in build.lines():
            console.print(escape(line))
    return 1 if documents.worst(d.verdicts) is Status.FAIL else 0


def save_capture(host: str, out: str | None, inventory: str | None) -> int:
    """Write the raw probe output of a host to a file (or stdout)."""
    if out and not Path(out).parent.is_dir():  # before the probe: bad input changes nothing
        raise ProvisionError(f"--out {out}: no folder {Path(out).parent}")
    text = _capture_host(host, inventory)
    if out:
        write_out(out, text)
        print(f"{host}: capture written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def write_out(out: str, text: str) -> None:
    """Write a `--out` file; a full disk (`/dev/full`) or any other write error is one line."""
    try:
        with open(out, "w") as handle:
            handle.write(text)
    except OSError as exc:
        raise ProvisionError(f"--out {out}: cannot write the capture: {exc.strerror or exc}") from None


WHAT_IF_FIELDS = ("l4t", "jetpack", "cuda", "tensorrt", "deepstream", "python", "ubuntu", "driver")


def matrix_check(host=None, capture_file=None, inventory=None, as_json=False, platform=None, **versions) -> int:
    """Check a host, a capture, or a what-if stack against the matrix; 1 on FAIL."""
    given = {k: v for k, v in versions.items() if v}
    if host or capture_file:
        if given or platform:
            raise ProvisionError("give --host/--capture or version flags, not both")
        verdicts = _detection(host, capture_file, inventory, None).verdicts
        title = f"{host or capture_file}: compatibility matrix"
        subject = {"host": host} if host else {"capture": capture_file}
    else:
        if not given:
            raise ProvisionError("nothing to check: give --host, --capture or version flags (e.g. --jetpack 4.6.1)")
        parsed = {}
        for name, value in given.items():
            parsed[name] = to_version(value)
            if parsed[name] is None:
                raise ProvisionError(f"--{name}: {value!r} is not a version")
        if platform not in (None, "jetson", "x86"):
            raise ProvisionError(f"--platform: {platform!r} is not jetson or x86")
        if platform is None and ("jetpack" in parsed or "l4t" in parsed):
            platform = "jetson"
        verdicts = Matrix.load().check(Stack(platform=platform, **parsed))  # type: ignore[arg-type]
        title = "what-if: " + ", ".join(f"{k} {v}" for k, v in given.items())
        subject = {"what_if": {"platform": platform, **{k: str(v) for k, v in parsed.items()}}}
    if as_json:
        print(documents.dumps(documents.matrix_check(subject, verdicts)))
    else:
        console.print(report.verdict_table(verdicts, title))
    return 1 if documents.worst(verdicts) is Status.FAIL else 0


def provision(hosts: str, flags: Flags, inventory=None, dry_run=False, as_json=False, log_dir=None) -> int:
    """Provision hosts (names or groups, comma-separated) in parallel; 1 if any host failed."""
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    from provision.provisioner import provision_hosts

    inv = Inventory(inventory)
    names = _checked_hosts(inv, hosts)
    with Progress(
        SpinnerColumn(), TextColumn("{task.fields[host]}"), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True, disable=as_json or not sys.stderr.isatty(),
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(host: str, what: str) -> None:
            if host not in tasks:
                tasks[host] = bar.add_task(what, host=host, total=None)
            bar.update(tasks[host], description=what)

        with cancel.on_sigint():
            reports = provision_hosts(inv, names, flags, dry_run, Path(log_dir) if log_dir else None, progress)
    records.save_reports("provision", reports, dry_run, inventory=inv)
    return _finish("provision", reports, as_json, dry_run, flags.verbose)


def _finish(command: str, reports, as_json: bool, dry_run: bool, verbose: bool) -> int:
    """A fleet run's output: the cancel, the JSON, or per host its plan (on a dry run) and, with
    `verbose`, its facts, verdicts and steps; then one summary line per host; the exit code."""
    if cancel.requested():  # even when every host had finished its last step: the run was interrupted
        return _cancelled(command, reports, as_json, dry_run)
    if as_json:
        print(documents.dumps(documents.fleet(command, reports, dry_run)))
    else:
        for r in reports:
            if verbose:
                _details(r)
            if dry_run and r.plan:
                console.print("\n".join(r.plan), markup=False, highlight=False, soft_wrap=True)
        report.print_summary([documents.host_report(r) for r in reports], console)
    return _host_errors(reports)


def _details(r) -> None:
    """--verbose: a host's fact and verdict tables, its steps and how it ended."""
    if r.detection:
        report.print_detection(r.detection, console)
    for step in r.steps:
        console.print(f"{r.host}: [{step.name}] {step.status}: {step.detail}", markup=False, highlight=False, soft_wrap=True)
    if r.message:
        console.print(f"{r.host}: {r.result}: {r.message.removeprefix(r.host + ': ')}", markup=False, highlight=False,
                      soft_wrap=True)


def _checked_hosts(inv: Inventory, pattern: str) -> list[str]:
    """The hosts a pattern names, after checking every host's settings: bad input ends the run
    (exit 2) before any host is touched."""
    names = inv.resolve(pattern)
    for name in names:
        inv.host(name).settings  # noqa: B018 (resolved once: the run reuses them)
    return names


def _host_errors(reports) -> int:
    """One line on stderr per host that did not end well (its log has the rest); the exit code."""
    for r in reports:
        if r.result in NOT_OK:
            message = r.message.removeprefix(f"{r.host}: ")
            print(f"error: {r.host}: {r.result}: {message}" + (f" (log: {r.log})" if r.log else ""), file=sys.stderr)
    return fleet_exit(r.result for r in reports)


def _cancelled(command: str, reports, as_json: bool, dry_run: bool) -> int:
    """After a Ctrl-C: a line per host on stderr saying where it stopped (JSON as usual); 130."""
    if as_json:
        print(documents.dumps(documents.fleet(command, reports, dry_run, cancelled=True)))
    for r in reports:
        line = r.message if r.result is RunResult.CANCELLED else f"{r.host}: {r.result} before the cancel: {r.message}"
        print(line if line.startswith(f"{r.host}: ") else f"{r.host}: {line}", file=sys.stderr)
    return cancel.EXIT_CANCELLED


def rollback(host: str, inventory=None, as_json=False) -> int:
    """Restore a host's original plugin library from its state file."""
    from provision.provisioner import rollback_host

    report = rollback_host(host, inventory)
    records.save_reports("rollback", [report], inventory=Inventory(inventory))
    if as_json:
        print(documents.dumps(documents.fleet("rollback", [report], dry_run=False)))
    elif report.result not in NOT_OK:
        console.print(f"{host}: {report.message}", markup=False, highlight=False)
    return _host_errors([report])


def _run_one(spec, job, dry_run: bool, err: Console):
    """Run a single-host command's job with the one executor (provision/provisioner.py), a spinner
    saying where it is; its report."""
    from provision.provisioner import HostLog, run_job

    runner = runner_for(spec)
    log = HostLog(spec.name)
    try:
        with err.status(f"{spec.name}: probing") as status:
            report, _ = run_job(runner, spec.settings, job, log, dry_run,
                                progress=lambda what: status.update(f"{spec.name}: {what}"))
    finally:
        runner.close()
        log.close()
    return report


def engines(host: str, configs=(), roots=(), inventory=None, dry_run=False, as_json=False) -> int:
    """Classify a host's nvinfer engines and rebuild the stale/missing ones; 1 if a rebuild failed or a
    --config cannot be rebuilt."""
    from rich.table import Table

    from provision.provisioner import engines_job

    for flag, values in (("--config", configs), ("--root", roots)):
        for value in values:
            validators.path(flag, value)
    spec = Inventory(inventory).host(host)
    err = Console(stderr=True, quiet=as_json)
    job = engines_job(spec.settings, Matrix.load(), tuple(configs), tuple(roots), dry_run,
                      progress=lambda line: err.print(f"{host}: {line}", markup=False))
    with cancel.on_sigint():
        result = _run_one(spec, job, dry_run, err)
    if cancel.requested():  # after the current engine (provision/capabilities/engines.py): one line, 130
        print(result.message if result.result is RunResult.CANCELLED else f"{host}: cancelled", file=sys.stderr)
        return cancel.EXIT_CANCELLED
    rows = result.results.get("engines", [])
    graphs = result.results.get("graphs", [])
    records.save_reports("engines", [result], dry_run, host_vars=spec.vars, engines=rows)
    if result.result in NOT_OK and not any(r["outcome"] == EngineOutcome.FAILED for r in rows):
        raise ProvisionError(result.message)  # nothing was tried: one line, exit 2
    describe = result.results.get("commands", []) if dry_run else []
    if as_json:
        print(documents.dumps(documents.document(
            "engines", host=host, dry_run=dry_run, result=str(result.result),
            message=result.message if result.result in NOT_OK else "", log=result.log, plan=describe, engines=rows,
            graphs=[g.to_json() for g in graphs])))
    else:
        table = Table(title=f"{host}: engines" + (" (dry run)" if dry_run else ""))
        for column in ("config", "status", "outcome", "precision", "message"):
            table.add_column(column, overflow="fold")
        for r in rows:
            message = "; ".join([r["message"] or r["reason"], *r["warnings"]])
            config = f"{r['config']} ({r['app_config']} [{r['group']}])" if r["app_config"] else r["config"]
            table.add_row(*(Text(cell) for cell in (config, r["status"], r["outcome"] or ("planned" if dry_run else ""),
                                                    r["precision"] or "-", message)))
        console.print(table)
        for graph in graphs:  # which GIE feeds which, per deepstream-app config
            console.print("\n".join([*graph.lines(), *(f"  warning: {w}" for w in graph.warnings)]),
                          markup=False, highlight=False, soft_wrap=True)
        if dry_run:
            console.print("\n".join(f"$ {line}" for line in describe), markup=False, highlight=False)
    if result.result in NOT_OK:  # one line, never wrapped
        print(f"error: {host}: {result.result}: {result.message.removeprefix(host + ': ')} (log: {result.log})",
              file=sys.stderr)
    asked = set(configs)  # a config found by the search that cannot be rebuilt (Caffe samples) is only reported
    return 1 if any(r["outcome"] == EngineOutcome.FAILED
                    or (r["outcome"] == EngineOutcome.REFUSED and asked & {r["config"], r["app_config"]})
                    for r in rows) else 0


# deepstream.config's flags -> the keys of a dsprov_models record (validators.MODEL checks each).
# Not fields of Flags: they describe one model record (Options.models holds such records), and
# --kind, --onnx, --coco and --out are the task's required arguments, which a Flags field (always
# defaulted) cannot express without changing the task's help and arguments.
MODEL_RECORD_FLAGS = {"--kind": "kind", "--onnx": "onnx", "--coco": "coco", "--out": "config", "--labels": "labels",
                      "--batch-size": "batch_size", "--precision": "precision", "--dims": "infer_dims",
                      "--calib": "int8_calib_file", "--parser-lib": "custom_lib_path"}


def deepstream_config(host: str, given: dict[str, Any], inventory=None, dry_run=False, as_json=False,
                      flags: Flags = Flags()) -> int:
    """Write an nvinfer config and labels for a model on a host (`given`: MODEL_RECORD_FLAGS);
    make sure its custom library is there."""
    from provision.capabilities.model_config import parse_models
    from provision.provisioner import model_config_job

    model: dict[str, Any] = {}
    for flag, key in MODEL_RECORD_FLAGS.items():
        value = given.get(flag)
        model[key] = validators.MODEL[key](flag, value) if value is not None else None
    if flags.streams and model["batch_size"] not in (None, flags.streams):
        raise ProvisionError(f"--streams {flags.streams} and --batch-size {model['batch_size']} differ: give one")
    model["batch_size"] = flags.streams or model["batch_size"] or 1
    model["parser"] = flags.parser
    models = parse_models([model], origin="")
    setup = models[0][0]
    spec = Inventory(inventory).host(host)
    err = Console(stderr=True, quiet=as_json)
    result = _run_one(spec, model_config_job(spec.settings, Matrix.load(), models, dry_run), dry_run, err)
    records.save_reports("deepstream.config", [result], dry_run, host_vars=spec.vars)
    if result.result in (RunResult.REFUSED, RunResult.UNREACHABLE) or (result.result is RunResult.FAILED and not result.plan):
        raise ProvisionError(result.message)  # nothing was tried: one line, exit 2
    written, warnings = result.results, result.notes
    failed = result.result is RunResult.FAILED
    if as_json:
        entry = documents.host_report(result)
        print(documents.dumps(documents.document(
            "deepstream.config", host=host, dry_run=dry_run, result=entry["result"],
            message=result.message if failed else "", log=result.log, warnings=list(warnings), config=setup.config,
            labels=setup.labels, labels_text=written["labels_text"], config_text=written["config_text"],
            plan=entry["plan"], steps=entry["steps"])))
    else:
        for warning in warnings:
            err.print(f"[yellow]warning[/]: {escape(warning)}", highlight=False, soft_wrap=True)
        if dry_run:
            console.print("\n".join(result.plan), markup=False, highlight=False)
            console.print(written["config_text"], markup=False, highlight=False)
        for s in result.steps:
            console.print(f"{host}: [{s.name}] {s.status}: {s.detail}", markup=False, highlight=False)
    if failed:  # one line, never wrapped (rich would fold it to the terminal's width)
        print(f"error: {host}: failed: {result.message.removeprefix(host + ': ')} (log: {result.log})", file=sys.stderr)
    return 1 if failed else 0


def pyds(hosts: str, flags: Flags, inventory=None, dry_run=False, as_json=False, log_dir=None) -> int:
    """Build (or take from the cache) and install pyds on hosts, after the wheel-tag check; 1 if any failed."""
    from provision.provisioner import provision_hosts

    flags = dataclasses.replace(flags, pyds_only=True)
    inv = Inventory(inventory)
    names = _checked_hosts(inv, hosts)
    import contextlib

    busy = contextlib.nullcontext() if as_json else console.status("pyds on " + ", ".join(names))
    with busy, cancel.on_sigint():
        reports = provision_hosts(inv, names, flags, dry_run, Path(log_dir) if log_dir else None)
    records.save_reports("pyds", reports, dry_run, inventory=inv)
    return _finish("pyds", reports, as_json, dry_run, flags.verbose)
