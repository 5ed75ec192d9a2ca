# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""pyds on the simulated fleet: a Nano and a T4 server that were given Debian's python3 (3.11).

The wheel is built on the device from the fleet mirror's deepstream_python_apps fixture, tagged
for its platform, installed with its own pip and imported; a wheel for another platform is
refused and changes nothing. Tests run in file order and build on each other's results.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import hosts


ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.fleet
FLEET = """name: pyds
devices:
  - {name: pynano01, profile: nano, python3: true}
  - {name: pyt4-01, profile: t4, python3: true}
"""
ELF_MACHINES = {b"\xb7\x00": "aarch64", b"\x3e\x00": "x86_64"}
SITE = "/usr/local/lib/python3.11/dist-packages"  # where Debian's pip installs for root


@pytest.fixture(scope="module")
def pyfleet(serve_fleet):
    with serve_fleet("pyds", FLEET) as handle:
        yield handle


def cache(handle) -> Path:
    return handle.runtime_dir / "controller-cache"  # starts cold


def invoke(handle, *args):
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args, "-i", str(handle.inventory)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "DSPROV_CACHE": str(cache(handle))},
    )


def on_device(handle, name, command):
    return subprocess.run([*handle.ssh_command(name), command], capture_output=True, text=True, timeout=300)


def report(result):
    assert result.returncode == 0, result.stdout + result.stderr
    (only,) = hosts(result)
    return only


def native_machine(handle, name):
    """The ELF machine of the installed pyds native part."""
    header = on_device(handle, name, f"head -c 20 {SITE}/pyds/_native_standin.so | od -An -tx1").stdout.split()
    return ELF_MACHINES[bytes(int(b, 16) for b in header[18:20])]


def test_python_only_where_asked(pyfleet):
    for device in pyfleet.devices:
        assert on_device(pyfleet, device.name, "python3 --version").stdout.strip() == "Python 3.11.2"
        assert not (device.lower / "usr/bin/python3").exists()  # the shared base root has none


def test_provision_plan_puts_pyds_after_the_plugin(pyfleet):
    plan = report(invoke(pyfleet, "provision", "--host", "pyt4-01", "--dry-run", "--json"))["plan"]
    steps = [line.split("]")[0].split("[")[1] for line in plan if line.lstrip()[:1].isdigit()]
    assert steps == ["cmake", "trt-oss-build", "plugin-swap", "pyds-build", "pyds-install", "engines"]
    skipped = report(invoke(pyfleet, "provision", "--host", "pyt4-01", "--dry-run", "--json", "--skip-pyds"))["plan"]
    assert "  note: pyds: skipped (--skip-pyds)" in skipped and not any("[pyds-" in line for line in skipped)
    dry = invoke(pyfleet, "pyds", "--host", "pyt4-01", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "-DPYTHON_MAJOR_VERSION=3 -DPYTHON_MINOR_VERSION=11 -DPIP_PLATFORM=linux_x86_64" in dry.stdout


def test_t4_gets_a_linux_x86_64_wheel(pyfleet):
    r = report(invoke(pyfleet, "pyds", "--host", "pyt4-01", "--json"))
    assert [(s["name"], s["status"]) for s in r["steps"]] == [
        ("cmake", "changed"), ("pyds-build", "changed"), ("pyds-install", "changed")]
    assert [p.name for p in cache(pyfleet).glob("artifacts/*/pyds-*.whl")] == ["pyds-1.1.0-py3-none-linux_x86_64.whl"]
    assert on_device(pyfleet, "pyt4-01", "cd / && python3 -c 'import pyds; print(pyds.__version__)'").stdout == "1.1.0\n"
    assert native_machine(pyfleet, "pyt4-01") == "x86_64"


def test_nano_gets_a_linux_aarch64_wheel_once(pyfleet):
    r = report(invoke(pyfleet, "pyds", "--host", "pynano01", "--json"))
    assert [s["status"] for s in r["steps"]] == ["changed"] * 3  # cmake, pyds-build, pyds-install
    assert len(list(cache(pyfleet).glob("artifacts/*/pyds-1.1.1-py3-none-linux_aarch64.whl"))) == 1
    assert "pyds: WARN: pyds v1.1.1 for DeepStream 6.0.1 targets Python 3.6; this host has 3.11.2" in r["message"]
    assert on_device(pyfleet, "pynano01", "cd / && python3 -c 'import pyds; print(pyds.__version__)'").stdout == "1.1.1\n"
    assert native_machine(pyfleet, "pynano01") == "aarch64"
    state = json.loads(on_device(pyfleet, "pynano01", "cat /var/lib/dsprov/state.json").stdout)["pyds"]
    assert state["wheel"] == "/var/lib/dsprov/wheels/pyds-1.1.1-py3-none-linux_aarch64.whl" and state["tag"] == "v1.1.1"

    again = report(invoke(pyfleet, "pyds", "--host", "pynano01", "--json"))
    assert [(s["name"], s["status"]) for s in again["steps"]] == [("pyds-build", "unchanged"), ("pyds-install", "unchanged")]


def test_x86_64_wheel_offered_to_the_nano_is_refused_and_changes_nothing(pyfleet):
    (x86,) = cache(pyfleet).glob("artifacts/*/pyds-1.1.0-py3-none-linux_x86_64.whl")  # built on pyt4-01 above
    look = (f"cat /var/lib/dsprov/state.json; ls -l --time-style=full-iso /var/lib/dsprov/wheels {SITE}/pyds;"
            f" sha256sum {SITE}/pyds/*; cd / && python3 -c 'import pyds; print(pyds.__version__)'")
    before = on_device(pyfleet, "pynano01", look).stdout
    result = invoke(pyfleet, "pyds", "--host", "pynano01", "--wheel", str(x86))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "error: pynano01: refused: pyds: not installed: pyds-1.1.0-py3-none-linux_x86_64.whl does not fit CPython 3.11"
        " (cp311) on linux_aarch64, glibc 2.36: py3-none-linux_x86_64: platform linux_x86_64 is not one it runs"
        " (linux_aarch64, manylinux_2_17..2_36_aarch64, any)"
    )
    assert on_device(pyfleet, "pynano01", look).stdout == before
    assert "1.1.1" in before


def test_provision_keeps_the_installed_pyds(pyfleet):
    r = report(invoke(pyfleet, "provision", "--host", "pyt4-01", "--json"))
    assert [(s["name"], s["status"]) for s in r["steps"]] == [
        ("trt-oss-build", "changed"), ("plugin-swap", "changed"), ("pyds-build", "unchanged"), ("pyds-install", "unchanged"),
        ("engines", "changed")]  # the T4's DeepStream sample app config: its four engines built after the swap


def test_a_failed_install_puts_the_previous_pyds_back(pyfleet, tmp_path):
    (good,) = cache(pyfleet).glob("artifacts/*/pyds-1.1.0-py3-none-linux_x86_64.whl")
    mislabelled = tmp_path / "pyds-1.1.9-py3-none-linux_x86_64.whl"  # its metadata says 1.1.0: pip refuses it
    mislabelled.write_bytes(good.read_bytes())
    state = "cat /var/lib/dsprov/state.json"
    before = on_device(pyfleet, "pyt4-01", state).stdout
    result = invoke(pyfleet, "pyds", "--host", "pyt4-01", "--wheel", str(mislabelled), "--log-dir", str(tmp_path))
    assert result.returncode == 1 and result.stderr.startswith("error: pyt4-01: failed:")
    log = (tmp_path / "pyt4-01.log").read_text()
    rolled_back = log[log.index("[pyds-install] failed: rolling back"):]
    assert "python3 -m pip install --no-index --no-deps --force-reinstall /var/lib/dsprov/wheels/pyds-1.1.0-" in rolled_back
    assert on_device(pyfleet, "pyt4-01", "cd / && python3 -c 'import pyds; print(pyds.__version__)'").stdout == "1.1.0\n"
    assert on_device(pyfleet, "pyt4-01", state).stdout == before
