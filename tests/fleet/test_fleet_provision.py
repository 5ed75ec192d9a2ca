# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fleet run: identical devices share one build; bad settings and secrets fail alone and cleanly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simfleet.mirror import served_fleet

from .helpers import hosts, on_device

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.fleet


@pytest.fixture(scope="module")
def nanos(tmp_path_factory, fleet):  # `fleet` first: it sets the cache and password variables
    folder = tmp_path_factory.mktemp("nanos")
    spec = folder / "fleet.yml"
    spec.write_text(
        "name: nanos\ndevices:\n"
        + "".join(f"  - {{name: nano0{i}, profile: nano}}\n" for i in (1, 2, 3))
        + "  - {name: xavier01, profile: xavier}\n"
    )
    with served_fleet(spec, folder / "run") as handle:
        yield handle


def invoke(handle, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args, "-i", str(handle.inventory)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, **(env or {})},
    )


@pytest.fixture(scope="module")
def built(nanos) -> dict[str, dict]:
    """The fleet provisioned once with --force (Xavier's DeepStream 6.3 needs no OSS build per the
    guides: --force builds anyway), a cache of the module's own: the reports by host."""
    result = invoke(nanos, "provision", "--hosts", "all", "--force", "--json",
                    env={"DSPROV_CACHE": str(nanos.runtime_dir / "cache")})
    assert result.returncode == 0, result.stdout + result.stderr
    return {r["host"]: r for r in hosts(result)}


def test_three_nanos_and_a_xavier_build_twice(built):
    outcomes = sorted(r["outcome"] for r in built.values())
    assert outcomes == ["built", "built", "copied", "copied"], built
    assert len({built[h]["key"] for h in ("nano01", "nano02", "nano03")}) == 1
    assert built["xavier01"]["outcome"] == "built" and built["xavier01"]["key"] != built["nano01"]["key"]


def commands_run(report: dict) -> list[str]:
    """The commands a host's run logged (`$ ...` lines of its log, after each line's time)."""
    logged = (line.partition(" ")[2] for line in Path(report["log"]).read_text().splitlines())
    return [line[2:] for line in logged if line.startswith("$ ")]


def test_a_host_that_copies_the_build_runs_no_cmake_and_no_clone(built, nanos):
    copied = [r for h, r in built.items() if h.startswith("nano") and r["outcome"] == "copied"]
    builder = next(r for h, r in built.items() if h.startswith("nano") and r["outcome"] == "built")
    assert len(copied) == 2
    assert any("git clone" in c for c in commands_run(builder)) and any("cmake -S" in c for c in commands_run(builder))
    for report in copied:
        cmake = next(s for s in report["steps"] if s["name"] == "cmake")
        assert cmake["status"] == "unchanged" and cmake["detail"].startswith("not needed here: trt-oss-build copies")
        assert not [c for c in commands_run(report) if "cmake" in c or "git clone" in c], report["log"]
        assert on_device(nanos, report["host"], "ls /opt /usr/local/bin").stdout.count("cmake") == 0
        # the probe, the commit's ls-remote, the lock and the swap's commands: fewer than a build's
        assert report["commands"] < builder["commands"]


def test_a_rerun_with_nothing_to_change_is_one_round_trip_per_host(built, nanos):
    result = invoke(nanos, "provision", "--hosts", "all", "--json", env={"DSPROV_CACHE": str(nanos.runtime_dir / "cache")})
    assert result.returncode == 0, result.stdout + result.stderr
    reports = hosts(result)
    assert {r["host"]: r["commands"] for r in reports} == dict.fromkeys(built, 1)
    assert all(s["status"] == "unchanged" for r in reports for s in r["steps"]), reports


def test_wrong_sudo_password_fails_alone_and_changes_nothing(nanos):
    before = subprocess.run([*nanos.ssh_command("nano02"), "ls -la /var/lib/dsprov /usr/lib/aarch64-linux-gnu"],
                            capture_output=True, text=True).stdout
    result = invoke(nanos, "rollback", "--host", "nano02", env={"PROVISION_BECOME_PASSWORD": "wrong"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "error: nano02: unreachable: sudo refused the become password (wrong PROVISION_BECOME_PASSWORD?) (log: ")
    after = subprocess.run([*nanos.ssh_command("nano02"), "ls -la /var/lib/dsprov /usr/lib/aarch64-linux-gnu"],
                           capture_output=True, text=True).stdout
    assert before == after


def test_inventory_values_reach_commands_only_quoted(nanos, tmp_path):
    inventory = tmp_path / "hosts.ini"
    line = next(l for l in nanos.inventory.read_text().splitlines() if l.startswith("nano03 "))
    inventory.write_text(line + " dsprov_build_dir='/tmp/b; touch /tmp/pwned $(touch /tmp/pwned2)'\n")
    result = subprocess.run([sys.executable, "-m", "invoke", "provision", "--host", "nano03", "--dry-run", "--json",
                             "-i", str(inventory)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    plan = "\n".join(hosts(result)[0]["plan"])
    assert "'/tmp/b; touch /tmp/pwned $(touch /tmp/pwned2)/TensorRT-release-8.2'" in plan
    check = subprocess.run([*nanos.ssh_command("nano03"), "ls /tmp/pwned /tmp/pwned2 2>&1"], capture_output=True, text=True)
    assert "No such file" in check.stdout
