# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
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


class EngineStatus(StrEnum):
    """What a config's TensorRT engine is, before anything is done."""

    MISSING = "missing"
    STALE = "stale"  # built for another TensorRT, CUDA, GPU, plugin, precision, batch or model
    CURRENT = "current"
    REFUSED = "refused"  # the config cannot be read or its engine cannot be built here


class EngineOutcome(StrEnum):
    """What happened to a config's engine."""

    PENDING = ""  # to rebuild (a dry run stops here)
    CURRENT = "current"
    REBUILT = "rebuilt"
    FAILED = "failed"
    REFUSED = "refused"
    DEEPSTREAM = "deepstream"  # DeepStream builds it itself (a custom library's engine-create function)
