# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Jetson's power mode and clocks, from the probe's `jetson_power` section (pure parsers).

The section holds blocks headed `-- <what>`: `nvpmodel -q`, the `POWER_MODEL`/`PM_CONFIG` lines of
/etc/nvpmodel.conf, `jetson_clocks --show` (root only) and the boot unit's files that exist.
Formats, as NVIDIA's tools print them:
- `nvpmodel -q`: `NV Power Mode: <NAME>`, then the mode id alone on the next line; a non-root run
  on a Nano adds `NVPM ERROR` lines (https://github.com/NVIDIA-AI-IOT/jetbot/issues/49).
- nvpmodel.conf: `< POWER_MODEL ID=<n> NAME=<name> >` sections and `< PM_CONFIG DEFAULT=<n> >`
  (the FORMAT comment of NVIDIA's confs, e.g. https://github.com/LineageOS/android_device_nvidia_concord
  nvpmodel/nvpmodel_p3701_0000.conf).
- `jetson_clocks --show`: a `cpuN: ... MinFreq= MaxFreq= CurrentFreq=` line per CPU, `GPU MinFreq=
  MaxFreq= ...`, `EMC ... FreqOverride=` (Nano: https://github.com/jfey/SmallThings jetson-nano.md;
  Orin Nano: https://github.com/canonical/tegra-snap-samples nvpmodel/README.md). jetson_clocks
  raises each minimum to the maximum the mode allows, so pinned clocks show MinFreq == MaxFreq.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POWER_MODEL = re.compile(r"^\s*<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+?)\s*>", re.M)
PM_CONFIG = re.compile(r"^\s*<\s*PM_CONFIG\s+DEFAULT=(\w+)\s*>", re.M)
MODE_LINE = re.compile(r"NV Power Mode:\s*(\S+)")
CPU_LINE = re.compile(r"^(cpu\d+):(.*)$", re.M)
FREQS = re.compile(r"MinFreq=(\d+)\s+MaxFreq=(\d+)")
WATTS = re.compile(r"(\d+(?:\.\d+)?)W")


@dataclass(frozen=True)
class PowerModel:
    id: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


@dataclass(frozen=True)
class NvpmodelConf:
    models: tuple[PowerModel, ...]
    default: int | None  # PM_CONFIG DEFAULT: the mode a Jetson boots in without a chosen one

    def by_id(self, mode_id: int) -> PowerModel | None:
        return next((m for m in self.models if m.id == mode_id), None)


@dataclass(frozen=True)
class Clocks:
    """What `jetson_clocks --show` says: pinned when every clock it lists sits at its maximum."""

    pinned: bool
    loose: tuple[str, ...]  # the clocks below their maximum (cpu0, GPU, EMC)


@dataclass(frozen=True)
class JetsonPower:
    conf: NvpmodelConf | None
    mode: PowerModel | None  # `nvpmodel -q`; None when it did not say
    clocks: Clocks | None  # None when `jetson_clocks --show` could not run (not root)
    boot_unit: tuple[str, ...]  # the boot unit's files present on the host


def parse_conf(text: str) -> NvpmodelConf | None:
    """The power models of an nvpmodel.conf; None without any POWER_MODEL."""
    models = tuple(PowerModel(int(i), name) for i, name in POWER_MODEL.findall(text))
    if not models:
        return None
    default = PM_CONFIG.search(text)
    value = default.group(1) if default else None
    if value is not None and not value.isdigit():  # a mode named instead of numbered
        value = next((str(m.id) for m in models if m.name == value), None)
    return NvpmodelConf(models, int(value) if value is not None else None)


def parse_nvpmodel_q(text: str) -> PowerModel | None:
    """`nvpmodel -q` (also with --verbose): the name line, the id on the line after it."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = MODE_LINE.search(line)
        if match:
            following = lines[number + 1].strip() if number + 1 < len(lines) else ""
            return PowerModel(int(following), match.group(1)) if following.isdigit() else None
    return None


def parse_clocks_show(text: str) -> Clocks | None:
    """`jetson_clocks --show`: which clocks sit below their maximum; None when it printed none
    (not root, or not run)."""
    loose, seen = [], 0
    for name, rest in CPU_LINE.findall(text):
        if "Online=0" in rest:
            continue
        freqs = FREQS.search(rest)
        if freqs:
            seen += 1
            if freqs.group(1) != freqs.group(2):
                loose.append(name)
    for line in text.splitlines():
        if line.startswith("GPU ") and (freqs := FREQS.search(line)):
            seen += 1
            if freqs.group(1) != freqs.group(2):
                loose.append("GPU")
        elif line.startswith("EMC ") and "FreqOverride=" in line:
            seen += 1
            if "FreqOverride=1" not in line:
                loose.append("EMC")
    return Clocks(not loose, tuple(loose)) if seen else None


def blocks(text: str) -> dict[str, str]:
    """The `-- <what>` blocks of the jetson_power section."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("-- "):
            current = out.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in out.items()}


def parse_jetson_power(text: str) -> JetsonPower | None:
    """The jetson_power section; None when the host has no nvpmodel (the section is empty)."""
    parts = blocks(text)
    if "nvpmodel -q" not in parts:
        return None
    return JetsonPower(
        conf=parse_conf(parts.get("nvpmodel.conf", "")),
        mode=parse_nvpmodel_q(parts["nvpmodel -q"]),
        clocks=parse_clocks_show(parts.get("jetson_clocks --show", "")),
        boot_unit=tuple(line.strip() for line in parts.get("boot unit", "").splitlines() if line.strip()),
    )


def max_mode(conf: NvpmodelConf) -> PowerModel | None:
    """The module's maximum power mode, by name: MAXN_SUPER (the Orin Nano/NX "Super" maximum,
    JetPack 6.2), else MAXN ("the NONE power model to release all constraints", NVIDIA's comment
    in every conf that has it), else another MAXN* name; a conf without one (Orin Nano on
    JetPack 5: 15W and 7W) names its modes by power budget, so the largest budget is the maximum.
    None when no name says."""
    names = {m.name: m for m in conf.models}
    for name in ("MAXN_SUPER", "MAXN"):
        if name in names:
            return names[name]
    maxn = [m for m in conf.models if m.name.upper().startswith("MAXN")]
    if maxn:
        return maxn[0]
    budgets = [(float(w.group(1)), m) for m in conf.models if (w := WATTS.search(m.name))]
    return max(budgets, key=lambda b: b[0])[1] if budgets else None
