# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exit codes of every command, fleets included (docs/hostile-input.md: "Exit codes"; the README's table).

0: every host ok (or planned, with --dry-run). 1: some host failed, was refused, or could not be
reached while another could. 2: bad input (flags, inventory, settings; nothing was started), or no
host could be reached or logged into. 130: cancelled (Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Iterable

from provision.outcomes import NOT_OK, RunResult

OK, HOST_FAILED, BAD_INPUT, CANCELLED = 0, 1, 2, 130


def fleet_exit(results: Iterable[str]) -> int:
    """The exit code for a run whose hosts ended with these results."""
    results = list(results)
    if results and all(r == RunResult.UNREACHABLE for r in results):
        return BAD_INPUT
    return HOST_FAILED if any(r in NOT_OK for r in results) else OK
