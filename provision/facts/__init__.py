# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host facts: one probe, pure parsers, typed HostFacts (see probe.sh for the sections)."""

from provision.facts.host import Gpu, HostFacts, Jetson, host_facts
from provision.facts.parsers import Sections, split_sections


__all__ = ["Gpu", "HostFacts", "Jetson", "Sections", "host_facts", "split_sections"]
