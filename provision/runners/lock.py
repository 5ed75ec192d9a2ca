"""One provision at a time per host: a flock held by a session that lives as long as the run.

The lock is taken by `flock` on the host inside a command that then waits on its stdin; the
controller keeps that session open and closes it to release. If the controller dies, the session
ends and the kernel drops the lock, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

from provision.errors import ProvisionError
from provision.runners.base import Runner
from provision.state import STATE_DIR

LOCK_FILE = f"{STATE_DIR}/lock"
LOCKED = "DSPROV-LOCKED"


class HostBusy(ProvisionError):
    """Another provision holds the host's lock."""


def lock_command() -> str:
    return (
        f"mkdir -p {STATE_DIR} && exec flock -n {LOCK_FILE} "
        f"sh -c 'echo {LOCKED}; cat >/dev/null'"
    )


def acquire(runner: Runner):
    """Hold the host's provision lock; returns a handle with release(), or raises HostBusy."""
    held = runner.hold(lock_command(), ready=LOCKED, sudo=True)
    if held is None:
        raise HostBusy(f"{runner.host}: another provision is running there (lock {LOCK_FILE}); try again later")
    return held
