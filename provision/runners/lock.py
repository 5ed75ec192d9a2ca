# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""One provision at a time per host: a flock held by a session that lives as long as the run.

The lock is taken by `flock` on the host inside a command that then waits on its stdin; the
controller keeps that session open and closes it to release. If the controller dies, the session
ends and the kernel drops the lock, so a crashed run never leaves a stale lock behind.

The lock file is root's, mode 0600: only root can open it, so no other local user can take the
lock (`flock -s` on a readable file would block every provision). A lock file that is anything
else (another mode or owner, a link, as an older version left it) is replaced by a fresh one
(mktemp, then a rename), so a user holding the old file open holds nothing. The state file beside
it stays 0644: the probe reads it without sudo. Once locked, the command prints the state file as
root reads it (state_read_command), before its ready line: the run reads it under the lock without another
sudo command (a password check) or round trip.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from provision.errors import ProvisionError
from provision.runners.base import Held, Runner
from provision.state import STATE_DIR, Host, State, marked_state, read_state, state_read_command

LOCK_FILE = f"{STATE_DIR}/lock"
LOCKED = "DSPROV-LOCKED"


class HostBusy(ProvisionError):
    """Another provision holds the host's lock."""


def lock_command() -> str:
    return (
        f"mkdir -p {STATE_DIR} && chmod 0755 {STATE_DIR} && "
        f"if [ -L {LOCK_FILE} ] || [ \"$(stat -c '%u %a' {LOCK_FILE} 2>/dev/null)\" != '0 600' ]; then "
        f"n=$(mktemp {STATE_DIR}/.lock.XXXXXXXXXX) && mv -fT \"$n\" {LOCK_FILE} || exit 1; fi && "
        f"exec flock -n {LOCK_FILE} sh -c {shlex.quote(f'{state_read_command()}; echo; echo {LOCKED}; cat >/dev/null')}"
    )


@dataclass
class Lock:
    """The host's provision lock, held, and what its command printed before it was ready."""

    held: Held

    def state(self, ctx: Host, strict: bool = True) -> State:
        """The state file as root read it under the lock (read_state with sudo where the runner
        keeps no output of a hold)."""
        printed = self.held.printed
        if printed is None:
            return read_state(ctx, sudo=True, strict=strict)
        return State.parse(ctx.runner.host, marked_state(printed), strict=strict)

    def release(self) -> None:
        self.held.release()


def acquire(runner: Runner) -> Lock:
    """Hold the host's provision lock (release() lets it go), or raise HostBusy."""
    held = runner.hold(lock_command(), ready=LOCKED, sudo=True)
    if held is None:
        raise HostBusy(f"{runner.host}: another provision is running there (lock {LOCK_FILE}); try again later")
    return Lock(held)
