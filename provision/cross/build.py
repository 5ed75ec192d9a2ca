# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A cross build of TensorRT OSS's plugin library on the controller: the exact commands (a pure
function, printed by ``--dry-run``), and running them with their output in a log.

The flags follow TensorRT OSS's own cross-compile recipe (README "Cross compilation" at
https://github.com/NVIDIA/TensorRT/tree/release/10.16: ``cmake .. -DTRT_LIB_DIR=...
-DCMAKE_TOOLCHAIN_FILE=.../cmake_aarch64_cross.toolchain``) with this tool's private toolchain
file (:mod:`provision.cross.toolchain`) and the build's SMs as ``-DGPU_ARCHS``.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .toolchain import Toolchain


@dataclass(frozen=True)
class CrossBuild:
    """One cross build: a TensorRT OSS tree, the SMs, and the libraries it links against."""

    src: Path  # a checkout of the ref
    build: Path  # the build directory (out/ beneath it holds the libraries)
    sms: tuple[int, ...]
    toolchain_file: Path
    trt_lib_dir: Path  # the aarch64 link stubs: libnvinfer.so -> libnvinfer.so.<M>
    cuda_version: str  # 13.0: the controller's nvcc, not the device's CUDA
    jobs: int
    target: str = "nvinfer_plugin"

    @property
    def out(self) -> Path:
        return self.build / "out"

    def commands(self) -> list[list[str]]:
        """cmake configure, then the plugin target alone."""
        return [
            ["cmake", "-S", str(self.src), "-B", str(self.build),
             f"-DCMAKE_TOOLCHAIN_FILE={self.toolchain_file}",
             f"-DGPU_ARCHS={' '.join(map(str, self.sms))}",
             f"-DTRT_LIB_DIR={self.trt_lib_dir}", f"-DTRT_OUT_DIR={self.out}",
             "-DTRT_PLATFORM_ID=aarch64", f"-DCUDA_VERSION={self.cuda_version}",
             "-DBUILD_PARSERS=OFF", "-DBUILD_SAMPLES=OFF"],
            ["cmake", "--build", str(self.build), "--target", self.target, "--", f"-j{self.jobs}"],
        ]

    def script(self) -> str:
        """The commands as shell lines (what ``--dry-run`` prints)."""
        return "\n".join(shlex.join(argv) for argv in self.commands()) + "\n"


def cross_build(src: Path, build: Path, sms: list[int], toolchain: Toolchain, trt_lib_dir: Path,
                jobs: int, target: str = "nvinfer_plugin") -> CrossBuild:
    return CrossBuild(src, build, tuple(sms), toolchain.file, trt_lib_dir,
                      toolchain.check.cuda_version, jobs, target)


def run(build: CrossBuild, log: Path) -> Path:
    """Run the commands, each's output appended to ``log``; the built library (``.so`` link)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        for argv in build.commands():
            out.write(f"$ {shlex.join(argv)}\n")
            out.flush()
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                raise RuntimeError(f"{shlex.join(argv[:3])} ... exited {done.returncode}; see {log}")
    library = build.out / "libnvinfer_plugin.so"
    if not library.exists():
        raise RuntimeError(f"the build wrote no {library}; see {log}")
    return library
