# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run through an Ansible action plugin: the play's connection, become and file transfer.

The target needs no Python: commands go through the action's `_low_level_execute_command`
(become applied the Ansible way when `sudo`), files through `_transfer_file` and the
connection's `fetch_file`. Ansible's commands run to completion, so `hold` keeps its command
running in the background on the host (see `HOLD_SCRIPT`) under a lease the controller renews.
"""

from __future__ import annotations

import threading
from pathlib import Path
from shlex import quote as q
from typing import TYPE_CHECKING
from collections.abc import Callable

from ansible.errors import AnsibleConnectionFailure, AnsibleError

from provision.options import DEFAULT_LOCK_LEASE
from provision.runners.base import FileOps, Result, WrongSudoPassword

if TYPE_CHECKING:
    from ansible.plugins.action import ActionBase

# Runs (as root when sudo) with $1 = a folder holding the lease file, $2 = the ready line, $3 = the
# command to hold and $4 = the lease in seconds. The command runs in the background with its stdin
# on a FIFO; a keeper holds the FIFO's write end and, every lease period, lets go unless the lease
# file was touched (AnsibleHold renews it) or is held open by a command of the run
# (AnsibleRunner.run pins it: a build may run for hours). Release kills the keeper. When the keeper
# is gone, the command reads EOF and ends, so a crashed controller leaves the host locked for
# minutes, not forever. Prints the ready line once the command did; exits 1 (its stderr) if not.
HOLD_SCRIPT = r"""
trap '' HUP
d=$1 ready=$2
mkfifo "$d/in" || exit 1
sh -c "$3" <"$d/in" >"$d/out" 2>"$d/err" &
h=$!
echo "$h" >"$d/holder"
sh -c '
  d=$1 h=$2 lease=$3
  exec 3>"$d/in"
  touch "$d/mark"
  while sleep "$lease" 3>&-; [ -e "$d/lease" ] && kill -0 "$h" 2>/dev/null; do
    if [ "$d/lease" -nt "$d/mark" ] || ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -qF "$d/lease"; then
      touch "$d/mark"
    else
      break
    fi
  done
  exec 3>&-
  while kill -0 "$h" 2>/dev/null; do sleep 0.2; done
  rm -rf "$d"
' keeper "$d" "$h" "$4" </dev/null >/dev/null 2>&1 &
echo $! >"$d/keeper"
while kill -0 "$h" 2>/dev/null; do
  if grep -qxF "$ready" "$d/out"; then echo "$ready"; exit 0; fi
  sleep 0.2
done
grep -qxF "$ready" "$d/out" && { echo "$ready"; exit 0; }
cat "$d/err" >&2
kill "$(cat "$d/keeper")"
rm -rf "$d"
exit 1
"""

# Ends a hold (same user as HOLD_SCRIPT): the keeper goes, the command reads EOF; wait until it
# ended (10 s at most), then remove the folder.
RELEASE_SCRIPT = r"""
d=$1
rm -f "$d/lease"
kill "$(cat "$d/keeper")" 2>/dev/null
h=$(cat "$d/holder") i=0
while kill -0 "$h" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
rm -rf "$d"
"""


class AnsibleRunner(FileOps):
    """A Runner over the connection of an Ansible action plugin (one host, one task)."""

    def __init__(self, action: ActionBase, host: str, lease_seconds: int = DEFAULT_LOCK_LEASE) -> None:
        self.host = host
        self.action = action
        self.lease_seconds = lease_seconds
        self._one_at_a_time = threading.Lock()  # the lease renewer shares the connection
        self._lease: str | None = None  # while held: the lease file each command keeps open

    def run(
        self,
        command: str,
        *,
        stdin: str | None = None,
        sudo: bool = False,
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result:
        """Run to completion; `on_line` gets the output lines afterwards (no streaming), and
        `timeout` is left to Ansible's own task `timeout` keyword."""
        sent = command
        if self._lease:
            sent = f"[ -e {q(self._lease)} ] && exec 9<{q(self._lease)}; {command}"
        result = self._execute(sent, stdin, sudo)
        if on_line:
            for line in result.stdout.splitlines():
                on_line(line)
        return Result(command, result.exit_code, result.stdout, result.stderr)

    def _execute(self, command: str, stdin: str | None, sudo: bool) -> Result:
        self.sent()
        try:
            with self._one_at_a_time:
                raw = self.action._low_level_execute_command(
                    command, sudoable=sudo, in_data=stdin.encode() if stdin is not None else None
                )
        except AnsibleConnectionFailure:
            raise  # Ansible reports the host unreachable
        except AnsibleError as exc:
            if "password" in str(exc):
                raise WrongSudoPassword(f"{self.host}: {exc} (ansible_become_password)") from exc
            raise
        return Result(command, raw["rc"], raw["stdout"], raw["stderr"])

    def hold(self, command: str, *, ready: str, sudo: bool = False) -> AnsibleHold | None:
        """Start `command` (prints `ready`, then waits on stdin) in the background on the host;
        None if it ended without printing `ready`."""
        made = self._execute('d=$(mktemp -d /tmp/.dsprov-hold.XXXXXX) && : >"$d/lease" && echo "$d"', None, False)
        folder = made.stdout.strip()
        if not made.ok or not folder:
            return None
        try:
            started = self._execute(
                f"sh -c {q(HOLD_SCRIPT)} hold {q(folder)} {q(ready)} {q(command)} {int(self.lease_seconds)}", None, sudo
            )
        except WrongSudoPassword:
            self._execute(f"rm -rf {q(folder)}", None, False)
            raise
        if ready not in started.stdout.split():
            return None
        self._lease = f"{folder}/lease"
        return AnsibleHold(self, folder, sudo)

    def renew(self) -> None:
        """Touch the lease (the hold lives on while the controller does)."""
        if self._lease:
            self._execute(f"touch -c {q(self._lease)}", None, False)

    def put(self, local: Path, remote: str) -> None:
        self.sent()
        with self._one_at_a_time:
            self.action._transfer_file(str(local), remote)

    def get(self, remote: str, local: Path) -> None:
        self.sent()
        with self._one_at_a_time:
            self.action._connection.fetch_file(remote, str(local))

    def close(self) -> None:
        """Nothing to do: the connection belongs to Ansible."""


class AnsibleHold:
    """A background hold on the host, its lease renewed from a thread until release()."""

    printed: str | None = None  # the hold runs in the background: its output is not kept

    def __init__(self, runner: AnsibleRunner, folder: str, sudo: bool) -> None:
        self.runner, self.folder, self.sudo = runner, folder, sudo
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name=f"dsprov-lease-{runner.host}", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(max(1, self.runner.lease_seconds // 4)):
            try:
                self.runner.renew()
            except AnsibleError:
                return  # the host is gone; the main thread finds out by itself

    def release(self) -> None:
        """End the hold: stop renewing, end the held command, remove its folder."""
        self._stop.set()
        self._renewer.join()
        self.runner._lease = None
        self.runner._execute(f"sh -c {q(RELEASE_SCRIPT)} release {q(self.folder)}", None, self.sudo)
