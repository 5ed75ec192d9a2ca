# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's run records: after every run, one JSON file per host under
cache_root()/records/<host>/<UTC time>-<command>.json, read by `dsprov report` (page.py).

A record holds what the run's `--json` documents say of the host (provision/documents.py): the
host entry of provision, pyds, rollback, engines and deepstream.config (`report`, common.schema.json's
`host_report`), the detect document of the run's probe (`detect`, detect.schema.json) and, for
`engines`, the per-config rows (engines.schema.json), with the run's time, command, result and log.
The newest KEEP records of a host are kept (`dsprov_report_keep` changes it). Each file is written
whole or not at all (a private file beside it, renamed); a record that cannot be written is one
warning line, never a failed run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable, Iterator, Mapping

from provision import documents, input_files
from provision.artifacts import cache_root
from provision.errors import ProvisionError
from provision.validators import BadSetting, records_kept

if TYPE_CHECKING:
    from provision.core.detection import Detection
    from provision.inventory import Inventory

KEEP = 20  # records kept per host unless dsprov_report_keep says
KEEP_SETTING = "dsprov_report_keep"
RECORD_VERSION = 1
RECORD_LIMIT = 16 << 20  # bytes: a record with a detect document is tens of kB


def records_root() -> Path:
    return cache_root() / "records"


def host_folder(root: Path, host: str) -> Path:
    """A host's folder: its inventory name as a file name inside `root` (as the logs' folders)."""
    return root / (host.replace("/", "_").lstrip(".") or "_")


@dataclass(frozen=True)
class Record:
    """One run of one host, as saved."""

    host: str
    command: str
    time: str  # ISO 8601 UTC, to the millisecond
    result: str  # provision/outcomes.py's RunResult values; detect: ok
    message: str
    log: str
    dry_run: bool = False
    report: dict[str, Any] | None = None  # the host entry (documents.host_report)
    detect: dict[str, Any] | None = None  # the detect document of the run's probe (None: no probe)
    engines: list[dict[str, Any]] | None = None  # the engines command's rows

    def to_json(self) -> dict[str, Any]:
        return {"record_version": RECORD_VERSION, "host": self.host, "command": self.command, "time": self.time,
                "result": self.result, "message": self.message, "log": self.log, "dry_run": self.dry_run,
                "report": self.report, "detect": self.detect, "engines": self.engines}

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """A saved record; ProvisionError when it is not one."""
        if not isinstance(data, dict) or data.get("record_version") != RECORD_VERSION:
            raise ProvisionError(f"not a version {RECORD_VERSION} run record")
        try:
            return cls(**{k: data[k] for k in ("host", "command", "time", "result", "message", "log", "dry_run",
                                               "report", "detect", "engines")})
        except KeyError as exc:
            raise ProvisionError(f"run record without {exc}") from None


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def keep_of(host_vars: Mapping[str, Any] | None) -> int:
    """How many records a host keeps: its dsprov_report_keep (checked with the other settings before
    a run), else KEEP."""
    value = (host_vars or {}).get(KEEP_SETTING)
    if value is None or value == "":
        return KEEP
    try:
        return records_kept(KEEP_SETTING, value)
    except BadSetting:
        return KEEP


def of_report(command: str, report: Any, dry_run: bool = False, engines: list | None = None,
              time: str | None = None) -> Record:
    """The record of a HostReport (provision/provisioner.py) of a run of `command`."""
    entry = documents.host_report(report)
    detect = documents.detection(report.detection) if report.detection else None
    return Record(report.host, command, time or now(), entry["result"], report.message, report.log, dry_run,
                  entry, detect, engines)


def of_detection(detection: Detection, time: str | None = None, build: dict[str, Any] | None = None) -> Record:
    """The record of a detect run (`dsprov detect`, `report --refresh`, the Ansible detect action);
    `build`: the detect document's build view, where the run showed one."""
    doc = documents.detection(detection, build)
    return Record(detection.host, "detect", time or now(), "ok", f"matrix {doc['matrix']}", "", detect=doc)


def unreached(host: str, command: str, result: str, message: str, log: str = "") -> Record:
    """The record of a host the run never probed (unreachable, or refused before the probe)."""
    return Record(host, command, now(), result, message, log)


def save_reports(command: str, reports: Iterable[Any], dry_run: bool = False, *, inventory: Inventory | None = None,
                 host_vars: Mapping[str, Any] | None = None, engines: list | None = None,
                 keep: int | None = None) -> None:
    """Record a run's HostReports, each host keeping its dsprov_report_keep (`keep`, resolved with the
    host's settings, else from `inventory` or `host_vars`) newest records."""
    save([(of_report(command, r, dry_run, engines), keep or _keep(r.host, inventory, host_vars)) for r in reports])


def save_detection(detection: Detection, *, inventory: Inventory | None = None,
                   host_vars: Mapping[str, Any] | None = None, keep: int | None = None,
                   build: dict[str, Any] | None = None) -> None:
    save([(of_detection(detection, build=build), keep or _keep(detection.host, inventory, host_vars))])


def _keep(host: str, inventory: Inventory | None, host_vars: Mapping[str, Any] | None) -> int:
    if inventory is not None:
        try:
            host_vars = inventory.host(host).vars
        except ProvisionError:  # a host that is not in the inventory keeps the default
            host_vars = None
    return keep_of(host_vars)


def save(records: list[tuple[Record, int]], root: Path | None = None) -> None:
    """Write each (record, how many of its host's to keep); on any error one warning line on stderr
    (the run itself is not changed by it)."""
    root = root or records_root()
    failed = None
    for record, keep in records:
        try:
            write(record, root, keep)
        except (OSError, TypeError, ValueError) as exc:
            failed = failed or (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
    if failed:
        print(f"warning: the run records under {root} were not written: {failed}", file=sys.stderr)


def write(record: Record, root: Path, keep: int = KEEP) -> Path:
    """Write one record whole (a private file beside it, renamed), then drop its host's records
    past the newest `keep`."""
    folder = host_folder(root, record.host)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = record.time.replace("-", "").replace(":", "")  # 20261207T102000.123Z: sorts as it happened
    path = folder / f"{stamp}-{record.command}.json"
    data = json.dumps(record.to_json(), separators=(",", ":")).encode()  # the C encoder (an indent is pure Python)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", delete=False) as tmp:
        try:
            tmp.write(data)
        except BaseException:
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, path)
    for old in sorted(folder.glob("*.json"), key=lambda p: p.name)[:-keep]:  # by name: Path's compare is slow
        old.unlink(missing_ok=True)
    return path


@dataclass(frozen=True)
class Latest:
    """What the page shows of a host: its newest run, the newest run that probed it and the newest
    `engines` run (each None when there is none)."""

    run: Record | None
    probed: Record | None
    engines: Record | None


def _read(path: Path) -> Record | None:
    """A saved record; None for a file that is not one (cut short, another version, not JSON)."""
    try:
        return Record.from_json(input_files.read_json(path, "run record", RECORD_LIMIT))
    except ProvisionError:
        return None


def history(host: str, root: Path | None = None, command: str | None = None) -> Iterator[Record]:
    """A host's records (of one command, when given), newest first."""
    folder = host_folder(root or records_root(), host)
    for path in sorted(folder.glob(f"*-{command}.json" if command else "*.json"), reverse=True):
        record = _read(path)
        if record is not None:
            yield record


def latest(host: str, root: Path | None = None) -> Latest:
    """A host's newest run, probe and engines run, reading no more records than it needs."""
    runs = history(host, root)
    run = next(runs, None)
    probed = run if run is None or run.detect else next((r for r in runs if r.detect), None)
    engines = next((r for r in history(host, root, "engines") if r.engines is not None), None)
    return Latest(run, probed, engines)


def recorded_hosts(root: Path | None = None) -> list[str]:
    """Every host with a record, by the name its newest record gives."""
    root = root or records_root()
    if not root.is_dir():
        return []
    names = set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        newest = next((r for r in map(_read, sorted(folder.glob("*.json"), reverse=True)) if r), None)
        if newest:
            names.add(newest.host)
    return sorted(names)
