"""Rich tables for people, plain dicts for --json."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from provision.detect import Detection
from provision.matrix import Status, Verdict

STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


def _kib(value: int | None) -> str:
    return "?" if value is None else f"{value / 1048576:.1f} GiB"


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def facts_table(detection: Detection) -> Table:
    facts = detection.facts
    table = Table(title=f"{detection.host}: host facts", show_header=False)
    table.add_column("fact", style="bold")
    table.add_column("value")
    rows = [("architecture", facts.arch), ("platform", facts.platform), ("OS", f"{_or_dash(facts.os_id)} {_or_dash(facts.os_version)}")]
    if facts.jetson:
        jetson = facts.jetson
        rows += [
            ("Jetson model", jetson.model),
            ("Jetson family", jetson.family),
            ("SoC", jetson.soc),
            ("L4T", jetson.l4t),
            ("JetPack", jetson.jetpack),
        ]
    rows += [
        ("CUDA", facts.cuda),
        ("TensorRT", facts.tensorrt),
        ("DeepStream", facts.deepstream),
        ("Python", facts.python if facts.python else "none"),
        ("cmake", facts.cmake if facts.cmake else "none"),
        ("driver", facts.driver),
    ]
    for gpu in facts.gpus:
        rows.append((f"GPU {gpu.index}", f"{gpu.name} (compute {_or_dash(gpu.compute_cap)}, from {gpu.source})"))
    if not facts.gpus:
        rows.append(("GPU", "none found"))
    archs = detection.gpu_archs
    rows.append(("GPU_ARCHS", f"{archs.cmake_value or 'unknown'} (from {archs.source})"))
    rows += [
        ("memory / swap", f"{_kib(facts.mem_total_kib)} / {_kib(facts.swap_total_kib)}"),
        ("free disk (builds)", f"{_kib(facts.disk_free_kib)} on {_or_dash(facts.disk_mount)}"),
        ("CPUs", facts.nproc),
        ("library dir", facts.lib_dir),
    ]
    plugin = [p.name + (f" -> {p.link_target}" if p.link_target else "") for p in facts.plugin_files]
    rows.append(("libnvinfer_plugin", ", ".join(plugin) if plugin else "none"))
    swap = facts.provisioned.get("plugin") or {}
    if swap.get("installed_sha256"):
        rows.append(("plugin swap", f"OSS {swap.get('ref')} for GPU_ARCHS {swap.get('gpu_archs')} (build {swap.get('key')}); original saved at {swap.get('saved')}"))
    for name, value in rows:
        table.add_row(name, Text(_or_dash(value)))  # host text, never markup
    return table


def verdict_table(verdicts: list[Verdict], title: str = "compatibility matrix") -> Table:
    table = Table(title=title)
    for column in ("rule", "verdict", "reason", "fix"):
        table.add_column(column)
    for verdict in verdicts:
        table.add_row(verdict.rule, Text(verdict.status.value, STYLE[verdict.status]), Text(verdict.reason), Text(verdict.fix or ""))
    return table


def print_detection(detection: Detection, console: Console) -> None:
    console.print(facts_table(detection))
    for note in detection.facts.warnings + detection.gpu_archs.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if detection.verdicts:
        console.print(verdict_table(detection.verdicts))
    else:
        console.print("compatibility matrix: nothing to check (no JetPack, TensorRT or DeepStream found)")


def verdicts_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [{"rule": verdict.rule, "status": verdict.status.value, "reason": verdict.reason, "fix": verdict.fix} for verdict in verdicts]


def detection_json(detection: Detection) -> dict[str, Any]:
    return {
        "host": detection.host,
        "facts": detection.facts.to_json(),
        "gpu_archs": {"archs": list(detection.gpu_archs.archs), "source": detection.gpu_archs.source, "notes": list(detection.gpu_archs.notes)},
        "verdicts": verdicts_json(detection.verdicts),
    }


def worst(verdicts: list[Verdict]) -> Status:
    """FAIL if any rule failed, else WARN if any warned, else OK."""
    statuses = {verdict.status for verdict in verdicts}
    return next((s for s in (Status.FAIL, Status.WARN) if s in statuses), Status.OK)
