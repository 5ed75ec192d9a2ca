# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""`rollback` asks the host once: the state file and each capability's survey, split into the
capabilities' sections (provision/rollback.py), run here by sh as on a host."""

from __future__ import annotations

import json

from provision import rollback, state
from provision.capabilities import REGISTRY
from provision.capabilities.max_clocks import RestoreClocks
from provision.capabilities.plugin_swap import RestorePlugin
from provision.core.step import StepContext
from provision.runners.local import LocalRunner


def test_the_survey_gives_each_capability_its_section(monkeypatch):
    monkeypatch.setattr(rollback, "STATE_FILE", "/nonexistent/state.json")
    result = LocalRunner().run(rollback.survey_command())
    first, _, rest = result.stdout.partition("\n")
    assert first == "" and rest.startswith("\n==> plugin_swap <==\n")  # no state file; dpkg's diversions follow
    assert [c.name for c in REGISTRY if c.rollback_survey] == ["plugin_swap"]


def test_the_recorded_changes_are_undone_in_the_registrys_reverse_order(tmp_path, monkeypatch):
    recorded = {"plugin": {"original_sha256": "a" * 64, "path": "/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8.6.1"},
                "max_clocks": {"previous_mode": 0, "previous_name": "MAXN", "stored": "/var/lib/dsprov/l4t_dfs.conf"}}
    (tmp_path / "state.json").write_text(json.dumps(recorded))
    monkeypatch.setattr(rollback, "STATE_FILE", str(tmp_path / "state.json"))
    steps = rollback.rollback_steps(StepContext(LocalRunner(), None))
    assert [type(s) for s in steps] == [RestorePlugin, RestoreClocks]  # max_clocks comes first in the plan
    assert steps[0].paths.path == recorded["plugin"]["path"] and state.STATE_FILE == "/var/lib/dsprov/state.json"
