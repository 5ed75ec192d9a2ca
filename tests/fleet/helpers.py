# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the fleet tests do to a served fleet: run a command on a device over its real ssh, and run
an invoke task on the controller against the fleet's inventory."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from provision.documents import validate

ROOT = Path(__file__).resolve().parents[2]


def document(result: subprocess.CompletedProcess) -> dict:
    """A --json run's one document, checked against its command's schema (provision/schemas/)."""
    doc = json.loads(result.stdout)
    validate(doc)
    return doc


def hosts(result: subprocess.CompletedProcess) -> list[dict]:
    """The host entries of a provision, pyds or rollback run's document."""
    return document(result)["hosts"]


def on_device(handle, device: str, command: str, *, sudo: bool = False, stdin: str | bytes | None = None,
              text: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """`command` on `device` over ssh; with `sudo`, as root (the password goes over stdin, never on
    a command line)."""
    if sudo:
        command = f"sudo -S -p '' sh -c {shlex.quote(command)}"
        stdin = handle.become_password + "\n"
    return subprocess.run([*handle.ssh_command(device), command], input=stdin, capture_output=True, text=text,
                          timeout=timeout)


def fleet_env(handle, cache: Path | None = None, **extra: str) -> dict[str, str]:
    """The controller's environment for a fleet of a module's own: its become password and a
    controller cache of its own (the session fleet's are set by its fixture)."""
    return {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password,
            "DSPROV_CACHE": str(cache or handle.runtime_dir / "controller-cache"), **extra}


def invoke(handle, *args: str, inventory: Path | None = None, env: dict[str, str] | None = None,
           timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m invoke ARGS -i INVENTORY` from the repository (the fleet's inventory unless given)."""
    return subprocess.run([sys.executable, "-m", "invoke", *args, "-i", str(inventory or handle.inventory)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def one_line(result: subprocess.CompletedProcess, code: int, *parts: str) -> str:
    """The one line a failed command prints on stderr (exit `code`, no traceback), holding `parts`."""
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr
    return result.stderr
