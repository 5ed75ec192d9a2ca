# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""provision --deepstream's pure parts: the probe's part run by sh over a built sysfs layout, its
parser, the matrix's package sets and PCI table, and the planner's commands and refusals."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from provision.facts.parsers import split_sections
from provision.matrix import Matrix, MatrixError
from provision.nvidia_stack.apt_plan import StackOptions, StackRefused, plan_jetson, plan_stack, reboot_pending
from provision.nvidia_stack.facts import PROBE, NvidiaFacts, nvidia_facts, parse_packages, parse_pci

HELPERS = ("section() { printf '\\n==> %s <==\\n' \"$1\"; }\nshow() { [ -r \"$1\" ] && cat \"$1\" 2>/dev/null; }\n"
           "has() { command -v \"$1\" >/dev/null 2>&1; }\n")
# A T4 on a bare host: the layout of Linux's sysfs (Documentation/ABI/testing/sysfs-bus-pci), the
# bus's entries linking into the device tree; an ASPEED BMC VGA beside it (a common server board).
T4 = {"vendor": "0x10de", "device": "0x1eb8", "class": "0x030200", "subsystem_vendor": "0x10de",
      "subsystem_device": "0x12a2"}
BMC = {"vendor": "0x1a03", "device": "0x2000", "class": "0x030000", "subsystem_vendor": "0x1a03",
       "subsystem_device": "0x2000"}
BRIDGE = {"vendor": "0x8086", "device": "0x1237", "class": "0x060000", "subsystem_vendor": "0x1af4",
          "subsystem_device": "0x1100"}


def sysfs(tmp: Path, devices: dict[str, dict[str, str]], drivers: dict[str, str]) -> Path:
    bus = tmp / "sys/bus/pci/devices"
    bus.mkdir(parents=True)
    for slot, files in devices.items():
        real = tmp / "sys/devices/pci0000:00" / slot
        real.mkdir(parents=True)
        for name, value in files.items():
            (real / name).write_text(value + "\n")
        if slot in drivers:
            target = tmp / "sys/bus/pci/drivers" / drivers[slot]
            target.mkdir(parents=True, exist_ok=True)
            (real / "driver").symlink_to(target)
        (bus / slot).symlink_to(real)
    return bus


def run_probe(bus: Path) -> dict[str, str]:
    script = HELPERS + PROBE.replace("/sys/bus/pci/devices", str(bus))
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    return split_sections(out).texts


@pytest.fixture(scope="module")
def m() -> Matrix:
    return Matrix.load()


def test_probe_reads_display_devices_from_sysfs(tmp_path):
    bus = sysfs(tmp_path, {"0000:00:00.0": BRIDGE, "0000:00:02.0": BMC, "0000:00:1e.0": T4}, {"0000:00:02.0": "ast"})
    sections = run_probe(bus)
    assert sections["nvidia_pci"].split("\n")[:2] == [
        "0000:00:02.0 0x1a03 0x2000 0x030000 0x1a03 0x2000 ast",
        "0000:00:1e.0 0x10de 0x1eb8 0x030200 0x10de 0x12a2 -"]
    facts = nvidia_facts(sections)
    assert [(g.slot, g.device, g.pci_class, g.subsystem, g.driver) for g in facts.gpus] == [
        ("0000:00:1e.0", "1eb8", "0302", "10de:12a2", None)]
    assert facts.boot_id  # this machine's /proc/sys/kernel/random/boot_id


def test_parsers_skip_what_does_not_parse():
    assert parse_pci("garbage\n0000:01:00.0 0x10de zz 0x030200 - - -\n0000:01:00.0 0x10de 0x2330 0x030200 - - nvidia") \
        [0].driver == "nvidia"
    assert parse_packages("ii \tcuda-keyring\t1.1-1\nrc \tnvidia-open-570\t570.1-1\nun \tx\t\nii \tlibc6:amd64\t2.36\n"
                          "hi \tlibnvinfer10\t10.9.0.34-1+cuda12.8\niF \tlibfoo\t1\n") \
        == {"cuda-keyring": "1.1-1", "libc6": "2.36", "libnvinfer10": "10.9.0.34-1+cuda12.8"}
    facts = nvidia_facts({"nvidia_packages": "hi \tlibnvinfer10\t10.9.0.34-1+cuda12.8\nhi \tlibnvinfer-dev:amd64\t1\n"
                                             "hn \tlibfoo\t\nii \tlibc6\t2.36\n", "boot_id": "\n"})
    assert facts.held == {"libnvinfer10", "libnvinfer-dev", "libfoo"} and facts.boot_id is None and facts.gpus == ()


def test_matrix_pci_table_and_package_sets(m):
    pci = m.nvidia.pci
    assert (pci.gpu("1EB8").name, pci.gpu("1eb8").compute_capability) == ("Tesla T4", "7.5")
    assert pci.open_modules("7.5") and pci.open_modules("12.0") and not pci.open_modules("7.0")
    ds80 = m.nvidia.stack(Version("8.0"), "x86")
    assert (ds80.driver.version, str(ds80.cuda), ds80.tensorrt) == ("570.133.20", "12.8", "10.9.0.34-1+cuda12.8")
    ds91 = m.nvidia.stack(Version("9.1"), "x86")
    assert ds91.cudnn == "9.20.0.48-1" and ds91.disputed  # the playbook's 595.45.04 and TensorRT 10.16.0
    # the stack agrees with deepstream.yml's requirements for the same release
    for stack in m.nvidia.stacks:
        x86 = m.deepstream(stack.deepstream).x86
        assert stack.cuda == x86.cuda and stack.ubuntu == f"{x86.ubuntu.release[0]}.{x86.ubuntu.release[1]:02d}"
        assert Version(stack.driver.version) >= x86.driver_min
        assert stack.tensorrt_version.release[:len(x86.tensorrt.release)] == x86.tensorrt.release


def test_matrix_rejects_a_driver_of_another_branch(tmp_path, m):
    from importlib.resources import files
    root = files("provision.matrix.data")
    for entry in root.iterdir():
        if entry.name.endswith(".yml"):
            (tmp_path / entry.name).write_text(entry.read_text())
    text = (tmp_path / "nvidia_stack.yml").read_text()
    (tmp_path / "nvidia_stack.yml").write_text(text.replace('version: "570.133.20"', 'version: "580.65.06"'))
    with pytest.raises(MatrixError, match="driver 580.65.06 is not of branch 570"):
        Matrix.load(tmp_path)
    (tmp_path / "nvidia_stack.yml").write_text(text.replace('tensorrt: "10.9.0.34-1+cuda12.8"', 'tensorrt: "10.9"'))
    with pytest.raises(MatrixError, match=r"tensorrt '10.9' is not a Debian version like '10.9.0.34-1\+cuda12.8'"):
        Matrix.load(tmp_path)


def bare(device: str = "1eb8", **more) -> NvidiaFacts:
    gpu = parse_pci(f"0000:00:1e.0 0x10de 0x{device} 0x030200 0x10de 0x12a2 -")
    return NvidiaFacts(gpus=gpu, packages=more.pop("packages", {"libc6": "2.39-0ubuntu8"}), boot_id="b1", **more)


def plan(m, facts, ds="8.0", ubuntu="24.04", **options):
    return plan_stack(facts, m.nvidia, StackOptions(Version(ds), **options), platform="x86", machine="x86_64",
                      ubuntu=ubuntu)


def test_bare_t4_to_deepstream_8_0(m):
    p = plan(m, bare())
    assert [ph.name for ph in p.phases] == ["repository", "driver", "cuda", "tensorrt", "system", "hold", "deepstream"]
    assert p.open_modules and p.reboot_needed and p.removes == ()
    apt = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends"
    assert p.commands[:7] == [
        "curl -fsSL -o /tmp/dsprov-cuda-keyring.deb"
        " https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/x86_64/cuda-keyring_1.1-1_all.deb",
        "echo 'd2a6b11c096396d868758b86dab1823b25e14d70333f1dfa74da5ddaf6a06dba  /tmp/dsprov-cuda-keyring.deb'"
        " | sha256sum -c -",
        "dpkg -i /tmp/dsprov-cuda-keyring.deb",
        "DEBIAN_FRONTEND=noninteractive apt-get update",
        f"{apt} nvidia-driver-pinning-570.133.20",
        f"{apt} nvidia-open-570",
        f"{apt} cuda-toolkit-12-8",
    ]
    trt = p.phases[3]
    assert len(trt.installs) == 15 and all(i.endswith("=10.9.0.34-1+cuda12.8") for i in trt.installs)
    assert p.phases[5].commands[0].startswith("apt-mark hold libnvinfer10 libnvinfer-plugin10 ")
    assert "libc6" not in " ".join(p.phases[4].installs)  # only the missing system packages
    assert p.commands[-2:] == [f"{apt} /tmp/deepstream-8.0_8.0.0-1_amd64.deb", "rm -f /tmp/deepstream-8.0_8.0.0-1_amd64.deb"]
    assert any("no cuDNN" in n for n in p.notes)


def test_deepstream_9_1_pins_cudnn_and_takes_the_release_asset(m):
    p = plan(m, bare("2330"), ds="9.1")
    cudnn = next(ph for ph in p.phases if ph.name == "cudnn")
    assert cudnn.installs == ("libcudnn9-cuda-13=9.20.0.48-1", "libcudnn9-dev-cuda-13=9.20.0.48-1",
                              "libcudnn9-headers-cuda-13=9.20.0.48-1")
    assert "nvidia-driver-pinning-595.58.03" in p.driver_phase.installs
    assert "https://github.com/NVIDIA/DeepStream/releases/download/v9.1.0/deepstream-9.1_9.1.0-1_amd64.deb" \
        in " ".join(p.commands)


def test_pre_turing_gets_the_proprietary_driver_and_no_cuda_13(m):
    p = plan(m, bare("1db4"))  # V100: 7.0
    assert not p.open_modules and "cuda-drivers-570" in p.driver_phase.installs
    with pytest.raises(StackRefused, match=r"CUDA 13.2, which does not support the Tesla V100 PCIe 16GB"):
        plan(m, bare("1db4"), ds="9.1")


@pytest.mark.parametrize("ds, ubuntu, device, message", [
    ("7.1", "24.04", "1eb8", "no x86 package set for DeepStream 7.1 .it has: 8.0, 9.1."),
    ("8.0", "22.04", "1eb8", "supported on Ubuntu 24.04; the host is Ubuntu 22.04"),
    ("8.0", None, "1eb8", "the host is not Ubuntu"),
    ("8.0", "24.04", "abcd", "PCI device 10de:abcd .* is not in the matrix's GPU table"),
])
def test_refusals(m, ds, ubuntu, device, message):
    with pytest.raises(StackRefused, match=message) as refused:
        plan(m, bare(device), ds=ds, ubuntu=ubuntu)
    assert refused.value.fix


def test_no_gpu_is_refused(m):
    with pytest.raises(StackRefused, match="no NVIDIA GPU on the PCI bus"):
        plan_stack(NvidiaFacts(), m.nvidia, StackOptions(Version("8.0")), platform="x86", machine="x86_64",
                   ubuntu="24.04")


def installed_8_0(m) -> dict[str, str]:
    row = m.nvidia.stack(Version("8.0"), "x86")
    packages = {"cuda-keyring": "1.1-1", "nvidia-driver-pinning-570.133.20": "570.133.20-1",
                "nvidia-open-570": "570.133.20-0ubuntu1", "cuda-toolkit-12-8": "12.8.0-1",
                "deepstream-8.0": "8.0.0-1"}
    packages |= dict.fromkeys(row.tensorrt_packages, row.tensorrt) | dict.fromkeys(row.system_packages, "1")
    return packages


def test_a_host_with_the_stack_plans_nothing_and_a_reboot_only_until_the_next_boot(m):
    row = m.nvidia.stack(Version("8.0"), "x86")
    facts = bare(packages=installed_8_0(m), held=frozenset(row.tensorrt_packages))
    p = plan(m, facts)
    assert p.phases == () and p.reboot_needed  # installed outside the tool, no module loaded
    assert not reboot_pending(facts, row, installed_in_boot="b0")  # booted since the install
    assert reboot_pending(facts, row, installed_in_boot="b1")
    loaded = bare(packages=installed_8_0(m), held=frozenset(row.tensorrt_packages), loaded_driver="570.133.20")
    assert not plan(m, loaded).reboot_needed
    unheld = bare(packages=installed_8_0(m), held=frozenset(row.tensorrt_packages[1:]))
    assert [ph.commands for ph in plan(m, unheld).phases] == [("apt-mark hold libnvinfer10",)]


def test_another_deepstream_is_refused_unless_replaced(m):
    packages = installed_8_0(m) | {"deepstream-7.1": "7.1.0-1", "libnvinfer10": "10.3.0.26-1+cuda12.5"}
    packages.pop("deepstream-8.0")
    facts = bare(packages=packages, held=frozenset({"libnvinfer10"}))
    with pytest.raises(StackRefused, match=r"another DeepStream or TensorRT: deepstream-7.1=7.1.0-1,"
                                           r" libnvinfer10=10.3.0.26-1\+cuda12.5") as refused:
        plan(m, facts)
    assert "--replace-stack" in refused.value.fix
    p = plan(m, facts, replace=True)
    assert p.removes == ("deepstream-7.1", "libnvinfer10")
    assert p.phases[0].commands == ("apt-mark unhold libnvinfer10",
                                    "DEBIAN_FRONTEND=noninteractive apt-get remove -y deepstream-7.1 libnvinfer10")
    assert [ph.name for ph in p.phases] == ["remove", "tensorrt", "hold", "deepstream"]
    assert p.phases[1].installs == ("libnvinfer10=10.9.0.34-1+cuda12.8",)


def test_a_mirror_replaces_the_repository_and_its_keyring_checksum(m):
    p = plan(m, bare(), repository="http://127.0.0.1:8000/cuda/ubuntu2404/x86_64/", keyring_sha256="ab" * 32,
             deepstream_url="http://127.0.0.1:8000/ds/deepstream-8.0_8.0.0-1_amd64.deb")
    assert p.commands[0].endswith(" http://127.0.0.1:8000/cuda/ubuntu2404/x86_64/cuda-keyring_1.1-1_all.deb")
    assert p.commands[1].startswith("echo '" + "ab" * 32)
    assert "http://127.0.0.1:8000/ds/deepstream-8.0_8.0.0-1_amd64.deb" in p.commands[-3]


def jetson_plan(m: Matrix, facts: NvidiaFacts, l4t: str = "36.4.0", deepstream: str = "7.1", ubuntu: str = "22.04",
                **options):
    return plan_jetson(facts, m.nvidia, StackOptions(Version(deepstream), **options), l4t=Version(l4t),
                       soc="tegra234", ubuntu=ubuntu)


def test_jetson_without_jetpack_gets_its_components_from_the_l4t_repository(m):
    plan = jetson_plan(m, NvidiaFacts(packages={"nvidia-l4t-core": "36.4.0-20240912212859"}))
    assert [p.name for p in plan.phases] == ["l4t-repository", "jetpack", "tensorrt", "system", "hold", "deepstream"]
    assert plan.commands[:2] == [
        "curl -fsSL -o /etc/apt/trusted.gpg.d/jetson-ota-public.asc"
        " https://repo.download.nvidia.com/jetson/jetson-ota-public.asc",
        "printf %s 'deb https://repo.download.nvidia.com/jetson/common r36.4 main\n"
        "deb https://repo.download.nvidia.com/jetson/t234 r36.4 main\n'"
        " > /etc/apt/sources.list.d/nvidia-l4t-apt-source.list"]
    jetpack = plan.phases[1]
    assert jetpack.installs[:2] == ("nvidia-cuda=6.1+b123", "nvidia-cuda-dev=6.1+b123")
    assert "libnvinfer10=10.3.0.30-1+cuda12.5" in plan.phases[2].installs
    assert plan.phases[4].commands[0].startswith("apt-mark hold tensorrt-libs libnvinfer10 ")
    assert not plan.reboot_needed and plan.gpu is None and plan.target == "JetPack 6.1 (L4T 36.4)"
    assert "deepstream-7.1_7.1.0-1_arm64.deb" in plan.phases[-1].commands[0]


def test_jetson_with_the_stack_in_place_plans_nothing(m):
    row = m.nvidia.jetson_stack(Version("7.1"))
    packages = {**dict.fromkeys(row.components, row.components_version),
                **dict.fromkeys(row.tensorrt_packages, row.tensorrt), **dict.fromkeys(row.system_packages, "1"),
                row.deepstream_package.package: row.deepstream_package.version}
    lines = m.nvidia.l4t_repository.lines("https://repo.download.nvidia.com/jetson/", "36.4", "t234")
    facts = NvidiaFacts(packages=packages, held=frozenset(row.tensorrt_packages), l4t_sources=lines)
    assert jetson_plan(m, facts).phases == ()


@pytest.mark.parametrize(("l4t", "deepstream", "ubuntu", "says"), [
    ("36.3.0", "7.1", "22.04", "needs JetPack 6.1 (L4T 36.4); the host runs L4T 36.3.0"),
    ("36.4.0", "8.0", "22.04", "no Jetson package set for DeepStream 8.0 (it has: 7.1)"),
    ("36.4.0", "7.1", "20.04", "JetPack 6.1 is Ubuntu 22.04; the host is Ubuntu 20.04"),
])
def test_jetson_refusals(m, l4t, deepstream, ubuntu, says):
    with pytest.raises(StackRefused, match=re.escape(says)):
        jetson_plan(m, NvidiaFacts(), l4t=l4t, deepstream=deepstream, ubuntu=ubuntu)


def test_jetson_with_another_tensorrt_is_refused_unless_replaced(m):
    facts = NvidiaFacts(packages={"libnvinfer8": "8.6.2.3-1+cuda12.2"}, held=frozenset({"libnvinfer8"}))
    with pytest.raises(StackRefused, match="another DeepStream or TensorRT: libnvinfer8=8.6.2.3-1"):
        jetson_plan(m, facts)
    plan = jetson_plan(m, facts, replace=True)
    assert plan.phases[0].commands == ("apt-mark unhold libnvinfer8",
                                       "DEBIAN_FRONTEND=noninteractive apt-get remove -y libnvinfer8")
