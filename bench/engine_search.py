"""The engine search and a home folder of many files: detect and a no-op rerun of a host whose home
holds --files files (default 100,000), before (the home searched: `dsprov_engine_roots` lists `~`
beside DeepStream's samples, as the default did until issue 21) and after (the default: the
samples folder alone), side by side, as ratios.

One fresh simulated x86 device (profile `t4`) with its own cold controller cache; its home gets
--files files in 100 folders, one in ten a `*.txt` (the search reads those), and one first
provision. Then per setting, --rounds times each, the median: detect (`provision --dry-run`: the
probe, which runs the search, and the plan) and the no-op rerun (`provision`). Needs root; takes a
few minutes.

    .venv/bin/python bench/engine_search.py [--files 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simfleet.fleet import FleetHandle  # noqa: E402
from simfleet.mirror import served_fleet  # noqa: E402

HOST = "t4-01"
SAMPLES = "/opt/nvidia/deepstream/deepstream/samples"
SETTINGS = {"before (home searched)": f"dsprov_engine_roots: [{SAMPLES}, '~']\n", "after (default)": ""}
# 100 folders of files, one in ten a .txt of a few words (the search greps each *.txt it finds)
FILL = """set -e
mkdir -p "$HOME/files" && cd "$HOME/files"
per=$(( $1 / 100 ))
for d in $(seq 1 100); do
    mkdir -p "d$d" && cd "d$d"
    seq 1 "$per" | while read -r i; do
        if [ $((i % 10)) -eq 0 ]; then echo "notes $i" > "n$i.txt"; else : > "f$i.jpg"; fi
    done
    cd ..
done
find "$HOME/files" -type f | wc -l
"""


def provision(handle: FleetHandle, inventory_path: Path, cache: Path, *args: str) -> tuple[float, dict]:
    """Seconds of `invoke provision --host HOST ARGS --json`, and its report."""
    argv = [sys.executable, "-m", "invoke", "provision", "--host", HOST, *args, "--json", "-i", str(inventory_path)]
    environ = {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache)}
    started = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - started
    if result.returncode:
        raise SystemExit(f"provision {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    (report,) = json.loads(result.stdout)
    return seconds, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="dsprov-engine-search-") as tmp:
        folder = Path(tmp)
        fleet = folder / "fleet.yml"
        fleet.write_text(f"name: bench-search\ndevices:\n  - {{name: {HOST}, profile: t4}}\n")
        with served_fleet(fleet, folder / "run") as handle:
            fill = subprocess.run([*handle.ssh_command(HOST), f"sh -s -- {args.files}"], input=FILL, text=True,
                                  capture_output=True, timeout=3600)
            if fill.returncode:
                raise SystemExit(f"filling the home failed: {fill.stderr}")
            print(f"{HOST}: {fill.stdout.strip()} files in its home", file=sys.stderr, flush=True)
            cache = folder / "cache"
            inventories = {name: handle.inventory_with(folder / f"inventory{i}", HOST, host_vars)
                           for i, (name, host_vars) in enumerate(SETTINGS.items())}
            provision(handle, inventories["after (default)"], cache)  # the first provision: a build
            for name, path in inventories.items():
                detect = [provision(handle, path, cache, "--dry-run")[0] for _ in range(args.rounds)]
                reruns = [provision(handle, path, cache) for _ in range(args.rounds)]
                changed = [s["name"] for _, r in reruns for s in r["steps"] if s["status"] == "changed"]
                if changed:
                    raise SystemExit(f"{name}: the rerun changed {changed}: not a no-op")
                times[name] = {"detect": statistics.median(detect),
                               "no-op rerun": statistics.median(s for s, _ in reruns)}
    before, after = times
    print(f"{dt.date.today()}, {os.cpu_count()} cores, one x86 `t4` device whose home holds {args.files:,} files,"
          f" medians of {args.rounds}")
    print(f"| run | {before} | {after} | before / after |")
    print("| --- | --- | --- | --- |")
    for run in ("detect", "no-op rerun"):
        print(f"| {run} | {times[before][run]:.1f} s | {times[after][run]:.1f} s"
              f" | {times[before][run] / times[after][run]:.1f} |")


if __name__ == "__main__":
    main()
