# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plugin cross-built on this controller against a native build on an emulated aarch64
device (qemu-user), and the ratio.

    python bench/cross_build.py [--sms 110] [--native-seconds 300] [--jobs N] [--json OUT]

Cross: provision.cross builds NVIDIA's TensorRT OSS release/10.16 `nvinfer_plugin` (the bundle:
../shared/upstreams/ or DSPROV_TRT_BUNDLE) for the SMs, configure and build timed whole, and then
compiles its C++ translation units (from CMake's compile_commands.json) one at a time, side by
side: each unit by the arm64 device root's own g++ (the simulated fleet's bookworm-arm64 root,
under qemu-user through binfmt, chrooted into an overlay of that root with the tree bind-mounted at
the same path), then by the cross compiler, until the time box ends; the rate is printed, and the
whole C++ part extrapolated when it does not finish. The CUDA units are not
compiled natively: the device root has no aarch64 nvcc (a Jetson gets its own from JetPack), so
the ratio is for host C++ code only. Needs root (mounts, chroot).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provision.cross import build, toolchain  # noqa: E402
from simfleet.roots import Recipe, build_root  # noqa: E402
from simfleet.upstreams import trt_debs  # noqa: E402

TREE = trt_debs.TREE_10_16


def cross_build(work: Path, sms: list[int], jobs: int) -> tuple[build.CrossBuild, float]:
    bundle = TREE.bundle_path()
    if not bundle.is_file():
        sys.exit(f"error: no TensorRT bundle at {bundle} (set {TREE.env})")
    check = toolchain.check(work / "cache")
    if not check.supports(sms):
        sys.exit("error: " + "\n".join(check.lines()))
    prepared = toolchain.prepare(check, work / "cache")
    subprocess.run(["git", "clone", "-q", "--depth", "1", "-b", TREE.ref, str(bundle), str(work / "src")], check=True)
    stubs = work / "stubs"
    m, xyz = TREE.major, TREE.library_version
    toolchain.stub_library(TREE.recorded_exports(), f"libnvinfer.so.{m}", stubs / f"libnvinfer.so.{xyz}", prepared.cc)
    (stubs / f"libnvinfer.so.{m}").symlink_to(f"libnvinfer.so.{xyz}")
    (stubs / "libnvinfer.so").symlink_to(f"libnvinfer.so.{m}")
    spec = build.cross_build(work / "src", work / "src" / "build", sms, prepared, stubs, jobs)
    started = time.monotonic()
    build.run(spec, work / "cross.log")
    return spec, time.monotonic() - started


def cxx_units(spec: build.CrossBuild) -> list[dict]:
    """The plugin's C++ compile commands (CMake writes them with CMAKE_EXPORT_COMPILE_COMMANDS)."""
    subprocess.run(["cmake", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", str(spec.build)], check=True, capture_output=True)
    entries = json.loads((spec.build / "compile_commands.json").read_text())
    return [e for e in entries if e["file"].endswith(".cpp") and "/plugin/" in e["file"]]


def _argv(entry: dict, compiler: str, out: Path) -> list[str]:
    argv = shlex.split(entry["command"])
    argv[0] = compiler
    at = argv.index("-o")
    argv[at + 1] = str(out / (Path(entry["file"]).name + ".o"))
    return argv


def time_pairs(units: list[dict], native, cross, box: float) -> list[tuple[float, float]]:
    """(native, cross) seconds per unit: each unit natively, then by the cross compiler, side by side
    (a change in the shared machine's load falls on both alike), until ``box`` seconds have passed."""
    took, started = [], time.monotonic()
    for entry in units:
        if time.monotonic() - started >= box:
            break
        pair = []
        for run in (native, cross):
            t = time.monotonic()
            run(entry)
            pair.append(time.monotonic() - t)
        took.append((pair[0], pair[1]))
    return took


def native_runner(work: Path, spec: build.CrossBuild, toolkit: Path):
    """Run a unit's compile in an overlay of the arm64 root (private mount namespace)."""
    root = build_root(Recipe("arm64"))
    shared = [spec.src, spec.toolchain_file.parent, toolkit.resolve(), work / "native-out"]
    (work / "native-out").mkdir(exist_ok=True)
    for name in ("upper", "work", "merged"):
        (work / "overlay" / name).mkdir(parents=True, exist_ok=True)
    o = work / "overlay"
    setup = (f"mount -t overlay overlay -o lowerdir={root},upperdir={o}/upper,workdir={o}/work {o}/merged && "
             + " && ".join(f"mkdir -p {o}/merged{p} && mount --bind {p} {o}/merged{p}" for p in shared))

    def run(entry: dict) -> None:
        inner = f"cd {shlex.quote(entry['directory'])} && {shlex.join(_argv(entry, '/usr/bin/g++', work / 'native-out'))}"
        script = f"{setup} && chroot {o}/merged sh -c {shlex.quote(inner)}"
        subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       check=True, capture_output=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", default="110")
    parser.add_argument("--native-seconds", type=float, default=300.0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("error: the native half needs root (mount namespace, overlay, chroot)")
    sms = [int(s) for s in args.sms.split()]
    with tempfile.TemporaryDirectory(prefix="cross-bench-") as tmp:
        work = Path(tmp)
        spec, cross_seconds = cross_build(work, sms, args.jobs)
        units = cxx_units(spec)
        (work / "cross-out").mkdir()
        cxx = toolchain.check(work / "cache").cxx
        pairs = time_pairs(units, native_runner(work, spec, Path("/usr/local/cuda")), lambda e: subprocess.run(
            _argv(e, cxx, work / "cross-out"), cwd=e["directory"], check=True, capture_output=True), args.native_seconds)
        native_each, cross_each = [p[0] for p in pairs], [p[1] for p in pairs]
        n = len(pairs)
    cross_same = sum(cross_each)
    result = {
        "sms": sms, "jobs": args.jobs, "cross_build_seconds": round(cross_seconds, 1),
        "cxx_units": len(units), "cross_seconds_same_units": round(cross_same, 1),
        "native_units_done": n, "native_seconds": round(sum(native_each), 1),
        "native_units_per_minute": round(60 * n / sum(native_each), 2) if n else 0.0,
        "native_over_cross_same_units": round(sum(native_each) / cross_same, 1) if n else None,
        "native_cxx_seconds_extrapolated": round(sum(native_each) / n * len(units)) if n else None,
        "finished": n == len(units),
    }
    print(f"cross build (configure + build, -j{args.jobs}, SM {args.sms}): {result['cross_build_seconds']} s")
    print(f"native g++ under qemu-user, {args.native_seconds:.0f} s box: {n}/{len(units)} C++ units,"
          f" {result['native_seconds']} s ({result['native_units_per_minute']} per minute);"
          f" the cross compiler on the same units, each right after its native compile: {result['cross_seconds_same_units']} s")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"native / cross on the same units: {result['native_over_cross_same_units']};"
          f" all {len(units)} C++ units natively, one at a time (extrapolated): {result['native_cxx_seconds_extrapolated']} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
