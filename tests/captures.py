# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The probe capture recorded on the H100 machine (x86_64, Ubuntu 24.04, Python 3.12.3, glibc 2.39,
gcc 13.3.0, no DeepStream), with sections replaced where a test says so (what-if hosts)."""

from __future__ import annotations

import re
from pathlib import Path

from provision.core.detection import Detection
from provision.detect import analyse, read_capture

H100 = Path(__file__).parent / "fixtures" / "recorded" / "h100-ubuntu2404" / "probe-capture.txt"


def h100(gpu_archs: str | None = None, **sections: str) -> Detection:
    """The recorded H100 capture analysed, each named section's text replaced by the given one."""
    host, text = read_capture(H100)
    for name, body in sections.items():
        text, count = re.subn(rf"(==> {name} <==\n)(?:(?!==> ).*\n)*", lambda m: m.group(1) + body, text)
        assert count == 1, name
    return analyse(host, text, gpu_archs)
