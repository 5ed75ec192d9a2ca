# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed host facts assembled from probe sections: what the host said (pure: a saved capture gives
the same facts). What the matrix makes of them (a Jetson's family and JetPack, a GPU's compute
capability from its name) is added by provision/detect.py."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from provision.facts import parsers as p
from provision.facts.power import JetsonPower, parse_jetson_power
from provision.state import State


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_cap: str | None
    source: str  # "deviceQuery" | "nvidia-smi" | "nvidia-smi name + GPU table" | "model table"
    memory_mib: int | None = None


@dataclass(frozen=True)
class Jetson:
    model: str | None
    family: str | None  # from the matrix's device table (detect)
    soc: str | None
    board: str | None
    l4t: Version | None
    jetpack: Version | None  # from the matrix's L4T table (detect)
    compute_cap: str | None  # from the matrix's device table (detect), for the cross-check
    container: str | None = None  # docker | podman | ...: probed from inside a container
    unknown: tuple[str, ...] = ()  # facts that cannot be known here (no /etc/nv_tegra_release)
    compatible: tuple[str, ...] = ()  # the device tree's compatible strings


@dataclass(frozen=True)
class HostFacts:
    arch: str | None
    platform: str | None  # "jetson" | "x86"
    os_id: str | None
    os_version: str | None
    jetson: Jetson | None
    cuda: Version | None
    tensorrt: Version | None
    deepstream: Version | None
    python: Version | None
    cmake: Version | None
    gcc: Version | None
    libc: Version | None
    driver: str | None
    gpus: tuple[Gpu, ...]
    device_query: p.DeviceQuery | None
    smi: p.NvidiaSmi | None
    mem_total_kib: int | None
    mem_available_kib: int | None
    swap_total_kib: int | None
    build_dir: str | None
    disk_free_kib: int | None
    disk_mount: str | None
    nproc: int | None
    lib_dir: str | None
    packages: dict[str, str]
    plugin_files: tuple[p.LibraryFile, ...]
    provisioned: dict  # this tool's state file on the host (what it changed), {} if none
    warnings: tuple[str, ...] = field(default=())
    pyds_import: str | None = None  # `import pyds` version, asked once the state file records pyds
    power: JetsonPower | None = None  # a Jetson's power mode and clocks (nvpmodel, jetson_clocks)

    def to_json(self) -> dict[str, Any]:
        """The facts of the detect document (provision/schemas/detect.schema.json): versions as
        strings, enums as values; without the parsed probe sections the steps read (INTERNAL)."""
        return _jsonable({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in INTERNAL})


# Parsed probe sections, not facts for people: deviceQuery's and nvidia-smi's (the GPUs list holds
# what they say). The capabilities' own sections are their views (provision/core/capability.py).
INTERNAL = ("device_query", "smi")


_PLAIN = (str, int, float, bool, type(None))  # as JSON as they are (exact types: an enum may subclass str)


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if type(value) is dict:  # the packages: a few hundred plain strings
        return {k: v if type(v) in _PLAIN else _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        return _jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Version):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


TRIPLETS = {"aarch64": "aarch64-linux-gnu", "arm64": "aarch64-linux-gnu", "x86_64": "x86_64-linux-gnu"}


def host_facts(sections: p.Sections, jetson_model: Callable[[str], bool] | None = None) -> HostFacts:
    """Assemble HostFacts from probe sections; odd or missing data becomes None plus a warning.

    `jetson_model` says whether a device-tree model string names a Jetson (the matrix's family
    map, provision/detect.py passes it): such a model makes the host a Jetson even without the word
    "Jetson", an L4T release file or a tegra SoC entry (JetPack 5's Orin Nano devkit reports
    "NVIDIA Orin Nano Developer Kit"; TX2 boards report codenames such as "quill")."""
    warnings: list[str] = []

    def parsed(name: str, parser, empty=None):
        text = sections[name]
        if not text.strip():
            return empty
        value = parser(text)
        if value is None or value == empty:
            warnings.append(f"{name}: could not read {text.strip().splitlines()[0][:80]!r}")
        return value if value is not None else empty

    arch = parsed("uname_m", p.parse_uname_m)
    os_release = parsed("os_release", p.parse_os_release)
    packages = parsed("dpkg_nvinfer", p.parse_dpkg, empty={})
    jetson = _jetson(sections, packages, parsed, jetson_model or (lambda model: False))
    if jetson:
        platform = "jetson"
    elif arch == "x86_64":
        platform = "x86"
    else:
        platform = None
        if arch:
            warnings.append(f"{arch} host without L4T: neither a Jetson nor an x86 server")

    cuda = (
        parsed("cuda_version_json", p.parse_cuda_version_json)
        or parsed("cuda_version_txt", p.parse_cuda_version_txt)
        or parsed("nvcc_version", p.parse_nvcc_version)
    )
    tensorrt = p.tensorrt_from_dpkg(packages) or parsed(
        "nvinfer_version_h", p.parse_nvinfer_version_h
    )
    deepstream = parsed("deepstream_version", p.parse_deepstream_version) or p.deepstream_from_dpkg(
        packages
    )
    smi = parsed("nvidia_smi_query", p.parse_nvidia_smi_query)
    if smi and smi.error:
        warnings.append(f"nvidia-smi: {smi.error}")
    device_query = parsed("device_query", p.parse_device_query)
    if device_query and device_query.error:
        warnings.append(f"deviceQuery: {device_query.error}")
    gpus = _gpus(device_query, smi)
    memory = parsed("meminfo", p.parse_meminfo)
    disk = parsed("df_build", p.parse_df)
    drivers = [g.driver for g in smi.gpus if g.driver] if smi else []

    return HostFacts(
        arch=arch,
        platform=platform,
        os_id=os_release.id if os_release else None,
        os_version=os_release.version_id if os_release else None,
        jetson=jetson,
        cuda=cuda,
        tensorrt=tensorrt,
        deepstream=deepstream,
        python=parsed("python3_version", p.parse_python3_version),
        cmake=parsed("cmake_version", p.parse_cmake_version),
        gcc=parsed("gcc_version", p.parse_gcc_version),
        libc=parsed("libc_version", p.parse_libc_version),
        driver=drivers[0] if drivers else None,
        gpus=gpus,
        device_query=device_query,
        smi=smi,
        mem_total_kib=memory.total_kib if memory else None,
        mem_available_kib=memory.available_kib if memory else None,
        swap_total_kib=memory.swap_total_kib if memory else None,
        build_dir=sections["build_dir"].strip() or None,
        disk_free_kib=disk.available_kib if disk else None,
        disk_mount=disk.mount if disk else None,
        nproc=parsed("nproc", p.parse_nproc),
        lib_dir=f"/usr/lib/{TRIPLETS[arch]}" if arch in TRIPLETS else None,
        packages=packages,
        plugin_files=parsed("nvinfer_plugin", p.parse_ls_libraries, empty=()),
        provisioned=parsed("dsprov_state", lambda text: dict(State.parse("", text, strict=False)), empty={}),
        warnings=tuple(warnings),
        pyds_import=p.parse_pyds_import(sections["pyds_import"]),
        power=parse_jetson_power(sections["jetson_power"]),
    )


def _jetson(sections, packages, parsed, jetson_model: Callable[[str], bool]) -> Jetson | None:
    """A Jetson from /etc/nv_tegra_release, else from the device tree (a tegra SoC, or a model the
    family map knows) and the nvidia-l4t-* packages (a container may lack the release file while
    the device tree is the host's)."""
    tegra = parsed("nv_tegra_release", p.parse_nv_tegra_release)
    model = parsed("dt_model", p.parse_dt_model)
    compatible = parsed("dt_compatible", p.parse_dt_compatible, empty=())
    container = p.parse_container(sections["container"])
    l4t = tegra.l4t if tegra else p.l4t_from_dpkg(packages)
    is_tegra = (any(c.startswith("nvidia,tegra") for c in compatible) or "jetson" in (model or "").lower()
                or (model is not None and jetson_model(model)))
    if l4t is None and not is_tegra:
        return None
    unknown = ([] if l4t is not None else ["L4T", "JetPack"]) + ([] if tegra else ["board"])
    soc = next((c.split(",", 1)[1] for c in compatible if c.startswith("nvidia,tegra")), None)
    return Jetson(
        model=model,
        family=None,
        soc=soc,
        board=tegra.board if tegra else None,
        l4t=l4t,
        jetpack=None,
        compute_cap=None,
        container=container,
        unknown=tuple(unknown),
        compatible=tuple(compatible),
    )


def _gpus(device_query, smi) -> tuple[Gpu, ...]:
    """GPUs from deviceQuery, else nvidia-smi (its compute capability where it reports one)."""
    if device_query and device_query.devices:
        memory = {i: g.memory_mib for i, g in enumerate(smi.gpus)} if smi else {}
        return tuple(
            Gpu(d.index, d.name, d.compute_cap, "deviceQuery", memory.get(d.index))
            for d in device_query.devices
        )
    if smi and smi.gpus:
        return tuple(Gpu(i, g.name, g.compute_cap, "nvidia-smi", g.memory_mib) for i, g in enumerate(smi.gpus))
    return ()
