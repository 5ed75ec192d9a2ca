# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""invoke, imported without unittest.mock: invoke/context.py imports `Mock` at its top for
MockContext, a testing aid that `dsprov` never uses, and unittest.mock imports asyncio (about
0.04 CPU s of every start). While invoke loads, `unittest.mock` is a stand-in whose Mock imports
the real one when called; it is gone once invoke is in. The checkout's `invoke` command has
imported invoke before our code runs, so only `dsprov` (provision/cli.py) starts this lean."""

from __future__ import annotations

import sys
import types
from typing import Any


def _mock(*args: Any, **kwargs: Any) -> Any:
    from unittest import mock  # the real module (the stand-in is out of sys.modules by now)

    return mock.Mock(*args, **kwargs)


if "invoke" not in sys.modules and "unittest.mock" not in sys.modules:
    stand_in = types.ModuleType("unittest.mock")
    stand_in.Mock = _mock  # type: ignore[attr-defined]
    sys.modules["unittest.mock"] = stand_in
    try:
        import invoke  # noqa: F401
    finally:
        del sys.modules["unittest.mock"]
