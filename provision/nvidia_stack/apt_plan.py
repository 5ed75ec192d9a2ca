# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure planner of `provision --deepstream VERSION`: (facts, matrix, options) -> the exact
commands that bring a host to the release's NVIDIA stack, or a refusal with its reason and fix.

The order and the package names are NVIDIA's (matrix/nvidia_stack.yml cites each): the CUDA
network repository through its keyring package, pinned by SHA-256 as NVIDIA's playbook pins it
(NVIDIA/DeepStream tools/deepstream-host-provisioning roles/cuda); the driver after its pinning
package ("we suggest to install the pinning package prior to installing the driver",
https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/version-locking.html), with the
open kernel modules where the GPU supports them (https://github.com/NVIDIA/open-gpu-kernel-modules
README: "any Turing or later GPU") and the proprietary flavour (cuda-drivers-<branch>) elsewhere;
cuda-toolkit-X-Y; cuDNN and every TensorRT package pinned to one exact version, the TensorRT ones
then held with `apt-mark hold` as NVIDIA's Jetson Dockerfile holds them
(deepstream_dockers/jetson_dockerfiles/Dockerfile_Jetson_Run at v9.1.0), so an unattended upgrade
cannot move the library the plugin swap diverted; the distribution packages the install guide lists;
DeepStream by its release's route. What is installed at the wanted version already is left out.

On Jetson the driver is L4T's, flashed with the board: `plan_jetson` installs JetPack's components
from NVIDIA's L4T apt repository ("NVIDIA offers JetPack components as Debian packages", JetPack 6.1
install guide) at the release's nvidia-jetpack version, TensorRT pinned and held as on x86, the
guide's prerequisites and DeepStream's .deb (NVIDIA's DeepStream 7.1 guide, "Install the DeepStream SDK").
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.version import Version

from provision.matrix.nvidia import JetsonStackRow, NvidiaStack, PciGpuRow, StackRow
from provision.nvidia_stack.facts import NvidiaFacts, PciDevice

APT = "DEBIAN_FRONTEND=noninteractive apt-get"
KEYRING_DEB = "/tmp/dsprov-cuda-keyring.deb"
# CUDA 13.0 dropped Maxwell, Pascal and Volta: "CUDA 13.0 ... removes offline compilation and library
# support for ... Maxwell, Pascal, and Volta" (CUDA 13.0 release notes,
# https://docs.nvidia.com/cuda/archive/13.0.0/cuda-toolkit-release-notes/); compute capability 7.5 is the floor
CUDA_FLOOR = {13: Version("7.5")}
REPO_ARCH = {"x86_64": "x86_64", "aarch64": "sbsa"}


class StackRefused(Exception):
    """The host cannot get this stack as asked: the reason, and the fix."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason, self.fix = reason, fix


@dataclass(frozen=True)
class StackOptions:
    """What the user asked (`--deepstream`, `--reboot`, the replace flag) and the mirror settings."""

    deepstream: Version
    replace: bool = False
    reboot: bool = False
    repository: str | None = None  # a mirror of NVIDIA's CUDA network repository (its URL)
    keyring_sha256: str | None = None  # of the mirror's cuda-keyring package
    deepstream_url: str | None = None  # where the DeepStream .deb is fetched (default: the matrix's)
    l4t_repository: str | None = None  # a mirror of NVIDIA's L4T apt repository (https://repo.download.nvidia.com/jetson/)
    l4t_key_sha256: str | None = None  # of the mirror's jetson-ota-public.asc


@dataclass(frozen=True)
class Phase:
    """One part of the install: its name, what it installs (package=version), its commands."""

    name: str
    installs: tuple[str, ...]
    commands: tuple[str, ...]


@dataclass(frozen=True)
class StackPlan:
    row: StackRow | JetsonStackRow
    gpu: PciDevice | None  # None on Jetson (its GPU is not on a PCI bus)
    gpu_row: PciGpuRow | None
    open_modules: bool
    removes: tuple[str, ...]  # what the replace removes (empty without --replace)
    phases: tuple[Phase, ...]  # empty: the stack is in place
    reboot_needed: bool  # a driver is (or was, since the last boot) installed: it loads at the next boot
    notes: tuple[str, ...]

    @property
    def target(self) -> str:
        """What the stack is for: the GPU's name, or the Jetson's L4T release."""
        if isinstance(self.row, JetsonStackRow):
            return f"JetPack {self.row.jetpack} (L4T {self.row.l4t})"
        assert self.gpu_row is not None
        return self.gpu_row.name

    @property
    def commands(self) -> list[str]:
        return [c for phase in self.phases for c in phase.commands]

    @property
    def driver_phase(self) -> Phase | None:
        return next((p for p in self.phases if p.name == "driver"), None)


def _install(pins: list[str]) -> str:
    return f"{APT} install -y --no-install-recommends " + " ".join(shlex.quote(p) for p in pins)


def _missing(facts: NvidiaFacts, wanted: Mapping[str, str | None]) -> list[str]:
    """`name=version` (or `name` where any version does) for what is not installed as wanted."""
    return [name if version is None else f"{name}={version}" for name, version in wanted.items()
            if name not in facts.packages or (version is not None and facts.packages[name] != version)]


def driver_packages(row: StackRow, open_modules: bool) -> dict[str, str | None]:
    """The pinning package (exact version in its name) and the driver metapackage of the branch."""
    flavour = f"nvidia-open-{row.driver.branch}" if open_modules else f"cuda-drivers-{row.driver.branch}"
    return {f"nvidia-driver-pinning-{row.driver.version}": None, flavour: None}


def cudnn_packages(row: StackRow) -> dict[str, str | None]:
    if row.cudnn is None:
        return {}
    major = row.cuda.release[0]
    return {f"libcudnn9-cuda-{major}": row.cudnn, f"libcudnn9-dev-cuda-{major}": row.cudnn,
            f"libcudnn9-headers-cuda-{major}": row.cudnn}


def driver_installed(facts: NvidiaFacts, row: StackRow) -> str | None:
    """The installed version of the branch's driver metapackage (either flavour), if any."""
    for name in (f"nvidia-open-{row.driver.branch}", f"cuda-drivers-{row.driver.branch}"):
        if name in facts.packages:
            return facts.packages[name]
    return None


def reboot_pending(facts: NvidiaFacts, row: StackRow, installed_in_boot: str | None) -> bool:
    """A driver of the row is installed but not running: no module of its version is loaded, and
    the host has not booted since the tool installed it (`installed_in_boot`: the boot id then)."""
    if driver_installed(facts, row) is None or facts.loaded_driver == row.driver.version:
        return False
    return installed_in_boot is None or installed_in_boot == facts.boot_id


def _gpu(facts: NvidiaFacts, nvidia: NvidiaStack, row: StackRow) -> tuple[PciDevice, PciGpuRow]:
    if not facts.gpus:
        raise StackRefused("no NVIDIA GPU on the PCI bus (vendor 0x10de, display class)",
                           "provision --deepstream installs the x86 stack on a host with an NVIDIA GPU")
    known = [(d, nvidia.pci.gpu(d.device)) for d in facts.gpus]
    unknown = [d for d, g in known if g is None]
    if unknown:
        raise StackRefused(f"PCI device 10de:{unknown[0].device} ({unknown[0].slot}) is not in the matrix's GPU"
                           " table: its compute capability, and so the driver flavour, is unknown",
                           f"add it to matrix/nvidia_stack.yml from pci.ids ({nvidia.pci.pci_ids}) and"
                           " https://developer.nvidia.com/cuda-gpus")
    floor = CUDA_FLOOR.get(row.cuda.release[0])
    for _, gpu in known:
        assert gpu is not None
        if floor is not None and Version(gpu.compute_capability) < floor:
            raise StackRefused(
                f"DeepStream {row.deepstream} needs CUDA {row.cuda}, which does not support the {gpu.name}"
                f" (compute capability {gpu.compute_capability}, below {floor})",
                "choose a DeepStream release on CUDA 12 (matrix/nvidia_stack.yml), or a newer GPU")
    device, gpu = known[0]
    assert gpu is not None
    return device, gpu


def _conflicts(facts: NvidiaFacts, row: StackRow | JetsonStackRow) -> list[str]:
    """Installed DeepStream and TensorRT packages of another release than the row's."""
    ds = row.deepstream_package
    others = [f"{n}={v}" for n, v in sorted(facts.deepstream.items()) if (n, v) != (ds.package, ds.version)]
    others += [f"{n}={v}" for n, v in sorted(facts.tensorrt.items()) if v != row.tensorrt]
    return others


def _removals(facts: NvidiaFacts, row: StackRow | JetsonStackRow, options: StackOptions, what: str) -> tuple[str, ...]:
    """The packages of another DeepStream or TensorRT to remove first; refused without --replace-stack."""
    conflicts = _conflicts(facts, row)
    if conflicts and not options.replace:
        raise StackRefused(f"the host has another DeepStream or TensorRT: {', '.join(conflicts)}",
                           "--replace-stack removes them and installs DeepStream"
                           f" {row.deepstream}'s {what} (--dry-run shows exactly what)")
    return tuple(c.split("=", 1)[0] for c in conflicts)


def _hold_and_deepstream(row: StackRow | JetsonStackRow, facts: NvidiaFacts, options: StackOptions,
                         phases: list[Phase], notes: list[str]) -> None:
    """The last phases of either platform: hold every TensorRT package not held yet, then install
    DeepStream's .deb (NVIDIA's route for these releases) unless that version is installed."""
    unheld = [n for n in row.tensorrt_packages if n not in facts.held]
    if unheld:
        phases.append(Phase("hold", (), (f"apt-mark hold {' '.join(unheld)}",)))
    ds = row.deepstream_package
    if facts.packages.get(ds.package) != ds.version:
        local = f"/tmp/{ds.file}"
        phases.append(Phase("deepstream", (f"{ds.package}={ds.version}",), (
            f"curl -fsSL -o {local} {shlex.quote(options.deepstream_url or ds.url)}",
            f"{APT} install -y --no-install-recommends {local}",
            f"rm -f {local}")))
        notes.append(f"{ds.file}: NVIDIA publishes no checksum for it; it is fetched over HTTPS unverified")


def plan_stack(facts: NvidiaFacts, nvidia: NvidiaStack, options: StackOptions, *, platform: str | None,
               machine: str | None, ubuntu: str | None, installed_in_boot: str | None = None) -> StackPlan:
    """The plan for `options.deepstream` on a host (`platform` jetson|x86, `machine` uname -m,
    `ubuntu` its VERSION_ID or None when not Ubuntu); raises StackRefused."""
    platform = platform or "x86"
    row = nvidia.stack(options.deepstream, platform)
    if row is None:
        known = ", ".join(str(s.deepstream) for s in nvidia.stacks if s.platform == platform) or "none"
        raise StackRefused(f"the matrix has no {platform} package set for DeepStream {options.deepstream}"
                           f" (it has: {known})", f"use --deepstream with one of: {known}")
    if machine not in REPO_ARCH or (platform == "x86") != (machine == "x86_64"):
        raise StackRefused(f"DeepStream {row.deepstream}'s {platform} stack is for x86_64, the host is {machine}",
                           "install the stack of the host's own platform")
    if ubuntu != row.ubuntu:
        raise StackRefused(f"DeepStream {row.deepstream} on {platform} is supported on Ubuntu {row.ubuntu};"
                           f" the host is {'Ubuntu ' + ubuntu if ubuntu else 'not Ubuntu'}",
                           f"install Ubuntu {row.ubuntu}, or choose the DeepStream release for the host's Ubuntu")
    device, gpu = _gpu(facts, nvidia, row)
    open_modules = nvidia.pci.open_modules(gpu.compute_capability)
    removes = _removals(facts, row, options, "stack")
    notes = []
    if row.cudnn is None:
        notes.append(f"no cuDNN: no source read names DeepStream {row.deepstream}'s cuDNN (matrix/nvidia_stack.yml)")
    if row.caveat:
        notes.append(row.caveat)
    phases = []
    if removes:
        held = sorted(set(removes) & facts.held)
        phases.append(Phase("remove", (), tuple(
            ([f"apt-mark unhold {' '.join(held)}"] if held else [])
            + [f"{APT} remove -y {' '.join(removes)}"])))
    repo_arch = REPO_ARCH[machine]
    if "cuda-keyring" not in facts.packages:
        base = (options.repository or nvidia.repository.url_for(row.distro, repo_arch)).rstrip("/")
        sha = options.keyring_sha256 or nvidia.repository.keyring_sha256[repo_arch]
        phases.append(Phase("repository", ("cuda-keyring",), (
            f"curl -fsSL -o {KEYRING_DEB} {shlex.quote(base + '/' + nvidia.repository.keyring)}",
            f"echo '{sha}  {KEYRING_DEB}' | sha256sum -c -",
            f"dpkg -i {KEYRING_DEB}",
            f"{APT} update")))
    after_remove = NvidiaFacts(facts.gpus, {k: v for k, v in facts.packages.items() if k not in removes},
                               facts.held - set(removes), facts.boot_id, facts.loaded_driver)
    for name, wanted in (("driver", driver_packages(row, open_modules)),
                         ("cuda", {f"cuda-toolkit-{row.cuda.release[0]}-{row.cuda.release[1]}": None}),
                         ("cudnn", cudnn_packages(row)),
                         ("tensorrt", dict.fromkeys(row.tensorrt_packages, row.tensorrt)),
                         ("system", dict.fromkeys(row.system_packages))):
        missing = _missing(after_remove, wanted)
        if not missing:
            continue
        if name == "driver":  # the pinning package first, alone (NVIDIA's order)
            phases.append(Phase(name, tuple(missing), tuple(_install([m]) for m in missing)))
        else:
            phases.append(Phase(name, tuple(missing), (_install(missing),)))
    _hold_and_deepstream(row, after_remove, options, phases, notes)
    reboot = any(p.name == "driver" for p in phases) or reboot_pending(after_remove, row, installed_in_boot)
    return StackPlan(row, device, gpu, open_modules, removes, tuple(phases), reboot, tuple(notes))


L4T_KEY = "/etc/apt/trusted.gpg.d/jetson-ota-public.asc"


def plan_jetson(facts: NvidiaFacts, nvidia: NvidiaStack, options: StackOptions, *, l4t: Version | None,
                soc: str | None, ubuntu: str | None) -> StackPlan:
    """The plan for `options.deepstream` on a Jetson (`l4t` from /etc/nv_tegra_release, `soc` its
    device tree's tegra234, `ubuntu` its VERSION_ID); raises StackRefused."""
    row = nvidia.jetson_stack(options.deepstream)
    if row is None:
        known = ", ".join(str(s.deepstream) for s in nvidia.jetson) or "none"
        raise StackRefused(f"the matrix has no Jetson package set for DeepStream {options.deepstream}"
                           f" (it has: {known})", f"use --deepstream with one of: {known}")
    flash = (f"flash L4T {row.l4t} (JetPack {row.jetpack}) with NVIDIA SDK Manager, or choose the DeepStream"
             " release of the host's JetPack")
    if l4t is None or f"{l4t.major}.{l4t.minor}" != row.l4t:
        raise StackRefused(f"DeepStream {row.deepstream} on Jetson needs JetPack {row.jetpack} (L4T {row.l4t});"
                           f" the host runs {'L4T ' + str(l4t) if l4t else 'no known L4T release'}, and JetPack's"
                           " components come from the L4T release's own repository", flash)
    if ubuntu != row.ubuntu:
        raise StackRefused(f"JetPack {row.jetpack} is Ubuntu {row.ubuntu}; the host is"
                           f" {'Ubuntu ' + ubuntu if ubuntu else 'not Ubuntu'}", flash)
    if not soc or not soc.startswith("tegra"):
        raise StackRefused("the Jetson's SoC is unknown (no nvidia,tegra* in its device tree's compatible)",
                           "run on the Jetson itself, not in a container without /proc/device-tree")
    removes = _removals(facts, row, options, "JetPack components")
    phases, notes = [], [n for n in (row.caveat,) if n]
    if removes:
        held = sorted(set(removes) & facts.held)
        phases.append(Phase("remove", (), tuple(
            ([f"apt-mark unhold {' '.join(held)}"] if held else []) + [f"{APT} remove -y {' '.join(removes)}"])))
    repo = nvidia.l4t_repository
    base = (options.l4t_repository or repo.url).rstrip("/")
    lines = repo.lines(base, row.l4t, "t" + soc.removeprefix("tegra"))
    if (facts.l4t_sources or "").strip() != lines.strip():
        key = f"{base}/{repo.key}"
        phases.append(Phase("l4t-repository", (), (
            f"curl -fsSL -o {L4T_KEY} {shlex.quote(key)}",
            *([f"echo '{options.l4t_key_sha256}  {L4T_KEY}' | sha256sum -c -"] if options.l4t_key_sha256 else []),
            f"printf %s {shlex.quote(lines)} > {repo.sources_list}",
            f"{APT} update")))
        if not options.l4t_key_sha256:
            notes.append(f"{repo.key}: NVIDIA publishes no checksum for it; it is fetched over HTTPS, as NVIDIA's"
                         " JetPack guide does")
    after = NvidiaFacts(facts.gpus, {k: v for k, v in facts.packages.items() if k not in removes},
                        facts.held - set(removes), facts.boot_id, facts.loaded_driver, lines)
    for name, wanted in (("jetpack", dict.fromkeys(row.components, row.components_version)),
                         ("tensorrt", dict.fromkeys(row.tensorrt_packages, row.tensorrt)),
                         ("system", dict.fromkeys(row.system_packages))):
        missing = _missing(after, wanted)
        if missing:
            phases.append(Phase(name, tuple(missing), (_install(missing),)))
    _hold_and_deepstream(row, after, options, phases, notes)
    return StackPlan(row, None, None, False, removes, tuple(phases), False, tuple(notes))
