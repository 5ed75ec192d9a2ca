# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host lock (provision/runners/lock.py) run for real with the local runner: its one sudo command
takes the lock and prints the state file as root reads it, so the run under the lock needs no second
sudo command to read it; a second provision finds the host busy until the first lets go."""

from __future__ import annotations

import os

import pytest

from provision import state
from provision.core.step import StepContext
from provision.errors import StepFailed
from provision.runners import LocalRunner, lock

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lock file is root's (mode 0600)")


@pytest.fixture
def host(tmp_path, monkeypatch):
    """The lock and the state file in a folder of the test's."""
    monkeypatch.setattr(lock, "STATE_DIR", str(tmp_path))
    monkeypatch.setattr(lock, "LOCK_FILE", str(tmp_path / "lock"))
    monkeypatch.setattr(state, "STATE_FILE", str(tmp_path / "state.json"))
    return tmp_path


@pytest.mark.parametrize("content, expected", [(None, {}), ('{"plugin": {"path": "/x"}}', {"plugin": {"path": "/x"}})])
def test_the_lock_reads_the_state_file_in_its_own_command(host, content, expected):
    if content is not None:
        (host / "state.json").write_text(content)
        (host / "state.json").chmod(0o600)  # read as root all the same
    runner = LocalRunner()
    held = lock.acquire(runner)
    try:
        assert runner.round_trips == 1
        assert held.state(StepContext(runner, None)) == expected and runner.round_trips == 1
        with pytest.raises(lock.HostBusy):
            lock.acquire(LocalRunner())
    finally:
        held.release()
    lock.acquire(LocalRunner()).release()  # free again


def test_a_state_file_that_is_not_json_is_refused_under_the_lock(host):
    (host / "state.json").write_text("garbage")
    held = lock.acquire(LocalRunner())
    try:
        with pytest.raises(StepFailed, match="is not valid JSON"):
            held.state(StepContext(LocalRunner(), None))
        assert held.state(StepContext(LocalRunner(), None), strict=False) == {}
    finally:
        held.release()
