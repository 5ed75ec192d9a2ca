"""Library deprecation warnings stay off the user's terminal: our own lines are the output.

Called first by every entry point (the `dsprov` command, the checkout's `tasks.py`, the Ansible
plugins), before ansible-core, paramiko or cryptography are imported: a warning those print at
import time (cryptography 51 deprecates DSA, which ansible-core 2.19 imports) would otherwise come
ahead of our `error:` line. Filters added here go in front of `-W` and `PYTHONWARNINGS`, so they
hold whatever the environment asks for.
"""

from __future__ import annotations

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
    """Ignore deprecation warnings from here on, for the rest of the process."""
    for category in _deprecation_categories():
        warnings.filterwarnings("ignore", category=category)
