# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the probe reads for the NVIDIA stack, and its pure parser.

A GPU without a driver is still on the PCI bus: the kernel lists it under /sys/bus/pci/devices/
(files `vendor`, `device`, `class`, `subsystem_vendor`, `subsystem_device`, each one hex number,
and a `driver` link once a driver binds; Documentation/ABI/testing/sysfs-bus-pci in the Linux
tree). The installed packages (all: the distribution's prerequisites too) and the holds come from
one dpkg-query: a package held with `apt-mark hold` has dpkg's wanted state "hold", the first letter
of its status abbreviation (apt-mark(8), dpkg-query(1)), which is what `apt-mark showhold` lists
(it loads apt's whole cache to say so: ~0.5 CPU s on a desktop's package list);
the boot id from /proc/sys/kernel/random/boot_id (a new random UUID at each boot, random(4)), so
a reboot is seen as a changed boot id; the loaded kernel module's version from
/sys/module/nvidia/version; on Jetson the L4T apt repository's sources list
(/etc/apt/sources.list.d/nvidia-l4t-apt-source.list, JetPack install guide).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from provision.once import per_input

# POSIX sh for the probe (its helpers `section`, `show` and `has`); display-class devices only
PROBE = r"""
section nvidia_pci
for d in /sys/bus/pci/devices/*; do
    [ -r "$d/class" ] && IFS= read -r class < "$d/class" || continue
    case $class in
        0x03*)
            drv=-
            [ -L "$d/driver" ] && drv=$(readlink "$d/driver") && drv=${drv##*/}
            IFS= read -r vendor < "$d/vendor"; IFS= read -r device < "$d/device"
            sv=-; [ -r "$d/subsystem_vendor" ] && IFS= read -r sv < "$d/subsystem_vendor"
            sd=-; [ -r "$d/subsystem_device" ] && IFS= read -r sd < "$d/subsystem_device"
            printf '%s %s %s %s %s %s %s\n' "${d##*/}" "$vendor" "$device" "$class" "$sv" "$sd" "$drv" ;;
    esac
done

section nvidia_packages
# $dpkg_all: this list, made by probe.sh's cached facts (unchanged while dpkg's database is)
if [ -n "${dpkg_all+set}" ]; then printf '%s' "$dpkg_all"
else has dpkg-query && dpkg-query -W -f '${db:Status-Abbrev}\t${Package}\t${Version}\n' 2>/dev/null; fi

section boot_id  # one line each: read by the shell, no process started
f=/proc/sys/kernel/random/boot_id; l=; [ -r $f ] && { IFS= read -r l || [ -n "$l" ]; } < $f && printf '%s\n' "$l"

section nvidia_module
f=/sys/module/nvidia/version; l=; [ -r $f ] && { IFS= read -r l || [ -n "$l" ]; } < $f && printf '%s\n' "$l"

section l4t_sources
show /etc/apt/sources.list.d/nvidia-l4t-apt-source.list || :
"""

NVIDIA = "10de"
DISPLAY_CLASSES = ("0300", "0302")  # VGA compatible controller, 3D controller (pci.ids class list)


@dataclass(frozen=True)
class PciDevice:
    """One display-class PCI function."""

    slot: str  # 0000:00:1e.0
    vendor: str  # 10de (lower-case hex, no 0x)
    device: str  # 1eb8
    pci_class: str  # 0302 (class and subclass)
    subsystem: str | None  # 10de:12a2
    driver: str | None  # the bound kernel driver: nvidia, nouveau, vfio-pci; None when none

    @property
    def nvidia_gpu(self) -> bool:
        return self.vendor == NVIDIA and self.pci_class in DISPLAY_CLASSES


@dataclass(frozen=True)
class NvidiaFacts:
    """NVIDIA GPUs on the bus, the installed packages and the holds, the boot."""

    gpus: tuple[PciDevice, ...] = ()
    packages: Mapping[str, str] = field(default_factory=dict)  # every installed (dpkg "ii") name -> version
    held: frozenset[str] = frozenset()
    boot_id: str | None = None
    loaded_driver: str | None = None  # /sys/module/nvidia/version
    l4t_sources: str | None = None  # /etc/apt/sources.list.d/nvidia-l4t-apt-source.list (Jetson)

    def installed(self, prefix: str) -> dict[str, str]:
        return {name: v for name, v in self.packages.items() if name.startswith(prefix)}

    @property
    def deepstream(self) -> dict[str, str]:
        """deepstream-8.0 -> 8.0.0-1 (every DeepStream package installed)."""
        return self.installed("deepstream")

    @property
    def tensorrt(self) -> dict[str, str]:
        """Every TensorRT package installed -> its version."""
        return {name: v for name, v in self.packages.items() if is_tensorrt_package(name)}


def is_tensorrt_package(name: str) -> bool:
    return name.startswith(("libnvinfer", "libnvonnxparsers", "python3-libnvinfer", "tensorrt"))


def _hex(text: str) -> str | None:
    text = text.strip().lower()
    text = text[2:] if text.startswith("0x") else text
    return text if text and all(c in "0123456789abcdef" for c in text) else None


@per_input()  # each text once: a fleet's identical hosts send identical lists
def parse_pci(text: str) -> tuple[PciDevice, ...]:
    """The `nvidia_pci` section: `slot vendor device class subvendor subdevice driver` per line
    (sysfs values like 0x10de, 0x030200); lines that do not parse are skipped."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 7:
            continue
        slot, vendor, device, klass, sub_vendor, sub_device, driver = parts
        vendor_hex, device_hex, class_hex = _hex(vendor), _hex(device), _hex(klass)
        if vendor_hex is None or device_hex is None or class_hex is None or len(class_hex) < 4:
            continue
        sv, sd = _hex(sub_vendor), _hex(sub_device)
        found.append(PciDevice(slot, vendor_hex.zfill(4), device_hex.zfill(4), class_hex.zfill(6)[:4],
                               f"{sv.zfill(4)}:{sd.zfill(4)}" if sv and sd else None,
                               None if driver == "-" else driver))
    return tuple(found)


def parse_packages(text: str) -> dict[str, str]:
    """`dpkg-query -W -f '${db:Status-Abbrev}\\t${Package}\\t${Version}\\n'`: the installed ones.
    The abbreviation is the wanted state, the status, the error flag (dpkg-query(1)): installed is
    status `i`, whether wanted `i`nstall or `h`old ("hi" once held); "rc" is removed with its
    configuration left, "un" never installed, "iF" half-configured. Parsed once per text; each
    caller gets a dict of its own."""
    return dict(_installed(text))


@per_input()
def _installed(text: str) -> tuple[tuple[str, str], ...]:
    installed = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].strip() in ("ii", "hi") and parts[1] and parts[2]:
            installed[parts[1].split(":", 1)[0]] = parts[2]
    return tuple(installed.items())


@per_input()
def parse_holds(text: str) -> frozenset[str]:
    """The held packages of the same dpkg-query output: wanted state `h` (installed or not)."""
    return frozenset(parts[1].split(":", 1)[0] for parts in (line.split("\t") for line in text.splitlines())
                     if len(parts) == 3 and parts[0].startswith("h") and parts[1])


def nvidia_facts(sections: Mapping[str, str]) -> NvidiaFacts:
    """The facts of the probe's sections (absent sections read as empty); never raises."""
    boot = sections.get("boot_id", "").strip()
    module = sections.get("nvidia_module", "").strip()
    l4t = sections.get("l4t_sources", "")
    return NvidiaFacts(
        gpus=tuple(d for d in parse_pci(sections.get("nvidia_pci", "")) if d.nvidia_gpu),
        packages=parse_packages(sections.get("nvidia_packages", "")),
        held=parse_holds(sections.get("nvidia_packages", "")),
        boot_id=boot or None,
        loaded_driver=module or None,
        l4t_sources=l4t if l4t.strip() else None,
    )
