# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time NVIDIA's real `nvinfer_plugin` build for the derived GPU architecture against
TensorRT's default architecture list, side by side in one run, and print the ratio.

    python bench/real_plugin_build.py [--bundle B] [--archs 90] [--jobs 16] [--json OUT] [--skip-default]

The source is the TensorRT OSS release/10.16 bundle (default ../shared/upstreams/..., or
DSPROV_TRT_BUNDLE), cloned once; both builds configure it as the tool does
(provision/capabilities/trt_oss.py: parsers and samples off, CUDA_VERSION from the toolkit) against
the stub libnvinfer of upstreams/trt_debs.py, one with `-DGPU_ARCHS=<derived>`, one without
(TensorRT's own default list), each in a fresh build folder, one after the other. `--archs`
defaults to what `detect` derives on this machine (deviceQuery, nvidia-smi, model table).
`--skip-default` times the derived build only (a smoke run on a small machine: the default
list takes about 17 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simfleet.upstreams import trt_debs  # noqa: E402

NVCC = "/usr/local/cuda/bin/nvcc"
TREE = trt_debs.TREE_10_16


def derived_archs() -> str:
    """GPU_ARCHS as `detect --host localhost` derives them here."""
    from provision.detect import analyse, capture
    from provision.runners import LocalRunner

    with tempfile.TemporaryDirectory() as tmp:
        detection = analyse("localhost", capture(LocalRunner(), tmp))
    if not detection.gpu_archs.archs:
        sys.exit("error: no GPU architecture derived here: pass --archs")
    return " ".join(detection.gpu_archs.archs)


def cuda_version() -> str:
    out = subprocess.run([NVCC, "--version"], capture_output=True, text=True, check=True).stdout
    return re.search(r"release (\d+\.\d+)", out).group(1)


def stub_lib_dir(bundle: Path, work: Path) -> Path:
    """The stub libnvinfer (.so link included) unpacked from the packages."""
    debs = trt_debs.build_debs(TREE, bundle, work / "debs")
    root = work / "trt-root"
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return next((root / "usr" / "lib").glob("*-linux-gnu"))


def build(src: Path, folder: Path, lib_dir: Path, cuda: str, jobs: int, archs: str | None) -> dict:
    """Configure and build `nvinfer_plugin`; the seconds of each and the architecture line."""
    flags = [f"-DTRT_LIB_DIR={lib_dir}", f"-DTRT_OUT_DIR={folder}/out", f"-DCMAKE_CUDA_COMPILER={NVCC}",
             f"-DCUDA_VERSION={cuda}", "-DBUILD_PARSERS=OFF", "-DBUILD_SAMPLES=OFF"]
    if archs:
        flags.insert(0, f"-DGPU_ARCHS={archs}")
    started = time.monotonic()
    conf = subprocess.run(["cmake", "-S", str(src), "-B", str(folder), *flags], capture_output=True, text=True)
    if conf.returncode:
        sys.exit(f"error: cmake configure failed:\n{conf.stdout[-3000:]}{conf.stderr[-3000:]}")
    configured = time.monotonic()
    made = subprocess.run(["cmake", "--build", str(folder), "--target", "nvinfer_plugin", "--", f"-j{jobs}"],
                          capture_output=True, text=True)
    if made.returncode:
        sys.exit(f"error: build failed:\n{made.stdout[-3000:]}{made.stderr[-3000:]}")
    done = time.monotonic()
    line = next(text for text in conf.stdout.splitlines() if "GPU_ARCHS" in text)
    library = next((folder / "out").glob("libnvinfer_plugin.so.*.*.*"))
    return {"archs": archs or "default", "cmake_line": line.removeprefix("-- "),
            "configure_s": round(configured - started, 1), "build_s": round(done - configured, 1),
            "library_bytes": library.stat().st_size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=lambda p: Path(p).resolve(), default=TREE.bundle_path())
    parser.add_argument("--archs", help="the derived GPU_ARCHS (default: as detect derives them here)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--skip-default", action="store_true", help="time the derived build only")
    args = parser.parse_args()
    if not args.bundle.is_file():
        print(f"error: no TensorRT bundle at {args.bundle} (--bundle or {TREE.env})", file=sys.stderr)
        return 2
    archs = args.archs or derived_archs()
    cuda = cuda_version()
    with tempfile.TemporaryDirectory(prefix="real-plugin-bench-") as tmp:
        work = Path(tmp)
        lib_dir = stub_lib_dir(args.bundle, work)
        src = work / "TensorRT"
        subprocess.run(["git", "clone", "-q", "--single-branch", "-b", TREE.ref, str(args.bundle), str(src)],
                       check=True)  # the bundle holds one commit
        rows = [build(src, work / "build-derived", lib_dir, cuda, args.jobs, archs)]
        if not args.skip_default:
            rows.append(build(src, work / "build-default", lib_dir, cuda, args.jobs, None))
    print(f"nvinfer_plugin, TensorRT OSS {TREE.ref}, CUDA {cuda}, -j{args.jobs}, {os.cpu_count()} CPUs")
    print("| GPU_ARCHS | configure | build | library | build / derived build |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['archs']} | {row['configure_s']:.1f} s | {row['build_s']:.1f} s |"
              f" {row['library_bytes'] / 1e6:.1f} MB | {row['build_s'] / rows[0]['build_s']:.2f} |")
    for row in rows:
        print(f"cmake: {row['cmake_line']}")
    if args.json:
        args.json.write_text(json.dumps({"jobs": args.jobs, "cpus": os.cpu_count(), "cuda": cuda,
                                         "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
