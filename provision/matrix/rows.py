# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Row types of the version matrix, the checker's Stack and Verdict, and MatrixError."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from packaging.version import Version

from provision.errors import ProvisionError

PLATFORMS = ("jetson", "x86")
CAPABILITY = re.compile(r"^\d{1,2}\.\d$")  # a compute capability: "8.7"
# A primary source: the publisher's own page (NVIDIA's sites and GitHub organisations for its stack,
# Kitware's for cmake). A row citing anything else says so in `secondary`.
PRIMARY_SOURCE = re.compile(
    r"^https://(([a-z0-9-]+\.)*nvidia\.(com|cn)/|github\.com/(NVIDIA|NVIDIA-AI-IOT|Kitware)/)")


def is_primary(source: str) -> bool:
    return PRIMARY_SOURCE.match(source) is not None


class MatrixError(ProvisionError):
    """The matrix data is malformed: the message names the file and the row."""


class Status(enum.Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, kw_only=True)
class Sourced:
    """Where a row's facts come from: the public source, and a second one where one was found
    (given by keyword, after the row's own fields)."""

    source: str
    secondary: str | None = None


@dataclass(frozen=True)
class Verdict:
    rule: str
    status: Status
    reason: str
    fix: str | None = None


@dataclass(frozen=True)
class Stack:
    """What is (or would be) on a host; every field optional."""

    platform: str | None = None  # "jetson" | "x86"
    family: str | None = None  # Jetson family id from devices.yml
    l4t: Version | None = None
    jetpack: Version | None = None
    cuda: Version | None = None
    tensorrt: Version | None = None
    deepstream: Version | None = None
    python: Version | None = None
    ubuntu: Version | None = None
    driver: Version | None = None
    compute_caps: tuple[str, ...] = ()  # e.g. ("5.3",)


class OssGuide(enum.Enum):
    """What the DeepStream/TAO guides say about building the TensorRT OSS plugin library."""

    BUILD = "build"
    NOT_NEEDED = "not-needed"
    BINARY_ONLY = "binary-only"


@dataclass(frozen=True)
class Dispute:
    """Another source that says something else than the row (the row follows its `source`)."""

    says: str
    source: str


@dataclass(frozen=True)
class L4tRow:
    l4t: Version
    jetpack: Version
    preview: bool
    source: str
    caveat: str | None = None  # disputed or not verified: the checker WARNs with it
    secondary: str | None = None  # why the source is not the publisher's own (None: it is)
    disputed: tuple[Dispute, ...] = ()


@dataclass(frozen=True)
class JetPackRow:
    version: Version
    l4t: Version | None  # None: no source names the L4T release yet
    cuda: Version
    cudnn: Version
    tensorrt: Version
    ubuntu: Version
    python: Version
    preview: bool
    source: str
    caveat: str | None = None
    secondary: str | None = None
    disputed: tuple[Dispute, ...] = ()
    tensorrt_also: tuple[Version, ...] = ()  # other TensorRT releases NVIDIA documents for this JetPack
    tensorrt_also_source: str | None = None


@dataclass(frozen=True)
class X86Requirements:
    tensorrt: Version  # X.Y.Z[.B], or X.Y where the source says "X.Y.x"
    cuda: Version
    driver_min: Version
    ubuntu: Version


@dataclass(frozen=True)
class PydsRow(Sourced):
    deepstream: Version
    tag: str  # deepstream_python_apps tag, e.g. "v1.1.1"
    python: Version

    @property
    def version(self) -> Version:
        return Version(self.tag.lstrip("v"))

    @property
    def build_style(self) -> str:
        """"cmake" (cmake + make, up to 1.1.x) or "build" (python3 -m build, 1.2 and later)."""
        return "build" if self.version >= Version("1.2") else "cmake"


@dataclass(frozen=True)
class TrtOssGuide(Sourced):
    platform: str
    guide: OssGuide


@dataclass(frozen=True)
class DeepStreamRow:
    version: Version
    jetpacks: tuple[Version, ...]  # empty: no Jetson release
    x86: X86Requirements | None
    python: Version
    pyds: PydsRow | None
    trt_oss: tuple[TrtOssGuide, ...]
    source: str
    caveat: str | None = None
    secondary: str | None = None
    disputed: tuple[Dispute, ...] = ()

    def trt_oss_guide(self, platform: str) -> TrtOssGuide | None:
        return next((g for g in self.trt_oss if g.platform == platform), None)


@dataclass(frozen=True)
class ArchExtra:
    """An SM the CMakeLists appends to the default list when its condition holds."""

    sm: str
    platform: str | None = None  # only for this platform (jetson = TRT_PLATFORM_ID aarch64)
    cuda_min: Version | None = None  # only when CUDA_VERSION >= this


@dataclass(frozen=True)
class GpuArchRule:
    name: str
    base: tuple[str, ...]
    extra: tuple[ArchExtra, ...]
    source: str
    default_cuda: Version | None = None  # what the CMakeLists assumes without -DCUDA_VERSION
    secondary: str | None = None


@dataclass(frozen=True)
class CmakeClaim:
    """A cmake minimum a document asks for (NVIDIA's README) where it differs from the CMakeLists."""

    minimum: Version
    source: str


@dataclass(frozen=True)
class CmakeBuild:
    """A recorded configure + build of a ref with one cmake: what decides a cmake dispute."""

    cmake: Version
    ok: bool
    date: str
    command: str
    log: str  # where the record is kept (a log in the repository)


@dataclass(frozen=True)
class OssRefRow:
    tensorrt: Version  # installed TensorRT major.minor (or major.minor.patch: an exact-match tag)
    platforms: tuple[str, ...]
    ref: str | None  # branch or tag; None: no usable ref, see reason
    nvinfer_version: Version | None
    gpu_arch_rule: str | None
    reads_gpu_archs: bool
    reason: str | None
    source: str
    arch_flag: str = "GPU_ARCHS"  # or CMAKE_CUDA_ARCHITECTURES: how a build passes architectures
    arch_note: str | None = None  # why not GPU_ARCHS where the ref reads it
    cmake_minimum: Version | None = None  # None: cmake.yml's default minimum
    caveat: str | None = None
    unsupported: bool = False  # NVIDIA does not support this TensorRT on the platform: FAIL with reason
    exact_tag: bool = False  # a tag matching the installed patch exactly, offered beside the guides' branch
    cmake_readme: CmakeClaim | None = None  # what NVIDIA's README asks where it differs from cmake_minimum
    cmake_builds: tuple[CmakeBuild, ...] = ()
    secondary: str | None = None
    disputed: tuple[Dispute, ...] = ()
    build_target: str = "nvinfer_plugin"  # the plugin target: tensorrt_plugins in 11.x
    library: str = "libnvinfer_plugin"  # the target's output: <library>.so.X.Y.Z, SONAME <library>.so.X

    def arch_define(self, sms: tuple[str, ...] | list[str]) -> str:
        """The -D argument value that gives these SMs to this ref ("87" or "72;87")."""
        return (" " if self.arch_flag == "GPU_ARCHS" else ";").join(sms)


ARCH_FLAGS = ("GPU_ARCHS", "CMAKE_CUDA_ARCHITECTURES")


@dataclass(frozen=True)
class PrebuiltPlugin:
    """A prebuilt libnvinfer_plugin in deepstream_tao_apps TRT-OSS/ at the matrix's pinned commit."""

    platform: str
    tensorrt: Version  # the X.Y.Z[.B] in the file name
    path: str  # in the repository
    sha256: str | None  # None: not recorded (see reason, git_blob)
    size: int | None
    reason: str | None
    source: str
    git_blob: str | None = None  # the git blob SHA-1 (`git hash-object`) where no SHA-256 can be had
    secondary: str | None = None

    @property
    def pinned(self) -> bool:
        """Its bytes can be checked: a SHA-256 or a git blob id is recorded."""
        return bool(self.sha256 or self.git_blob)

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def fits(self, installed: Version) -> bool:
        """For this exact TensorRT: the file's version is the installed one or its prefix
        (8.6.2 for 8.6.2.3)."""
        mine = self.tensorrt.release
        return installed.release[: len(mine)] == mine


@dataclass(frozen=True)
class PrebuiltInfo:
    repo: str  # the public repository; dsprov_tao_apps_repo names a mirror
    commit: str
    libraries: tuple[PrebuiltPlugin, ...]
    source: str
    secondary: str | None = None


@dataclass(frozen=True)
class PluginRow(Sourced):
    name: str  # plugin creator name
    since: Version  # first TensorRT major.minor whose ref carries it
    removed_in: Version | None


@dataclass(frozen=True)
class DeviceRow(Sourced):
    family: str
    name: str
    soc: tuple[str, ...]
    model_substrings: tuple[str, ...]
    compute_capability: str


@dataclass(frozen=True)
class GpuRow(Sourced):
    token: str
    compute_capability: str


@dataclass(frozen=True)
class PrecisionRow(Sourced):
    name: str
    always: bool
    capabilities: frozenset[str]
    minimum: Version | None

    def applies_to(self, capability: Version) -> bool:
        return (
            self.always
            or str(capability) in self.capabilities
            or (self.minimum is not None and capability >= self.minimum)
        )


@dataclass(frozen=True)
class CmakeArchive:
    """A Kitware cmake release archive (or source tarball), from cmake.yml or an inventory's mirror."""

    arch: str  # x86_64 | aarch64 | source
    version: Version
    url: str
    sha256: str
    size: int | None = None  # bytes, where pinned: the download stops past it (else downloads.DEFAULT_CAP)

    @property
    def source(self) -> str:
        """The public page the row comes from: the download itself."""
        return self.url

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """Where it lives on the host: the archive's top folder (or the source build's prefix)."""
        return f"/opt/{self.filename.removesuffix('.tar.gz')}"


@dataclass(frozen=True)
class CmakeInfo:
    minimum: Version
    archives: tuple[CmakeArchive, ...]
    source: str
    source_archives: tuple[CmakeArchive, ...] = ()
    secondary: str | None = None
