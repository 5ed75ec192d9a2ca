# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What people read: rich tables of a host's facts and verdicts, and a fleet run's one line per host
(the --json documents are provision/documents.py's)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from provision.core.detection import Detection
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
    rows: list[tuple[str, object]] = [("architecture", facts.arch), ("platform", facts.platform), ("OS", f"{_or_dash(facts.os_id)} {_or_dash(facts.os_version)}")]
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


# A fleet run's line per host: (header, width) of the fixed columns, then the result and its reason
# in what is left of the line: 80 columns hold it.
SUMMARY_COLUMNS = (("HOST", 12), ("MODEL/GPU", 14), ("JP/DRV", 8), ("TRT", 7), ("DS", 5), ("ARCHS", 5),
                   ("TIME", 5))
ELLIPSIS = "\u2026"


def clip(text: str, width: int, middle: bool = False) -> str:
    """`text` in at most `width` characters: cut at the end (or, `middle`, in the middle, keeping a
    host name's numbered tail) with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if not middle:
        return text[:width - 1] + ELLIPSIS
    tail = min(4, (width - 1) // 2)
    return text[:width - 1 - tail] + ELLIPSIS + text[len(text) - tail:]


def _short(version: str | None, parts: int = 3) -> str:
    return ".".join(version.split(".")[:parts]) if version else "-"


def _model(name: str | None) -> str:
    """`NVIDIA Jetson AGX Orin Developer Kit` -> `Jetson AGX Orin`, `NVIDIA H100 80GB HBM3` -> `H100 80GB HBM3`."""
    return (name or "-").removeprefix("NVIDIA ").removesuffix(" Developer Kit")


def _seconds(value: float | None) -> str:
    """At most 5 characters: 41.2s, 512s, 206m."""
    if value is None:
        return "-"
    return f"{value:.1f}s" if value < 99.95 else f"{value:.0f}s" if value < 999.5 else f"{value / 60:.0f}m"


def summary_line(entry: dict[str, Any], width: int = 80) -> str:
    """A host entry's line (provision/documents.py's host_report, or one with `device` None), at most
    `width` (80 at least) long: host, model or GPU, JetPack or driver, TensorRT, DeepStream,
    GPU_ARCHS, time, then the result and its reason, cut. A host never probed has its reason where
    its device would be."""
    rest = max(width, 80) - sum(w + 1 for _, w in SUMMARY_COLUMNS)
    host, time = clip(entry["host"], SUMMARY_COLUMNS[0][1], middle=True), _seconds(entry.get("seconds"))
    message = entry.get("message", "").removeprefix(f"{entry['host']}: ")
    device = entry.get("device")
    if device is None:
        span = sum(w + 1 for _, w in SUMMARY_COLUMNS[1:-1]) - 1
        cells = [host, clip(message or "-", span), time]
        widths = [SUMMARY_COLUMNS[0][1], span, SUMMARY_COLUMNS[-1][1]]
        return " ".join([*(c.ljust(w) for c, w in zip(cells, widths, strict=False)), clip(entry["result"], rest)]).rstrip()
    jetpack = device.get("jetpack")
    cells = [host, _model(device.get("model")), f"JP {jetpack}" if jetpack else _short(device.get("driver"), 2),
             _short(device.get("tensorrt")), _short(device.get("deepstream")),
             " ".join(device.get("gpu_archs") or ()) or "-", time]
    result = entry["result"] + (f": {message}" if message and entry["result"] != "ok" else "")
    return " ".join([*(clip(c, w).ljust(w) for c, (_, w) in zip(cells, SUMMARY_COLUMNS, strict=False)), clip(result, rest)]).rstrip()


def summary_lines(entries: list[dict[str, Any]], width: int = 80) -> list[str]:
    """The header and a line per host (summary_line)."""
    header = " ".join([*(h.ljust(w) for h, w in SUMMARY_COLUMNS), "RESULT"])
    return [header, *(summary_line(e, width) for e in entries)]


def print_summary(entries: list[dict[str, Any]], console: Console) -> None:
    for line in summary_lines(entries, console.width):
        console.print(line, markup=False, highlight=False, no_wrap=True, overflow="ignore", crop=False)
