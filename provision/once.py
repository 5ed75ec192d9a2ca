# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure functions worked out once per distinct input and shared by a fleet run's hosts: identical
hosts send identical texts (the same dpkg list, state file, DeepStream configs), and a run's threads
would otherwise parse each of them once per host. Unlike functools.lru_cache, the first call for an
input holds a lock while it computes, so concurrent hosts wait for it instead of computing it too.
A kept value is shared: only immutable values are kept (callers copy what they may change)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class PerInput(Generic[P, R]):
    """`function`'s value per distinct arguments (hashable, positional), at most `kept` of them (past
    that the store starts again). An exception is not kept: the next call raises it again."""

    def __init__(self, function: Callable[P, R], kept: int) -> None:
        self.function: Callable[..., R] = function
        self.kept = kept
        self._values: dict[tuple[Hashable, ...], R] = {}
        self._lock = threading.Lock()
        functools.update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs:
            raise TypeError(f"{self.function.__name__}: kept per positional arguments only")
        with self._lock:
            try:
                return self._values[args]
            except KeyError:
                pass
            value = self.function(*args)
            if len(self._values) >= self.kept:
                self._values.clear()
            self._values[args] = value
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def per_input(kept: int = 64) -> Callable[[Callable[P, R]], PerInput[P, R]]:
    """Decorate a pure function of hashable arguments whose value is immutable."""
    return lambda function: PerInput(function, kept)
