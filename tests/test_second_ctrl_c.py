# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A second Ctrl-C (a real SIGINT to a real process) aborts at once, after the undo actions
registered for the moment (a partial download removed); the first only asks for a cancel."""

import signal
import subprocess
import sys
import time

SCRIPT = """
import sys, time
from pathlib import Path
from provision import cancel
partial = Path(sys.argv[1])
partial.write_text("half a download")
with cancel.on_sigint(), cancel.on_abort(partial.unlink):
    print("ready", flush=True)
    while True:
        time.sleep(0.1)  # a step that does not stop at a cancel (the first Ctrl-C)
"""


def test_the_second_ctrl_c_undoes_what_is_registered_and_exits_130(tmp_path):
    partial = tmp_path / ".partial-x"
    run = subprocess.Popen([sys.executable, "-c", SCRIPT, str(partial)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        assert run.stdout.readline() == "ready\n"
        run.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert run.poll() is None and partial.exists()  # the first one only asked
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130
    assert not partial.exists()
    assert err.splitlines() == ["cancelling: stopping each host at the next safe point (Ctrl-C again: abort now)",
                                "aborted: second Ctrl-C, not waiting for the hosts (the logs say where each stopped)"]
