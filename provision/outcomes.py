"""The states a run reports: per host, per step, and what happened to the run's main product.

String enums: they compare equal to their values and print as them, so reports, JSON and the
Ansible recap carry the plain words.
"""

from __future__ import annotations

from enum import StrEnum


class RunResult(StrEnum):
    """How a host's run ended."""

    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"  # the plan said no before any change
    UNREACHABLE = "unreachable"  # no connection, host key or sudo login
    PLANNED = "planned"  # --dry-run / --check: nothing changed
    CANCELLED = "cancelled"


NOT_OK = (RunResult.FAILED, RunResult.REFUSED, RunResult.UNREACHABLE)


class StepStatus(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"


class Outcome(StrEnum):
    """What the run did to its main product (the plugin library, the pyds wheel)."""

    BUILT = "built"
    COPIED = "copied"  # from the controller's artifact cache
    FETCHED = "fetched"  # NVIDIA's prebuilt library
    RESTORED = "restored"
    UNCHANGED = "unchanged"
    NONE = "-"
