# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Ansible collection dsprov.deepstream: its static documentation says exactly what its actions
check at run time, its playbooks use its content by full name, ansible-lint passes on it as a user
types it, and without the provision package it says how to install it."""

from __future__ import annotations

import fnmatch
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from provision import ansible_plugins

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLLECTION = ROOT / "playbooks" / "collections" / "ansible_collections" / "dsprov" / "deepstream"
ACTIONS = {"detect": ansible_plugins.DetectAction, "provision": ansible_plugins.ProvisionAction,
           "rollback": ansible_plugins.RollbackAction}


def ansible_doc(plugin_type: str, *names: str) -> dict[str, dict[str, Any]]:
    """The documentation as ansible-doc reads it (statically, fragments merged), from this checkout's collection."""
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "playbooks" / "collections")}
    result = subprocess.run([str(BIN / "ansible-doc"), "--json", "-t", plugin_type, *names], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def module_docs() -> dict[str, dict[str, Any]]:
    docs = ansible_doc("module", *(f"dsprov.deepstream.{name}" for name in ACTIONS))
    return {name.rsplit(".", 1)[1]: entry for name, entry in docs.items()}


def contract(options: dict[str, dict[str, Any]]) -> dict[str, tuple]:
    """What an argument spec and a DOCUMENTATION's options must agree on, per option."""
    return {name: (o.get("type", "str"), o.get("default"), o.get("choices"), o.get("required", False), o.get("elements"))
            for name, o in options.items()}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_documented_options_are_the_runtime_argument_spec(module_docs, name):
    entry = module_docs[name]
    assert Path(entry["doc"]["filename"]) == COLLECTION / "plugins" / "modules" / f"{name}.py"
    assert contract(entry["doc"].get("options") or {}) == contract(ACTIONS[name].ARGUMENT_SPEC)
    assert entry["examples"] and entry["return"]


def test_every_action_has_its_documentation_and_nothing_else_is_an_action():
    actions = {p.stem for p in (COLLECTION / "plugins" / "action").glob("*.py")}
    modules = {p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py")}
    assert actions == modules == set(ACTIONS)


def test_the_callback_is_documented_as_the_aggregate_it_is():
    doc = ansible_doc("callback", "dsprov.deepstream.recap")["dsprov.deepstream.recap"]["doc"]
    assert doc["type"] == ansible_plugins.RecapCallback.CALLBACK_TYPE


def test_the_playbooks_use_the_collection_by_its_full_name():
    for playbook in (COLLECTION / "playbooks").glob("*.yml"):
        tasks = [t for play in yaml.safe_load(playbook.read_text()) for t in play["tasks"]]
        assert f"dsprov.deepstream.{playbook.stem}" in tasks[0], playbook
    in_repo = COLLECTION.parents[3]
    for playbook in sorted(in_repo.glob("*.yml")):
        assert yaml.safe_load(playbook.read_text())[0]["ansible.builtin.import_playbook"] == f"dsprov.deepstream.{playbook.stem}"


def test_the_playbooks_template_no_action_argument_and_the_actions_read_the_flags_from_vars():
    """Ansible compiles a task's templated arguments again in every host's worker: the playbooks pass
    the actions none, and an action takes each flag the task does not set from `dsprov_<flag>`."""
    for playbook in (COLLECTION / "playbooks").glob("*.yml"):
        for play in yaml.safe_load(playbook.read_text()):
            task = play["tasks"][0]
            assert not task[f"dsprov.deepstream.{playbook.stem}"], playbook
    spec = ansible_plugins.ProvisionAction.ARGUMENT_SPEC
    given = {"dsprov_force": "true", "dsprov_gpu_archs": "", "dsprov_build_on": "host", "dsprov_models": [],
             "dsprov_forks": "3"}
    assert ansible_plugins._flag_vars(spec, given) == {"force": "true", "build_on": "host"}


def test_ansibles_forked_workers_find_the_matrix_parsed():
    """ansible-playbook imports an action's class before it forks the task's worker per host: the
    matrix is parsed then, once, and a worker (a fork) parses nothing."""
    code = """
import os
from provision import ansible_plugins  # what the strategy's action_loader.get(class_only=True) imports
from provision.matrix import Matrix, load
parsed = []
load.read = lambda texts, read=load.read: parsed.append(1) or read(texts)
pid = os.fork()
if pid == 0:
    Matrix.load()
    os._exit(len(parsed))
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.stdout.strip() == "0", result.stderr


@pytest.mark.parametrize("command", ["ansible-lint --profile production playbooks/", "ansible-lint"])
def test_ansible_lint_passes_as_typed_at_the_repository_root(command):
    """No ANSIBLE_* variable and no -c: ansible.cfg (the collection on the collections path) and
    .ansible-lint are at the root, where Ansible and ansible-lint look for them."""
    env = {"PATH": os.pathsep.join([str(BIN), "/usr/bin", "/bin"]), "HOME": str(Path.home())}
    result = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"^Passed: 0 failure\(s\), 0 warning\(s\)", output, re.M), output
    assert ("Profile 'production' was required, and it passed" if "production" in command
            else "Last profile that met the validation criteria was 'production'") in output


def test_without_the_provision_package_the_collection_says_how_to_install_its_wheel():
    """The package is on no index: the message builds the wheel and installs it into Ansible's Python.
    (tests/test_install.py runs a playbook where the package is missing and reads the message.)"""
    path = COLLECTION / "plugins" / "plugin_utils" / "provision_package.py"
    spec = importlib.util.spec_from_file_location("provision_package", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    message = module.missing_message()
    assert "\n" not in message and "pip install deepstream-provision" not in message
    assert "python3 -m pip wheel --no-deps -w dist CHECKOUT" in message
    assert f"{sys.executable} -m pip install dist/{module.WHEEL}" in message
    distribution = module.DISTRIBUTION
    assert distribution in importlib.metadata.packages_distributions()["provision"]
    built = f"{re.sub(r'[-_.]+', '_', distribution)}-{importlib.metadata.version(distribution)}-py3-none-any.whl"
    assert fnmatch.fnmatch(built, module.WHEEL), (built, module.WHEEL)
