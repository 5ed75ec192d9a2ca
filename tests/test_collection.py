"""The Ansible collection dsprov.deepstream: its static documentation says exactly what its actions
check at run time, and its plugins stay thin imports of the provision package."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml

from provision import ansible_plugins

COLLECTION = Path(__file__).resolve().parents[1] / "playbooks" / "collections" / "ansible_collections" / "dsprov" / "deepstream"
ACTIONS = {"detect": ansible_plugins.DetectAction, "provision": ansible_plugins.ProvisionAction,
           "rollback": ansible_plugins.RollbackAction}


def module_constants(path: Path) -> dict[str, Any]:
    """DOCUMENTATION, EXAMPLES and RETURN of a plugin file, read statically as ansible-doc reads them."""
    tree = ast.parse(path.read_text())
    return {node.targets[0].id: yaml.safe_load(node.value.value) for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN")}


def contract(options: dict[str, dict[str, Any]]) -> dict[str, tuple]:
    """What an argument spec and a DOCUMENTATION's options must agree on, per option."""
    return {name: (o.get("type", "str"), o.get("default"), o.get("choices"), o.get("required", False), o.get("elements"))
            for name, o in options.items()}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_documented_options_are_the_runtime_argument_spec(name):
    doc = module_constants(COLLECTION / "plugins" / "modules" / f"{name}.py")
    assert doc["DOCUMENTATION"]["module"] == name
    assert contract(doc["DOCUMENTATION"]["options"] or {}) == contract(ACTIONS[name].ARGUMENT_SPEC)
    assert doc["EXAMPLES"] and doc["RETURN"]


def test_every_action_has_its_documentation_and_nothing_else_is_an_action():
    actions = {p.stem for p in (COLLECTION / "plugins" / "action").glob("*.py")}
    modules = {p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py")}
    assert actions == modules == set(ACTIONS)


def test_the_callback_is_documented_and_named_for_the_collection():
    doc = module_constants(COLLECTION / "plugins" / "callback" / "recap.py")["DOCUMENTATION"]
    assert (doc["name"], doc["type"]) == ("recap", ansible_plugins.RecapCallback.CALLBACK_TYPE)


def test_the_playbooks_use_the_collection_by_its_full_name():
    for playbook in (COLLECTION / "playbooks").glob("*.yml"):
        tasks = [t for play in yaml.safe_load(playbook.read_text()) for t in play["tasks"]]
        assert f"dsprov.deepstream.{playbook.stem}" in tasks[0], playbook
    in_repo = COLLECTION.parents[3]
    for playbook in sorted(in_repo.glob("*.yml")):
        assert yaml.safe_load(playbook.read_text())[0]["ansible.builtin.import_playbook"] == f"dsprov.deepstream.{playbook.stem}"
