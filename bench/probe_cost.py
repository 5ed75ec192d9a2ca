# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host CPU of one warm no-op probe, per section and in total, against issue 26's target (0.03 s
on the t4 profile, deviceQuery's first run apart).

One fresh simulated x86 device (profile `t4`), one first provision (deviceQuery compiled and run,
the engine search's caches filled, the state file written); then --probes runs of the probe exactly
as a no-op rerun sends it (provision/detect.py's probe_script, the default build folder and engine
roots), in one ssh session on the device, each under the device's /bin/sh. Each section's CPU is the
change in the probe shell's `times` (its own user + system CPU and its children's) from the start of
that section to the next (the kernel counts CPU in 10 ms ticks: each section's is a mean over all
probes); the total is the outer shell's children's CPU (the login shell, bash on t4: getrusage's exact
figures) divided by --probes, of the probe as it is sent (not instrumented), the shell's start included. Prints the median per section (with min-max over the probes, the sections
of > 1 ms first), the total, the target and the load average before and after. Needs root; about
four minutes with the fleet's start.

    .venv/bin/python bench/probe_cost.py [--probes 30] [--ssh 'ssh -p PORT ... user@host']

--ssh measures a device already running and provisioned (a fleet of your own) instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provision.capabilities.engines import DEFAULT_ROOTS  # noqa: E402
from provision.detect import probe_script  # noqa: E402
from provision.options import DEFAULT_BUILD_DIR  # noqa: E402

HOST = "t4-01"
TARGET = 0.03  # host CPU seconds per warm no-op probe (issue 26)
SECTION = "section() { printf '\\n==> %s <==\\n' \"$1\"; }"
# Each section's start logged to fd 9: a `@ NAME` line after the shell's `times` (two lines: the shell's
# user and system CPU, its children's)
TIMED = "section() { times >&9; printf '@ %s\\n' \"$1\" >&9; printf '\\n==> %s <==\\n' \"$1\"; }"
# the instrumented probe --probes times, each log headed `@@`, then the logs and the outer shell's `times`
RUNS = ('d=$(mktemp -d) && cat > "$d/p" && i=0; while [ $i -lt {n} ]; do echo @@ >> "$d/t"; '
        'sh "$d/p" {args} > /dev/null 9>> "$d/t"; i=$((i + 1)); done; times > "$d/total"; '
        'cat "$d/t"; echo @@@; cat "$d/total"; rm -rf "$d"')
TIMES = re.compile(r"(\d+)m([\d.]+)s")


def instrumented() -> str:
    """The probe with each section's start logged (`times`, a builtin: no process of its own)."""
    script = probe_script()
    if SECTION not in script:
        raise SystemExit("probe.sh's section() is not the one this bench instruments")
    return script.replace(SECTION, TIMED, 1) + "\ntimes >&9; echo '@ (end)' >&9\n"


def seconds(line: str) -> float:
    """The CPU seconds of one `times` line (user + system)."""
    return sum(int(m) * 60 + float(s) for m, s in TIMES.findall(line))


def parse_runs(log: str) -> tuple[list[dict[str, float]], float]:
    """Per probe: each section's CPU seconds (none for a probe not instrumented); and the outer shell's
    children's CPU in all."""
    body, total = log.split("@@@\n")
    runs: list[dict[str, float]] = []
    for run in body.split("@@\n")[1:]:
        lines = run.splitlines()
        sections: dict[str, float] = {}
        name, last = "(start)", 0.0
        for i in range(0, len(lines) - 2, 3):  # two lines of `times`, then `@ NAME`
            spent = seconds(lines[i]) + seconds(lines[i + 1])
            sections[name] = sections.get(name, 0.0) + spent - last
            name, last = lines[i + 2][2:], spent
        runs.append(sections)
    return runs, seconds(total.splitlines()[-1])


def measure(ssh: list[str], count: int) -> tuple[list[dict[str, float]], float]:
    """`count` warm no-op probes on the device, instrumented (each section's CPU), then `count` as they
    are sent (the mean total: the instrumented ones cost a little more)."""
    args = " ".join(shlex.quote(a) for a in (DEFAULT_BUILD_DIR, *(f"r:{r}" for r in DEFAULT_ROOTS)))
    logs = []
    for script in (instrumented(), probe_script()):
        result = subprocess.run([*ssh, RUNS.format(n=count, args=args)], input=script,
                                capture_output=True, text=True, timeout=1800)
        if result.returncode or "@@@" not in result.stdout:
            raise SystemExit(f"the probes failed: {result.stdout[-500:]}{result.stderr[-500:]}")
        logs.append(parse_runs(result.stdout))
    (runs, _), (_, total) = logs
    return runs, total / count


def report(runs: list[dict[str, float]], totals: list[float]) -> str:
    """Each section's mean (the clock ticks are 10 ms: a median of one probe's section says nothing),
    the heaviest first; the total's median over the rounds, with min and max."""
    names = list(dict.fromkeys(n for r in runs for n in r))
    mean = {n: sum(r.get(n, 0.0) for r in runs) / len(runs) for n in names}
    lines = [f"{'section':<22} {'mean ms':>8}"]
    heavy = [n for n in sorted(names, key=lambda n: -mean[n]) if mean[n] >= 0.0005]
    lines += [f"{n:<22} {mean[n] * 1000:8.1f}" for n in heavy]
    rest = [n for n in names if n not in heavy]
    lines.append(f"{len(rest)} other sections: < 0.5 ms each, {sum(mean[n] for n in rest) * 1000:.1f} ms together")
    lines.append(f"sum of the sections: {sum(mean.values()):.3f} s")
    total = statistics.median(totals)
    verdict = "met" if total <= TARGET else "NOT met"
    lines.append(f"host CPU per warm no-op probe, the shell's start included (median of {len(totals)} rounds of "
                 f"{len(runs) // len(totals)}; min-max {min(totals):.3f}-{max(totals):.3f}): {total:.3f} s"
                 f" -- target <= {TARGET} s: {verdict}")
    return "\n".join(lines)


def provisioned_device(folder: Path, stack: contextlib.ExitStack) -> list[str]:
    """A one-device t4 fleet (left with `stack`), provisioned once; its ssh command."""
    from simfleet.mirror import served_fleet

    fleet = folder / "fleet.yml"
    fleet.write_text(f"name: bench-probe\ndevices:\n  - {{name: {HOST}, profile: t4}}\n")
    handle = stack.enter_context(served_fleet(fleet, folder / "run"))
    argv = [sys.executable, "-m", "invoke", "provision", "--host", HOST, "-i", str(handle.inventory)]
    environ = {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(folder / "cache")}
    result = subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise SystemExit(f"the first provision failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return handle.ssh_command(HOST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=20, help="probes per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ssh", help="the ssh command of a device already running and provisioned")
    args = parser.parse_args()
    load_before = os.getloadavg()
    runs: list[dict[str, float]] = []
    totals: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dsprov-probe-cost-") as tmp, contextlib.ExitStack() as stack:
        ssh = shlex.split(args.ssh) if args.ssh else provisioned_device(Path(tmp), stack)
        measure(ssh, 2)  # warm: the page cache, the caches' first fill after the provision
        for _ in range(args.rounds):
            these, total = measure(ssh, args.probes)
            runs += these
            totals.append(total)
    print(report(runs, totals))
    print(f"load average before / after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f} (2-core machine)")


if __name__ == "__main__":
    main()
