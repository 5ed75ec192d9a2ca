"""Wall time of `ansible-playbook playbooks/provision.yml` against `invoke provision` for the same
fleet, measured side by side in one run, as ratios.

Two identical fresh copies of the demo fleet (or --fleet FILE), one per tool, each with its own
cold controller cache; per round: first provision (`--force`, so every device that can be built
is), then a second run with nothing to change. Rounds alternate which tool goes first. Needs
root (the simulated fleet); takes a few minutes.

    .venv/bin/python bench/ansible_vs_invoke.py [--rounds 2] [--fleet FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simfleet.fleet import DEFAULT_FLEET, FleetHandle  # noqa: E402
from simfleet.mirror import served_fleet  # noqa: E402

BIN = Path(sys.executable).parent


def command(tool: str, handle: FleetHandle) -> list[str]:
    if tool == "invoke":
        return [sys.executable, "-m", "invoke", "provision", "--hosts", "all", "--force", "--json",
                "-i", str(handle.inventory)]
    return [str(BIN / "ansible-playbook"), "-i", str(handle.inventory), "playbooks/provision.yml",
            "-e", "dsprov_force=true"]


def timed(tool: str, handle: FleetHandle, cache: Path) -> float:
    """Seconds for one run; a refused host (Orin) is expected, a crash of the tool is not."""
    env = {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache),
           "ANSIBLE_NOCOLOR": "1"}
    started = time.monotonic()
    result = subprocess.run(command(tool, handle), cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    if result.returncode not in (0, 1, 2):  # 1/2: some host refused (invoke / ansible-playbook)
        raise SystemExit(f"{tool} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fleet", type=Path, default=DEFAULT_FLEET)
    args = parser.parse_args()
    print(f"{'round':<6} {'run':<8} {'invoke s':>9} {'ansible s':>10} {'ansible/invoke':>15}")
    for round_no in range(1, args.rounds + 1):
        order = ("invoke", "ansible") if round_no % 2 else ("ansible", "invoke")
        with tempfile.TemporaryDirectory(prefix="dsprov-bench-") as tmp, contextlib.ExitStack() as stack:
            handles = {tool: stack.enter_context(served_fleet(args.fleet, Path(tmp) / tool)) for tool in order}
            for run in ("first", "again"):
                seconds = {tool: timed(tool, handles[tool], Path(tmp) / f"cache-{tool}") for tool in order}
                print(f"{round_no:<6} {run:<8} {seconds['invoke']:>9.1f} {seconds['ansible']:>10.1f}"
                      f" {seconds['ansible'] / seconds['invoke']:>15.2f}", flush=True)


if __name__ == "__main__":
    main()
