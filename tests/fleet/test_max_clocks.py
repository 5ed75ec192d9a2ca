# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""--max-clocks on the simulated Nano and Orin: their nvpmodel and jetson_clocks stand-ins print the
outputs published for those modules (simfleet/published/), provision sets the module's MAXN mode
and pins the clocks with a boot unit, a rerun finds it done, rollback puts the mode and clocks back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provision.facts.power import PowerModel, parse_clocks_show, parse_nvpmodel_q
from provision.capabilities.max_clocks import STORED, UNIT_PATH, WANTS_LINK

from .helpers import fleet_env, hosts, invoke, on_device

pytestmark = pytest.mark.fleet
PUB = Path(__file__).resolve().parents[2] / "simfleet" / "published"
# (device, the mode it is in, its MAXN)
DEVICES = [("nano01", PowerModel(1, "5W"), PowerModel(0, "MAXN")),
           ("orin01", PowerModel(2, "MODE_30W"), PowerModel(0, "MAXN"))]


@pytest.fixture(scope="module")
def own_cache(fleet, tmp_path_factory):
    """The controller environment with a cache of this module's own: the plugin builds these runs
    need leave the session's cache cold for the tests that build or fetch first."""
    return fleet_env(fleet, tmp_path_factory.mktemp("max-clocks-cache"))


def root(fleet, device: str, command: str) -> str:
    result = on_device(fleet, device, command, sudo=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_stand_ins_print_the_published_outputs(fleet):
    assert root(fleet, "nano01", "nvpmodel -q") == (PUB / "nano" / "nvpmodel_q_5w.txt").read_text()
    unprivileged = on_device(fleet, "nano01", "/usr/sbin/nvpmodel -q 2>&1")
    assert unprivileged.stdout == (PUB / "nano" / "nvpmodel_q_nonroot.txt").read_text()
    show = root(fleet, "nano01", "jetson_clocks --show")
    assert show == (PUB / "nano" / "jetson_clocks_show.txt").read_text().replace("MAXN", "5W")
    denied = on_device(fleet, "nano01", "jetson_clocks --show")
    assert denied.returncode == 1 and denied.stdout == "Error: Run this script(/usr/bin/jetson_clocks) as a root user\n"
    assert root(fleet, "orin01", "jetson_clocks --show").startswith(
        (PUB / "orin" / "jetson_clocks_show_partial.txt").read_text())


@pytest.mark.parametrize("device, before, maxn", DEVICES)
def test_max_clocks_applied_rerun_and_rolled_back(fleet, own_cache, device, before, maxn):
    assert parse_nvpmodel_q(root(fleet, device, "nvpmodel -q")) == before
    clocks_before = root(fleet, device, "jetson_clocks --show")
    assert not parse_clocks_show(clocks_before).pinned

    first = invoke(fleet, "provision", "--host", device, "--max-clocks", "--skip-pyds", "--skip-engines", "--json", env=own_cache)
    assert first.returncode == 0, first.stdout + first.stderr
    steps = hosts(first)[0]["steps"]
    assert steps[0]["name"] == "max-clocks" and steps[0]["status"] == "changed"
    assert parse_nvpmodel_q(root(fleet, device, "nvpmodel -q")) == maxn
    assert parse_clocks_show(root(fleet, device, "jetson_clocks --show")).pinned
    assert root(fleet, device, f"readlink {WANTS_LINK}").strip() == UNIT_PATH
    assert "ExecStart=/usr/bin/jetson_clocks" in root(fleet, device, f"cat {UNIT_PATH}")
    record = json.loads(root(fleet, device, "cat /var/lib/dsprov/state.json"))["max_clocks"]
    assert (record["previous_mode"], record["previous_name"], record["stored"]) == (before.id, before.name, STORED)

    again = invoke(fleet, "provision", "--host", device, "--max-clocks", "--skip-pyds", "--skip-engines", "--json", env=own_cache)
    step = hosts(again)[0]["steps"][0]
    assert (step["name"], step["status"]) == ("max-clocks", "unchanged")
    assert step["detail"] == f"power mode {maxn}, clocks pinned, boot unit enabled"

    back = invoke(fleet, "rollback", "--host", device, "--json", env=own_cache)
    assert back.returncode == 0, back.stdout + back.stderr
    assert parse_nvpmodel_q(root(fleet, device, "nvpmodel -q")) == before
    assert root(fleet, device, "jetson_clocks --show") == clocks_before
    assert root(fleet, device, f"ls {UNIT_PATH} {WANTS_LINK} {STORED} 2>&1 || true").count("No such file") == 3
    assert "max_clocks" not in json.loads(root(fleet, device, "cat /var/lib/dsprov/state.json") or "{}")


def test_orin_nano_super_plans_its_maxn_super_mode(fleet):
    # Orin Nano Super (JetPack 6.2): boots in 25W (1); its maximum is MAXN_SUPER, mode 2, not 0 (15W)
    assert root(fleet, "orin-nano01", "nvpmodel -q") == "NV Power Mode: 25W\n1\n"
    show = root(fleet, "orin-nano01", "jetson_clocks --show")
    assert show == (PUB / "orin-nano" / "jetson_clocks_show.txt").read_text() + "NV Power Mode: 25W\n"
    planned = invoke(fleet, "provision", "--host", "orin-nano01", "--max-clocks", "--dry-run", "--json")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    plan = hosts(planned)[0]["plan"]
    assert any(line.startswith("  1. [max-clocks] power mode MAXN_SUPER (2) (nvpmodel)") for line in plan)
    assert "       $ nvpmodel -m 2 </dev/null" in plan


def test_a_jetson_already_at_maxn_gets_its_clocks_pinned_and_keeps_its_mode(fleet, own_cache):
    root(fleet, "orin01", "nvpmodel -m 0")  # MAXN by hand; clocks not pinned
    done = invoke(fleet, "provision", "--host", "orin01", "--max-clocks", "--skip-pyds", "--skip-engines", "--json", env=own_cache)
    assert done.returncode == 0, done.stdout + done.stderr
    assert hosts(done)[0]["steps"][0]["status"] == "changed"
    assert "$ sudo nvpmodel -m" not in Path(hosts(done)[0]["log"]).read_text()  # already MAXN
    assert parse_clocks_show(root(fleet, "orin01", "jetson_clocks --show")).pinned
    assert invoke(fleet, "rollback", "--host", "orin01", env=own_cache).returncode == 0
    assert parse_nvpmodel_q(root(fleet, "orin01", "nvpmodel -q")) == PowerModel(0, "MAXN")
    assert not parse_clocks_show(root(fleet, "orin01", "jetson_clocks --show")).pinned
    root(fleet, "orin01", "nvpmodel -m 2")  # back to the profile's default, MODE_30W
