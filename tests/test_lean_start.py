"""What the controller loads to start: the task collection (every command's start, a no-op's
included) leaves out the libraries only some runs use; each is imported where it is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# module: the one place that uses it (a download; reading a library's ELF header on the controller)
LATER = {"requests": "provision/downloads.py", "urllib3": "provision/downloads.py",
         "elftools": "provision/capabilities/plugin_files.py"}


def test_starting_loads_no_library_a_no_op_does_not_use():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, tasks; print('\\n'.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert "provision.commands" in loaded and "provision.capabilities.engines" in loaded
    assert not [m for m in loaded if m.split(".")[0] in LATER]
    for module, user in LATER.items():
        assert f"import {module}" in (ROOT / user).read_text() or f"from {module}" in (ROOT / user).read_text()
