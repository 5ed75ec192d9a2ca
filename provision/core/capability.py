"""A capability, the unit of extension: what one module (provision/capabilities/<name>.py) gives
the registry (provision/capabilities/__init__.py).

The probe is assembled from the capabilities' fragments (provision/detect.py: still one round
trip), the plan from their factories in registry order (provision/plan.py), the checks of a rerun
compare with their parsed views of the probe (`Observed`), and `rollback` asks each one what to
undo. Nothing here names a capability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provision.facts import HostFacts, Sections
from provision.state import State

if TYPE_CHECKING:
    from provision.core.step import Step
    from provision.core.plan import Planning


@dataclass(frozen=True)
class Capability:
    """One capability's parts; each is optional (a capability that changes nothing records no state
    and has no rollback)."""

    name: str
    # POSIX sh appended to the probe: its own sections (`section NAME`), reading the probe's
    # variables (BUILD_DIR, STATE_FILE, SAVED_DIR, lib after plugin_files) and arguments
    probe: str = ""
    # its sections -> what its checks compare with before the lock (pure, never raising)
    observe: Callable[[Sections], Any] | None = None
    # adds its steps, notes and why-lines to the plan (or raises PlanRefused)
    plan: Callable[[Planning], None] | None = None
    # what it provides to other capabilities' steps (e.g. "cmake", which a build requires): whether
    # the host meets a need already, else a step that meets it with its why-line (Planning.require)
    provides: str = ""
    met: Callable[[Planning, Any], bool] | None = None
    provide: Callable[[Planning, Any], tuple[str, Step]] | None = None
    # what `rollback` asks the host besides the state file (one command, its output this section)
    rollback_survey: str = ""
    # the state record and its survey section -> the steps that undo what it changed
    rollback: Callable[[State, str], list[Step]] | None = None


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
