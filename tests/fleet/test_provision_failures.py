# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hosts that cannot be provisioned: one clear error each, exit non-zero, the host unchanged.

Each case makes the condition real on a simulated device (a tiny tmpfs as the build folder, the
compiler moved away, a port nobody listens on) rather than feeding the plan made-up facts.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provision.capabilities.trt_oss import BuildSpec

from .helpers import hosts

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.fleet
HOST = "t4-01"
# What provision may change on the T4 profile: the plugin's folder, the tool's state, cmake.
WATCHED = "/usr/lib/x86_64-linux-gnu /var/lib/dsprov /opt /usr/local/bin"


def on_device(fleet, command: str, sudo: bool = False) -> subprocess.CompletedProcess:
    if sudo:
        command = f"echo {fleet.become_password} | sudo -S -p '' sh -c '{command}'"
    return subprocess.run([*fleet.ssh_command(HOST), command], capture_output=True, text=True, timeout=120)


def tree(fleet) -> str:
    """Names, sizes, links and checksums under the folders provision may touch."""
    listing = on_device(fleet, f"ls -laR --time-style=+ {WATCHED} 2>&1; "
                               "find /usr/lib/x86_64-linux-gnu -name 'libnvinfer*' -type f -exec sha256sum {} +")
    return listing.stdout


def inventory_with(fleet, tmp_path: Path, host_vars: str) -> Path:
    """The fleet's inventory (with its mirror settings) plus host vars for HOST."""
    return fleet.inventory_with(tmp_path / "inventory", HOST, host_vars)


def provision(inventory: Path) -> tuple[int, dict]:
    """Exit code and the host's report."""
    result = subprocess.run([sys.executable, "-m", "invoke", "provision", "--host", HOST, "--json", "-i", str(inventory)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    return result.returncode, hosts(result)[0]


def test_full_build_disk_is_refused_before_anything_changes(fleet, tmp_path):
    assert on_device(fleet, "mkdir -p /tmp/full && mount -t tmpfs -o size=1m tmpfs /tmp/full", sudo=True).returncode == 0
    try:
        before = tree(fleet)
        code, report = provision(inventory_with(fleet, tmp_path, "dsprov_build_dir: /tmp/full/build\n"))
        assert (code, report["result"]) == (1, "refused"), report
        assert report["message"].startswith(f"{HOST}: only 1 MiB free in /tmp/full/build; the build needs 2048 MiB")
        assert tree(fleet) == before
    finally:
        on_device(fleet, "umount /tmp/full && rmdir /tmp/full", sudo=True)


def test_missing_compiler_is_refused_before_anything_changes(fleet, tmp_path):
    gcc = on_device(fleet, "command -v gcc").stdout.strip()
    assert gcc, "the T4 profile has gcc"
    assert on_device(fleet, f"mv {gcc} {gcc}.hidden", sudo=True).returncode == 0
    try:
        before = tree(fleet)
        code, report = provision(fleet.inventory)
        assert (code, report["result"]) == (1, "refused"), report
        assert report["message"] == f"{HOST}: no C compiler (gcc) on the host: install build-essential first"
        assert tree(fleet) == before
    finally:
        on_device(fleet, f"mv {gcc}.hidden {gcc}", sudo=True)


def test_unreachable_host_fails_with_one_line(fleet, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inventory = inventory_with(fleet, tmp_path, f"ansible_port: {port}\n")
    code, report = provision(inventory)
    assert (code, report["result"]) == (2, "unreachable"), report
    assert report["message"].startswith(f"{HOST}: cannot reach ubuntu@127.0.0.1:{port}")
    detect = subprocess.run([sys.executable, "-m", "invoke", "detect", "--host", HOST, "-i", str(inventory)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert detect.returncode == 2 and detect.stderr.count("\n") == 1
    assert detect.stderr.startswith(f"error: {HOST}: cannot reach ubuntu@127.0.0.1:{port}")


def test_a_build_of_another_tensorrt_major_is_never_swapped_in(fleet, tmp_path):
    lib = "/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8.0.1"
    original = on_device(fleet, f"sha256sum {lib}").stdout.split()[0]
    result = subprocess.run([sys.executable, "-m", "invoke", "provision", "--host", HOST, "--json",
                             "--trt-oss-ref", "release/10.3", "-i", str(fleet.inventory)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = hosts(result)[0]
    assert (result.returncode, report["result"]) == (1, "failed"), report
    assert "build has SONAME libnvinfer_plugin.so.10, but programs here load libnvinfer_plugin.so.8" in report["message"]
    assert on_device(fleet, f"sha256sum {lib}").stdout.split()[0] == original
    assert on_device(fleet, f"dpkg-divert --listpackage {lib}; ls -A /var/lib/dsprov/orig 2>/dev/null").stdout == ""


def test_disk_full_mid_build_names_the_cause_and_logs_everything(fleet, tmp_path):
    """A build folder with room by `df` (2200 MiB) but inodes for the clone and a few more files
    only: cmake's configure runs out of space (ENOSPC) in its compiler check, whose last output
    line is `CMakeLists.txt:26 (project)`. The message must carry the line that explains it.
    The inode budget is the tool's own clone of the ref, counted on the device, plus 12."""
    repo = yaml.safe_load((fleet.inventory.parent / "group_vars" / "all.yml").read_text())["dsprov_trt_oss_repo"]
    clone = BuildSpec(repo=repo, ref="release/8.0", gpu_archs="75", lib_dir="", platform_id="x86_64",
                      cuda_version="11.4", compiler="", tensorrt="8.0.1.6", build_dir="/tmp/count",
                      jobs=1).clone_commands()
    counted = on_device(fleet, " && ".join(clone) + " && find /tmp/count | wc -l; rm -rf /tmp/count")
    inodes = int(counted.stdout.split()[-1]) + 12
    mount = (f"mkdir -p /tmp/full && mount -t tmpfs -o size=2200m,nr_inodes={inodes} tmpfs /tmp/full"
             " && chmod 1777 /tmp/full")
    assert on_device(fleet, mount, sudo=True).returncode == 0
    lib = "/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8.0.1"
    # The host at stock and a cold controller cache: the plugin must be built here, not copied
    # (earlier tests of the session may have installed and cached this host's build).
    env = {**os.environ, "DSPROV_CACHE": str(tmp_path / "controller-cache")}
    subprocess.run([sys.executable, "-m", "invoke", "rollback", "--host", HOST, "-i", str(fleet.inventory)],
                   cwd=ROOT, capture_output=True, text=True, timeout=600)
    try:
        original = on_device(fleet, f"sha256sum {lib}").stdout
        logs = tmp_path / "logs"
        result = subprocess.run([sys.executable, "-m", "invoke", "provision", "--host", HOST, "--json", "--log-dir",
                                 str(logs), "-i", str(inventory_with(fleet, tmp_path, "dsprov_build_dir: /tmp/full/build\n"))],
                                cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
        report = hosts(result)[0]
        assert (result.returncode, report["result"]) == (1, "failed"), report
        assert report["message"].endswith("No space left on device"), report["message"]
        assert "\n" not in report["message"]
        log = (logs / f"{HOST}.log").read_text()
        assert "CMakeLists.txt:26 (project)" in log and "No space left on device" in log  # the whole output
        assert on_device(fleet, f"sha256sum {lib}").stdout == original
        assert on_device(fleet, "flock -n /var/lib/dsprov/lock true", sudo=True).returncode == 0
    finally:
        on_device(fleet, "umount /tmp/full && rmdir /tmp/full", sudo=True)
