# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The product package is lint-clean (ruff) and type-clean (mypy), as configured in pyproject.toml:
CI runs exactly `python -m pytest`, so the checks run as a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing_in_the_product():
    result = run("ruff", "check", "--no-cache", "provision")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing_in_the_product():
    result = run("mypy", "provision")
    assert result.returncode == 0, result.stdout + result.stderr
