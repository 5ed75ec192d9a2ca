"""The plan's types: the ordered steps of one host with their why-lines and notes, and what a
capability's plan factory reads and adds to (provision/plan.py makes them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provision.artifacts import ArtifactStore
from provision.core.detection import Detection
from provision.core.step import Step
from provision.errors import ProvisionError
from provision.matrix import Matrix

if TYPE_CHECKING:
    from provision.core.capability import Capability
    from provision.plan import Options


class PlanRefused(ProvisionError):
    """The host must not be touched: the reason and what would fix it."""


@dataclass
class Plan:
    host: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _why: dict[int, str] = field(default_factory=dict, repr=False)  # id(step) -> why it is in the plan

    def add(self, why: str, *steps: Step) -> None:
        """Append steps, each with the reason it is there (the plan's `why:` line)."""
        for step in steps:
            self.steps.append(step)
            self._why[id(step)] = why

    def why(self, step: Step) -> str | None:
        return self._why.get(id(step))

    def provider(self, what: str) -> Step | None:
        """The step of the plan that provides `what` (e.g. a new enough cmake), if any."""
        return next((step for step in self.steps if what in step.provides), None)

    def lines(self) -> list[str]:
        """The plan as text: a line per step, then its exact commands."""
        out = [f"{self.host}: {len(self.steps)} step(s)"]
        out += [f"  note: {n}" for n in self.notes]
        for number, step in enumerate(self.steps, 1):
            out.append(f"  {number}. [{step.name}] {step.summary()}")
            why = self.why(step)
            if why:
                out.append(f"       why: {why}")
            out += [f"       $ {command}" for command in step.describe()]
        return out


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
