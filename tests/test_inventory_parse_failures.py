# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What ansible-core's InventoryManager tells its `display` when an inventory source fails to
parse, which provision/inventory.py's _ParseFailures relies on to make that one line: it swaps the
module's `display` (looked up at each call) and keeps each plugin's `error_as_warning(msg=...,
exception=...)`. Pinned with INVENTORY_ANY_UNPARSED_IS_FAILED off (Ansible's default: the errors
as warnings, then a warning and an empty inventory) and on (the same warnings, then a generic
error that names no plugin's error: the swap is what keeps the file:line). An ansible-core that
changes this fails here, not in users' hands (ansible-core lib/ansible/inventory/manager.py,
parse_source)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Records every call the manager makes on its module's `display`, then what became of the parse.
RECORDER = """
import json, sys
import ansible.inventory.manager as manager
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader

calls = []

class Recorder:
    def __getattr__(self, name):
        def record(*args, **kwargs):
            exception = kwargs.get("exception")
            calls.append({"method": name, "args": [str(a) for a in args],
                          "msg": str(kwargs.get("msg", "")),
                          "exception": type(exception).__name__ if exception else None,
                          "error": str(getattr(exception, "message", "")) if exception else None,
                          "origin": str(getattr(getattr(exception, "obj", None), "path", "") or "") if exception else None})
        return record

manager.display = Recorder()
try:
    hosts = [h.name for h in manager.InventoryManager(loader=DataLoader(), sources=[sys.argv[1]]).get_hosts()]
    raised = None
except AnsibleError as exc:
    hosts, raised = None, {"message": str(exc.message), "cause": repr(exc.__cause__)}
print(json.dumps({"calls": [c for c in calls if c["method"] not in ("debug", "vvv", "vvvv")],
                  "hosts": hosts, "raised": raised}))
"""


def parse(source: Path, any_unparsed_is_failed: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"] = str(any_unparsed_is_failed)
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", RECORDER, str(source)], env=env, cwd=source.parent,
                            capture_output=True, text=True, check=True, timeout=120)
    return json.loads(result.stdout)


@pytest.fixture
def broken(tmp_path) -> Path:
    path = tmp_path / "hosts.ini"
    path.write_text("[nano\nnano01 ansible_host=1.2.3.4\n")
    return path


def test_off_each_plugins_error_is_told_as_a_warning_then_an_empty_inventory(broken):
    seen = parse(broken, any_unparsed_is_failed=False)
    assert seen["raised"] is None and seen["hosts"] == []
    failed, *rest = seen["calls"]
    assert failed["method"] == "error_as_warning" and failed["msg"] == "Failed to parse inventory with 'ini' plugin."
    assert failed["exception"] == "AnsibleParserError" and "Failed to parse inventory" in failed["error"]
    assert [(c["method"], c["args"]) for c in rest] == [
        ("warning", [f"Unable to parse {broken} as an inventory source"]),
        ("warning", ["No inventory was parsed, only implicit localhost is available"]),
    ]


def test_on_the_same_warnings_then_a_generic_error_without_the_plugins(broken):
    seen = parse(broken, any_unparsed_is_failed=True)
    assert [(c["method"], c["msg"]) for c in seen["calls"]] == [
        ("error_as_warning", "Failed to parse inventory with 'ini' plugin.")]
    assert seen["raised"] == {"message": f"Completely failed to parse inventory source {broken}", "cause": "None"}


def test_a_yaml_file_is_told_by_each_plugin_that_tried_it_one_with_its_origin(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    a: {x: [}\n")
    failures = [c for c in parse(path, any_unparsed_is_failed=False)["calls"] if c["method"] == "error_as_warning"]
    assert [c["msg"] for c in failures] == [f"Failed to parse inventory with {p!r} plugin." for p in ("auto", "yaml", "ini")]
    assert str(path) in [c["origin"] for c in failures]  # how _ParseFailures knows which plugin's error to tell


@pytest.mark.parametrize("setting", ["true", "false"])
def test_either_way_dsprov_says_the_plugins_error_in_one_line_exit_2(broken, setting):
    env = {**os.environ, "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": setting}
    result = subprocess.run([sys.executable, "-m", "invoke", "detect", "--host", "nano01", "-i", str(broken)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: inventory {broken}: Failed to parse inventory")
