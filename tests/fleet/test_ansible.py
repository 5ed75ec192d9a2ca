# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""ansible-playbook over the simulated fleet: the same core as invoke, check mode, idempotence.

Two fleets of the same six devices: Ansible provisions one and invoke the other, with one
controller cache (Ansible builds each key once, invoke then copies), and the hosts must end
byte-identical. Real `ansible-playbook` subprocesses throughout; the devices have no Python.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import contextlib

from simfleet.fleet import FleetHandle

from .helpers import hosts

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEVICES = {"nano01": "nano", "nano02": "nano", "tx2-01": "tx2", "xavier01": "xavier", "orin01": "orin", "t4-01": "t4"}
PROVISIONED = sorted(set(DEVICES) - {"orin01"})  # Orin's TensorRT 8.6.2 has no OSS ref: refused
LIB_DIRS = {"t4-01": "/usr/lib/x86_64-linux-gnu"}
BUSY = "another provision is running there"


def lib_dir(device: str) -> str:
    return LIB_DIRS.get(device, "/usr/lib/aarch64-linux-gnu")


@pytest.fixture(scope="module")
def fleets(serve_fleet, tmp_path_factory):
    """(fleet for Ansible, fleet for invoke, the controller cache both use)."""
    fleet_file = "name: ansible\ndevices:\n" + "".join(f"  - {{name: {n}, profile: {p}}}\n" for n, p in DEVICES.items())
    with contextlib.ExitStack() as stack:
        ansible, invoke = (stack.enter_context(serve_fleet("ansible", fleet_file, side)) for side in ("ansible", "invoke"))
        yield ansible, invoke, tmp_path_factory.mktemp("ansible-cache") / "cache"


def environment(handle: FleetHandle, cache: Path) -> dict[str, str]:
    return {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache),
            "ANSIBLE_NOCOLOR": "1"}


# The build route on every host, so that orin01 (JetPack 6.0, TensorRT 8.6.2: no OSS ref) is
# refused as a build; its default route, NVIDIA's prebuilt library, is tested in test_stack2026.py.
BUILD = ("-e", "dsprov_plugin_source=build")


def playbook_command(handle: FleetHandle, name: str, *args: str) -> list[str]:
    return [str(BIN / "ansible-playbook"), "-i", str(handle.inventory), f"playbooks/{name}", "-f", "6", *args]


def playbook(handle: FleetHandle, cache: Path, name: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(playbook_command(handle, name, *args), cwd=ROOT, env={**environment(handle, cache), **extra},
                          capture_output=True, text=True, timeout=1200)


def counted_ssh(folder: Path) -> tuple[Path, Path]:
    """(an `ssh` for Ansible's ssh_executable that writes each client's arguments to a log, one line,
    then runs OpenSSH's; that log)."""
    log, wrapper = folder / "ssh.log", folder / "ssh"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >>{shlex.quote(str(log))}\nexec ssh "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


def invoke(handle: FleetHandle, cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args, "-i", str(handle.inventory)], cwd=ROOT,
                          env=environment(handle, cache), capture_output=True, text=True, timeout=1200)


def play_recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counts per host: {'nano01': {'ok': 1, 'changed': 1, ...}}."""
    rows = re.findall(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M)
    return {host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)} for host, counts in rows}


def dsprov_recap(output: str) -> dict[str, dict[str, str]]:
    """The DSPROV RECAP table (the collection's recap callback) as {host: {column: value}}."""
    lines = output.split("DSPROV RECAP", 1)[1].splitlines()[1:]
    header = lines[0]
    names = header.split()
    starts = [header.index(n) for n in names] + [None]
    rows = {}
    for line in lines[1:]:
        if not line.strip():
            break
        cells = [line[starts[i]:starts[i + 1]].strip() for i in range(len(names))]
        rows[cells[0]] = dict(zip(names, cells))
    return rows


def on_device(handle: FleetHandle, device: str, command: str, sudo: bool = False) -> str:
    stdin = None
    if sudo:
        command, stdin = f"sudo -S -p '' sh -c {shlex.quote(command)}", handle.become_password + "\n"
    result = subprocess.run([*handle.ssh_command(device), command], input=stdin, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, (device, command, result.stderr)
    return result.stdout


def tree(handle: FleetHandle, device: str) -> tuple[list[str], dict[str, str]]:
    """Everything a run could change on a device: every path of its root (type, mode, owner, and
    for non-directories size and mtime) as the device sees it, and the SHA-256 of every file the
    device ever wrote (its overlay's upper layer, read on this machine)."""
    listing = on_device(handle, device, "find / -xdev \\( -type d -printf '%p d %m %U:%G\\n' \\)"
                        " -o -printf '%p %y %m %U:%G %s %T@ %l\\n'", sudo=True)
    upper = handle.device(device).dir / "upper"
    hashes = {str(p.relative_to(upper)): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in upper.rglob("*") if p.is_file() and not p.is_symlink()}
    return sorted(line for line in listing.splitlines() if not probe_cache(line.split(" ")[0])), {
        path: sha for path, sha in hashes.items() if not probe_cache("/" + path)}


def probe_cache(path: str) -> bool:
    """The login user's ~/.cache (and its dsprov/probe): the one place a probe writes, its own cache
    (deviceQuery's output per boot and driver, the engine search's verdicts and SHA-256s;
    docs/how-it-works.md, docs/engines-models-pyds.md)."""
    parts = path.split("/")
    return len(parts) >= 4 and parts[1] == "home" and parts[3] == ".cache" and (len(parts) == 4 or parts[4] == "dsprov")


def fingerprint(handle: FleetHandle, device: str, folders: str = "/var/lib/dsprov") -> str:
    """What provisioning leaves on a host: the plugin library and its links, the state file and
    saved original, dpkg's diversions (and what is in `folders`, but root's SHA-256 cache: a cache,
    keyed by inode and times, which skips a file changed within the last second)."""
    lib = lib_dir(device)
    return on_device(handle, device, (
        f"cd /; find {lib} -maxdepth 1 -name 'libnvinfer_plugin*' -printf '%p %y %m %U:%G %l\\n' | sort"
        f"; find {lib} -maxdepth 1 -name 'libnvinfer_plugin*' -type f -exec sha256sum {{}} + | sort"
        f"; find {folders} ! -name sha256 -printf '%p %y %m %U:%G %s %l\\n' 2>&1 | sort"
        f"; find {folders} -type f ! -name sha256 -exec sha256sum {{}} + 2>&1 | sort"
        "; cat /var/lib/dsprov/state.json 2>&1; dpkg-divert --list | sort"
    ), sudo=True)


CMAKE = "/opt /usr/local/bin"  # where a host that builds gets cmake


@pytest.mark.fleet
def test_check_mode_on_a_fresh_fleet_shows_the_plan_and_changes_no_file(fleets):
    ansible, _, cache = fleets
    before = {d: tree(ansible, d) for d in DEVICES}
    result = playbook(ansible, cache, "provision.yml", "--check", "--diff", "-e", "dsprov_force=true", *BUILD)
    after = {d: tree(ansible, d) for d in DEVICES}
    counts = play_recap(result.stdout)
    assert {h: counts[h]["changed"] for h in PROVISIONED} == dict.fromkeys(PROVISIONED, 1), result.stdout
    assert counts["orin01"]["failed"] == 1
    assert "[trt-oss-build] build nvinfer_plugin from TensorRT OSS release/8.2 for GPU_ARCHS 53" in result.stdout
    assert "[plugin-swap] swap /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8.0.1" in result.stdout
    for device in DEVICES:
        assert before[device][0] == after[device][0], device
        assert before[device][1] == after[device][1], device
    assert not (cache / "artifacts").exists()


@pytest.fixture(scope="module")
def provisioned(fleets, tmp_path_factory) -> tuple[subprocess.CompletedProcess, float]:
    """The Ansible fleet provisioned by one playbook run (with a ghost host from a second
    inventory), the controller cache filled: (the run, its seconds). Every test that needs this
    state asks for it, so none depends on another having run."""
    ansible, _, cache = fleets
    ghost = tmp_path_factory.mktemp("ghost") / "ghost.ini"
    ghost.write_text("[nano]\nghost01 ansible_host=127.0.0.1 ansible_port=9 ansible_user=nvidia\n")
    started = time.monotonic()
    result = playbook(ansible, cache, "provision.yml", "-i", str(ghost), "-e", "dsprov_force=true", *BUILD)
    return result, round(time.monotonic() - started, 1)


@pytest.mark.fleet
def test_fleet_provisions_in_one_run_and_failures_stay_alone(fleets, provisioned, record_property):
    ansible, _, _ = fleets
    result, seconds = provisioned
    record_property("ansible_provision_seconds", seconds)
    counts, recap = play_recap(result.stdout), dsprov_recap(result.stdout)
    assert counts["ghost01"]["unreachable"] == 1 and recap["ghost01"]["result"] == "unreachable"
    assert counts["orin01"]["failed"] == 1 and recap["orin01"]["result"] == "refused"
    assert "orin01: TensorRT 8.6.2.3 on jetson:" in recap["orin01"]["message"]
    for host in PROVISIONED:
        assert counts[host]["failed"] == 0 and counts[host]["changed"] == 1, result.stdout
        assert recap[host]["result"] == "ok"
    # one build per key across Ansible's forks: one Nano builds, the other waits and copies
    assert sorted(recap[h]["outcome"] for h in ("nano01", "nano02")) == ["built", "copied"]
    assert recap["nano01"]["key"] == recap["nano02"]["key"]
    assert {recap[h]["outcome"] for h in ("tx2-01", "xavier01", "t4-01")} == {"built"}
    assert len({recap[h]["key"] for h in PROVISIONED}) == 4
    for host in PROVISIONED:
        lib = lib_dir(host)
        assert on_device(ansible, host, f"dpkg-divert --listpackage {lib}/libnvinfer_plugin.so.*.*.*").strip() == "dsprov"


@pytest.mark.fleet
def test_second_run_changes_nothing_and_facts_reach_later_tasks(fleets, provisioned, tmp_path):
    ansible, _, cache = fleets
    again = playbook(ansible, cache, "provision.yml", "-e", "dsprov_force=true", *BUILD)
    counts = play_recap(again.stdout)
    assert set(counts) == set(DEVICES)
    assert all(c["changed"] == 0 for c in counts.values()), again.stdout
    assert all(counts[h]["failed"] == 0 for h in PROVISIONED)
    # without --force (which asks the repository for the ref's commit again): the probe's round trip
    # alone, one ssh client per host, as `ansible -m raw` runs one command (no temp folder, no module)
    ssh, log = counted_ssh(tmp_path)
    quiet = dsprov_recap(playbook(ansible, cache, "provision.yml", *BUILD, ANSIBLE_SSH_EXECUTABLE=str(ssh)).stdout)
    assert {h: quiet[h]["commands"] for h in DEVICES} == dict.fromkeys(DEVICES, "1"), quiet
    ports = sorted(int(m.group(1)) for line in log.read_text().splitlines() if (m := re.search(r" -o Port=(\d+) ", line)))
    assert ports == sorted(ansible.device(d).port for d in DEVICES), log.read_text()
    assert {quiet[h]["changed"] for h in PROVISIONED} == {"no"}
    detect = playbook(ansible, cache, "detect.yml", "--limit", "nano01,t4-01")
    assert detect.returncode == 0, detect.stdout
    assert "NVIDIA Jetson Nano Developer Kit: TensorRT 8.2.1" in detect.stdout and "GPU_ARCHS 53" in detect.stdout
    assert "x86: TensorRT 8.0.1.6, DeepStream 6.0, GPU_ARCHS 75" in detect.stdout


@pytest.mark.fleet
def test_invoke_and_ansible_leave_the_hosts_byte_identical(fleets, provisioned, record_property):
    ansible, by_invoke, cache = fleets
    started = time.monotonic()
    result = invoke(by_invoke, cache, "provision", "--hosts", "all", "--force", "--plugin-source", "build", "--json")
    record_property("invoke_provision_seconds", round(time.monotonic() - started, 1))
    reports = {r["host"]: r for r in hosts(result)}
    assert {h: reports[h]["outcome"] for h in PROVISIONED} == dict.fromkeys(PROVISIONED, "copied"), reports
    refused = playbook(ansible, cache, "provision.yml", "--limit", "orin01", *BUILD)
    assert dsprov_recap(refused.stdout)["orin01"]["message"] == reports["orin01"]["message"]
    for device in DEVICES:
        assert fingerprint(ansible, device) == fingerprint(by_invoke, device), device
    # cmake only where the plugin was built: invoke copied every build from the cache
    built = dsprov_recap(provisioned[0].stdout)
    for device in PROVISIONED:
        assert ("cmake-3" in fingerprint(ansible, device, CMAKE)) == (built[device]["outcome"] == "built"), device
        assert "cmake-3" not in fingerprint(by_invoke, device, CMAKE), device
    assert "libnvinfer_plugin" in fingerprint(ansible, "nano01")


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (Ansible's workers run in sessions of their own):
    freeze them first so that none starts another meanwhile."""
    frozen: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        if current in frozen:
            continue
        try:
            os.kill(current, signal.SIGSTOP)
            children = [int(c) for f in Path(f"/proc/{current}/task").glob("*/children") for c in f.read_text().split()]
        except (ProcessLookupError, FileNotFoundError):
            continue
        frozen.add(current)
        todo += children
    for frozen_pid in frozen:
        os.kill(frozen_pid, signal.SIGKILL)


@pytest.mark.fleet
def test_a_crashed_controller_leaves_the_lock_for_a_lease_only(fleets, tmp_path):
    _, by_invoke, _ = fleets
    cache = tmp_path / "cold"  # t4-01 builds again: the run holds the lock for seconds
    assert invoke(by_invoke, cache, "rollback", "--host", "t4-01").returncode == 0
    upper_tmp = by_invoke.device("t4-01").dir / "upper" / "tmp"
    proc = subprocess.Popen(playbook_command(by_invoke, "provision.yml", "--limit", "t4-01", "-e", "dsprov_lock_lease=5"),
                            cwd=ROOT, env=environment(by_invoke, cache), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and not list(upper_tmp.glob(".dsprov-hold.*/in")):
            time.sleep(0.02)
    finally:
        kill_tree(proc.pid)
        proc.wait()
    leases = list(upper_tmp.glob(".dsprov-hold.*/lease"))
    assert leases, "the run ended before it could be killed holding the lock"
    busy = invoke(by_invoke, cache, "provision", "--host", "t4-01", "--json")
    assert BUSY in hosts(busy)[0]["message"]
    deadline = time.monotonic() + 300  # a lease of 5 s: gone within seconds of the last command
    while leases[0].parent.exists() and time.monotonic() < deadline:
        time.sleep(1)
    after = invoke(by_invoke, cache, "provision", "--host", "t4-01", "--json")
    assert hosts(after)[0]["result"] == "ok", after.stdout


@pytest.mark.fleet
def test_a_wrong_become_password_fails_in_one_line_and_leaves_nothing(fleets):
    _, by_invoke, cache = fleets
    before = fingerprint(by_invoke, "t4-01")
    env = {**environment(by_invoke, cache), "PROVISION_BECOME_PASSWORD": "wrong"}
    # another build key, so that there is something to change: a run with nothing to change takes
    # no lock and so never asks for the password
    command = playbook_command(by_invoke, "provision.yml", "--limit", "t4-01", "-e", '{"dsprov_gpu_archs": "75 86"}')
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert play_recap(result.stdout)["t4-01"]["failed"] == 1
    assert dsprov_recap(result.stdout)["t4-01"]["message"] == "t4-01: Incorrect sudo password (ansible_become_password)"
    assert fingerprint(by_invoke, "t4-01") == before
    assert not list((by_invoke.device("t4-01").dir / "upper" / "tmp").glob(".dsprov-hold.*"))
