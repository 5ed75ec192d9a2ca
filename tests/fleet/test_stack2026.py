# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 10 on the simulated fleet: the devices a 2026 user has.

AGX Orin on JetPack 6.0 gets NVIDIA's prebuilt library (the guide is binary-only) and can roll it
back; the Orin Nano on JetPack 6.2 builds release/10.3; Jetson Thor on JetPack 7.0 is detected as
tegra264 / SM 110 and builds release/10.13.3 (its TensorRT 10.13.3.9) with CUDA 13.0; a Jetson inside a container is recognised
without /etc/nv_tegra_release. Uses the session's demo fleet (no extra fleet start).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import document, hosts

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.fleet
LIB = "/usr/lib/aarch64-linux-gnu"


def invoke(fleet, *args):
    return subprocess.run([sys.executable, "-m", "invoke", *args, "-i", str(fleet.inventory)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def on_device(fleet, name, command):
    return subprocess.run([*fleet.ssh_command(name), command], capture_output=True, text=True, timeout=120).stdout


def detect(fleet, host):
    result = invoke(fleet, "detect", "--host", host, "--json")
    assert result.returncode == 0, result.stderr
    return document(result)


def test_agx_orin_jetpack_6_0_installs_the_prebuilt_8_6_2_and_rolls_it_back(fleet):
    lib = f"{LIB}/libnvinfer_plugin.so.8.6.2"
    original = on_device(fleet, "orin01", f"sha256sum {lib}").split()[0]
    plan = invoke(fleet, "provision", "--host", "orin01", "--dry-run")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "[prebuilt-plugin]" in plan.stdout and "TRT-OSS/Jetson/TRT8.6/libnvinfer_plugin.so.8.6.2" in plan.stdout

    first = invoke(fleet, "provision", "--host", "orin01", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    report = hosts(first)[0]
    assert report["result"] == "ok" and report["outcome"] == "fetched", report
    assert [s["name"] for s in report["steps"]][:2] == ["prebuilt-plugin", "plugin-swap"]
    pinned = {p["platform"]: p for p in fleet_prebuilt(fleet)["libraries"]}["jetson"]
    assert on_device(fleet, "orin01", f"sha256sum {lib}").split()[0] == pinned["sha256"] != original
    assert on_device(fleet, "orin01", f"readlink -f {LIB}/libnvinfer_plugin.so.8").strip() == lib
    assert on_device(fleet, "orin01", f"dpkg-divert --listpackage {lib}").strip() == "dsprov"
    state = detect(fleet, "orin01")["facts"]["provisioned"]["plugin"]
    assert state["original_sha256"] == original and state["ref"].startswith("deepstream_tao_apps@")

    again = hosts(invoke(fleet, "provision", "--host", "orin01", "--json"))[0]
    assert again["result"] == "ok" and not any(s["status"] == "changed" for s in again["steps"])

    back = invoke(fleet, "rollback", "--host", "orin01")
    assert back.returncode == 0, back.stderr
    assert on_device(fleet, "orin01", f"sha256sum {lib}").split()[0] == original
    assert on_device(fleet, "orin01", f"dpkg-divert --listpackage {lib}").strip() == ""


def fleet_prebuilt(fleet):
    import yaml
    return yaml.safe_load((fleet.runtime_dir / "group_vars" / "all.yml").read_text())["dsprov_prebuilt_plugins"]


def test_a_prebuilt_with_another_sha256_is_refused_and_nothing_changes(fleet, tmp_path):
    """A library whose SHA-256 is not the pinned one never reaches the host's library folder."""
    lib = f"{LIB}/libnvinfer_plugin.so.8.6.2"
    before = on_device(fleet, "orin01", f"sha256sum {lib}")
    pin = fleet_prebuilt(fleet)
    wrong = {**pin, "libraries": [{**p, "sha256": "0" * 64} for p in pin["libraries"]]}
    host_vars = fleet.inventory.parent / "host_vars"
    host_vars.mkdir(exist_ok=True)
    (host_vars / "orin01.yml").write_text(json.dumps({"dsprov_prebuilt_plugins": wrong}))
    try:
        result = invoke(fleet, "provision", "--host", "orin01", "--json")
    finally:
        (host_vars / "orin01.yml").unlink()
    report = hosts(result)[0]
    assert result.returncode == 1 and report["result"] == "failed"
    assert "has SHA-256" in report["message"] and "nothing was installed" in report["message"]
    assert on_device(fleet, "orin01", f"sha256sum {lib}") == before


def test_orin_nano_jetpack_6_2_builds_release_10_3_for_sm87(fleet):
    facts = detect(fleet, "orin-nano01")
    jetson = facts["facts"]["jetson"]
    assert (jetson["family"], jetson["l4t"], jetson["jetpack"]) == ("orin", "36.4.3", "6.2")
    assert facts["gpu_archs"]["archs"] == ["87"]
    verdicts = {v["rule"]: v["status"] for v in facts["verdicts"]}
    assert verdicts["deepstream.jetpack"] == "WARN" and verdicts["tensorrt.oss.guide"] == "OK"  # DS 7.1 names 6.1

    result = invoke(fleet, "provision", "--host", "orin-nano01", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = hosts(result)[0]
    assert report["result"] == "ok" and report["outcome"] in ("built", "copied")
    lib = f"{LIB}/libnvinfer_plugin.so.10.3.0"
    assert on_device(fleet, "orin-nano01", f"grep -c -a GPU_ARCHS=87 {lib}").strip() != "0"
    assert invoke(fleet, "rollback", "--host", "orin-nano01").returncode == 0


def test_thor_jetpack_7_builds_release_10_13_3_for_sm110(fleet):
    facts = detect(fleet, "thor01")
    jetson = facts["facts"]["jetson"]
    assert (jetson["family"], jetson["soc"], jetson["l4t"], jetson["jetpack"]) == ("thor", "tegra264", "38.2.2", "7.0")
    assert facts["facts"]["cuda"].startswith("13.0") and facts["facts"]["os_version"] == "24.04"
    assert facts["gpu_archs"]["archs"] == ["110"]
    verdicts = {v["rule"]: v for v in facts["verdicts"]}
    assert verdicts["jetpack"]["status"] == "OK" and verdicts["deepstream.jetpack"]["status"] == "OK"
    assert "release/10.13.3 (NvInferVersion 10.13.3.9)" in verdicts["tensorrt.oss"]["reason"]
    plan = invoke(fleet, "provision", "--host", "thor01", "--dry-run")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "-b release/10.13.3" in plan.stdout and "-DGPU_ARCHS=110" in plan.stdout and "-DCUDA_VERSION=13.0" in plan.stdout
    result = invoke(fleet, "provision", "--host", "thor01", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hosts(result)[0]["result"] == "ok"
    lib = f"{LIB}/libnvinfer_plugin.so.10.13.3"
    assert on_device(fleet, "thor01", f"grep -c -a GPU_ARCHS=110 {lib}").strip() != "0"
    assert invoke(fleet, "rollback", "--host", "thor01").returncode == 0


def test_jetson_in_a_container_without_nv_tegra_release(fleet):
    facts = detect(fleet, "orin-ctr01")["facts"]
    jetson = facts["jetson"]
    assert on_device(fleet, "orin-ctr01", "ls /etc/nv_tegra_release 2>&1").strip().endswith("No such file or directory")
    assert (jetson["family"], jetson["container"], jetson["l4t"], jetson["jetpack"]) == ("orin", "docker", None, None)
    assert jetson["unknown"] == ["L4T", "JetPack", "board"]
    assert facts["platform"] == "jetson" and facts["tensorrt"].startswith("10.3.0")
    assert any("inside a docker container" in w and "unknown: L4T, JetPack, board" in w for w in facts["warnings"])
