# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet page for 500 hosts against 50: reading each host's newest records, rendering the page
and writing it, side by side in one run (alternating which goes first), as ratios.

Each host gets --records run records (default 20, what a host keeps by default) in a controller
cache of its own: provision runs and one engines run, each with the detect document of the
recorded H100 capture (tests/fixtures/recorded/h100-ubuntu2404, its SOURCE.md says where from);
a tenth of the hosts a refused run, a tenth another CUDA (drift). No device needed.

    .venv/bin/python bench/fleet_report.py [--hosts 500] [--small 50] [--records 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provision.detect import analyse, read_capture  # noqa: E402
from provision.fleet_report import command, page, records  # noqa: E402
from provision.outcomes import EngineOutcome, EngineStatus, RunResult  # noqa: E402
from provision.provisioner import HostReport  # noqa: E402
from provision.capabilities.engines import Engine  # noqa: E402

CAPTURE = ROOT / "tests" / "fixtures" / "recorded" / "h100-ubuntu2404" / "probe-capture.txt"


def fill(root: Path, hosts: int, per_host: int) -> list[str]:
    """`hosts` hosts' records under `root`; their names."""
    name, text = read_capture(CAPTURE)
    usual = analyse(name, text)
    other = analyse(name, text.replace("release 13.0, V13.0.88", "release 12.6, V12.6.77"))
    engines = [Engine(f"/opt/models/m{i}.txt", status=status, outcome=EngineOutcome.PENDING).to_json()
               for i, status in enumerate((EngineStatus.CURRENT, EngineStatus.STALE, EngineStatus.MISSING))]
    names = [f"gpu-{i:04}" for i in range(hosts)]
    for i, host in enumerate(names):
        for n in range(per_host):
            time_ = f"2026-12-07T{n // 60:02}:{n % 60:02}:00.000Z"
            result = RunResult.REFUSED if i % 10 == 3 and n == per_host - 1 else RunResult.OK
            report = HostReport(host, result=result, message=f"{host}: refused" if result is RunResult.REFUSED else "",
                                detection=other if i % 10 == 7 else usual, log=f"/var/log/dsprov/{host}/{n}.log")
            command_ = "engines" if n == per_host // 2 else "provision"
            records.write(records.of_report(command_, report, engines=engines if command_ == "engines" else None,
                                            time=time_), root, keep=per_host)
    return names


def once(root: Path, names: list[str], out: Path) -> dict[str, float]:
    """Seconds of each stage of one page."""
    started = time.perf_counter()
    fleet = command.build(names, root)
    built = time.perf_counter()
    html = page.render(fleet)
    rendered = time.perf_counter()
    command.write_page(out, html)
    written = time.perf_counter()
    return {"read records": built - started, "render": rendered - built, "write": written - rendered,
            "total": written - started, "bytes": len(html.encode())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsprov-fleet-report-") as tmp:
        folder = Path(tmp)
        fleets = {n: (folder / f"records-{n}", fill(folder / f"records-{n}", n, args.records))
                  for n in (args.small, args.hosts)}
        runs: dict[int, list[dict[str, float]]] = {n: [] for n in fleets}
        for round_ in range(args.rounds):  # alternating which size goes first
            for n in (fleets if round_ % 2 == 0 else reversed(list(fleets))):
                root, names = fleets[n]
                runs[n].append(once(root, names, folder / f"fleet-{n}.html"))
    small, large = args.small, args.hosts
    median = {n: {k: statistics.median(r[k] for r in runs[n]) for k in runs[n][0]} for n in runs}
    print(f"{dt.date.today()}, {os.cpu_count()} cores, {args.records} records per host, medians of {args.rounds}"
          f" (Python {sys.version.split()[0]})")
    print(f"| stage | {small} hosts | {large} hosts | {large} / {small} |")
    print("| --- | --- | --- | --- |")
    for stage in ("read records", "render", "write", "total"):
        a, b = median[small][stage], median[large][stage]
        print(f"| {stage} | {a * 1000:.0f} ms | {b * 1000:.0f} ms | {b / a:.1f} |")
    print(f"| page size | {median[small]['bytes'] / 1024:.0f} KiB | {median[large]['bytes'] / 1024:.0f} KiB"
          f" | {median[large]['bytes'] / median[small]['bytes']:.1f} |")


if __name__ == "__main__":
    main()
