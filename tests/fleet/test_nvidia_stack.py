# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bare x86 host (profile x86-bare: Ubuntu 24.04's os-release, a Tesla T4 on its simulated PCI
bus, nothing of NVIDIA's) gets DeepStream 8.0's NVIDIA stack from the fleet's stand-in of NVIDIA's
CUDA network repository (simfleet/upstreams/cuda_repo.py): the device's own apt and dpkg run the
commands the planner prints, verifying the repository's signature with the keyring package's key;
the driver comes at the pinned version (the repository has a newer one of the branch), the TensorRT
packages at one version and held; a second plan finds nothing to do; the device reboots (the
reboot stand-in: sshd goes away and comes back with a new boot id), after which no reboot is pending."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from provision.facts.parsers import split_sections
from provision.matrix import Matrix
from provision.nvidia_stack.apt_plan import StackOptions, StackRefused, plan_stack, reboot_pending
from provision.nvidia_stack.facts import PROBE, NvidiaFacts, nvidia_facts

from .helpers import on_device

pytestmark = pytest.mark.fleet
ROOT = Path(__file__).resolve().parents[2]
# the probe's own helpers (section, show, has), as provision/facts/probe.sh defines them
HELPERS = "".join(line + "\n" for line in (ROOT / "provision/facts/probe.sh").read_text().splitlines()
                  if re.match(r"^(section|show|has)\(\) \{.*\}", line))
DEVICE = "bare01"


@pytest.fixture
def bare(serve_fleet):
    """A fleet of one x86-bare device with its mirror: the stand-in repository's settings as the
    fleet's group_vars give them to the tool."""
    from simfleet.upstreams.cuda_repo import CudaMirror

    with serve_fleet("nvidia-stack", f"name: nvstack\ndevices:\n  - {{name: {DEVICE}, profile: x86-bare, python3: true}}\n") as handle:
        settings = yaml.safe_load((handle.runtime_dir / "group_vars" / "all.yml").read_text())
        yield handle, CudaMirror(settings["dsprov_cuda_repo"], settings["dsprov_cuda_keyring_sha256"],
                                 settings["dsprov_deepstream_debs"])


def root(handle, command: str) -> str:
    result = on_device(handle, DEVICE, command, sudo=True)
    assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    return result.stdout


def probe(handle) -> NvidiaFacts:
    out = on_device(handle, DEVICE, "sh -s", stdin=HELPERS + PROBE).stdout
    return nvidia_facts(split_sections(out).texts)


def plan(handle, mirror, facts, deepstream="8.0", **more):
    return plan_stack(facts, Matrix.load().nvidia,
                      StackOptions(Version(deepstream), repository=mirror.repository,
                                   keyring_sha256=mirror.keyring_sha256,
                                   deepstream_url=mirror.deepstream[deepstream], **more),
                      platform="x86", machine="x86_64", ubuntu="24.04")


def test_bare_host_to_deepstream_8_0_stack_then_a_reboot(bare):
    handle, mirror = bare
    before = probe(handle)
    assert [(g.device, g.pci_class, g.driver) for g in before.gpus] == [("1eb8", "0302", None)]
    assert not before.deepstream and not before.tensorrt and "cuda-keyring" not in before.packages
    first = plan(handle, mirror, before)
    assert [p.name for p in first.phases] == ["repository", "driver", "cuda", "tensorrt", "system", "hold",
                                                "deepstream"]
    assert first.open_modules and first.reboot_needed
    log = [root(handle, command) for command in first.commands]

    after = probe(handle)
    row = first.row
    assert after.packages["nvidia-open-570"] == "570.133.20-0ubuntu1"  # pinned: the branch's 570.133.99 is newer
    assert after.packages["cuda-toolkit-12-8"] == "12.8.0-1"
    assert after.packages["libssl-dev"] == "3.0.13-0ubuntu3"  # the guide's system package the profile lacks
    assert {after.packages.get(n) for n in row.tensorrt_packages} == {"10.9.0.34-1+cuda12.8"}, "\n".join(log)
    assert after.held == set(row.tensorrt_packages)
    assert after.deepstream == {"deepstream-8.0": "8.0.0-1"}
    assert '"version": "12.8.0"' in root(handle, "cat /usr/local/cuda/version.json")
    assert "NV_TENSORRT_MINOR 9 " in root(handle, "cat /usr/include/x86_64-linux-gnu/NvInferVersion.h")
    assert root(handle, "cat /opt/nvidia/deepstream/deepstream/version") == "Version: 8.0\n"
    smi = on_device(handle, DEVICE, "nvidia-smi --query-gpu=driver_version --format=csv,noheader")
    assert smi.returncode == 9 and "couldn't communicate with the NVIDIA driver" in smi.stdout  # not loaded yet
    # the hold is apt's: removing (or upgrading) a held package is refused
    held = on_device(handle, DEVICE, "apt-get remove -y libnvinfer10 2>&1", sudo=True)
    assert held.returncode == 100 and "this may be caused by held packages" in held.stdout, held.stdout

    again = plan(handle, mirror, after)
    assert again.phases == ()
    assert reboot_pending(after, row, installed_in_boot=after.boot_id)
    with pytest.raises(StackRefused, match="another DeepStream or TensorRT: deepstream-8.0=8.0.0-1"):
        plan(handle, mirror, after, deepstream="9.1")

    boot = after.boot_id
    session = subprocess.Popen([*handle.ssh_command(DEVICE), "sleep 600"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # a reboot ends it
    root(handle, "reboot")
    deadline, back = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        result = on_device(handle, DEVICE, "cat /proc/sys/kernel/random/boot_id", timeout=30)
        if result.returncode == 0 and result.stdout.strip() != boot:
            back = result.stdout.strip()
            break
        time.sleep(0.5)
    assert back, "the device did not come back with a new boot id"
    assert session.wait(timeout=30) != 0  # the host went away: its sessions ended
    rebooted = probe(handle)
    assert rebooted.boot_id == back and rebooted.held == set(row.tensorrt_packages)
    assert not reboot_pending(rebooted, row, installed_in_boot=boot)
    assert root(handle, "nvidia-smi --query-gpu=driver_version --format=csv,noheader") == "570.133.20\n"
    assert plan(handle, mirror, rebooted).phases == ()
