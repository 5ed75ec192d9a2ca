# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry: every capability, in the order the plan runs them (provision/core/capability.py
says what a capability gives). The probe is assembled from their fragments in this order, the plan
asks their factories in this order, and `rollback` undoes what they changed in the reverse order.

Adding a capability: its module here (probe fragment and parser, plan factory, steps, state record,
rollback), one line below, its options in provision/options.py.
"""

from __future__ import annotations

from provision.capabilities import (
    cmake,
    engines,
    max_clocks,
    nvidia_stack,
    model_config,
    plugin_swap,
    prebuilt_plugin,
    pyds,
    trt_oss,
)
from provision.core.capability import Capability

REGISTRY: tuple[Capability, ...] = (
    nvidia_stack.CAPABILITY,  # --deepstream: the NVIDIA stack itself first; the rest planned after it
    max_clocks.CAPABILITY,  # first: the builds and the engines' kernel timing then run at full clocks
    cmake.CAPABILITY,  # no steps of its own: provides "cmake" to the builds that require it
    prebuilt_plugin.CAPABILITY,  # NVIDIA's prebuilt plugin library, where it is the source
    trt_oss.CAPABILITY,  # else the TensorRT OSS build (or the guides' "nothing to do")
    plugin_swap.CAPABILITY,  # swaps in whichever library the plan has
    pyds.CAPABILITY,  # the DeepStream Python bindings
    model_config.CAPABILITY,  # dsprov_models: parser libraries and nvinfer configs
    engines.CAPABILITY,  # every stale engine, after the swap and the new configs
)
