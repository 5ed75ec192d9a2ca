# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""No library warning reaches the user ahead of our own lines, whatever the environment asks for.

ansible-core 2.19 with cryptography 51 prints a two-line CryptographyDeprecationWarning at import
(ansible/_internal/_ssh/_ssh_agent.py imports DSA); PYTHONWARNINGS=default would show any other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DSPROV = Path(sys.executable).with_name("dsprov")
# A host nobody listens for: detect fails at once with our one line.
INVENTORY = "[x86]\nt4-01 ansible_host=127.0.0.1 ansible_port=9 ansible_user=ubuntu\n"
LOUD = {**os.environ, "PYTHONWARNINGS": "default"}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=LOUD, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [
    [str(DSPROV)],
    [sys.executable, "-m", "invoke", "--search-root", str(ROOT)],
], ids=["dsprov", "invoke"])
def test_an_unreachable_host_is_our_one_line_and_nothing_else(tmp_path, command):
    (tmp_path / "hosts.ini").write_text(INVENTORY)
    result = run([*command, "detect", "--host", "t4-01", "-i", str(tmp_path / "hosts.ini")], tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [result.stderr.splitlines()[0]], result.stderr
    assert result.stderr.startswith("error: t4-01: cannot reach"), result.stderr


def test_a_what_if_check_prints_no_warning(tmp_path):
    result = run([str(DSPROV), "matrix.check", "--jetpack", "6.2", "--deepstream", "7.1"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""


def test_the_ansible_plugins_import_with_every_other_warning_an_error():
    """-W error turns any warning that the plugins' imports let through into a failed import."""
    result = subprocess.run([sys.executable, "-W", "error", "-c", "import provision.ansible_plugins"],
                            env=LOUD, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def _import_warning_libraries(tmp_path: Path, silence: bool) -> subprocess.CompletedProcess:
    """A library that warns at import in each deprecation category, imported after (or without) the filter."""
    (tmp_path / "noisy_library.py").write_text(
        "import warnings\n"
        "from cryptography.utils import CryptographyDeprecationWarning\n"
        "for category in (DeprecationWarning, PendingDeprecationWarning, CryptographyDeprecationWarning):\n"
        "    warnings.warn(f'{category.__name__} from a library', category)\n")
    first = "from provision.library_warnings import silence_library_warnings; silence_library_warnings()\n"
    code = (first if silence else "") + "import noisy_library\n"
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=LOUD, capture_output=True, text=True,
                          timeout=60)


def test_every_deprecation_category_is_silenced_and_shown_without_the_filter(tmp_path):
    shown = _import_warning_libraries(tmp_path, silence=False).stderr
    for category in ("DeprecationWarning", "PendingDeprecationWarning", "CryptographyDeprecationWarning"):
        assert f"{category}: {category} from a library" in shown
    silenced = _import_warning_libraries(tmp_path, silence=True)
    assert silenced.returncode == 0 and silenced.stderr == ""
