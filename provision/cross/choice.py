# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a plugin build happens: `--build-on controller|host|auto` (`dsprov_build_on`).

A cross build on the controller is possible for JetPack >= 7 only: JetPack 7 (Thor; Orin from
JetPack 7.2) carries the SBSA-style CUDA 13 whose aarch64 runtime the package index has, and CUDA
13's nvcc still compiles for the device's SM. Nano (sm_53), TX2 (sm_62) and Xavier (sm_72) are
below CUDA 13's oldest SM (75); Orin on JetPack 5/6 (CUDA 11.4/12.x, the non-SBSA `aarch64-linux`
target) needs that JetPack's own cross toolkit. x86 hosts build on themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from .toolchain import ToolchainCheck

BUILD_ON = ("auto", "controller", "host")
FIRST_CROSS_JETPACK = Version("7.0")


@dataclass(frozen=True)
class BuildPlace:
    """The answer: where, and why (a line for `--dry-run` and the plan's notes)."""

    where: str  # "controller" | "host"
    why: str


def cross_blocker(platform: str | None, jetpack: Version | None, sms: list[int], check: ToolchainCheck) -> str | None:
    """Why this host's plugin cannot be cross-built on the controller, or None."""
    if platform != "jetson":
        return "the host is not a Jetson (x86 hosts build on themselves)"
    if jetpack is None:
        return "the host's JetPack is unknown"
    if jetpack < FIRST_CROSS_JETPACK:
        return (f"JetPack {jetpack} predates the SBSA-style CUDA 13 of JetPack 7: its CUDA runtime and target"
                " need that JetPack's own cross toolkit")
    if not check.ok:
        return "the controller's cross toolchain is unusable: " + "; ".join(check.problems)
    missing = [sm for sm in sms if sm not in check.sms]
    if missing:
        return f"nvcc {check.nvcc_version} on the controller cannot build SM {' '.join(map(str, missing))}"
    return None


def choose(build_on: str, platform: str | None, jetpack: Version | None, sms: list[int],
           check: ToolchainCheck) -> BuildPlace:
    """`host` builds on the host; `controller` cross-builds or raises ValueError with the reason;
    `auto` cross-builds where it can and builds on the host otherwise."""
    if build_on not in BUILD_ON:
        raise ValueError(f"build_on: {build_on!r} is not one of {', '.join(BUILD_ON)}")
    if build_on == "host":
        return BuildPlace("host", "--build-on host")
    blocker = cross_blocker(platform, jetpack, sms, check)
    if blocker is None:
        return BuildPlace("controller", f"cross-built on the controller (nvcc {check.nvcc_version}, {check.cxx}"
                                        f" {check.cxx_version}, aarch64 cudart {check.runtime})")
    if build_on == "controller":
        raise ValueError(f"--build-on controller: {blocker}")
    return BuildPlace("host", f"built on the host: {blocker}")


def key_parts(place: BuildPlace, check: ToolchainCheck) -> dict[str, str]:
    """What the build key adds for where and how the library was built."""
    if place.where == "host":
        return {"built_on": "host"}
    return {"built_on": "controller",
            "toolchain": f"nvcc {check.nvcc_version}; {check.cxx.rsplit('/', 1)[-1]} {check.cxx_version};"
                         f" nvidia-cuda-runtime {check.runtime}"}
