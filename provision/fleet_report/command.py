# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""`dsprov report`: the fleet page from the newest run records; `--refresh` probes the hosts first
(one round trip each, the detect path) and records what they say."""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from provision.errors import HostUnreachable, ProvisionError
from provision.fleet_report import page, records

FORKS = 20  # hosts probed at once by --refresh, as provision's default --forks


def report(out: str, hosts: str | None = None, inventory: str | None = None, refresh: bool = False) -> int:
    """Write the page of `hosts` (names or groups of the inventory; without them: every inventory host
    when -i is given, else every host with a record) to `out`; print where."""
    _check_out(out)  # before any probe: bad input changes nothing
    inv = None
    if inventory or hosts or refresh:
        from provision.inventory import Inventory

        inv = Inventory(inventory)
    names = inv.resolve(hosts or "all") if inv else records.recorded_hosts()
    if refresh:
        probe(inv, names)
    print(write_report(out, names))
    return 0


def _check_out(out: str) -> Path:
    target = Path(out)
    if target.is_dir() or not target.parent.is_dir():
        raise ProvisionError(f"--out {out}: " + ("a folder" if target.is_dir() else f"no folder {target.parent}"))
    return target


def write_report(out: str, names: list[str]) -> str:
    """Write the page of these hosts to `out` (the report task, the Ansible recap): the line saying so."""
    target = _check_out(out)
    fleet = build(names)
    write_page(target, page.render(fleet))
    bad = sum(fleet.results[r] for r in page.NOT_OK)
    return f"fleet report: {target} ({len(fleet.rows)} hosts, {bad} failed, refused or unreachable, {fleet.drifting} drifting)"


def build(names: list[str], root: Path | None = None) -> page.Fleet:
    """The page's model for these hosts from their newest records."""
    root = root or records.records_root()
    return page.fleet([page.host_row(name, records.latest(name, root)) for name in names], str(root))


def probe(inventory, names: list[str]) -> None:
    """Probe the hosts in parallel (one round trip each) and record each detection, or why not."""
    from provision.matrix import Matrix

    matrix = Matrix.load()
    with ThreadPoolExecutor(max_workers=max(1, min(FORKS, len(names)))) as pool:
        found = list(pool.map(lambda name: _probe_one(inventory, name, matrix), names))
    records.save(found)


def _probe_one(inventory, name: str, matrix) -> tuple[records.Record, int]:
    from provision.detect import analyse, capture
    from provision.runners import runner_for

    keep = records.KEEP
    try:
        spec = inventory.host(name)
        keep = records.keep_of(spec.vars)
        settings = spec.settings  # checked and read once
        runner = runner_for(spec)
        try:
            detection = analyse(name, capture(runner, settings.build_dir), None, matrix)
        finally:
            runner.close()
    except ProvisionError as exc:
        result = "unreachable" if isinstance(exc, HostUnreachable) else "failed"
        print(f"error: {name}: {result}: {str(exc).removeprefix(name + ': ')}", file=sys.stderr)
        return records.unreached(name, "detect", result, str(exc)), keep
    return records.of_detection(detection), keep


def write_page(target: Path, html: str) -> None:
    """Replace the page whole (a file beside it, renamed); a write error is one line."""
    try:
        with tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp",
                                         delete=False, encoding="utf-8") as tmp:
            try:
                tmp.write(html)
            except BaseException:
                os.unlink(tmp.name)
                raise
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, target)
    except OSError as exc:
        raise ProvisionError(f"--out {target}: cannot write the page: {exc.strerror or exc}") from None
