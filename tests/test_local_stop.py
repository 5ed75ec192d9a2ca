# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The local runner stops what it started: a timeout or a cancel ends the command's whole process
group (a build's compilers included), and a Ctrl-C at the terminal reaches only the tool."""

from __future__ import annotations

import os
import threading
import time

import pytest

from provision import cancel
from provision.errors import ProvisionError
from provision.runners import LocalRunner

# A command that leaves a child behind (as make leaves its compilers) and records the child's pid.
SPAWNS = "sleep 60 & echo $! > {pidfile}; wait"


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def cancel_clean():
    cancel.reset()
    yield
    cancel.reset()


def test_output_lines_stream_and_stdin_reaches_the_command():
    lines: list[str] = []
    result = LocalRunner().run("cat; echo oops >&2; exit 3", stdin="a\nb\n", on_line=lines.append)
    assert (result.exit_code, result.stdout, result.stderr, lines) == (3, "a\nb\n", "oops\n", ["a", "b"])


def test_a_timeout_stops_the_command_and_its_children(tmp_path):
    pidfile = tmp_path / "pid"
    with pytest.raises(ProvisionError, match=r"^localhost: `sleep 60 .*` timed out after 1 s \(stopped\)$"):
        LocalRunner().run(SPAWNS.format(pidfile=pidfile), timeout=1)
    assert gone(int(pidfile.read_text()))


def test_a_cancel_stops_the_command_and_its_children(tmp_path, cancel_clean):
    pidfile = tmp_path / "pid"
    threading.Timer(0.5, cancel.request).start()
    with pytest.raises(cancel.Cancelled, match=r"^localhost: cancelled during `sleep 60 .*` \(stopped\)$"):
        LocalRunner().run(SPAWNS.format(pidfile=pidfile))
    assert gone(int(pidfile.read_text()))
    with pytest.raises(cancel.Cancelled, match="cancelled before `true`"):  # nothing new starts after it
        LocalRunner().run("true")


@pytest.mark.skipif(os.geteuid() != 0, reason="a sudo command runs unwrapped only as root")
def test_a_sudo_command_runs_to_its_end_after_a_cancel(cancel_clean):
    """What needs root changes the system (a swap, an install): it is never stopped halfway."""
    cancel.request()
    assert LocalRunner().run("sleep 0.5; echo done", sudo=True).stdout == "done\n"


def test_the_command_is_in_its_own_process_group():
    """The terminal sends Ctrl-C to its foreground group: the tool's, not the command's."""
    pgid = int(LocalRunner().run("ps -o pgid= -p $$").stdout)
    assert pgid != os.getpgrp()
