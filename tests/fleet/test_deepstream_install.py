# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""`provision --deepstream 8.0` (and 9.1 on a second host, through the Ansible collection) on a bare x86 host (profile x86-bare, the fleet mirror's stand-in of
NVIDIA's CUDA network repository): the dry run prints the apt commands and changes nothing; the
first run installs the driver and stops, asking for a reboot; without one the next run is refused;
with --reboot the tool reboots the host, waits for its new boot id and installs CUDA, TensorRT (held)
and DeepStream, then in the same run (a second probe, the same lock) builds and swaps the plugin,
builds pyds and checks the engines on the installed stack; detect then shows DeepStream 8.0, TensorRT
10.9, CUDA 12.8 and the matrix's driver; a rerun changes nothing; another release is refused; rollback
removes what was installed and keeps the driver, saying why. A Jetson flashed without JetPack's
components (profile orin-bare, L4T 36.4.0) gets DeepStream 7.1's from the mirror's stand-in of
NVIDIA's L4T apt repository, then the plugin, in one run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import document, fleet_env, hosts, invoke, on_device

pytestmark = pytest.mark.fleet
ROOT = Path(__file__).resolve().parents[2]
DEVICE = "bare01"
SECOND = "bare02"
ORIN = "orin01"


@pytest.fixture(scope="module")
def bare(serve_fleet, tmp_path_factory):
    with serve_fleet("deepstream-install", f"name: dsinstall\ndevices:\n  - {{name: {DEVICE}, profile: x86-bare, python3: true}}\n"
                     f"  - {{name: {SECOND}, profile: x86-bare}}\n  - {{name: {ORIN}, profile: orin-bare}}\n") as handle:
        yield handle, fleet_env(handle, tmp_path_factory.mktemp("ds-install-cache"))


def provision(bare, *flags: str):
    handle, env = bare
    return invoke(handle, "provision", "--host", DEVICE, "--deepstream", "8.0", *flags, env=env)


def packages(handle, device: str = DEVICE) -> str:
    return on_device(handle, device, "dpkg-query -W -f '${Package}=${Version}\\n' 'deepstream*' 'libnvinfer*'"
                     " 'cuda-*' 'libcudnn*' 'python3-libnvinfer*' 'nvidia-*' 'tensorrt*' 2>/dev/null; apt-mark showhold").stdout


def test_bare_host_to_deepstream_8_0(bare):
    handle, env = bare
    dry = provision(bare, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "apt-get install -y --no-install-recommends nvidia-driver-pinning-570.133.20" in dry.stdout
    assert "apt-mark hold libnvinfer10 " in dry.stdout or "nvidia-driver" in dry.stdout
    assert packages(handle).strip() == ""

    first = provision(bare, "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    steps = hosts(first)[0]["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [("nvidia-driver", "changed")]
    assert "nvidia-open-570=570.133.20-0ubuntu1" in packages(handle)
    assert "libnvinfer10" not in packages(handle)

    refused = provision(bare)
    assert refused.returncode != 0 and "installed but not running: reboot the host (or pass --reboot)" in (
        refused.stdout + refused.stderr)

    dry = provision(bare, "--reboot", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "note: the plugin, pyds and engines are planned after the stack's install, in the same run" in dry.stdout
    assert "plugin-swap" not in dry.stdout  # not known before the install
    assert "apt-get install -y --no-install-recommends libssl-dev" in dry.stdout  # the guide's system packages

    second = provision(bare, "--reboot", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    report = hosts(second)[0]
    names = [s["name"] for s in report["steps"]]
    # the stack, then in the same run (a second probe, the same lock) the plugin, pyds and engines
    assert names[:2] == ["reboot", "nvidia-stack"] and {"trt-oss-build", "plugin-swap", "pyds-install",
                                                        "engines"} <= set(names[2:]), (report["steps"], report["message"])
    assert names.index("trt-oss-build") < names.index("plugin-swap") < names.index("pyds-install"), names
    assert all(s["status"] == "changed" for s in report["steps"][:2]), report["steps"]
    assert [line for line in report["plan"] if line.startswith(f"{DEVICE}: ")] == [
        f"{DEVICE}: 2 step(s)", f"{DEVICE}: {len(names) - 2} step(s)"], report["plan"]
    assert "planned after the stack's install" not in report["message"], report["message"]
    assert on_device(handle, DEVICE, "dpkg-divert --list '*libnvinfer_plugin*'").stdout.strip()
    installed = packages(handle)
    assert "deepstream-8.0=8.0.0-1" in installed and "libnvinfer10=10.9.0.34-1+cuda12.8" in installed
    assert "cuda-toolkit-12-8=12.8.0-1" in installed
    assert on_device(handle, DEVICE, "dpkg-query -W -f '${Version}' libssl-dev").stdout == "3.0.13-0ubuntu3"  # the
    # system phase's apt-get install ran (the stand-in repository's; the profile lacks it)
    assert "\nlibnvinfer10\n" in installed and "\ntensorrt-dev\n" in installed  # held (apt-mark showhold)

    detect = invoke(handle, "detect", "--host", DEVICE, "--json", env=env)
    facts = document(detect)["facts"]
    assert (facts["deepstream"], facts["tensorrt"], facts["cuda"], facts["driver"]) == (
        "8.0", "10.9.0.34", "12.8.0", "570.133.20"), facts

    again = provision(bare, "--reboot", "--json")  # a rerun: nothing to change
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = hosts(again)[0]
    assert not [s for s in rerun["steps"] if s["status"] != "unchanged"], rerun["steps"]
    assert "nvidia-stack" not in " ".join(rerun["plan"]), rerun["plan"]

    other = invoke(handle, "provision", "--host", DEVICE, "--deepstream", "9.1", env=env)
    assert other.returncode != 0 and "another DeepStream or TensorRT: deepstream-8.0=8.0.0-1" in other.stdout + other.stderr

    back = invoke(handle, "rollback", "--host", DEVICE, "--json", env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    left = packages(handle)
    assert "deepstream-8.0" not in left and "libnvinfer10" not in left and "cuda-toolkit-12-8" not in left
    assert "nvidia-open-570=570.133.20-0ubuntu1" in left  # kept, and said so
    assert "the driver and the CUDA repository's keyring are kept" in back.stdout


def test_a_second_bare_host_to_deepstream_9_1_in_one_ansible_play(bare):
    """The collection's play with dsprov_deepstream=9.1 and dsprov_reboot=true: driver 595 (open
    modules), the reboot (the action plugin's run sees the host go away and come back with a new boot
    id, and goes on), CUDA 13.2, cuDNN 9.20, TensorRT 10.16.1.11 held, DeepStream 9.1 from its
    GitHub release asset's path on the mirror."""
    handle, env = bare
    boot = on_device(handle, SECOND, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(handle.inventory),
                          "playbooks/provision.yml", "--limit", SECOND, "-e", "dsprov_deepstream=9.1",
                          "-e", "dsprov_reboot=true", "-e", "dsprov_verbose=true"],
                         cwd=ROOT, env={**env, "ANSIBLE_NOCOLOR": "1"}, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(rf"^{SECOND}\s+:\s+ok=1\s+changed=1\s+unreachable=0\s+failed=0", run.stdout, re.M), run.stdout
    steps = re.findall(rf"^{SECOND}: \[([\w-]+)\] (\w+):", run.stdout, re.M)
    assert steps[:3] == [("nvidia-driver", "changed"), ("reboot", "changed"), ("nvidia-stack", "changed")], run.stdout
    assert ("plugin-swap", "changed") in steps[3:], run.stdout  # then the plugin, the same play
    assert on_device(handle, SECOND, "cat /proc/sys/kernel/random/boot_id").stdout.strip() != boot
    installed = packages(handle, SECOND)
    for wanted in ("nvidia-open-595=595.58.03-0ubuntu1", "cuda-toolkit-13-2=13.2.0-1",
                   "libcudnn9-cuda-13=9.20.0.48-1", "libnvinfer10=10.16.1.11-1+cuda13.2",
                   "python3-libnvinfer=10.16.1.11-1+cuda13.2", "deepstream-9.1=9.1.0-1"):
        assert wanted in installed, installed
    assert "\nlibnvinfer-win-builder-resource10\n" in installed  # held
    facts = document(invoke(handle, "detect", "--host", SECOND, "--json", env=env))["facts"]
    assert (facts["deepstream"], facts["tensorrt"], facts["cuda"], facts["driver"]) == (
        "9.1", "10.16.1.11", "13.2.0", "595.58.03"), facts


def test_a_jetson_without_jetpack_to_deepstream_7_1(bare):
    """L4T 36.4 (JetPack 6.1's) without its components: the L4T repository's sources list and key,
    nvidia-jetpack's components at 6.1+b123, TensorRT 10.3.0.30 pinned and held, DeepStream 7.1's
    arm64 .deb; no driver and no reboot (L4T's own); a rerun plans nothing of the stack; rollback
    removes what came (the components' dependencies too) and keeps the sources list, saying why."""
    handle, env = bare
    refused = invoke(handle, "provision", "--host", ORIN, "--deepstream", "8.0", "--dry-run", env=env)
    assert refused.returncode != 0 and "no Jetson package set for DeepStream 8.0 (it has: 7.1)" in refused.stderr
    dry = invoke(handle, "provision", "--host", ORIN, "--deepstream", "7.1", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    for line in ("jetson/common r36.4 main", "jetson/t234 r36.4 main",
                 "install -y --no-install-recommends nvidia-cuda=6.1+b123 nvidia-cuda-dev=6.1+b123",
                 "libnvinfer10=10.3.0.30-1+cuda12.5", "apt-mark hold tensorrt-libs libnvinfer10"):
        assert line in dry.stdout, dry.stdout
    assert "nvidia-open" not in dry.stdout and "reboot" not in dry.stdout
    assert packages(handle, ORIN).strip() == "nvidia-l4t-core=36.4.0-20240912212859"  # L4T's, nothing of JetPack

    run = invoke(handle, "provision", "--host", ORIN, "--deepstream", "7.1", "--json", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    names = [s["name"] for s in hosts(run)[0]["steps"]]  # the stack, then the plugin on it (the same run)
    assert names[0] == "nvidia-stack" and "plugin-swap" in names, hosts(run)[0]["steps"]
    installed = packages(handle, ORIN)
    for wanted in ("nvidia-cuda=6.1+b123", "nvidia-tensorrt-dev=6.1+b123", "cuda-toolkit-12-6=12.6.11-1",
                   "libcudnn9-cuda-12=9.3.0.75-1", "tensorrt-libs=10.3.0.30-1+cuda12.5",
                   "libnvinfer10=10.3.0.30-1+cuda12.5", "deepstream-7.1=7.1.0-1", "\nlibnvinfer10\n"):
        assert wanted in installed, installed
    detect = invoke(handle, "detect", "--host", ORIN, "--json", env=env)
    facts = document(detect)["facts"]
    assert (facts["deepstream"], facts["tensorrt"], facts["cuda"]) == ("7.1", "10.3.0.30", "12.6.11"), facts

    again = invoke(handle, "provision", "--host", ORIN, "--deepstream", "7.1", "--json", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {s["status"] for s in hosts(again)[0]["steps"]} == {"unchanged"}, hosts(again)[0]["steps"]
    assert "nvidia-stack" not in " ".join(hosts(again)[0]["plan"])

    back = invoke(handle, "rollback", "--host", ORIN, "--json", env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    left = packages(handle, ORIN)
    assert "deepstream-7.1" not in left and "libnvinfer10" not in left and "cuda-toolkit-12-6" not in left, left
    assert "the L4T apt repository's sources list and key are kept" in back.stdout
    sources = on_device(handle, ORIN, "cat /etc/apt/sources.list.d/nvidia-l4t-apt-source.list").stdout
    assert "/jetson/t234 r36.4 main" in sources
