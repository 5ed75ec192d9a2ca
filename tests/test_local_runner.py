# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The local runner as root: commands that want sudo run without the sudo binary (the GPU
machine, a gVisor sandbox, has none)."""

from __future__ import annotations

import os
import shutil

import pytest

from provision.runners import LocalRunner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def no_sudo_on_path(tmp_path, monkeypatch):
    """A PATH with sh, id and cat only."""
    for tool in ("sh", "id", "cat"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(tmp_path))


def test_root_runs_sudo_commands_without_sudo(no_sudo_on_path):
    result = LocalRunner().run("id -u", sudo=True)
    assert result.ok, result.stderr
    assert result.stdout == "0\n"


def test_root_holds_a_sudo_command_without_sudo(no_sudo_on_path):
    held = LocalRunner().hold("echo ready; cat", ready="ready", sudo=True)
    assert held is not None
    held.release()
    assert held.proc.returncode == 0
