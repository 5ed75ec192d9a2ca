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


def facts_table(d: Detection) -> Table:
    f = d.facts
    table = Table(title=f"{d.host}: host facts", show_header=False)
    table.add_column("fact", style="bold")
    table.add_column("value")
    rows = [("architecture", f.arch), ("platform", f.platform), ("OS", f"{_or_dash(f.os_id)} {_or_dash(f.os_version)}")]
    if f.jetson:
        j = f.jetson
        rows += [
            ("Jetson model", j.model),
            ("Jetson family", j.family),
            ("SoC", j.soc),
            ("L4T", j.l4t),
            ("JetPack", j.jetpack),
        ]
    rows += [
        ("CUDA", f.cuda),
        ("TensorRT", f.tensorrt),
        ("DeepStream", f.deepstream),
        ("Python", f.python if f.python else "none"),
        ("cmake", f.cmake if f.cmake else "none"),
        ("driver", f.driver),
    ]
    for gpu in f.gpus:
        rows.append((f"GPU {gpu.index}", f"{gpu.name} (compute {_or_dash(gpu.compute_cap)}, from {gpu.source})"))
    if not f.gpus:
        rows.append(("GPU", "none found"))
    archs = d.gpu_archs
    rows.append(("GPU_ARCHS", f"{archs.cmake_value or 'unknown'} (from {archs.source})"))
    rows += [
        ("memory / swap", f"{_kib(f.mem_total_kib)} / {_kib(f.swap_total_kib)}"),
        ("free disk (builds)", f"{_kib(f.disk_free_kib)} on {_or_dash(f.disk_mount)}"),
        ("CPUs", f.nproc),
        ("library dir", f.lib_dir),
    ]
    plugin = [p.name + (f" -> {p.link_target}" if p.link_target else "") for p in f.plugin_files]
    rows.append(("libnvinfer_plugin", ", ".join(plugin) if plugin else "none"))
    swap = f.provisioned.get("plugin") or {}
    if swap.get("installed_sha256"):
        rows.append(("plugin swap", f"OSS {swap.get('ref')} for GPU_ARCHS {swap.get('gpu_archs')} (build {swap.get('key')}); original saved at {swap.get('saved')}"))
    for name, value in rows:
        table.add_row(name, Text(_or_dash(value)))  # host text, never markup
    return table


def verdict_table(verdicts: list[Verdict], title: str = "compatibility matrix") -> Table:
    table = Table(title=title)
    for column in ("rule", "verdict", "reason", "fix"):
        table.add_column(column)
    for v in verdicts:
        table.add_row(v.rule, Text(v.status.value, STYLE[v.status]), Text(v.reason), Text(v.fix or ""))
    return table


def print_detection(d: Detection, console: Console) -> None:
    console.print(facts_table(d))
    for note in d.facts.warnings + d.gpu_archs.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if d.verdicts:
        console.print(verdict_table(d.verdicts))
    else:
        console.print("compatibility matrix: nothing to check (no JetPack, TensorRT or DeepStream found)")


def verdicts_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [{"rule": v.rule, "status": v.status.value, "reason": v.reason, "fix": v.fix} for v in verdicts]


def detection_json(d: Detection) -> dict[str, Any]:
    return {
        "host": d.host,
        "facts": d.facts.to_json(),
        "gpu_archs": {"archs": list(d.gpu_archs.archs), "source": d.gpu_archs.source, "notes": list(d.gpu_archs.notes)},
        "verdicts": verdicts_json(d.verdicts),
    }


def worst(verdicts: list[Verdict]) -> Status:
    """FAIL if any rule failed, else WARN if any warned, else OK."""
    statuses = {v.status for v in verdicts}
    return next((s for s in (Status.FAIL, Status.WARN) if s in statuses), Status.OK)
