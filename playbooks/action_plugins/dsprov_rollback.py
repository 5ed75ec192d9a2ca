"""Action `dsprov_rollback`: restore the original libnvinfer_plugin from the host's state file (provision/ansible_plugins.py)."""

import sys
from pathlib import Path

try:
    import provision  # noqa: F401
except ImportError:  # a checkout where the package is not installed: it is at the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from provision.ansible_plugins import RollbackAction as ActionModule  # noqa: E402

__all__ = ["ActionModule"]
