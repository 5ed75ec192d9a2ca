# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""`--cmake-from-source` on a simulated device: the guides' ./bootstrap, make, make install.

The source release is a fixture shaped like Kitware's `cmake-X.Y.Z.tar.gz` (a `bootstrap` that
takes `--prefix=`, `--parallel=` and, after `--`, cache entries, and refuses unknown options
like the real one; a Makefile with `install`), building a small C program that answers
`--version` the way cmake does. A real CMake source build takes far longer than this suite may.
It is served over HTTP and reaches the tool through the `dsprov_cmake_source` setting.
"""

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from packaging.version import Version

from provision.errors import ProvisionError
from provision.inventory import Inventory
from provision.runners import runner_for
from simfleet.upstreams.server import serve
from provision.core.step import StepContext
from provision.matrix import CmakeArchive
from provision.capabilities.cmake import EnsureCmakeFromSource

pytestmark = pytest.mark.fleet
HOST = "t4-01"
VERSION = "3.27.6"

BOOTSTRAP = """#!/bin/sh
# Test fixture in the shape of CMake's ./bootstrap: same options, a tiny program instead of CMake.
prefix=/usr/local parallel=1
while [ $# -gt 0 ]; do
    case $1 in
        --prefix=*) prefix=${1#*=} ;;
        --parallel=*) parallel=${1#*=} ;;
        --) shift; break ;;
        *) echo "Unknown option: $1" >&2; exit 1 ;;
    esac
    shift
done
for entry in "$@"; do
    case $entry in -D*=*) ;; *) echo "not a cache entry: $entry" >&2; exit 1 ;; esac
done
command -v c++ >/dev/null || { echo "Cannot find a C++ compiler" >&2; exit 1; }
printf 'all: bin/cmake\\nbin/cmake: Source/cmake.c\\n\\tmkdir -p bin && cc -O2 -o bin/cmake Source/cmake.c\\n' > Makefile
printf 'install: all\\n\\tmkdir -p %s/bin && cp bin/cmake %s/bin/ && cp bin/cmake %s/bin/ctest && cp bin/cmake %s/bin/cpack\\n' \\
    "$prefix" "$prefix" "$prefix" "$prefix" >> Makefile
echo "CMake has bootstrapped (parallel=$parallel).  Now run make."
"""

SOURCE = f"""#include <stdio.h>
int main(void) {{ printf("cmake version {VERSION}\\n\\nCMake suite maintained and supported by Kitware (kitware.com/cmake).\\n"); return 0; }}
"""


def source_tarball(folder: Path) -> Path:
    path = folder / f"cmake-{VERSION}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text, mode in (("bootstrap", BOOTSTRAP, 0o755), ("Source/cmake.c", SOURCE, 0o644)):
            info = tarfile.TarInfo(f"cmake-{VERSION}/{name}")
            info.size, info.mode = len(text.encode()), mode
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def sh(fleet, command: str) -> str:
    return subprocess.run([*fleet.ssh_command(HOST), command], capture_output=True, text=True, timeout=120).stdout


def test_cmake_source_build_installs_links_and_rolls_back(fleet, tmp_path):
    tarball = source_tarball(tmp_path)
    url, stop = serve(tmp_path)
    spec = Inventory(fleet.inventory).host(HOST)
    runner = runner_for(spec)
    previous = sh(fleet, "readlink /usr/local/bin/cmake").strip()  # another test's cmake, if any
    archive = CmakeArchive("source", Version(VERSION), f"{url}/{tarball.name}", hashlib.sha256(tarball.read_bytes()).hexdigest())
    step = EnsureCmakeFromSource(Version("3.13"), None, archive, "/tmp/dsprov-cmake", 2)
    log: list[str] = []
    ctx = StepContext(runner, None, log.append)
    try:
        ctx.sh("rm -f /usr/local/bin/cmake /usr/local/bin/ctest /usr/local/bin/cpack", sudo=True)
        assert step.check(ctx) is None
        step.apply(ctx)
        step.verify(ctx)
        assert sh(fleet, "cmake --version").startswith(f"cmake version {VERSION}\n")
        assert sh(fleet, "readlink /usr/local/bin/cmake /usr/local/bin/cpack").split() == [
            f"/opt/cmake-{VERSION}/bin/cmake", f"/opt/cmake-{VERSION}/bin/cpack"]
        assert "CMake has bootstrapped (parallel=2).  Now run make." in log
        assert sh(fleet, f"ls -d /tmp/.dsprov-up.*/cmake-{VERSION}.tar.gz 2>&1").startswith("ls: cannot access")
        assert step.check(ctx) == f"cmake {VERSION} is new enough"  # a rerun changes nothing

        step.rollback(ctx)
        assert sh(fleet, f"ls /usr/local/bin/cmake /opt/cmake-{VERSION} 2>&1").count("No such file") == 2
    finally:
        if previous:
            tools = " && ".join(f"ln -sfn {Path(previous).parent}/{t} /usr/local/bin/{t}" for t in ("cmake", "ctest", "cpack"))
            ctx.sh(tools, sudo=True)
        runner.close()
        stop()


def test_cmake_source_with_a_wrong_checksum_installs_nothing(fleet, tmp_path):
    tarball = source_tarball(tmp_path)
    url, stop = serve(tmp_path)
    runner = runner_for(Inventory(fleet.inventory).host(HOST))
    archive = CmakeArchive("source", Version(VERSION), f"{url}/{tarball.name}", "0" * 64)
    step = EnsureCmakeFromSource(Version("3.13"), None, archive, "/tmp/dsprov-cmake", 2)
    try:
        with pytest.raises(ProvisionError, match="does not match the expected"):
            step.apply(StepContext(runner, None))
        assert sh(fleet, f"ls -d /opt/cmake-{VERSION} /tmp/.dsprov-up.*/cmake-{VERSION}.tar.gz 2>&1").count("No such file") == 2
    finally:
        runner.close()
        stop()
