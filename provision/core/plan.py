# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan: the ordered steps of one host with their why-lines and notes (provision/plan.py makes it
from the capabilities' factories)."""

from __future__ import annotations

from dataclasses import dataclass, field

from provision.core.step import Step
from provision.errors import ProvisionError


class PlanRefused(ProvisionError):
    """The host must not be touched: the reason and what would fix it."""


@dataclass
class Plan:
    host: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # set by a capability whose steps must run before the rest is planned: one line saying what waits
    stop: str | None = None
    # the executor plans the rest in the same run once these steps ran (False: a reboot must come
    # first, the run ends and the next run goes on)
    continues: bool = True
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

    @property
    def messages(self) -> list[str]:
        """Its notes, then what waits for its steps (`stop`)."""
        return [*self.notes, *([self.stop] if self.stop else [])]

    @property
    def replanned(self) -> bool:
        """Whether the rest is planned after these steps, in the same run."""
        return bool(self.stop and self.continues and self.steps)

    def lines(self) -> list[str]:
        """The plan as text: a line per step, then its exact commands."""
        out = [f"{self.host}: {len(self.steps)} step(s)"]
        out += [f"  note: {n}" for n in self.messages]
        for number, step in enumerate(self.steps, 1):
            out.append(f"  {number}. [{step.name}] {step.summary()}")
            why = self.why(step)
            if why:
                out.append(f"       why: {why}")
            out += [f"       $ {command}" for command in step.describe()]
        return out
