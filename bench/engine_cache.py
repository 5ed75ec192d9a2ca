# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cold provision of ten identical hosts against one, with the controller's engine cache: wall time,
round trips per host and trtexec builds, side by side (rounds interleaved: 1, 10, 1, 10, ...).

Two simulated fleets of `t4` devices (one build key; each carries NVIDIA's four-model
deepstream-app sample, so a provision builds four engines). Each round starts cold: every device
rolled back (its original plugin library), its sample engines made stale (their build records
removed), a fresh controller cache (no plugin build, no engine); then the timed
`provision --hosts all --force`. The ten-host rounds run with `dsprov_engine_cache: auto`, and with
`--engine-cache both` also with `off` (every host builds its own engines), interleaved with the rest.
With `--against DIR` (another checkout of dsprov, e.g. main's in a `git worktree`), each round runs
that checkout's code too, right after this one's, on the same fleets: before and after side by side.
Beside wall time and CPU (the tool's processes and the devices'), "CPU floor N / 1": the fleet's
CPU spread over every core of this machine, against one host's wall; where one host's run is itself
CPU-bound (its wall about its CPU), N / 1 cannot go below it, however the work is scheduled.
Needs root (the simulated fleet); takes a few minutes.

    .venv/bin/python bench/engine_cache.py [--hosts 10] [--rounds 3] [--engine-cache auto|off|both] [--against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet_scale import children_cpu, fleet_cpu  # noqa: E402  (bench/fleet_scale.py: this script's folder is first on sys.path)
from simfleet.fleet import FleetHandle  # noqa: E402
from simfleet.mirror import served_fleet  # noqa: E402
from simfleet.profiles import TRTEXEC_RUNS  # noqa: E402

RECORDS = "/opt/nvidia/deepstream/deepstream/samples/models/*/*.engine.dsprov.json"
# The wall time the fleet's CPU needs at the least, on this machine's cores all free, against one host's
# wall: the column "CPU floor N / 1" (where one host's run is itself CPU-bound, N / 1 cannot go below it).
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Round:
    seconds: float
    round_trips: list[int]  # per host
    builds: int  # trtexec builds in the fleet
    loads: int  # trtexec --loadEngine runs in the fleet
    cpu: float  # CPU seconds of the tool's processes and of the devices' (less noisy than wall under load)


def fleet_file(folder: Path, name: str, count: int) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(f"name: {name}\ndevices:\n" + "".join(f"  - {{name: {name}-{i:02d}, profile: t4}}\n"
                                                          for i in range(1, count + 1)))
    return path


def on_all(handle: FleetHandle, command: str) -> list[str]:
    """`command` as root on every device (the become password on stdin); each one's output."""
    wrapped = f"sudo -S -p '' sh -c '{command}'"
    return [subprocess.run([*handle.ssh_command(d.name), wrapped], input=handle.become_password + "\n",
                           capture_output=True, text=True, timeout=120).stdout for d in handle.devices]


def inventory(handle: FleetHandle, folder: Path, cache: str) -> Path:
    """The fleet's inventory, with `dsprov_engine_cache` set for every host."""
    copy = folder / f"inventory-{handle.runtime_dir.name}-{cache}"
    if not copy.exists():
        setting = f"dsprov_engine_cache: '{cache}'\n"
        handle.inventory_with(copy, handle.devices[0].name, setting)
        for d in handle.devices:
            (copy / "host_vars" / f"{d.name}.yml").write_text(setting)
    return copy / "hosts.ini"


def cold_round(handle: FleetHandle, folder: Path, cache: str, code: Path = ROOT) -> Round:
    controller = tempfile.mkdtemp(dir=folder, prefix="cache-")
    env = {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": controller}
    rollbacks = [subprocess.Popen([sys.executable, "-m", "invoke", "rollback", "--host", d.name, "-i", str(handle.inventory)],
                                  cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for d in handle.devices]
    if any(p.wait(timeout=600) for p in rollbacks):
        raise SystemExit(f"a rollback failed on {handle.runtime_dir}")
    on_all(handle, f"rm -f {RECORDS}; : > {TRTEXEC_RUNS}")
    argv = [sys.executable, "-m", "invoke", "provision", "--hosts", "all", "--force", "--forks", "50", "--json",
            "-i", str(inventory(handle, folder, cache))]
    cpu = children_cpu() + fleet_cpu(handle)
    started = time.monotonic()
    result = subprocess.run(argv, cwd=code, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - started
    time.sleep(0.5)  # the devices' sshd reap the sessions the run closed
    cpu = children_cpu() + fleet_cpu(handle) - cpu
    if result.returncode:
        raise SystemExit(f"provision failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    runs = "".join(on_all(handle, f"cat {TRTEXEC_RUNS}")).splitlines()
    shutil.rmtree(controller)
    return Round(seconds, [h["commands"] for h in json.loads(result.stdout)["hosts"]],
                 sum(r.startswith("build\t") for r in runs), sum(r.startswith("load\t") for r in runs), cpu)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s ({min(values):.1f}-{max(values):.1f})"


def table(label: str, hosts: int, ones: list[Round], manys: dict[str, list[Round]]) -> None:
    """The rounds of one checkout's code: a Markdown table."""
    print(f"\n{label}\n")
    print("| fleet | wall | round trips per host | trtexec builds | trtexec loads | N / 1 | CPU (tool + hosts) | CPU N / 1 |"
          " CPU floor N / 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    base = statistics.median(r.seconds for r in ones)
    base_cpu = statistics.median(r.cpu for r in ones)
    for name, rounds in [("1 host", ones), *((f"{hosts} hosts, engine cache {s}", r) for s, r in manys.items())]:
        trips = sorted({t for r in rounds for t in r.round_trips})
        cpu = statistics.median(r.cpu for r in rounds)
        print(f"| {name} | {spread([r.seconds for r in rounds])} | {trips[0]}-{trips[-1]} |"
              f" {rounds[-1].builds} | {rounds[-1].loads} | {statistics.median(r.seconds for r in rounds) / base:.2f} |"
              f" {spread([r.cpu for r in rounds])} | {cpu / base_cpu:.2f} | {cpu / CORES / base:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine-cache", choices=("auto", "off", "both"), default="auto",
                        help="the setting for the many-host rounds (the one host's is auto)")
    parser.add_argument("--against", type=Path, help="another checkout whose code runs each round too (before/after)")
    args = parser.parse_args()
    codes = [ROOT, *([args.against.resolve()] if args.against else [])]
    settings = ("auto", "off") if args.engine_cache == "both" else (args.engine_cache,)
    ones: dict[Path, list[Round]] = {c: [] for c in codes}
    manys: dict[Path, dict[str, list[Round]]] = {c: {s: [] for s in settings} for c in codes}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="dsprov-engine-cache-") as tmp:
        folder = Path(tmp)
        with served_fleet(fleet_file(folder, "ec1", 1), folder / "one") as one, \
                served_fleet(fleet_file(folder, "ecn", args.hosts), folder / "many") as many:
            for code in codes:
                cold_round(one, folder, "auto", code)  # warm-up: the devices' first commands, Python's caches
            for _ in range(args.rounds):  # interleaved: 1, N, 1, N, ... (each checkout's in turn)
                for setting in settings:
                    for code in codes:
                        ones[code].append(cold_round(one, folder, "auto", code))
                        manys[code][setting].append(cold_round(many, folder, setting, code))
                        loads.append(os.getloadavg()[0])
    print(f"cold `provision --hosts all --force`, {args.rounds} rounds interleaved, medians (min-max);"
          f" 1-minute load average {min(loads):.1f}-{max(loads):.1f} (median {statistics.median(loads):.1f})")
    for code in codes:
        table(f"code: {code}" + (f" ({git_head(code)})" if git_head(code) else ""), args.hosts, ones[code], manys[code])


def git_head(code: Path) -> str:
    """The checkout's commit, short (empty when it is not a git checkout)."""
    head = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return head.stdout.strip()


if __name__ == "__main__":
    main()
