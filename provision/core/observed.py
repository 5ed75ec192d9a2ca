# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the probe saw of a host, for the checks before the lock (provision/core/capability.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provision.facts import HostFacts
from provision.state import State


@dataclass(frozen=True)
class Observed:
    """What the probe saw, for the checks before the lock (no command more): the state file and each
    capability's parsed view. A live check (under the lock) has none and asks the host."""

    facts: HostFacts
    state: State
    views: Mapping[str, Any] = field(default_factory=dict)

    def view(self, capability: str) -> Any:
        """The capability's parsed view of the probe (None when it has no probe part)."""
        return self.views.get(capability)
