# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Loaded matrices kept between runs: a run whose matrix files and loader are unchanged unpickles
the checked Matrix (a few ms) instead of parsing and validating nine YAML files against their
schemas (about 0.1 CPU s of every run). Kept under the controller cache (provision/artifacts.py),
by the SHA-256 of the files' texts, the loader's own source files, the Python version and packaging's
(whose Version objects it holds)."""

from __future__ import annotations

import hashlib
import pickle
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

_SOURCES = sorted(Path(__file__).parent.glob("*.py"))  # the loader and the rows it makes


def _path(files_digest: str) -> Path:
    from provision.artifacts import cache_root  # (it imports the matrix's rows)

    sha = hashlib.sha256(f"{files_digest}\0{sys.version}\0{version('packaging')}\0".encode())  # its Version objects
    for source in _SOURCES:
        sha.update(source.read_bytes())
    return cache_root() / "matrix" / f"{sha.hexdigest()}.pickle"


def load(files_digest: str) -> Any | None:
    """The Matrix kept for these files, or None (also when someone else could have written it)."""
    from provision.artifacts import read_private

    kept = read_private(_path(files_digest))
    if kept is None:
        return None
    try:
        return pickle.loads(kept)
    except Exception:  # a truncated or foreign file: unpickling can fail in many ways
        return None


def save(files_digest: str, matrix: Any) -> None:
    """Keep a Matrix; a cache that cannot be written only costs the next run its parse."""
    from provision.artifacts import write_private

    try:
        write_private(_path(files_digest), pickle.dumps(matrix, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass
