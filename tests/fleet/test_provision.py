# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""detect and provision over real SSH against the simulated fleet (real builds on the devices)."""


import pytest

from .helpers import document, hosts, invoke, on_device
pytestmark = pytest.mark.fleet


def test_detect_every_device_over_ssh(fleet):
    expected = {"nano01": ["53"], "tx2-01": ["62"], "xavier01": ["72"], "orin01": ["87"], "t4-01": ["75"]}
    for host, archs in expected.items():
        result = invoke(fleet, "detect", "--host", host, "--json")
        assert result.returncode == 0, result.stderr
        data = document(result)
        assert data["gpu_archs"]["archs"] == archs and data["gpu_archs"]["source"] == "deviceQuery", host
    nano = document(invoke(fleet, "detect", "--host", "nano01", "--json"))["facts"]
    assert (nano["jetson"]["family"], nano["jetson"]["l4t"], nano["jetson"]["jetpack"]) == ("nano", "32.7.1", "4.6.1")
    assert nano["tensorrt"].startswith("8.2.1") and nano["deepstream"] == "6.0.1" and nano["python"] is None


def sha(fleet, path):
    return on_device(fleet, "nano01", f"sha256sum {path}").stdout.split()[0]


def test_nano_provision_rerun_rollback_provision(fleet):
    lib = "/usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so.8.2.1"
    original = sha(fleet, lib)
    had_cmake = on_device(fleet, "nano01", "cmake --version").stdout.startswith("cmake version 3.")  # an earlier test's

    first = invoke(fleet, "provision", "--host", "nano01", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    report = hosts(first)[0]
    assert report["result"] == "ok" and report["outcome"] in ("built", "copied")
    steps = {s["name"]: s["status"] for s in report["steps"]}
    built = report["outcome"] == "built"  # else copied from the controller's cache: nothing to build
    assert [steps["trt-oss-build"], steps["plugin-swap"], steps["engines"]] == [
        "changed" if built else "unchanged", "changed", "unchanged"]
    # cmake is installed where a host builds and has none; a host that copies needs none
    cmake_installed = built and not had_cmake
    assert steps.get("cmake", "unchanged") == ("changed" if cmake_installed else "unchanged"), steps
    swapped = sha(fleet, lib)
    assert swapped != original
    assert on_device(fleet, "nano01", "readlink -f /usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so.8").stdout.strip() == lib
    assert on_device(fleet, "nano01", f"grep -c -a GPU_ARCHS=53 {lib}").stdout.strip() != "0"
    assert on_device(fleet, "nano01", "cmake --version").stdout.startswith("cmake version 3.") == (had_cmake or cmake_installed)
    diversion = on_device(fleet, "nano01", f"dpkg-divert --listpackage {lib}").stdout.strip()
    assert diversion == "dsprov"

    shown = document(invoke(fleet, "detect", "--host", "nano01", "--json"))["facts"]["provisioned"]
    assert shown["plugin"]["ref"] == "release/8.2" and shown["plugin"]["original_sha256"] == original

    again = hosts(invoke(fleet, "provision", "--host", "nano01", "--json"))[0]
    assert again["result"] == "ok" and not any(s["status"] == "changed" for s in again["steps"])
    assert sha(fleet, lib) == swapped

    back = invoke(fleet, "rollback", "--host", "nano01")
    assert back.returncode == 0, back.stderr
    assert sha(fleet, lib) == original
    assert on_device(fleet, "nano01", f"dpkg-divert --listpackage {lib}").stdout.strip() == ""

    third = hosts(invoke(fleet, "provision", "--host", "nano01", "--json"))[0]
    assert third["result"] == "ok" and third["outcome"] == "copied"  # same key: from the cache
    assert sha(fleet, lib) == swapped
    invoke(fleet, "rollback", "--host", "nano01")


def test_refusals_are_one_line_and_change_nothing(fleet):
    # Orin on JetPack 6.0 ships TensorRT 8.6.2: the guides have no OSS ref for it (prebuilt only),
    # so a build is refused. (Another test of the session may have provisioned and rolled back
    # orin01 before: compare with what was there.)
    listing = "ls -la --time-style=+%s /var/lib/dsprov /var/lib/dsprov/orig 2>/dev/null; cat /var/lib/dsprov/state.json"
    before = on_device(fleet, "orin01", listing).stdout
    orin = invoke(fleet, "provision", "--host", "orin01", "--force", "--plugin-source", "build")
    assert orin.returncode == 1
    assert "8.6" in orin.stdout and "refused" in orin.stdout
    assert on_device(fleet, "orin01", listing).stdout == before
    unknown = invoke(fleet, "provision", "--host", "nano99")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: 'nano99' is neither a host nor a group")
