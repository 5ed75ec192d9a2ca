"""Callback `dsprov_recap`: a line per host after the play (provision/ansible_plugins.py)."""

import sys
from pathlib import Path

try:
    import provision  # noqa: F401
except ImportError:  # a checkout where the package is not installed: it is at the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from provision.ansible_plugins import RecapCallback as CallbackModule  # noqa: E402

__all__ = ["CallbackModule"]
