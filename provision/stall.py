# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stall rule every transfer follows: abandoned when it moves fewer than LOW_SPEED_LIMIT
bytes/s over a whole window of `dsprov_stall_timeout` seconds (no answer, or a trickle; git's
http.lowSpeedLimit/lowSpeedTime and curl's --speed-limit/--speed-time do the same)."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

LOW_SPEED_LIMIT = 1000  # bytes per second


@dataclass
class RateWindow:
    """Bytes seen over the last `seconds`: stalled when a whole window moved under `limit` bytes/s."""

    seconds: float
    limit: int = LOW_SPEED_LIMIT
    started: float = field(default_factory=time.monotonic)
    seen: collections.deque = field(default_factory=collections.deque)  # (time, bytes)

    def add(self, count: int, now: float | None = None) -> None:
        self.seen.append((time.monotonic() if now is None else now, count))

    def stalled(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        while self.seen and self.seen[0][0] <= now - self.seconds:
            self.seen.popleft()
        if now - self.started < self.seconds:
            return False
        return sum(count for _, count in self.seen) < self.limit * self.seconds
