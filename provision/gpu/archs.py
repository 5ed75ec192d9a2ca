# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""GPU_ARCHS for the TensorRT OSS build: from deviceQuery, cross-checked, or given."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from provision.errors import ProvisionError
from provision.facts.host import HostFacts


@dataclass(frozen=True)
class GpuArchs:
    archs: tuple[str, ...]  # SM numbers: ("53",), ("75", "86")
    source: str
    notes: tuple[str, ...] = ()

    @property
    def cmake_value(self) -> str:
        """The value for `-DGPU_ARCHS=` (space-separated SM numbers)."""
        return " ".join(self.archs)


def sm(compute_cap: str) -> str:
    """`7.5` -> `75`."""
    major, _, minor = compute_cap.partition(".")
    return f"{int(major)}{int(minor or 0)}"


def parse_override(value: str, known: Iterable[str] | None = None) -> tuple[str, ...]:
    """`--gpu-archs 53`, `75,86`, `8.7`: SM numbers, each one of `known` (the compute
    capabilities of matrix/devices.yml) when given, or a one-line error."""
    archs = []
    for word in re.split(r"[\s,;]+", value.strip()):
        if re.fullmatch(r"\d+\.\d+", word):
            word = sm(word)
        if not re.fullmatch(r"\d{2,3}", word):
            raise ProvisionError(f"--gpu-archs: {word!r} is not an SM number like 53, 75 or 8.7")
        if known is not None and word not in known:
            raise ProvisionError(f"--gpu-archs: {word} is no compute capability a known GPU has"
                                 f" (matrix/devices.yml: {', '.join(sorted(known, key=int))})")
        archs.append(word)
    if not archs:
        raise ProvisionError("--gpu-archs is empty")
    return tuple(dict.fromkeys(archs))


def runs_on(arch: str, compute_cap: str) -> bool:
    """Whether code built for SM `arch` runs on a GPU of `compute_cap`: a cubin for compute
    capability X.y runs on devices of X.z with z >= y only (NVIDIA CUDA C++ Programming Guide,
    "Binary Compatibility": docs.nvidia.com/cuda/cuda-c-programming-guide/#binary-compatibility).
    The PTX that could be JIT-compiled for a newer major is not counted on."""
    major, _, minor = compute_cap.partition(".")
    return int(arch[:-1]) == int(major) and int(arch[-1]) <= int(minor or 0)


def host_compute_caps(facts: HostFacts) -> tuple[str, ...]:
    """The compute capabilities of the host's GPUs, as found (deviceQuery, nvidia-smi, tables)."""
    caps = [g.compute_cap for g in facts.gpus if g.compute_cap]
    if not caps and facts.jetson and facts.jetson.compute_cap:
        caps = [facts.jetson.compute_cap]
    return tuple(dict.fromkeys(caps))


def derive_gpu_archs(facts: HostFacts, override: str | None = None, known: Iterable[str] | None = None) -> GpuArchs:
    """Pick GPU_ARCHS: --gpu-archs, else deviceQuery, else nvidia-smi, else the model table.

    Every other source that knows the answer is compared, and a disagreement becomes a note.
    """
    by_source: dict[str, tuple[str, ...]] = {}
    if facts.device_query and facts.device_query.devices:
        by_source["deviceQuery"] = _sms(d.compute_cap for d in facts.device_query.devices)
    if facts.smi and any(g.compute_cap for g in facts.smi.gpus):
        by_source["nvidia-smi"] = _sms(g.compute_cap for g in facts.smi.gpus)
    if facts.jetson and facts.jetson.compute_cap:
        by_source["model table"] = (sm(facts.jetson.compute_cap),)
    elif facts.gpus and all(g.source.endswith("GPU table") for g in facts.gpus):
        by_source["GPU table"] = _sms(g.compute_cap for g in facts.gpus)
    by_source = {k: v for k, v in by_source.items() if v}

    notes = []
    if override:
        chosen, source = parse_override(override, known), "--gpu-archs"
    elif by_source:
        source, chosen = next(iter(by_source.items()))
    else:
        return GpuArchs((), "none", ("no GPU found: pass --gpu-archs to build anyway",))
    for other, archs in by_source.items():
        if other != source and set(archs) != set(chosen):
            notes.append(f"{source} says {' '.join(chosen)} but {other} says {' '.join(archs)}")
    if facts.device_query and facts.device_query.error and source != "deviceQuery" and not override:
        notes.append(f"deviceQuery failed ({facts.device_query.error}); using {source}")
    return GpuArchs(chosen, source, tuple(notes))


def _sms(caps) -> tuple[str, ...]:
    return tuple(dict.fromkeys(sm(c) for c in caps if c))
