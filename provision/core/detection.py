# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What detecting a host gives: its capture, facts, GPU_ARCHS and matrix verdicts
(provision/detect.py makes one; the plan and the capabilities read it)."""

from __future__ import annotations

from dataclasses import dataclass

from provision.facts import HostFacts
from provision.gpu.archs import GpuArchs
from provision.matrix import Verdict


@dataclass(frozen=True)
class Detection:
    host: str
    capture: str
    facts: HostFacts
    gpu_archs: GpuArchs
    verdicts: list[Verdict]
