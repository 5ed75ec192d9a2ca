# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Errors that end a run with one clear line and a non-zero exit."""


class ProvisionError(Exception):
    """A user-facing failure: its message is the one line shown on stderr."""


class HostUnreachable(ProvisionError):
    """The host could not be reached or logged into."""


class UnknownHost(ProvisionError):
    """The host is not in the inventory."""


class StepFailed(ProvisionError):
    """A step could not do its work; the message is one line, the log has the rest."""
