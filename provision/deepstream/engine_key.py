# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's engine cache key: what decides whether an engine built on one host runs on another (pure).

A serialized TensorRT engine is not portable: it is specific to the GPU model it was built on, its
platform and its TensorRT version (TensorRT developer guide, "Serializing a Model",
https://docs.nvidia.com/deeplearning/tensorrt/developer-guide/index.html). Here it is keyed by the
device (a Jetson's device-tree model and compatible strings, which name the module: deviceQuery
calls every Orin "Orin"; an x86 GPU's full name as nvidia-smi gives it), its compute capability,
the L4T release or the driver, CUDA, TensorRT, the SHA-256 of the plugin library it loads, the
model's and the INT8 calibration cache's SHA-256, trtexec's build flags and the batch. A host
whose key is cached gets the engine copied and checks that it loads (`trtexec --loadEngine`)
before it is used (provision/capabilities/engines.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from provision.artifacts import build_key
from provision.facts import HostFacts


@dataclass(frozen=True)
class EngineKey:
    device: str  # the Jetson's device-tree model (compatible strings) or the GPU's full name
    compute_cap: str
    platform: str  # "L4T 36.4.3" or "driver 535.183.01"
    cuda: str
    tensorrt: str
    plugin_sha256: str
    model_sha256: str
    calibration_sha256: str  # "" without an INT8 calibration cache
    flags: str  # trtexec's flags that shape the engine, file paths left out
    batch: int

    def parts(self) -> dict[str, str]:
        """The key's parts as the artifact store records them (meta.json)."""
        return {"artifact": "tensorrt-engine", **{k: str(v) for k, v in asdict(self).items()}}

    @property
    def key(self) -> str:
        return build_key(self.parts())


@dataclass(frozen=True)
class Device:
    """The GPU an engine runs on, as far as the key is concerned."""

    name: str
    compute_cap: str
    platform: str


def device_of(facts: HostFacts, gpu_id: int) -> Device | None:
    """The device behind `gpu_id`, or None when one of its parts is unknown (no caching then)."""
    gpu = next((g for g in facts.gpus if g.index == gpu_id), None)
    if gpu is None or not gpu.compute_cap:
        return None
    if facts.jetson:
        j = facts.jetson
        if not (j.model or j.compatible) or j.l4t is None:
            return None
        return Device(f"{j.model or ''} ({', '.join(j.compatible)})", gpu.compute_cap, f"L4T {j.l4t}")
    smi = facts.smi.gpus if facts.smi else ()
    name = smi[gpu_id].name if gpu_id < len(smi) and smi[gpu_id].name else gpu.name
    if not name or not facts.driver:
        return None
    return Device(name, gpu.compute_cap, f"driver {facts.driver}")
