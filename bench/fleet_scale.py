# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""One host against fifty: wall time, round trips per host and CPU of detect, a no-op rerun and a
cold `--force` provision, and the fifty-host no-op against the same probe run by its peers: plain
OpenSSH (the algorithms paramiko negotiates) and pyinfra `exec`. Interleaved in one run, medians.

Two fresh simulated fleets of identical x86 devices (profile `t4`: one build key), one of 1 device
and one of --hosts (default 50), each with its own cold controller cache; every device shares one
base root (simfleet/roots.py), so a device costs its overlay's upper folder and one sshd. First the
cold `--force` provision of each (one host builds, the others copy), then --rounds rounds; each
round runs, alternating the fleets (1, N, 1, N ...): detect (`provision --dry-run`: the probe and
the plan) and the no-op rerun (--forks N); then on the N fleet, in an order that turns each round,
the no-op through invoke and the probe alone (`sh -s -- ARGS`, the script on stdin, exactly as
invoke sends it) through

- OpenSSH, N `ssh` clients at once with curve25519-sha256, aes128-ctr and hmac-sha2-256 (what
  paramiko negotiates with the devices' sshd: `Transport.kex_engine`, `local_cipher`, `local_mac`)
  and no connection reuse, as invoke has none;
- pyinfra `exec` (`--parallel N`), from its own virtual environment (--pyinfra; not a dependency
  of the product: `python -m venv /tmp/pyinfra && /tmp/pyinfra/bin/pip install pyinfra`), skipped
  where there is none.

Each figure is the median of the rounds with its min-max; the load average (1 min) is read before
each command. Needs root; takes a few minutes.

    .venv/bin/python bench/fleet_scale.py [--hosts 50] [--rounds 3] [--pyinfra /tmp/pyinfra/bin/pyinfra]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simfleet.fleet import FleetHandle  # noqa: E402
from simfleet.mirror import served_fleet  # noqa: E402

BIN = Path(sys.executable).parent
RECAP_ROW = re.compile(r"^(\S+)\s+ok\s.*?\s\d+\.\ds\s+(\d+)\s")  # host ... time commands message
OPENSSH_ALGORITHMS = ("-o", "KexAlgorithms=curve25519-sha256", "-o", "Ciphers=aes128-ctr",
                      "-o", "MACs=hmac-sha2-256", "-o", "ControlMaster=no", "-o", "ControlPath=none")


@dataclass(frozen=True)
class Run:
    seconds: float
    commands: list[int]  # round trips per host
    controller_cpu: float  # CPU seconds of the tool's processes (invoke, ssh clients, ansible and its forks)
    hosts_cpu: float  # CPU seconds of the devices' processes (sshd, the probe, the steps' commands)
    load: float  # the 1-minute load average when it started

    @property
    def cpu(self) -> float:
        return self.controller_cpu + self.hosts_cpu


@dataclass(frozen=True)
class Probe:
    """The probe exactly as invoke sends it to every host of the fleet (one profile, one setting)."""

    command: str  # `sh -s -- BUILD_DIR SEARCH...`
    script: str  # its stdin

    @property
    def inline(self) -> str:
        """The same as one command line (for tools that send no stdin): the script base64-encoded
        into `echo B64 | base64 -d | sh -s -- ARGS`. Quoted as `sh -c SCRIPT` instead, its nested
        quotes grow past the 128 KiB Linux allows one argument (MAX_ARG_STRLEN, execve(2)), and
        ssh cannot start; the decode costs the host one process start."""
        encoded = base64.b64encode(self.script.encode()).decode()
        return f"echo {encoded} | base64 -d | {self.command}"


def probe_of(handle: FleetHandle, cache: Path) -> Probe:
    """The probe invoke runs on the fleet's hosts: provision/detect.py's script and arguments for the
    first host's settings and the provision job's engine search."""
    os.environ["DSPROV_CACHE"] = str(cache)
    from provision.artifacts import ArtifactStore
    from provision.detect import probe_script
    from provision.inventory import Inventory
    from provision.matrix import Matrix
    from provision.options import DEFAULT_BUILD_DIR, Flags
    from provision.provisioner import provision_job
    from provision.runners.base import script_command

    inventory = Inventory(str(handle.inventory))
    settings = inventory.host(handle.devices[0].name).settings
    job = provision_job(settings, Flags(), Matrix.load(), ArtifactStore())
    return Probe(script_command(settings.build_dir or DEFAULT_BUILD_DIR, *job.config_search), probe_script())


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


def load_average() -> float:
    return os.getloadavg()[0]


def fleet_file(folder: Path, name: str, profile: str, count: int) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(f"name: {name}\ndevices:\n"
                    + "".join(f"  - {{name: {profile}-{i:02d}, profile: {profile}}}\n" for i in range(1, count + 1)))
    return path


def env(handle: FleetHandle, cache: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache),
            "ANSIBLE_NOCOLOR": "1", **extra}


def measured(handle: FleetHandle, work: Callable[[], str]) -> tuple[float, str, float, float, float]:
    """(seconds, output, controller CPU seconds, hosts' CPU seconds, load average) of `work`, which
    runs its commands as child processes of this one."""
    load = load_average()
    controller, hosts = children_cpu(), fleet_cpu(handle)
    started = time.monotonic()
    out = work()
    seconds = time.monotonic() - started
    return seconds, out, children_cpu() - controller, fleet_cpu(handle) - hosts, load


def checked(argv: list[str], environ: dict[str, str], both: bool = False) -> str:
    """The command's stdout (`both`: and its stderr); a failure ends the bench."""
    result = subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout + (result.stderr if both else "")


def invoke(handle: FleetHandle, cache: Path, *args: str) -> Run:
    """`invoke provision --hosts all ARGS --json`, and each host's round trips."""
    argv = [sys.executable, "-m", "invoke", "provision", "--hosts", "all", "--forks", str(len(handle.devices)),
            *args, "--json", "-i", str(handle.inventory)]
    seconds, out, controller, hosts, load = measured(handle, lambda: checked(argv, env(handle, cache)))
    reports = json.loads(out)["hosts"]  # the provision document (provision/schemas/provision.schema.json)
    bad = [r for r in reports if r["result"] not in ("ok", "planned")]
    if bad:
        raise SystemExit(f"not ok: {bad[0]['host']}: {bad[0]['message']}")
    return Run(seconds, [r["commands"] for r in reports], controller, hosts, load)


def ansible_playbook(handle: FleetHandle, cache: Path, **extra: str) -> Run:
    """`ansible-playbook -f N playbooks/provision.yml`, and each host's round trips (the DSPROV
    RECAP's commands column)."""
    argv = [str(BIN / "ansible-playbook"), "-f", str(len(handle.devices)), "-i", str(handle.inventory),
            "playbooks/provision.yml"]
    seconds, out, controller, hosts, load = measured(handle, lambda: checked(argv, env(handle, cache, **extra)))
    recap = out.split("DSPROV RECAP", 1)[1].splitlines()
    commands = [int(m.group(2)) for line in recap if (m := RECAP_ROW.match(line))]
    if len(commands) != len(handle.devices):
        raise SystemExit(f"ansible-playbook: {len(commands)} recap rows for {len(handle.devices)} hosts:\n{out[-3000:]}")
    return Run(seconds, commands, controller, hosts, load)


def _probed(name: str, out: str) -> str:
    if "==> uname_m <==" not in out:
        raise SystemExit(f"{name}: the probe did not run:\n{out[-2000:]}")
    return out


def openssh(handle: FleetHandle, probe: Probe) -> Run:
    """The probe on every host at once, one `ssh` client each, paramiko's algorithms, no reuse."""

    def one(name: str) -> str:
        *client, target = handle.ssh_command(name)
        result = subprocess.run([*client, *OPENSSH_ALGORITHMS, target, probe.command], input=probe.script,
                                capture_output=True, text=True, timeout=600)
        if result.returncode:
            raise SystemExit(f"ssh {name} failed ({result.returncode}): {result.stderr[-2000:]}")
        return _probed(f"ssh {name}", result.stdout)

    def work() -> str:
        with ThreadPoolExecutor(max_workers=len(handle.devices)) as pool:
            return "".join(pool.map(one, [d.name for d in handle.devices]))

    seconds, _, controller, hosts, load = measured(handle, work)
    return Run(seconds, [1] * len(handle.devices), controller, hosts, load)


def pyinfra_inventory(handle: FleetHandle, folder: Path) -> Path:
    """A pyinfra inventory of the fleet: the same address, port, user, key and known_hosts."""
    path = folder / "pyinfra_inventory.py"
    hosts = [(d.name, {"ssh_hostname": d.address, "ssh_port": d.port, "ssh_user": d.profile.user,
                       "ssh_key": str(handle.key), "ssh_known_hosts_file": str(handle.runtime_dir / "known_hosts"),
                       "ssh_strict_host_key_checking": "yes"}) for d in handle.devices]
    path.write_text(f"hosts = {hosts!r}\n")
    return path


def pyinfra(handle: FleetHandle, tool: Path, inventory: Path, probe: Probe) -> Run:
    """`pyinfra --parallel N INVENTORY exec -- PROBE` (the probe as one command line)."""
    argv = [str(tool), "-y", "--parallel", str(len(handle.devices)), str(inventory), "exec", "--", probe.inline]
    seconds, out, controller, hosts, load = measured(handle, lambda: _probed("pyinfra", checked(argv, dict(os.environ), both=True)))
    return Run(seconds, [1] * len(handle.devices), controller, hosts, load)


def per_host(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}-{high}"


def spread(values: list[float], unit: str = " s", digits: int = 1) -> str:
    """`median (min-max)`."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{unit}"
    return f"{statistics.median(values):.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def median_of(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def ratios(over: list[Run], under: list[Run]) -> str:
    """The median of the rounds' ratios (each round's pair ran side by side), with min-max."""
    return spread([a.seconds / b.seconds for a, b in zip(over, under, strict=True)], unit="", digits=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pyinfra", type=Path, default=Path("/tmp/pyinfra/bin/pyinfra"),
                        help="pyinfra's command, from a virtual environment of its own")
    args = parser.parse_args()
    n, cores = args.hosts, os.cpu_count() or 1
    rows: dict[str, dict[int, list[Run]]] = {"detect": {1: [], n: []}, "no-op rerun": {1: [], n: []},
                                             "cold --force": {1: [], n: []}}
    peers: dict[str, list[Run]] = {"invoke": [], "OpenSSH": [], "pyinfra": []}
    if not args.pyinfra.is_file():
        print(f"no pyinfra at {args.pyinfra}: its row is left out", file=sys.stderr)
        del peers["pyinfra"]
    with tempfile.TemporaryDirectory(prefix="dsprov-scale-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        handles = {count: stack.enter_context(served_fleet(fleet_file(folder, f"scale{count}", "t4", count),
                                                           folder / f"run{count}")) for count in (1, n)}
        caches = {count: folder / f"cache{count}" for count in (1, n)}
        for count in (1, n):
            rows["cold --force"][count].append(invoke(handles[count], caches[count], "--force"))
        probe = probe_of(handles[n], caches[n])
        tools: dict[str, Callable[[], Run]] = {
            "invoke": lambda: invoke(handles[n], caches[n]),
            "OpenSSH": lambda: openssh(handles[n], probe),
        }
        if "pyinfra" in peers:
            inventory = pyinfra_inventory(handles[n], folder)
            tools["pyinfra"] = lambda: pyinfra(handles[n], args.pyinfra, inventory, probe)
        for round_no in range(args.rounds):
            for name, flags in (("detect", ("--dry-run",)), ("no-op rerun", ())):
                for count in (1, n):  # A B A B ...
                    rows[name][count].append(invoke(handles[count], caches[count], *flags))
            names = list(tools)
            for name in names[round_no % len(names):] + names[:round_no % len(names)]:
                peers[name].append(tools[name]())
            print(f"round {round_no + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    loads = [r.load for runs in [*(r for by in rows.values() for r in by.values()), *peers.values()] for r in runs]
    print(f"{dt.date.today()}, {cores} cores, x86 `t4` devices, medians of {args.rounds} rounds (min-max; cold: one"
          f" run); load average (1 min) {min(loads):.1f}-{max(loads):.1f} during the run. CPU: seconds used by the tool"
          f" + by the hosts; floor: the {n}-host CPU spread over {cores} cores, over the 1-host time")
    print(f"| run | 1 host | {n} hosts | {n} / 1 | round trips per host (1 / {n}) | CPU 1 host | CPU {n} hosts"
          f" | floor {n} / 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, by_count in rows.items():
        one, many = by_count[1], by_count[n]
        print(f"| {name} | {spread([r.seconds for r in one])} | {spread([r.seconds for r in many])}"
              f" | {ratios(many, one)} | {per_host(one[0].commands)} / {per_host(many[0].commands)}"
              f" | {median_of(one, 'controller_cpu'):.1f} + {median_of(one, 'hosts_cpu'):.1f} s"
              f" | {median_of(many, 'controller_cpu'):.1f} + {median_of(many, 'hosts_cpu'):.1f} s"
              f" | {median_of(many, 'cpu') / cores / median_of(one, 'seconds'):.2f} |")
    print()
    print(f"The {n}-host probe, side by side in each round (invoke: the whole no-op; the others: the probe alone)")
    print(f"| tool | {n} hosts | invoke / tool | CPU tool + hosts |")
    print("| --- | --- | --- | --- |")
    for name, runs in peers.items():
        print(f"| {name} | {spread([r.seconds for r in runs])} | {ratios(peers['invoke'], runs)}"
              f" | {median_of(runs, 'controller_cpu'):.1f} + {median_of(runs, 'hosts_cpu'):.1f} s |")


if __name__ == "__main__":
    main()
