# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The garbage collector around a command's start: paused while the command's modules load, then
those objects frozen out of every later collection (https://docs.python.org/3/library/gc.html#gc.freeze).

A command loads about 600 modules; the collector's passes over them cost a no-op about 0.06 CPU s
at the start (a full pass mid-start, where unpickling the kept matrix made many objects) and more
per host as its objects pile up on top of them. Modules, classes and functions live as long as the
process, so nothing of them is ever garbage; frozen, they are left out of every pass."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """No collection while the block loads modules; after it, what exists is frozen and collection
    goes on (as it was: a caller that had turned it off keeps it off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
