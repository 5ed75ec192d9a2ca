# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""NVIDIA's real release/10.16 plugin cross-built for SM 110 (a JetPack 7.2 Thor) by the product's
own controller build, once per test session.

The tests that need the cross-built library share one controller cache (``controller_cache``):
tests/fleet/test_build_on.py provisions a `thor-jp72` device through `invoke provision` with it as
``DSPROV_CACHE``, and tests/test_cross_build.py calls ``cross_built``, which plans a JetPack 7.2
Thor with `--build-on controller` and runs the plan's CrossBuildPlugin here, with this machine as
the "device" whose libnvinfer exports make the link stub (an aarch64 stub made from the recorded
exports). Both reach the same build key (the key has no repository URL or library folder in it),
so whichever runs first compiles, the other finds the key cached: one cross compile per session,
in either order or alone. Each compile is written down (``record_compile``; the product says
built or copied) and the tests assert the count (``assert_one_compile``). The compile takes
about 5 minutes on 2 cores. ``DSPROV_CROSS_CACHE=DIR`` keeps the cache across sessions (while
iterating: nothing is compiled then).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from captures import h100

from provision.artifacts import ArtifactStore
from provision.capabilities.trt_oss import BUILD_LOG, CrossBuildPlugin
from provision.core.step import StepContext
from provision.cross import toolchain
from provision.matrix import Matrix
from provision.options import Flags, Options
from provision.outcomes import Outcome
from provision.plan import make_plan
from provision.runners.local import LocalRunner
from simfleet.upstreams import trt_debs

TREE = trt_debs.TREE_10_16  # the tree the bundle holds; the device's packages are 10.16.1.7 (thor-jp72)
SMS = [110]
KEPT = "DSPROV_CROSS_CACHE"
LEDGER = "cross-compiles.txt"  # in the session's base temp folder: one line per compile
LIB = "/usr/lib/aarch64-linux-gnu"
# The recorded H100 capture with the sections a JetPack 7.2 Thor prints replaced: L4T R39.2's first
# line and the device-tree model as in simfleet/profiles/thor-jp72.yml, TensorRT 10.16.1.7 and
# DeepStream 9.1 as that profile's packages; GPU_ARCHS given as 110 (Thor).
THOR = {
    "uname_m": "aarch64\n",
    "nv_tegra_release": "# R39 (release), REVISION: 2.0, GCID: 00000000, BOARD: generic, EABI: aarch64,"
                        " DATE: Thu Jan  1 00:00:00 UTC 2026\n",
    "dt_model": "NVIDIA Jetson AGX Thor Developer Kit\n",
    "dpkg_nvinfer": "tensorrt\t10.16.1.7-1+cuda13.2\nlibnvinfer10\t10.16.1.7-1+cuda13.2\n"
                    "libnvinfer-plugin10\t10.16.1.7-1+cuda13.2\ndeepstream-9.1\t9.1.0-1\n",
    "deepstream_version": "Version: 9.1\n",
    "nvinfer_plugin": f"-rw-r--r-- 1 root root 40000 Jan  1 2026 {LIB}/libnvinfer_plugin.so.10.16.1\n"
                      f"lrwxrwxrwx 1 root root 28 Jan  1 2026 {LIB}/libnvinfer_plugin.so.10 -> libnvinfer_plugin.so.10.16.1\n",
}


def thor():
    return h100(gpu_archs="110", **THOR)


def controller_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's controller cache (DSPROV_CACHE): artifacts, the cross toolchain, logs."""
    kept = os.environ.get(KEPT)
    path = Path(kept) if kept else tmp_path_factory.getbasetemp() / "cross-controller-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def compiles(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Who compiled the cross build this session, one entry per compile."""
    ledger = tmp_path_factory.getbasetemp() / LEDGER
    return ledger.read_text().splitlines() if ledger.exists() else []


def record_compile(tmp_path_factory: pytest.TempPathFactory, by: str) -> None:
    with (tmp_path_factory.getbasetemp() / LEDGER).open("a") as ledger:
        ledger.write(by + "\n")


def assert_one_compile(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Once the cross-built library exists, exactly one compile made it this session (none with a
    cache kept from an earlier session)."""
    done = compiles(tmp_path_factory)
    assert len(done) == 1 or (os.environ.get(KEPT) and not done), done


@dataclass(frozen=True)
class CrossBuilt:
    key: str  # the product's build key
    library: Path  # the cached libnvinfer_plugin.so (aarch64)
    log: Path  # the build's commands and CMake's output, kept beside it
    parts: dict[str, str]  # what the key is made of (meta.json)
    compiled: bool  # this call compiled it (else the key was cached)


def cross_built(tmp_path_factory: pytest.TempPathFactory, by: str) -> CrossBuilt:
    """The cross build in the session's controller cache, compiled now (recorded as `by`) unless
    cached; skips without the bundle or the cross toolchain."""
    bundle = TREE.bundle_path()
    if not bundle.is_file():
        pytest.skip(f"no TensorRT bundle at {bundle} (set {TREE.env})")
    cache = controller_cache(tmp_path_factory)
    check = toolchain.check(cache)
    if not check.ok:
        pytest.skip("; ".join(check.problems))
    store = ArtifactStore(cache)
    options = Options(force=True, trt_oss_repo=str(bundle), flags=Flags(build_on="controller"))
    detection = thor()
    step = next(s for s in make_plan(detection, Matrix.load(), options, store).steps if isinstance(s, CrossBuildPlugin))
    with tempfile.TemporaryDirectory(prefix="cross-device-") as tmp:
        # the "device" library folder: its libnvinfer.so.10, what `nm -D` reads for the link stub
        device = Path(tmp)
        toolchain.stub_library(TREE.recorded_exports(), f"libnvinfer.so.{TREE.major}",
                               device / f"libnvinfer.so.{TREE.major}", check.cc)
        step.spec = replace(step.spec, lib_dir=str(device))
        ctx = StepContext(LocalRunner(), detection.facts)
        if step.check(ctx) is None:
            step.apply(ctx)
    compiled = step.outcome is Outcome.BUILT
    if compiled:
        record_compile(tmp_path_factory, by)
    assert step.artifact is not None and step.key is not None
    meta = json.loads((step.artifact.parent / "meta.json").read_text())
    return CrossBuilt(step.key, step.artifact, step.artifact.parent / BUILD_LOG, meta["parts"], compiled)
