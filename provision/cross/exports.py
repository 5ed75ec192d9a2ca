# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The symbols a device library exports, read back from the device, for the controller's link stub
(:func:`provision.cross.toolchain.stub_library`): the output of
``nm -D --defined-only --format=posix LIB`` (GNU binutils), run on the device."""

from __future__ import annotations

import re

NM_COMMAND = "nm -D --defined-only --format=posix"
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def defined_symbols(nm_output: str) -> list[str]:
    """Sorted names of the defined code and data symbols (posix format: ``name type value size``);
    a version tag (``name@@VER``) is dropped, names a C compiler cannot label are skipped."""
    names = set()
    for line in nm_output.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[1] not in ("T", "D", "B", "R", "W", "V", "i"):
            continue
        name = parts[0].split("@", 1)[0]
        if _SYMBOL.fullmatch(name):
            names.add(name)
    return sorted(names)
