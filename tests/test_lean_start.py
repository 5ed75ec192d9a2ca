# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the controller loads to start: the task collection (every command's start, a no-op's
included) leaves out the libraries only some runs use; each is imported where it is used. A run
over an unchanged inventory reads its hosts from the inventory cache and loads no ansible-core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# module: the one place that uses it (a download; reading a library's ELF header on the controller)
LATER = {"requests": "provision/downloads.py", "urllib3": "provision/downloads.py",
         "elftools": "provision/capabilities/plugin_files.py"}


def test_starting_loads_no_library_a_no_op_does_not_use():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, tasks; print('\\n'.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert "provision.commands" in loaded and "provision.capabilities.engines" in loaded
    assert not [m for m in loaded if m.split(".")[0] in LATER]
    for module, user in LATER.items():
        assert f"import {module}" in (ROOT / user).read_text() or f"from {module}" in (ROOT / user).read_text()


# `invoke ARGS` in this process, writing the names of the modules loaded by its end to $MODULES
RUN_AND_LIST = ("import atexit, os, runpy, sys; sys.argv = ['invoke', *sys.argv[1:]];"
                "atexit.register(lambda: open(os.environ['MODULES'], 'w').write('\\n'.join(sys.modules)));"
                "runpy.run_module('invoke', run_name='__main__')")


def modules_of(tmp_path: Path, *args: str) -> list[str]:
    listing = tmp_path / "modules.txt"
    env = {**os.environ, "MODULES": str(listing), "DSPROV_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST, *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode and "cannot reach ubuntu@127.0.0.1:9" in result.stderr, result.stderr  # nobody listens on port 9
    return listing.read_text().split()


@pytest.mark.parametrize("command", ["detect", "provision"])
def test_a_run_over_an_unchanged_inventory_loads_no_ansible(tmp_path, command):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[x86]\nbox ansible_host=127.0.0.1 ansible_port=9 ansible_user=ubuntu\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "x86.yml").write_text("ansible_become_password: \"{{ lookup('env', 'A_PASSWORD') }}\"\n")
    args = (command, "--host", "box", "-i", str(inventory))
    assert "ansible.inventory.manager" in modules_of(tmp_path, *args)  # the first run parses it
    assert not [m for m in modules_of(tmp_path, *args) if m.split(".")[0] == "ansible"]


def test_dsprov_starts_without_unittest_mock_and_invoke_keeps_its_mock_context():
    code = ("import sys; from provision.cli import main; import provision.tasks;"
            "print(sorted(m for m in ('unittest.mock', 'asyncio') if m in sys.modules));"
            "from invoke import MockContext, Result; print(MockContext(run=Result('ran')).run('x').stdout)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=120).stdout.split("\n")
    assert out[:2] == ["[]", "ran"]


def test_the_modules_a_command_loads_are_frozen_out_of_the_garbage_collectors_passes():
    code = ("import gc; import tasks; print(gc.isenabled(), gc.get_freeze_count() > 20000);"
            "from provision.startup_gc import loading; gc.disable()\nwith loading(): import json\nprint(gc.isenabled())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=120).stdout.split()
    assert out == ["True", "True", "False"]  # collection goes on after, unless the caller had it off


def test_the_ansible_plugins_load_no_ssh_library():
    """The collection's actions run over Ansible's connection: ansible-playbook's process (which
    imports them before it forks a worker per host) loads neither Fabric nor paramiko."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, provision.ansible_plugins; print('\\n'.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert "provision.provisioner" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("fabric", "paramiko")]
