"""One host against fifty: wall time and round trips per host of detect, a no-op rerun and a
cold `--force` provision, side by side in one run, as ratios; and the fifty-host no-op through
`ansible-playbook` against invoke.

Two fresh simulated fleets of identical x86 devices (profile `t4`: one build key), one of 1 device
and one of --hosts (default 50), each with its own cold controller cache; every device shares one
base root (simfleet/roots.py), so a device costs its overlay's upper folder and one sshd. Per
fleet: detect (`provision --dry-run`: the probe and the plan), the cold `--force` provision (one
host builds, the others copy), then the no-op rerun (--rounds times, the median) with invoke and
with `ansible-playbook -f N`. Last, one emulated Jetson (profile `nano`, under qemu): how much of
its detect is the probe. Needs root; takes a few minutes.

    .venv/bin/python bench/fleet_scale.py [--hosts 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simfleet.fleet import FleetHandle  # noqa: E402
from simfleet.mirror import served_fleet  # noqa: E402

BIN = Path(sys.executable).parent
RECAP_ROW = re.compile(r"^(\S+)\s+ok\s.*?\s\d+\.\ds\s+(\d+)\s")  # host ... time commands message


@dataclass(frozen=True)
class Run:
    seconds: float
    commands: list[int]  # round trips per host
    controller_cpu: float  # CPU seconds of the tool's processes (invoke, or ansible-playbook and its forks)
    hosts_cpu: float  # CPU seconds of the devices' processes (sshd, the probe, the steps' commands)

    @property
    def cpu(self) -> float:
        return self.controller_cpu + self.hosts_cpu


def fleet_cpu(handle: FleetHandle) -> float:
    """CPU seconds the fleet's processes used so far, their reaped children included (each device's
    sshd reaps its sessions)."""
    ticks = 0
    for pid in handle.pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median(runs: list[Run]) -> Run:
    """The run of median wall time."""
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def fleet_file(folder: Path, name: str, profile: str, count: int) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(f"name: {name}\ndevices:\n"
                    + "".join(f"  - {{name: {profile}-{i:02d}, profile: {profile}}}\n" for i in range(1, count + 1)))
    return path


def env(handle: FleetHandle, cache: Path) -> dict[str, str]:
    return {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache),
            "ANSIBLE_NOCOLOR": "1"}


def timed(argv: list[str], environ: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - started
    if result.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return seconds, result.stdout


def measured(handle: FleetHandle, argv: list[str], cache: Path) -> tuple[float, str, float, float]:
    """(seconds, stdout, controller CPU seconds, hosts' CPU seconds) of one command."""
    controller, hosts = children_cpu(), fleet_cpu(handle)
    seconds, out = timed(argv, env(handle, cache))
    return seconds, out, children_cpu() - controller, fleet_cpu(handle) - hosts


def invoke(handle: FleetHandle, cache: Path, *args: str) -> Run:
    """Seconds of `invoke provision --hosts all ARGS --json`, and each host's round trips."""
    argv = [sys.executable, "-m", "invoke", "provision", "--hosts", "all", "--forks", str(len(handle.devices)),
            *args, "--json", "-i", str(handle.inventory)]
    seconds, out, controller, hosts = measured(handle, argv, cache)
    reports = json.loads(out)["hosts"]  # the provision document (provision/schemas/provision.schema.json)
    bad = [r for r in reports if r["result"] not in ("ok", "planned")]
    if bad:
        raise SystemExit(f"not ok: {bad[0]['host']}: {bad[0]['message']}")
    return Run(seconds, [r["commands"] for r in reports], controller, hosts)


def ansible(handle: FleetHandle, cache: Path) -> Run:
    """Seconds of `ansible-playbook -f N playbooks/provision.yml`, and each host's round trips
    (the DSPROV RECAP's commands column)."""
    argv = [str(BIN / "ansible-playbook"), "-f", str(len(handle.devices)), "-i", str(handle.inventory),
            "playbooks/provision.yml"]
    seconds, out, controller, hosts = measured(handle, argv, cache)
    recap = out.split("DSPROV RECAP", 1)[1].splitlines()
    commands = [int(m.group(2)) for line in recap if (m := RECAP_ROW.match(line))]
    if len(commands) != len(handle.devices):
        raise SystemExit(f"ansible-playbook: {len(commands)} recap rows for {len(handle.devices)} hosts:\n{out[-3000:]}")
    return Run(seconds, commands, controller, hosts)


def per_host(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}-{high}"


def emulated_probe(folder: Path) -> tuple[float, float]:
    """(seconds of `invoke detect` of one emulated Jetson, seconds of its probe alone)."""
    from provision.detect import capture
    from provision.inventory import Inventory
    from provision.runners import runner_for

    with served_fleet(fleet_file(folder, "bench-nano", "nano", 1), folder / "nano") as handle:
        detect = [sys.executable, "-m", "invoke", "detect", "--host", "nano-01", "--json", "-i", str(handle.inventory)]
        whole = statistics.median(timed(detect, env(handle, folder / "nano-cache"))[0] for _ in range(3))
        runner = runner_for(Inventory(str(handle.inventory)).host("nano-01"))
        try:
            probes = []
            for _ in range(3):
                started = time.monotonic()
                capture(runner)
                probes.append(time.monotonic() - started)
        finally:
            runner.close()
    return whole, statistics.median(probes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, dict[int, Run]] = {"detect": {}, "no-op rerun": {}, "cold --force": {}}
    noop_ansible: Run | None = None
    with tempfile.TemporaryDirectory(prefix="dsprov-scale-") as tmp:
        folder = Path(tmp)
        for count in (1, args.hosts):
            started = time.monotonic()
            with served_fleet(fleet_file(folder, f"scale{count}", "t4", count), folder / f"run{count}") as handle:
                print(f"{count} device(s) up in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
                cache = folder / f"cache{count}"
                rows["detect"][count] = median([invoke(handle, cache, "--dry-run") for _ in range(args.rounds)])
                rows["cold --force"][count] = invoke(handle, cache, "--force")
                rows["no-op rerun"][count] = median([invoke(handle, cache) for _ in range(args.rounds)])
                if count == args.hosts:
                    noop_ansible = median([ansible(handle, cache) for _ in range(args.rounds)])
        whole, probe = emulated_probe(folder)
    n, cores = args.hosts, os.cpu_count() or 1
    print(f"{dt.date.today()}, {cores} cores, x86 `t4` devices, medians of {args.rounds} (cold: one run); CPU: seconds"
          f" used by the tool + by the hosts; floor: the {n}-host CPU spread over {cores} cores, over the 1-host time")
    print(f"| run | 1 host | {n} hosts | {n} / 1 | round trips per host (1 / {n}) | CPU 1 host | CPU {n} hosts"
          f" | floor {n} / 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")

    def row(name: str, one: Run, many: Run) -> None:
        print(f"| {name} | {one.seconds:.1f} s | {many.seconds:.1f} s | {many.seconds / one.seconds:.2f}"
              f" | {per_host(one.commands)} / {per_host(many.commands)}"
              f" | {one.controller_cpu:.1f} + {one.hosts_cpu:.1f} s | {many.controller_cpu:.1f} + {many.hosts_cpu:.1f} s"
              f" | {many.cpu / cores / one.seconds:.2f} |")

    for name, by_count in rows.items():
        row(name, by_count[1], by_count[n])
    row(f"{n}-host no-op: invoke (left) / ansible-playbook -f {n} (right)", rows["no-op rerun"][n], noop_ansible)
    print(f"emulated Jetson (nano, qemu): the probe takes {probe:.1f} s of a {whole:.1f} s `invoke detect`")


if __name__ == "__main__":
    main()
