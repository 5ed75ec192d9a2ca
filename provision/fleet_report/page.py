# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""One offline HTML page of a fleet from the hosts' newest run records (records.py): a summary, a
row per host with its stack and state, and drift within a device model. Rendered with Jinja2
(autoescaped: every host-derived text is escaped) from templates/fleet.html.j2; the CSS and a small
sorting and filtering script are inline, nothing is loaded from anywhere, and the table reads
without the script."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from provision.fleet_report.records import Latest, Record

NOT_OK = ("failed", "refused", "unreachable")
# the stack a host shares with the other hosts of its model (drift): (field, label)
STACK = (("platform", "JetPack/driver"), ("cuda", "CUDA"), ("tensorrt", "TensorRT"), ("deepstream", "DeepStream"),
         ("plugin_key", "plugin build"))


@dataclass
class HostRow:
    """What the page shows of one host ("-" where nothing is known)."""

    host: str
    probed: bool = False  # a record with a probe's detect document was found
    family: str = "-"
    model: str = "-"
    platform: str = "-"  # "JetPack 4.6.1 (L4T 32.7.1)" or "driver 535.104.05"
    cuda: str = "-"
    tensorrt: str = "-"
    deepstream: str = "-"
    gpu_archs: str = "-"
    plugin: str = "-"  # stock, OSS build <key>, prebuilt
    plugin_key: str | None = None
    pyds: str = "-"
    engines: dict[str, int] = field(default_factory=dict)  # fresh / stale / missing / other
    engines_time: str = ""
    matrix: str = "-"
    matrix_reason: str = ""
    time: str = ""  # the newest run's, ISO 8601 UTC
    command: str = ""
    result: str = "no record"
    dry_run: bool = False
    message: str = ""
    log: str = ""  # a file:// link to the run's log
    drift: list[str] = field(default_factory=list)

    @property
    def when(self) -> str:
        return _when(self.time)

    @property
    def bad(self) -> bool:
        return self.result in NOT_OK


@dataclass
class Fleet:
    """The page: its rows, the counts of the summary and when it was made."""

    rows: list[HostRow]
    made: str
    source: str  # where the records are
    families: Counter = field(default_factory=Counter)
    platforms: Counter = field(default_factory=Counter)
    tensorrt: Counter = field(default_factory=Counter)
    deepstream: Counter = field(default_factory=Counter)
    results: Counter = field(default_factory=Counter)

    @property
    def drifting(self) -> int:
        return sum(1 for r in self.rows if r.drift)


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ") + " UTC" if iso else "-"


def _short_model(name: str) -> str:
    """`NVIDIA Jetson AGX Orin Developer Kit` -> `Jetson AGX Orin` (the full name is the cell's title)."""
    return name.removeprefix("NVIDIA ").removesuffix(" Developer Kit")


def _text(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


def _plugin(provisioned: dict) -> tuple[str, str | None]:
    """The plugin library the host's state file records: (what it is, its build key)."""
    plugin = provisioned.get("plugin") or {}
    if not isinstance(plugin, dict) or not plugin.get("installed_sha256"):
        return "stock", None
    if plugin.get("gpu_archs") == "prebuilt":
        return "prebuilt", plugin.get("key")
    ref = f" {plugin['ref']}" if plugin.get("ref") else ""
    return f"OSS{ref} build {plugin.get('key') or '?'}", plugin.get("key")


def _after(record: Record, plugin: tuple[str, str | None]) -> tuple[str, str | None]:
    """The plugin once `record`'s run had changed it: a swap or a restore that went through (a
    step is reported changed only once it applied and verified)."""
    steps = {s["name"]: s["status"] for s in (record.report or {}).get("steps", [])} if not record.dry_run else {}
    if steps.get("plugin-swap") == "changed":
        key = record.report.get("key") if record.report else None
        return ("prebuilt", key) if "prebuilt-plugin" in steps else (f"OSS build {key}", key)
    if steps.get("restore") == "changed":
        return "stock", None
    return plugin


def _engines(rows: list[dict]) -> dict[str, int]:
    """Engines after the run: fresh (current, rebuilt, DeepStream's own), stale, missing, other (refused)."""
    counts = {"fresh": 0, "stale": 0, "missing": 0, "other": 0}
    for row in rows:
        if row.get("outcome") in ("current", "rebuilt", "deepstream") or row.get("status") == "current":
            counts["fresh"] += 1
        elif row.get("status") in ("stale", "missing"):
            counts[row["status"]] += 1
        else:
            counts["other"] += 1
    return counts


def host_row(host: str, latest: Latest) -> HostRow:
    """A host's row from its newest records."""
    row = HostRow(host)
    run, probed = latest.run, latest.probed
    if run is not None:
        row.time, row.command, row.result, row.dry_run = run.time, run.command, run.result, run.dry_run
        row.message = run.message.removeprefix(f"{host}: ") if run.result != "ok" else ""
        row.log = Path(run.log).as_uri() if run.log.startswith("/") else ""
    if probed is not None and probed.detect:
        detect = probed.detect
        row.probed = True
        facts = detect["facts"]
        jetson, gpus = facts.get("jetson"), facts.get("gpus") or []
        row.model = _text((jetson or {}).get("model") or (gpus[0]["name"] if gpus else None))
        row.family = _text((jetson or {}).get("family") or facts.get("platform"))
        if jetson:
            l4t = f" (L4T {jetson['l4t']})" if jetson.get("l4t") else ""
            row.platform = f"JetPack {jetson['jetpack']}{l4t}" if jetson.get("jetpack") else _text(l4t.strip(" ()"))
        elif facts.get("driver"):
            row.platform = f"driver {facts['driver']}"
        row.cuda, row.tensorrt, row.deepstream = (_text(facts.get(k)) for k in ("cuda", "tensorrt", "deepstream"))
        row.gpu_archs = " ".join(detect["gpu_archs"]["archs"]) or "-"
        plugin = _plugin(facts.get("provisioned") or {})
        for record in ([probed, run] if run is not probed else [probed]):
            plugin = _after(record, plugin) if record is not None else plugin
        row.plugin, row.plugin_key = plugin
        pyds = facts.get("pyds_import") or ((facts.get("provisioned") or {}).get("pyds") or {}).get("version")
        row.pyds = _text(pyds) if pyds else "none"
        if run is not None and not run.dry_run and any(
                s["name"] == "pyds-install" and s["status"] == "changed" for s in (run.report or {}).get("steps", [])):
            row.pyds = "installed by the last run"
        row.matrix = detect["matrix"]
        worst = next((v for v in detect["verdicts"] if v["status"] == row.matrix and row.matrix != "OK"), None)
        row.matrix_reason = f"{worst['rule']}: {worst['reason']}" if worst else ""
    if latest.engines is not None:
        row.engines, row.engines_time = _engines(latest.engines.engines or []), latest.engines.time
    return row


def _part(row: HostRow, name: str) -> str | None:
    """A part of a host's stack for the drift check: None when unknown; the plugin build key of a
    host with the stock library is `stock`."""
    if name == "plugin_key":
        return row.plugin_key or ("stock" if row.plugin == "stock" else None)
    value = getattr(row, name)
    return None if value == "-" else value


def mark_drift(rows: list[HostRow]) -> None:
    """Mark each host whose stack differs from what most (more than half) of the hosts of its device
    model have, saying what differs; a part with no such majority marks no one."""
    by_model: dict[str, list[HostRow]] = defaultdict(list)
    for row in rows:
        if row.model != "-":
            by_model[row.model].append(row)
    for model, group in by_model.items():
        for name, label in STACK:
            values = Counter(v for v in (_part(r, name) for r in group) if v is not None)
            if not values:
                continue
            common, count = values.most_common(1)[0]
            if count * 2 <= len(group):
                continue
            for row in group:
                value = _part(row, name)
                if value is not None and value != common:
                    row.drift.append(f"{label} {value} (most {model}: {common})")


def fleet(rows: list[HostRow], source: str, made: str | None = None) -> Fleet:
    """The page's model: rows by host name, drift marked, the summary counted."""
    rows = sorted(rows, key=lambda r: r.host)
    mark_drift(rows)
    page = Fleet(rows, made or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), source)
    for row in rows:
        unknown = "unknown" if row.probed else "never probed"
        page.families[row.family if row.family != "-" else unknown] += 1
        page.platforms[row.platform.split(" (")[0] if row.platform != "-" else unknown] += 1
        page.tensorrt[row.tensorrt if row.tensorrt != "-" else ("none" if row.probed else unknown)] += 1
        page.deepstream[row.deepstream if row.deepstream != "-" else ("none" if row.probed else unknown)] += 1
        page.results[row.result] += 1
    return page


@cache
def _template():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(loader=PackageLoader("provision.fleet_report", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["when"] = _when
    environment.filters["short_model"] = _short_model
    return environment.get_template("fleet.html.j2")


def render(page: Fleet) -> str:
    return _template().render(fleet=page, not_ok=NOT_OK)
