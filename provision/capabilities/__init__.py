"""The registry: every capability, in the order the plan runs them (provision/core/capability.py
says what a capability gives). The probe is assembled from their fragments in this order, the plan
asks their factories in this order, and `rollback` undoes what they changed in the reverse order.

Adding a capability: its module here (probe fragment and parser, plan factory, steps, state record,
rollback), one line below, its options in provision/options.py.
"""

from __future__ import annotations

from provision.capabilities import engines, max_clocks, plugin_swap, pyds
from provision.core.capability import Capability

REGISTRY: tuple[Capability, ...] = (
    max_clocks.CAPABILITY,  # first: the builds and the engines' kernel timing then run at full clocks
    plugin_swap.CAPABILITY,
    pyds.CAPABILITY,
    engines.CAPABILITY,
)
