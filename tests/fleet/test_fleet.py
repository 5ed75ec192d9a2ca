# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated fleet: real sshd per device, arm64 userland for Jetsons, profile facts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from simfleet.fleet import fleet_down, fleet_up

pytestmark = pytest.mark.fleet

JETSONS = ("nano01", "tx2-01", "xavier01", "orin01")
NEW_JETSONS = ("orin-nano01", "thor01", "orin-ctr01")  # JetPack 6.2, JetPack 7.0, in a container
ELF_MACHINES = {b"\xb7\x00": "aarch64", b"\x3e\x00": "x86_64"}


def ssh(fleet, device: str, command: str, stdin: str | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run ``command`` on ``device`` over a real ssh connection."""
    return subprocess.run([*fleet.ssh_command(device), command], input=stdin, text=True,
                          capture_output=True, timeout=120, check=check)


def test_all_devices_answer_with_their_architecture(fleet):
    assert [d.name for d in fleet.devices] == [*JETSONS, "t4-01", *NEW_JETSONS]
    for dev in fleet.devices:
        machine = ssh(fleet, dev.name, "uname -m").stdout.strip()
        assert machine == ("x86_64" if dev.name == "t4-01" else "aarch64"), dev.name


@pytest.mark.parametrize("device", ["nano01", "t4-01"])
def test_gcc_makes_objects_for_the_device(fleet, device):
    ssh(fleet, device, "printf 'int f(void){return 1;}\\n' > /tmp/f.c && gcc -c /tmp/f.c -o /tmp/f.o")
    header = ssh(fleet, device, "head -c 20 /tmp/f.o | od -An -tx1").stdout.split()
    e_machine = bytes(int(b, 16) for b in header[18:20])
    assert ELF_MACHINES[e_machine] == ("x86_64" if device == "t4-01" else "aarch64")


def test_no_python_on_devices(fleet):
    for dev in fleet.devices:
        result = ssh(fleet, dev.name, "command -v python3 python; ls /usr/bin/python*", check=False)
        assert result.stdout == "", (dev.name, result.stdout)


def test_sudo_takes_the_fleet_password_only(fleet):
    good = ssh(fleet, "orin01", "sudo -S -p '' id -u", stdin=fleet.become_password + "\n")
    assert good.stdout.strip() == "0"
    bad = ssh(fleet, "orin01", "sudo -S -p '' id -u", stdin="wrong-password\n", check=False)
    assert bad.returncode != 0 and "0" not in bad.stdout


def test_dpkg_query_shows_the_profile_tensorrt(fleet):
    expected = {"nano01": "8.2.1-1+cuda10.2", "tx2-01": "7.1.3-1+cuda10.2",
                "xavier01": "8.5.2-1+cuda11.4", "orin01": "8.6.2.3-1+cuda12.2",
                "t4-01": "8.0.1-1+cuda11.3"}
    for device, version in expected.items():
        rows = dict(line.split("\t") for line in ssh(
            fleet, device, "dpkg-query -W 'libnvinfer*' tensorrt").stdout.splitlines())
        assert rows["libnvinfer-dev"] == version, device
        assert "tensorrt" in rows


def test_profile_files_carry_the_facts(fleet):
    out = ssh(fleet, "nano01", "cat /etc/nv_tegra_release /sys/devices/system/cpu/online; "
              "grep MemTotal /proc/meminfo; tr '\\0' '\\n' < /sys/firmware/devicetree/base/model; "
              "cat /opt/nvidia/deepstream/deepstream/version; readlink /usr/local/cuda; "
              "ls /usr/lib/aarch64-linux-gnu/ | grep nvinfer").stdout
    assert "# R32 (release), REVISION: 7.1," in out
    assert "0-3" in out and "MemTotal:        4059484 kB" in out
    assert "NVIDIA Jetson Nano Developer Kit" in out and "Version: 6.0.1" in out
    assert "libnvinfer.so.8.2.1" in out and "libnvinfer_plugin.so.8" in out


def test_gpu_standins(fleet):
    out = ssh(fleet, "xavier01", "nvcc --version || /usr/local/cuda/bin/nvcc --version").stdout
    assert "release 11.4, V11.4.315" in out
    missing = ssh(fleet, "xavier01", "/usr/local/cuda/bin/nvcc -o /tmp/dq /tmp/none.cu", check=False)
    assert missing.returncode != 0 and "nvcc fatal" in missing.stderr
    dq = ssh(fleet, "xavier01", "touch /tmp/dq.cu && /usr/local/cuda/bin/nvcc -o /tmp/dq /tmp/dq.cu "
             "&& /tmp/dq").stdout
    assert "CUDA Capability Major/Minor version number:    7.2" in dq
    smi = ssh(fleet, "t4-01", "nvidia-smi --query-gpu=name,compute_cap --format=csv", check=False)
    assert smi.returncode == 2 and "not a valid field" in smi.stdout
    engine = ssh(fleet, "t4-01", "touch /tmp/m.onnx && /usr/src/tensorrt/bin/trtexec "
                 "--onnx=/tmp/m.onnx --fp16 --saveEngine=/tmp/m.engine && cat /tmp/m.engine").stdout
    assert "&&&& PASSED TensorRT.trtexec [TensorRT v8001]" in engine
    assert "precision=fp16" in engine and "onnx=/tmp/m.onnx" in engine


def test_inventory_lists_every_device(fleet):
    text = fleet.inventory.read_text()
    for group in ("[nano]", "[tx2]", "[xavier]", "[orin]", "[x86]"):
        assert group in text
    for dev in fleet.devices:
        assert f"{dev.name} ansible_host=127.0.0.1 ansible_port={dev.port} " in text
    assert fleet.become_password not in text


def _mounts_under(path: Path) -> list[str]:
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(path))]


def test_fleet_down_leaves_nothing(tmp_path, needs_root):
    fleet_file = tmp_path / "one.yml"
    fleet_file.write_text("name: cleanup\ndevices:\n  - {name: nano01, profile: nano}\n")
    runtime = tmp_path / "run"
    handle = fleet_up(fleet_file, runtime)
    pids = handle.pids()
    assert pids and not _mounts_under(runtime)  # device mounts live in private namespaces
    os.kill(pids[0], 0)
    fleet_down(runtime)
    assert not [p for p in pids if Path(f"/proc/{p}").exists()
                and "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1][:3]]
    assert not _mounts_under(runtime) and not runtime.exists()


def test_fleet_down_cleans_up_after_a_crashed_run(tmp_path, needs_root):
    """A fleet whose starter died (no handle) is stopped from its runtime dir alone."""
    fleet_file = tmp_path / "one.yml"
    fleet_file.write_text("name: crashed\ndevices:\n  - {name: t4-01, profile: t4}\n")
    runtime = tmp_path / "run"
    code = (f"from simfleet.fleet import fleet_up; "
            f"fleet_up('{fleet_file}', '{runtime}'); import os; os._exit(1)")
    subprocess.run([sys.executable, "-c", code], check=False,
                   cwd=Path(__file__).resolve().parents[2])
    from simfleet.device import processes_of
    assert processes_of(runtime)
    fleet_down(runtime)
    assert not processes_of(runtime) and not runtime.exists()


def test_fleet_up_again_stops_the_running_fleets_mirror(tmp_path, needs_root):
    """`invoke fleet.up` on a fleet that runs stops it first, its mirror's HTTP server included
    (its pid file went with the runtime dir, leaking the server)."""
    from simfleet.mirror import start_mirror

    fleet_file = tmp_path / "one.yml"
    fleet_file.write_text("name: again\ndevices:\n  - {name: t4-01, profile: t4}\n")
    runtime = tmp_path / "run"
    mirrors = []
    try:
        for _ in range(2):
            start_mirror(fleet_up(fleet_file, runtime))
            mirrors.append(int((runtime / "mirror.pid").read_text()))
        assert not _running(mirrors[0]) and _running(mirrors[1])
        fleet_down(runtime)
        assert not _running(mirrors[1]) and not runtime.exists()
    finally:
        fleet_down(runtime)
        for pid in mirrors:  # leaked before the fix
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Whether the process runs (a zombie does not)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
