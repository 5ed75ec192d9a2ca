# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""`rollback`: ask the host once for its state file and what each capability's rollback needs to
know, then each capability's steps to undo what it changed (the registry's order reversed)."""

from __future__ import annotations

import base64
import binascii
import shlex

from provision.capabilities import REGISTRY
from provision.core.step import Step, StepContext
from provision.facts import split_sections
from provision.state import NOTHING_TO_ROLL_BACK, STATE_FILE, State

__all__ = ["NOTHING_TO_ROLL_BACK", "rollback_steps"]


def survey_command() -> str:
    """The state file (base64, as the login user reads it) on the first line, then a section per
    capability that asks something more (dpkg's diversions for the plugin swap)."""
    asked = "".join(f"; printf '\\n==> {c.name} <==\\n'; {c.rollback_survey}"
                    for c in REGISTRY if c.rollback_survey)
    return f"base64 2>/dev/null < {shlex.quote(STATE_FILE)} | tr -d '\\n'; echo{asked}"


def rollback_steps(ctx: StepContext) -> list[Step]:
    """The steps that undo what the host's state file (a file that cannot be read counts as empty:
    the capabilities' surveys stand in) and the surveys record, in one round trip."""
    result = ctx.runner.run(survey_command())
    first, _, rest = result.stdout.partition("\n")
    try:
        state = State.parse(ctx.runner.host, base64.b64decode(first.strip(), validate=True).decode(), strict=False)
    except (binascii.Error, UnicodeDecodeError):
        state = State()
    sections = split_sections(rest)
    return [step for c in reversed(REGISTRY) if c.rollback for step in c.rollback(state, sections[c.name])]
