# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""matrix/nvidia_stack.yml: the NVIDIA stack a DeepStream release installs on a bare host (driver,
CUDA, cuDNN, TensorRT at exact package versions; DeepStream's install route; the distribution
packages), NVIDIA's CUDA network repository, and the PCI id -> GPU table; for Jetson, JetPack's
components from NVIDIA's L4T apt repository."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from provision.matrix.rows import Dispute, MatrixError

FILENAME = "nvidia_stack.yml"


@dataclass(frozen=True)
class CudaRepository:
    """NVIDIA's CUDA network repository and its keyring package."""

    url: str  # with {distro} and {arch}
    keyring: str  # cuda-keyring_1.1-1_all.deb
    keyring_sha256: Mapping[str, str]  # repository arch (x86_64, sbsa) -> SHA-256
    source: str

    def url_for(self, distro: str, arch: str) -> str:
        return self.url.format(distro=distro, arch=arch)


@dataclass(frozen=True)
class DriverPin:
    branch: str  # "570"
    version: str  # 570.133.20, as written (the pinning package's name holds it: 580.65.06)


@dataclass(frozen=True)
class DeepStreamPackage:
    """How the release's DeepStream is installed: a .deb file (`apt-get install ./file`)."""

    route: str  # "deb"
    file: str
    url: str
    package: str  # the name dpkg knows it by: deepstream-8.0
    version: str  # its Debian version: 8.0.0-1


@dataclass(frozen=True)
class StackRow:
    """One DeepStream release on one platform, as packages."""

    deepstream: Version
    platform: str
    ubuntu: str  # "24.04" as written: the repository distro is ubuntu2404
    driver: DriverPin
    cuda: Version  # major.minor: cuda-toolkit-12-8
    cudnn: str | None  # Debian version of libcudnn9-*-cuda-<major>, None: not named by a source
    tensorrt: str  # Debian version every TensorRT package is pinned to
    tensorrt_packages: tuple[str, ...]
    deepstream_package: DeepStreamPackage
    system_packages: tuple[str, ...]
    source: str
    secondary: str | None = None
    caveat: str | None = None
    disputed: tuple[Dispute, ...] = ()

    @property
    def distro(self) -> str:
        """The CUDA repository's distro: ubuntu2404."""
        return "ubuntu" + self.ubuntu.replace(".", "")

    @property
    def tensorrt_version(self) -> Version:
        """10.9.0.34 of 10.9.0.34-1+cuda12.8."""
        return Version(self.tensorrt.split("-", 1)[0])


@dataclass(frozen=True)
class L4tRepository:
    """NVIDIA's L4T apt repository: `<url>common` and `<url><soc>`, release r<L4T major.minor>."""

    url: str  # https://repo.download.nvidia.com/jetson/
    key: str  # jetson-ota-public.asc, at the repository's root
    sources_list: str  # /etc/apt/sources.list.d/nvidia-l4t-apt-source.list
    source: str

    def lines(self, base: str, l4t: str, soc: str) -> str:
        """The sources list's two lines for a repository at ``base`` (NVIDIA's or a mirror's)."""
        base = base.rstrip("/")
        return "".join(f"deb {base}/{part} r{l4t} main\n" for part in ("common", soc))


@dataclass(frozen=True)
class JetsonStackRow:
    """One DeepStream release on Jetson: JetPack's components from the L4T apt repository."""

    deepstream: Version
    jetpack: Version
    l4t: str  # "36.4" as written: the repository release r36.4
    ubuntu: str
    components_version: str  # nvidia-jetpack's version, which every component metapackage has: 6.1+b123
    components: tuple[str, ...]  # nvidia-cuda, nvidia-tensorrt, ...
    cuda: Version
    cudnn: str
    tensorrt: str
    tensorrt_packages: tuple[str, ...]
    deepstream_package: DeepStreamPackage
    system_packages: tuple[str, ...]
    source: str
    secondary: str | None = None
    caveat: str | None = None
    disputed: tuple[Dispute, ...] = ()
    platform: str = "jetson"

    @property
    def tensorrt_version(self) -> Version:
        return Version(self.tensorrt.split("-", 1)[0])


@dataclass(frozen=True)
class PciGpuRow:
    device: str  # lower-case hex, 4 digits
    name: str
    compute_capability: str
    source: str
    secondary: str | None = None


@dataclass(frozen=True)
class PciTable:
    vendor: str  # "10de"
    classes: tuple[str, ...]  # "0300", "0302"
    pci_ids: str  # where the names come from
    open_minimum: Version  # the oldest compute capability the open kernel modules run
    open_source: str
    gpus: tuple[PciGpuRow, ...]

    def gpu(self, device: str) -> PciGpuRow | None:
        return next((g for g in self.gpus if g.device == device.lower()), None)

    def open_modules(self, compute_capability: str) -> bool:
        return Version(compute_capability) >= self.open_minimum


@dataclass(frozen=True)
class NvidiaStack:
    repository: CudaRepository
    stacks: tuple[StackRow, ...]
    pci: PciTable
    l4t_repository: L4tRepository
    jetson: tuple[JetsonStackRow, ...] = ()

    def stack(self, deepstream: Version, platform: str) -> StackRow | None:
        return next((s for s in self.stacks if s.deepstream == deepstream and s.platform == platform), None)

    def jetson_stack(self, deepstream: Version) -> JetsonStackRow | None:
        return next((s for s in self.jetson if s.deepstream == deepstream), None)


def _stack(r: Mapping[str, Any], disputed: tuple[Dispute, ...]) -> StackRow:
    return StackRow(
        deepstream=Version(r["deepstream"]),
        platform=r["platform"], ubuntu=r["ubuntu"],
        driver=DriverPin(r["driver"]["branch"], r["driver"]["version"]),
        cuda=Version(r["cuda"]), cudnn=r.get("cudnn"), tensorrt=r["tensorrt"],
        tensorrt_packages=tuple(r["tensorrt_packages"]),
        deepstream_package=DeepStreamPackage(**r["install"]),
        system_packages=tuple(r["system_packages"]),
        source=r["source"], secondary=r.get("secondary"), caveat=r.get("caveat"), disputed=disputed,
    )


def _jetson(index: int, r: Mapping[str, Any], disputed: tuple[Dispute, ...]) -> JetsonStackRow:
    row = JetsonStackRow(
        deepstream=Version(r["deepstream"]), jetpack=Version(r["jetpack"]), l4t=r["l4t"], ubuntu=r["ubuntu"],
        components_version=r["components"]["version"], components=tuple(r["components"]["packages"]),
        cuda=Version(r["cuda"]), cudnn=r["cudnn"], tensorrt=r["tensorrt"],
        tensorrt_packages=tuple(r["tensorrt_packages"]), deepstream_package=DeepStreamPackage(**r["install"]),
        system_packages=tuple(r["system_packages"]),
        source=r["source"], secondary=r.get("secondary"), caveat=r.get("caveat"), disputed=disputed,
    )
    # JetPack's TensorRT may be built for an earlier CUDA minor (10.3.0.30-1+cuda12.5 on CUDA 12.6), not another major
    if f"+cuda{row.cuda.release[0]}." not in row.tensorrt:
        raise MatrixError(f"{FILENAME}: jetson row {index + 1} (deepstream: {row.deepstream}):"
                          f" TensorRT package {row.tensorrt} is not built for CUDA {row.cuda.release[0]}")
    return row


def build(document: Mapping[str, Any], disputed: Any) -> NvidiaStack:
    """The tables of a schema-checked nvidia_stack.yml (`disputed`: load's reader of `disputed`)."""
    repo = document["repository"]
    stacks = []
    for index, r in enumerate(document["stacks"]):
        row = _stack(r, disputed(r))
        if row.driver.version.split(".")[0] != row.driver.branch:
            raise MatrixError(f"{FILENAME}: stacks row {index + 1} (deepstream: {row.deepstream}):"
                              f" driver {row.driver.version} is not of branch {row.driver.branch}")
        if f"+cuda{row.cuda}" not in row.tensorrt:
            raise MatrixError(f"{FILENAME}: stacks row {index + 1} (deepstream: {row.deepstream}):"
                              f" TensorRT package {row.tensorrt} is not built for CUDA {row.cuda}")
        stacks.append(row)
    keys = [(s.deepstream, s.platform) for s in stacks]
    if len(set(keys)) != len(keys):
        raise MatrixError(f"{FILENAME}: duplicate stack for one DeepStream release and platform")
    jetson = tuple(_jetson(i, r, disputed(r)) for i, r in enumerate(document["jetson"]))
    if len({r.deepstream for r in jetson}) != len(jetson):
        raise MatrixError(f"{FILENAME}: duplicate jetson row for one DeepStream release")
    pci = document["pci"]
    gpus = tuple(PciGpuRow(g["device"], g["name"], g["compute_capability"], g["source"], g.get("secondary"))
                 for g in pci["gpus"])
    if len({g.device for g in gpus}) != len(gpus):
        raise MatrixError(f"{FILENAME}: duplicate PCI device id")
    return NvidiaStack(
        CudaRepository(repo["url"], repo["keyring"], dict(repo["keyring_sha256"]), repo["source"]),
        tuple(stacks),
        PciTable(pci["vendor"], tuple(pci["classes"]), pci["pci_ids"],
                 Version(pci["open_modules"]["minimum_capability"]), pci["open_modules"]["source"], gpus),
        L4tRepository(**document["l4t_repository"]),
        jetson,
    )
