# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The project's deviceQuery compiled by the real nvcc and run on this machine, and detect's
fallback when it fails (CI machines have CUDA 13.0's toolkit but no GPU)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from provision.detect import analyse
from provision.detect import probe_script
from provision.facts.parsers import parse_device_query
from simfleet.profiles import PUBLISHED_DIR

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "provision" / "gpu" / "devicequery.cu"
NVCC = Path(os.environ.get("DSPROV_NVCC", "/usr/local/cuda/bin/nvcc"))
PUBLISHED = PUBLISHED_DIR

pytestmark = pytest.mark.skipif(not NVCC.exists(), reason=f"no CUDA toolkit: {NVCC} is absent (DSPROV_NVCC)")


def has_gpu() -> bool:
    return any(Path("/dev").glob("nvidia[0-9]*"))


@pytest.fixture(scope="module")
def real_probe(tmp_path_factory) -> str:
    """The whole probe run here, under sh, with the real nvcc on its PATH."""
    folder = tmp_path_factory.mktemp("probe")
    result = subprocess.run(["sh", "-s", "--", str(folder)], input=probe_script(), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def with_section(text: str, name: str, body: str) -> str:
    """The probe output with one section's text replaced (a GPU tool this machine lacks)."""
    return re.sub(rf"(==> {name} <==\n).*?(?=\n==> )", lambda m: m.group(1) + body.rstrip("\n"), text,
                  count=1, flags=re.DOTALL)


def test_devicequery_compiles_with_real_nvcc_and_reports_its_failure(tmp_path):
    binary = tmp_path / "devicequery"
    subprocess.run([str(NVCC), "-o", str(binary), str(SOURCE)], check=True, capture_output=True, timeout=600)
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60)
    dq = parse_device_query(run.stdout)
    if has_gpu():
        assert run.returncode == 0 and dq.devices and dq.error is None, run.stdout
        return
    assert run.returncode == 1, run.stdout
    assert "Result = FAIL" in run.stdout
    # no driver here: cudaErrorInsufficientDriver (35); a driver without a GPU: cudaErrorNoDevice (100)
    assert re.fullmatch(r"cudaGetDeviceCount returned (35|100): .+", dq.error), dq.error
    assert dq.devices == ()


@pytest.mark.skipif(has_gpu(), reason="this machine has a GPU: deviceQuery does not fail")
def test_detect_falls_back_when_the_real_devicequery_fails(real_probe):
    section = real_probe.split("==> device_query <==\n", 1)[1]
    assert "cudaGetDeviceCount returned" in section and "deviceQuery exit status: 1" in section
    d = analyse("here", real_probe)
    assert d.facts.device_query.error.endswith("(exit status 1)")
    if not d.facts.smi or not d.facts.smi.gpus:  # no nvidia-smi either: only --gpu-archs
        assert d.gpu_archs.archs == () and "--gpu-archs" in d.gpu_archs.notes[0]
    given = analyse("here", real_probe, gpu_archs="75")
    assert given.gpu_archs.archs == ("75",) and given.gpu_archs.source == "--gpu-archs"

    smi = "name, compute_cap, driver_version, memory.total [MiB]\nTesla T4, 7.5, 580.65.06, 15360 MiB\n"
    by_smi = analyse("here", with_section(real_probe, "nvidia_smi_query", smi))
    assert by_smi.gpu_archs.archs == ("75",) and by_smi.gpu_archs.source == "nvidia-smi"
    assert any(n.startswith("deviceQuery failed (cudaGetDeviceCount returned") and n.endswith("using nvidia-smi")
               for n in by_smi.gpu_archs.notes), by_smi.gpu_archs.notes

    # an R470 nvidia-smi rejects compute_cap (recorded message), then names the GPU: the model table
    rejected = (PUBLISHED / "misc" / "nvidia_smi_compute_cap_rejected.txt").read_text()
    old_smi = rejected.rstrip("\n") + "\n\nname, driver_version, memory.total [MiB]\nTesla T4, 470.63.01, 15109 MiB\n"
    by_table = analyse("here", with_section(real_probe, "nvidia_smi_query", old_smi))
    assert by_table.gpu_archs.archs == ("75",) and by_table.gpu_archs.source == "GPU table", by_table.gpu_archs
    assert any("deviceQuery failed" in n for n in by_table.gpu_archs.notes)


def test_devicequery_compiled_once_per_boot_and_driver(tmp_path):
    """The real nvcc (behind a wrapper that logs each run) compiles deviceQuery on the first probe,
    not on the second; a new boot id (bound over /proc's in a user namespace, as simfleet's devices
    do) or a new driver version (from an nvidia-smi stand-in: this machine has no GPU) compiles it again."""
    if not shutil.which("unshare"):
        pytest.fail("unshare is not installed (util-linux)")
    tools, home, log = tmp_path / "bin", tmp_path / "home", tmp_path / "nvcc.log"
    tools.mkdir()
    home.mkdir()
    boot, driver = tmp_path / "boot_id", tmp_path / "driver"
    boot.write_text("0e7c7f59-5a0b-4c3a-9d61-8a1d2b7c4e01\n")
    driver.write_text("470.63.01")
    (tools / "nvcc").write_text(f'#!/bin/sh\necho "nvcc $*" >> {log}\nexec {NVCC} "$@"\n')
    (tools / "nvidia-smi").write_text(
        "#!/bin/sh\necho 'name, compute_cap, driver_version, memory.total [MiB]'\n"
        f"echo \"Tesla T4, 7.5, $(cat {driver}), 15360 MiB\"\n")
    for tool in tools.iterdir():
        tool.chmod(0o755)
    env = {"PATH": f"{tools}:{os.environ['PATH']}", "HOME": str(home), "LC_ALL": "C"}
    script = f"mount --bind {boot} /proc/sys/kernel/random/boot_id && exec sh -s -- {tmp_path / 'build'}"

    def probe() -> tuple[str, int]:
        result = subprocess.run(["unshare", "-rm", "sh", "-c", script], input=probe_script(), capture_output=True,
                                text=True, env=env, timeout=600)
        assert result.returncode == 0, result.stderr
        compiles = sum("-o" in line.split() for line in log.read_text().splitlines()) if log.exists() else 0
        return result.stdout.split("==> device_query <==\n", 1)[1].split("\n==> ", 1)[0], compiles

    first, compiles = probe()
    assert compiles == 1 and ("Device 0:" in first or "cudaGetDeviceCount returned" in first), first
    assert probe() == (first, 1)  # the same boot and driver: the kept output, nothing compiled
    assert (home / ".cache/dsprov/probe/device_query").read_text().rstrip("\n") == first.rstrip("\n")
    boot.write_text("5d2f3c1a-7b8e-4f60-a1c2-3e4d5f6a7b8c\n")  # a reboot
    assert probe()[1] == 2
    assert probe()[1] == 2
    driver.write_text("535.104.05")  # a new driver
    assert probe()[1] == 3
