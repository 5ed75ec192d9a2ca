# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's no-op against Ansible's own floor and against invoke, on --hosts (default 50)
identical hosts, interleaved in one run.

One fresh simulated fleet of x86 `t4` devices (one build key) with a cold controller cache,
provisioned once (`invoke provision --force`); then --rounds rounds, each running, in an order that
turns each round:

- invoke: `invoke provision --hosts all --forks N` (a no-op: the probe, one round trip per host);
- ansible-playbook: `ansible-playbook -f N playbooks/provision.yml` (the same no-op);
- ansible raw: `ansible all -f N -m raw -a PROBE`, the same probe as one command line (what Ansible
  cannot go below for one command per host: no module, no Python on the host), with connection
  reuse (OpenSSH's ControlPersist, Ansible's default) and without (`ControlMaster=no`).

With --baseline CHECKOUT (another checkout of dsprov, e.g. main's: `git worktree add /tmp/main
main`), its ansible-playbook runs in the same rounds as "ansible-playbook (baseline)": its
playbooks and its provision package (first on PYTHONPATH), this checkout's Ansible; a change is
measured against what it changes, side by side.

Ansible's ControlPersist masters are warmed by an untimed `ansible -m raw -a true` before each
command that reuses them (a second run within ControlPersist's 60 s), and their CPU is counted with
Ansible's. Each figure is the median of the rounds with its min-max; the load average (1 min) is
read before each command. Needs root; takes a few minutes.

    .venv/bin/python bench/ansible_vs_invoke.py [--hosts 50] [--rounds 3] [--baseline CHECKOUT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from fleet_scale import (  # bench/fleet_scale.py (this script's folder is first on sys.path)
    BIN,
    RECAP_ROW,
    ansible_playbook,
    Probe,
    Run,
    checked,
    env,
    fleet_file,
    invoke,
    measured,
    median_of,
    probe_of,
    ratios,
    served_fleet,
    spread,
)
from simfleet.fleet import FleetHandle


def masters_cpu(control_dir: Path) -> float:
    """CPU seconds of the OpenSSH ControlPersist masters under `control_dir` (daemons: no process
    of this bench waits for them, so RUSAGE_CHILDREN does not count them)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(control_dir).encode() in (entry / "cmdline").read_bytes():
                ticks += sum(int(v) for v in (entry / "stat").read_text().rsplit(")", 1)[1].split()[11:13])
        except OSError:
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def with_masters(control_dir: Path, run: Callable[[], Run]) -> Run:
    """`run`, its Ansible CPU counted with that of the ControlPersist masters it used."""
    before = masters_cpu(control_dir)
    result = run()
    return Run(result.seconds, result.commands, result.controller_cpu + masters_cpu(control_dir) - before,
               result.hosts_cpu, result.load)


def ansible_raw(handle: FleetHandle, cache: Path, command: str, **extra: str) -> Run:
    """`ansible all -f N -m raw -a COMMAND`; every host must answer."""
    argv = [str(BIN / "ansible"), "all", "-i", str(handle.inventory), "-f", str(len(handle.devices)), "-m", "raw",
            "-a", command]
    seconds, out, controller, hosts, load = measured(handle, lambda: checked(argv, env(handle, cache, **extra)))
    answered = out.count("| CHANGED | rc=0 >>")
    if answered != len(handle.devices):
        raise SystemExit(f"ansible raw: {answered} of {len(handle.devices)} hosts answered:\n{out[-2000:]}")
    return Run(seconds, [1] * len(handle.devices), controller, hosts, load)


def baseline_playbook(handle: FleetHandle, cache: Path, checkout: Path, **extra: str) -> Run:
    """`ansible-playbook -f N playbooks/provision.yml` of another checkout (its playbooks, its
    provision package), and each host's round trips."""
    argv = [str(BIN / "ansible-playbook"), "-f", str(len(handle.devices)), "-i", str(handle.inventory),
            "playbooks/provision.yml"]
    environ = {**env(handle, cache, **extra), "PYTHONPATH": str(checkout)}

    def run() -> str:
        result = subprocess.run(argv, cwd=checkout, env=environ, capture_output=True, text=True, timeout=3600)
        if result.returncode:
            raise SystemExit(f"baseline ansible-playbook failed ({result.returncode}):\n{result.stdout[-3000:]}")
        return result.stdout

    seconds, out, controller, hosts, load = measured(handle, run)
    recap = out.split("DSPROV RECAP", 1)[1].splitlines()
    commands = [int(m.group(2)) for line in recap if (m := RECAP_ROW.match(line))]
    if len(commands) != len(handle.devices):
        raise SystemExit(f"baseline: {len(commands)} recap rows for {len(handle.devices)} hosts:\n{out[-3000:]}")
    return Run(seconds, commands, controller, hosts, load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout whose ansible-playbook runs in the same rounds")
    args = parser.parse_args()
    n = args.hosts
    with tempfile.TemporaryDirectory(prefix="dsprov-ansible-") as tmp:
        folder = Path(tmp)
        control = folder / "cp"  # Ansible's ControlPath folder for this bench alone
        reuse = {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(control)}
        no_reuse = {**reuse, "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=no"}  # Ansible's default, less the reuse
        with served_fleet(fleet_file(folder, "ansible-noop", "t4", n), folder / "run") as handle:
            cache = folder / "cache"
            invoke(handle, cache, "--force")
            probe: Probe = probe_of(handle, cache)

            def warm_then(run: Callable[[], Run]) -> Callable[[], Run]:
                def measured_warm() -> Run:
                    ansible_raw(handle, cache, "true", **reuse)  # the masters up (untimed)
                    return with_masters(control, run)
                return measured_warm

            tools: dict[str, Callable[[], Run]] = {
                "invoke": lambda: invoke(handle, cache),
                "ansible-playbook": warm_then(lambda: ansible_playbook(handle, cache, **reuse)),
                "ansible raw, reuse": warm_then(lambda: ansible_raw(handle, cache, probe.inline, **reuse)),
                "ansible raw, no reuse": lambda: ansible_raw(handle, cache, probe.inline, **no_reuse),
            }
            if args.baseline:
                baseline = args.baseline.resolve()
                tools["ansible-playbook (baseline)"] = warm_then(
                    lambda: baseline_playbook(handle, cache, baseline, **reuse))
            runs: dict[str, list[Run]] = {name: [] for name in tools}
            names = list(tools)
            for round_no in range(args.rounds):
                for name in names[round_no % len(names):] + names[:round_no % len(names)]:
                    runs[name].append(tools[name]())
                print(f"round {round_no + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    loads = [r.load for rs in runs.values() for r in rs]
    print(f"{dt.date.today()}, {os.cpu_count()} cores, {n} x86 `t4` hosts, the no-op (one probe per host), medians of"
          f" {args.rounds} rounds (min-max); load average (1 min) {min(loads):.1f}-{max(loads):.1f} during the run")
    base = runs.get("ansible-playbook (baseline)")
    print("| run | wall | ansible-playbook / it |" + (" baseline / it |" if base else "") + " CPU tool + hosts |")
    print("| --- | --- | --- |" + (" --- |" if base else "") + " --- |")
    for name, rs in runs.items():
        print(f"| {name} | {spread([r.seconds for r in rs])} | {ratios(runs['ansible-playbook'], rs)} |"
              + (f" {ratios(base, rs)} |" if base else "")
              + f" {median_of(rs, 'controller_cpu'):.1f} + {median_of(rs, 'hosts_cpu'):.1f} s |")


if __name__ == "__main__":
    main()
