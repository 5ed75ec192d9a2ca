# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A capability, the unit of extension: what one module (provision/capabilities/<name>.py) gives
the registry (provision/capabilities/__init__.py).

The probe is assembled from the capabilities' fragments (provision/detect.py: still one round
trip), the plan from their factories in registry order (provision/plan.py), the checks of a rerun
compare with their parsed views of the probe (`Observed`), and `rollback` asks each one what to
undo. Nothing here names a capability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provision.artifacts import ArtifactStore
from provision.core.detection import Detection
from provision.core.plan import Plan
from provision.core.step import Step
from provision.facts import Sections
from provision.matrix import Matrix
from provision.state import State, StateRecord

if TYPE_CHECKING:
    from provision.options import Options

__all__ = ["Capability", "Planning"]


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
    # what it records in the host's state file: its record types (provision/state.py), each under its KEY
    records: tuple[type[StateRecord], ...] = ()
    # the state file and its survey section -> the steps that undo what it changed
    rollback: Callable[[State, str], list[Step]] | None = None


@dataclass
class Planning:
    """What a capability's plan factory reads (the detection, the matrix, the options, the artifact
    store) and adds to (the plan); `require` resolves a declared dependency through the capability
    that provides it."""

    detection: Detection
    matrix: Matrix
    options: Options
    store: ArtifactStore
    plan: Plan
    providers: Mapping[str, Capability] = field(default_factory=dict)  # what -> the capability providing it

    @property
    def host(self) -> str:
        return self.detection.host

    def require(self, what: str, dependents: Sequence[Step], need: Any = None) -> None:
        """`dependents` (about to be added) need `what` (`need`: e.g. cmake's minimum version): nothing
        when the host meets it; else the plan's step that provides it, or a new one from the
        providing capability appended now (so before the dependents), serves them."""
        capability = self.providers[what]
        assert capability.met is not None and capability.provide is not None
        if capability.met(self, need):
            return
        step = self.plan.provider(what)
        if step is None:
            why, step = capability.provide(self, need)
            self.plan.add(why, step)
        for dependent in dependents:
            step.serve(dependent)
