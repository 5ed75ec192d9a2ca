# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Library deprecation warnings and log records stay off the user's terminal: our own lines are the output.

Called first by every entry point (the `dsprov` command, the checkout's `tasks.py`, the Ansible
plugins), before ansible-core, paramiko or cryptography are imported: a warning those print at
import time (cryptography 51 deprecates DSA, which ansible-core 2.19 imports) would otherwise come
ahead of our `error:` line. Filters added here go in front of `-W` and `PYTHONWARNINGS`, so they
hold whatever the environment asks for.
"""

from __future__ import annotations

import logging
import warnings


def _deprecation_categories() -> tuple[type[Warning], ...]:
    """Python's own deprecation categories, and cryptography's, which is a UserWarning."""
    categories: tuple[type[Warning], ...] = (DeprecationWarning, PendingDeprecationWarning)
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:
        return categories
    return (*categories, CryptographyDeprecationWarning)


def silence_library_warnings() -> None:
    """Ignore deprecation warnings from here on, for the rest of the process; quiet paramiko's logs."""
    for category in _deprecation_categories():
        warnings.filterwarnings("ignore", category=category)
    quiet_library_logs()


def quiet_library_logs() -> None:
    """paramiko logs a failed handshake (a host that accepts TCP and says nothing, "No existing
    session") as ERROR records with a traceback; with no handler configured, Python's last-resort
    handler prints them on stderr, a dozen lines per host. The runner's one line per host says
    what happened; a NullHandler keeps the records off the terminal (a caller that configures
    logging still gets them)."""
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
