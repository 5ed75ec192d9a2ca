"""NVIDIA's real release/10.16 plugin, cross-built on this controller for SM 110 (JetPack 7.2 Thor)
with provision.cross, once per machine and recipe: the controller test (tests/test_cross_build.py)
and the device test (tests/fleet/test_cross_build.py) share it.

The result lives in the fleet cache (``$DSPROV_FLEET_CACHE``, default ``~/.cache/dsprov-fleet``)
under ``cross-plugin/<key>``: the library, CMake's log and the exact commands. The key hashes what
decides the bytes: the bundle (path, size, mtime), provision/cross/{toolchain,build}.py, the stub's export list,
the SMs and the toolchain check. The compile takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from provision.cross import build, toolchain
from simfleet.roots import CACHE_DIR
from simfleet.upstreams import trt_debs

TREE = trt_debs.TREE_10_16  # the tree the bundle holds; the device's packages are 10.16.1.7 (thor-jp72)
SMS = [110]
CROSS = Path(toolchain.__file__).parent


@dataclass(frozen=True)
class CrossBuilt:
    library: Path  # libnvinfer_plugin.so.X.Y.Z, aarch64
    log: Path  # cmake's configure and build output
    commands: str  # build.CrossBuild.script()


def _key(check: toolchain.ToolchainCheck, bundle: Path) -> str:
    h = hashlib.sha256()
    stat = bundle.stat()
    h.update(f"{bundle.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{SMS}".encode())
    for source in (CROSS / "toolchain.py", CROSS / "build.py", TREE.exports_file):
        h.update(source.read_bytes())
    h.update(f"{check.nvcc_version}:{check.cxx} {check.cxx_version}:{check.runtime}:{check.rt_lib}".encode())
    return h.hexdigest()[:16]


def cross_built() -> CrossBuilt:
    """The cached cross build, built now if missing; skips without toolchain or bundle."""
    bundle = TREE.bundle_path()
    if not bundle.is_file():
        pytest.skip(f"no TensorRT bundle at {bundle} (set {TREE.env})")
    cache = CACHE_DIR / "cross-plugin"
    check = toolchain.check(cache)
    if not check.ok:
        pytest.skip("; ".join(check.problems))
    done = cache / _key(check, bundle)
    library = done / f"libnvinfer_plugin.so.{TREE.library_version}"
    if not (done / ".complete").exists():
        prepared = toolchain.prepare(check, cache)
        done.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".tmp-", dir=done.parent) as tmp:
            work = Path(tmp)
            subprocess.run(["git", "clone", "-q", "--depth", "1", "--single-branch", "-b", TREE.ref,
                            str(bundle), str(work / "src")], check=True)
            stubs = work / "stubs"
            m, xyz = TREE.major, TREE.library_version
            toolchain.stub_library(TREE.recorded_exports(), f"libnvinfer.so.{m}", stubs / f"libnvinfer.so.{xyz}",
                                   prepared.cc)
            (stubs / f"libnvinfer.so.{m}").symlink_to(f"libnvinfer.so.{xyz}")
            (stubs / "libnvinfer.so").symlink_to(f"libnvinfer.so.{m}")
            spec = build.cross_build(work / "src", work / "src" / "build", SMS, prepared, stubs,
                                     jobs=os.cpu_count() or 2)
            out = work / "result"
            out.mkdir()
            (out / "commands.sh").write_text(spec.script())
            built = build.run(spec, out / "build.log")
            shutil.copyfile(built.resolve(), out / library.name)
            (out / ".complete").write_text(library.name + "\n")
            shutil.rmtree(done, ignore_errors=True)
            out.rename(done)
    return CrossBuilt(library, done / "build.log", (done / "commands.sh").read_text())
