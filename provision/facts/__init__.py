"""Host facts: one probe, pure parsers, typed HostFacts (see probe.sh for the sections)."""

from provision.facts.host import Gpu, HostFacts, Jetson, host_facts
from provision.facts.parsers import Sections, split_sections
from provision.facts.probe import probe_script

__all__ = ["Gpu", "HostFacts", "Jetson", "Sections", "host_facts", "probe_script", "split_sections"]
