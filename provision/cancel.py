"""Ctrl-C: a request to stop at the next safe point, shared by every host's thread.

The first SIGINT only sets a flag. Runners stop the remote command they are waiting on (when the
caller is not `shielded`, i.e. not inside a step that must finish once started, like the swap),
the plan stops before its next step, each host's lock is released on the way out, and the
command exits 130 with a line per host saying where it stopped.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from provision.errors import ProvisionError

EXIT_CANCELLED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C

_requested = threading.Event()
_local = threading.local()


class Cancelled(ProvisionError):
    """The user cancelled; the message says where this host stopped."""


def request() -> None:
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def reset() -> None:
    _requested.clear()


def interruptible() -> bool:
    """Whether a command this thread waits on may be stopped now (cancel asked, not shielded)."""
    return _requested.is_set() and not getattr(_local, "shield", 0)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Commands run inside go to the end even after a cancel (a step that must not stop halfway)."""
    _local.shield = getattr(_local, "shield", 0) + 1
    try:
        yield
    finally:
        _local.shield -= 1


@contextlib.contextmanager
def on_sigint() -> Iterator[None]:
    """Turn Ctrl-C into a cancel request for the duration (main thread only)."""

    def handler(signum, frame) -> None:
        if not _requested.is_set():
            print("cancelling: stopping each host at the next safe point", file=sys.stderr, flush=True)
        request()

    reset()
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
