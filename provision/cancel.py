# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ctrl-C: a request to stop at the next safe point, shared by every host's thread.

The first SIGINT only sets a flag. Runners stop the remote command they are waiting on (when the
caller is not `shielded`, i.e. not inside a step that must finish once started, like the swap),
the plan stops before its next step, each host's lock is released on the way out, and the
command exits 130 with a line per host saying where it stopped. A second SIGINT does not wait:
it runs the undo actions registered with `on_abort` (partial downloads removed) and exits 130 at
once; the hosts' locks go with the SSH sessions that held them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from provision.errors import ProvisionError

EXIT_CANCELLED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C

_requested = threading.Event()
_local = threading.local()
_undo: dict[int, Callable[[], None]] = {}
_undo_ids = itertools.count()


class Cancelled(ProvisionError):
    """The user cancelled; the message says where this host stopped."""


class StoppedBetween(Cancelled):
    """A step that works in parts (one engine after another) stopped between two at a cancel; the
    message says how far it got."""


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
def on_abort(undo: Callable[[], None]) -> Iterator[None]:
    """Within the block, a second Ctrl-C runs `undo` (safe to run at any moment) before exiting."""
    key = next(_undo_ids)
    _undo[key] = undo
    try:
        yield
    finally:
        _undo.pop(key, None)


def abort() -> None:
    """Run the registered undo actions and exit 130 now, without waiting for any host."""
    for undo in list(_undo.values()):
        with contextlib.suppress(Exception):
            undo()
    print("aborted: second Ctrl-C, not waiting for the hosts (the logs say where each stopped)",
          file=sys.stderr, flush=True)
    os._exit(EXIT_CANCELLED)


@contextlib.contextmanager
def on_sigint() -> Iterator[None]:
    """Turn Ctrl-C into a cancel request for the duration (main thread only); a second one aborts."""

    def handler(signum, frame) -> None:
        if _requested.is_set():
            abort()
        print("cancelling: stopping each host at the next safe point (Ctrl-C again: abort now)",
              file=sys.stderr, flush=True)
        request()

    reset()
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
