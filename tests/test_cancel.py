# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ctrl-C semantics of run_plan: a step that changes system files finishes, the next never starts.

The steps are small real ones running real commands on this machine (LocalRunner)."""

from dataclasses import dataclass, field

import pytest

from provision import cancel
from provision.plan import Plan
from provision.provisioner import HostReport, run_plan
from provision.runners.local import LocalRunner
from provision.core.step import Step, StepContext


@dataclass
class Touch(Step):
    """Creates a file; `cancel_midway` asks for a cancel between its two commands (as Ctrl-C would)."""

    path: str
    cancel_midway: bool = False
    ran: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = f"touch {self.path.rsplit('/', 1)[-1]}"

    def summary(self) -> str:
        return f"create {self.path}"

    def check(self, ctx):
        return None

    def apply(self, ctx) -> None:
        ctx.sh(f"printf half > {self.path}.part")
        if self.cancel_midway:
            cancel.request()
        ctx.sh(f"mv {self.path}.part {self.path}")  # a shielded step goes on to its end
        self.ran.append("apply")


@pytest.fixture(autouse=True)
def no_cancel_left():
    yield
    cancel.reset()


def test_a_cancel_lets_the_running_step_finish_and_never_starts_the_next(tmp_path):
    first = Touch(str(tmp_path / "first"), cancel_midway=True)
    second = Touch(str(tmp_path / "second"))
    report = HostReport("local")
    with pytest.raises(cancel.Cancelled) as stopped:
        run_plan(Plan("local", [first, second]), StepContext(LocalRunner(), None), report, lambda s: None)
    assert str(stopped.value) == "localhost: cancelled before touch second (done: touch first)"
    assert (tmp_path / "first").read_text() == "half" and not (tmp_path / "first.part").exists()
    assert first.ran == ["apply"] and second.ran == [] and not (tmp_path / "second.part").exists()
    assert [s.name for s in report.steps] == ["touch first"]


def test_shielded_commands_are_never_interruptible():
    cancel.request()
    assert cancel.interruptible()
    with cancel.shielded():
        assert not cancel.interruptible()
        with cancel.shielded():
            assert not cancel.interruptible()
        assert not cancel.interruptible()
    assert cancel.interruptible()
