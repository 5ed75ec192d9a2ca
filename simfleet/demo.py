# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the checkout's development tasks do (`invoke fleet.up`, `fleet.down`, `demo`, in ../tasks.py):
start and stop a simulated fleet, and run the main job on it. Not part of the `dsprov` product."""

from __future__ import annotations

import os
from pathlib import Path

from provision import documents, report
from provision.artifacts import cache_root
from provision.commands import console
from provision.fleet_report import command as fleet_report, records
from provision.inventory import Inventory
from provision.options import Flags
from provision.outcomes import RunResult
from provision.provisioner import provision_hosts
from simfleet.fleet import DEFAULT_FLEET, FleetHandle, default_runtime_dir
from simfleet.fleet import fleet_down as stop
from simfleet.fleet import fleet_up as start
from simfleet.mirror import start_mirror, wants_bundle


def _start_fleet(fleet_file: str | None) -> tuple[FleetHandle, str]:
    """Start a simulated fleet and its mirror: (handle, mirror URL)."""
    path = Path(fleet_file) if fleet_file else DEFAULT_FLEET
    with console.status("starting the simulated fleet (a cold cache builds base roots: minutes)"):
        handle = start(path)
        return handle, start_mirror(handle, wants_bundle(path))


def fleet_up(fleet_file: str | None = None) -> int:
    """Start a simulated fleet and its mirror; print how to reach it."""
    handle, mirror = _start_fleet(fleet_file)
    console.print(f"fleet {handle.name!r} up in {handle.start_seconds:.1f}s: {', '.join(d.name for d in handle.devices)}")
    console.print(f"mirror: {mirror}")
    console.print(f"inventory: {handle.inventory}")
    print(f"export PROVISION_BECOME_PASSWORD=$(cat {handle.runtime_dir / 'become_password'})")
    return 0


def fleet_down(name: str) -> int:
    """Stop a simulated fleet and its mirror; nothing is left running or mounted."""
    runtime = Path(name) if Path(name).is_absolute() else default_runtime_dir(name)
    stop(runtime)
    console.print(f"fleet {name!r} stopped")
    return 0


def demo() -> int:
    """The main job on the simulated fleet: start it, detect and provision every device, then one
    summary line per device, the fleet page (its path printed) and where the details are.

    A refusal by the matrix is the right outcome for a device that cannot be helped, so only a host
    that failed makes the demo fail (Orin on JetPack 6.0 gets NVIDIA's prebuilt library).
    """
    handle, _ = _start_fleet(None)
    os.environ["PROVISION_BECOME_PASSWORD"] = handle.become_password
    inventory = str(handle.inventory)
    logs = cache_root() / "logs"
    with console.status(f"detecting and provisioning {len(handle.devices)} devices in parallel (logs: {logs})"):
        inv = Inventory(inventory)
        reports = provision_hosts(inv, inv.resolve("all"), Flags())
    records.save_reports("provision", reports, inventory=inv)
    report.print_summary([documents.host_report(r) for r in reports], console)
    page = fleet_report.write_report(str(cache_root() / "fleet.html"), [r.host for r in reports])
    for line in (f"details: each host's log is {logs}/HOST.log", page,
                 f"a host's facts and verdicts: invoke detect --host HOST -i {inventory}",
                 "stop the fleet with: invoke fleet.down"):
        console.print(line, markup=False, highlight=False)
    return 1 if any(r.result is RunResult.FAILED for r in reports) else 0
