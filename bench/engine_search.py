# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine search and a home of many files: what a configured root of 10,000 `*.txt` files (YOLO
label folders) or of 100,000 files costs a no-op rerun, side by side with a clean twin (the default
root alone), and the host CPU of one no-op probe in each case.

One fresh simulated x86 device (profile `t4`) with its own cold controller cache; its home gets
~/labels (--txt `*.txt` files in 100 folders) and ~/images (--files other files in 100 folders), and
one first provision. Then --rounds rounds, interleaved (clean twin, labels, images, clean twin, ...): the
no-op rerun (`invoke provision`, wall seconds; each must change nothing) and the host CPU of one
probe (the probe with the engine search of that setting, run --probes times in one ssh session on
the device: the children's user + system CPU from the shell's `times`, divided by --probes; the
first run of deviceQuery and of the search happened in the first provision). The search keeps one
output, keyed by its roots, so a rerun right after the setting changed reads the roots again: each
timed rerun follows an untimed one of the same setting, as on a host whose setting stays. Medians
with min and max, ratios against the clean twin, and the load average before and after. Needs root;
a few minutes.

With --against CHECKOUT (another copy of the project, e.g. `git archive main | tar -x -C /tmp/main`), a
second device gets the same home and that checkout's code (its tasks, its probe, its own controller
cache), and each setting's rerun and probes run for both in the same round (the order swapped every
round): a before/after in one run.

    .venv/bin/python bench/engine_search.py [--txt 10000] [--files 100000] [--rounds 5] [--probes 20] [--against DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provision.options import DEFAULT_BUILD_DIR  # noqa: E402
from simfleet.fleet import FleetHandle  # noqa: E402
from simfleet.mirror import served_fleet  # noqa: E402

HOSTS = ("t4-01", "t4-02")  # this checkout's device, the other's
SAMPLES = "/opt/nvidia/deepstream/deepstream/samples"
CLEAN = "none (the clean twin)"
# $1 *.txt label files (a few words each) under ~/labels, $2 other files under ~/images, 100 folders each
FILL = """set -e
fill() {  # FOLDER COUNT SUFFIX
    per=$(( $2 / 100 ))
    for d in $(seq 1 100); do
        mkdir -p "$1/d$d" && cd "$1/d$d"
        seq 1 "$per" | while read -r i; do echo "0 0.5 0.5 0.1 0.1" > "f$i.$3"; done
    done
}
fill "$HOME/labels" "$1" txt
fill "$HOME/images" "$2" jpg
echo "$(find "$HOME/labels" -name '*.txt' | wc -l) *.txt in ~/labels, $(find "$HOME/images" -type f | wc -l) files in ~/images"
"""
# the probe, --probes times, then the children's CPU (`times`' second line: user and system)
PROBES = 'p=$(mktemp) && cat > "$p" && i=0; while [ $i -lt {n} ]; do sh "$p" {args} > /dev/null; i=$((i + 1)); done; rm -f "$p"; times'


@dataclass(frozen=True)
class Code:
    """A checkout of the project run against its own device, with its own controller cache."""

    name: str
    root: Path
    host: str
    cache: Path

    def probe_script(self) -> str:
        """That checkout's probe (provision.detect.probe_script, imported there)."""
        return subprocess.run([sys.executable, "-c", "from provision.detect import probe_script; print(probe_script(), end='')"],
                              cwd=self.root, check=True, capture_output=True, text=True).stdout


def provision(code: Code, handle: FleetHandle, inventory_path: Path, *args: str) -> tuple[float, dict]:
    """Seconds of `invoke provision --host HOST ARGS --json` run from the checkout, and its report."""
    argv = [sys.executable, "-m", "invoke", "provision", "--host", code.host, *args, "--json", "-i", str(inventory_path)]
    environ = {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(code.cache)}
    started = time.monotonic()
    result = subprocess.run(argv, cwd=code.root, env=environ, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - started
    if result.returncode:
        raise SystemExit(f"provision {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    (report,) = json.loads(result.stdout)["hosts"]
    return seconds, report


def probe_cpu(code: Code, script: str, handle: FleetHandle, roots: tuple[str, ...], count: int) -> float:
    """Host CPU seconds of one probe whose engine search covers `roots` (the mean of `count`)."""
    args = " ".join(shlex.quote(a) for a in (DEFAULT_BUILD_DIR, *(f"r:{r}" for r in roots)))
    result = subprocess.run([*handle.ssh_command(code.host), PROBES.format(n=count, args=args)], input=script,
                            capture_output=True, text=True, timeout=3600)
    children = result.stdout.strip().splitlines()[-1] if result.returncode == 0 else ""
    times = re.findall(r"(\d+)m([\d.]+)s", children)
    if len(times) != 2:
        raise SystemExit(f"the probes failed: {result.stdout[-500:]}{result.stderr[-500:]}")
    return sum(int(m) * 60 + float(s) for m, s in times) / count


def spread(values: list[float], unit: str, digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txt", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--against", type=Path, help="another checkout of the project, run side by side")
    args = parser.parse_args()
    settings = {CLEAN: (SAMPLES,), f"~/labels: {args.txt:,} *.txt": (SAMPLES, "~/labels"),
                f"~/images: {args.files:,} files": (SAMPLES, "~/images")}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dsprov-engine-search-") as tmp:
        folder = Path(tmp)
        codes = [Code("this", ROOT, HOSTS[0], folder / "cache0")]
        if args.against:
            codes.append(Code(args.against.name, args.against.resolve(), HOSTS[1], folder / "cache1"))
        scripts = {code: code.probe_script() for code in codes}
        noop: dict[tuple[Code, str], list[float]] = {(code, name): [] for code in codes for name in settings}
        cpu: dict[tuple[Code, str], list[float]] = {(code, name): [] for code in codes for name in settings}
        fleet = folder / "fleet.yml"
        fleet.write_text("name: bench-search\ndevices:\n" + "".join(f"  - {{name: {c.host}, profile: t4}}\n" for c in codes))
        with served_fleet(fleet, folder / "run") as handle:
            inventories = {}
            for code in codes:
                fill = subprocess.run([*handle.ssh_command(code.host), f"sh -s -- {args.txt} {args.files}"], input=FILL,
                                      text=True, capture_output=True, timeout=3600)
                if fill.returncode:
                    raise SystemExit(f"filling the home failed: {fill.stderr}")
                print(f"{code.host} ({code.name}): {fill.stdout.strip()}", file=sys.stderr, flush=True)
                for i, (name, roots) in enumerate(settings.items()):
                    inventories[code, name] = handle.inventory_with(folder / f"inventory-{code.host}-{i}", code.host,
                                                                    f"dsprov_engine_roots: {json.dumps(list(roots))}\n")
                provision(code, handle, inventories[code, CLEAN])  # the first provision: a build, deviceQuery's first run
                for name in settings:  # each setting's first search: its caches filled
                    provision(code, handle, inventories[code, name])
            for round_ in range(args.rounds):
                for name, roots in settings.items():
                    for code in codes[::-1] if round_ % 2 else codes:
                        provision(code, handle, inventories[code, name])  # the setting changed: untimed
                        seconds, report = provision(code, handle, inventories[code, name])
                        changed = [s["name"] for s in report["steps"] if s["status"] == "changed"]
                        if changed:
                            raise SystemExit(f"{code.name}, {name}: the rerun changed {changed}: not a no-op (log: {report['log']})")
                        noop[code, name].append(seconds)
                        cpu[code, name].append(probe_cpu(code, scripts[code], handle, roots, args.probes))
    load_after = os.getloadavg()
    print(f"{dt.date.today()}, {os.cpu_count()} cores, load average {load_before[0]:.1f} before, {load_after[0]:.1f}"
          f" after; one x86 `t4` device per checkout; medians (min-max) of {args.rounds} interleaved rounds;"
          f" probe CPU: the mean of {args.probes} probes per round")
    print("| code | root searched besides the samples | no-op rerun | / clean | host CPU per no-op probe | / clean |")
    print("| --- | --- | --- | --- | --- | --- |")
    for code in codes:
        for name in settings:
            key, clean = (code, name), (code, CLEAN)
            print(f"| {code.name} | {name} | {spread(noop[key], 's', 2)} | {statistics.median(noop[key]) / statistics.median(noop[clean]):.2f}"
                  f" | {spread(cpu[key], 's', 3)} | {statistics.median(cpu[key]) / statistics.median(cpu[clean]):.2f} |")


if __name__ == "__main__":
    main()
