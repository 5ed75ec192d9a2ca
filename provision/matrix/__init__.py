# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The version matrix: sourced YAML under matrix/, lookups over it, and a compatibility checker.

Every row carries the public page it comes from (`source`). Loading is strict: a malformed file,
a missing or misspelt field, an unquoted version (YAML reads 4.6 as a float) or a duplicate row
raises MatrixError naming the file and the row. The checker never raises on a host's facts:
what it cannot judge it skips or reports as WARN.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from packaging.version import Version

from provision.matrix import check as _check
from provision.matrix import kept as _kept
from provision.matrix import load as _load
from provision.matrix.nvidia import NvidiaStack
from provision.matrix.rows import (
    CAPABILITY,
    PLATFORMS,
    ArchExtra,
    CmakeArchive,
    CmakeInfo,
    DeepStreamRow,
    DeviceRow,
    GpuArchRule,
    GpuRow,
    JetPackRow,
    L4tRow,
    MatrixError,
    OssGuide,
    OssRefRow,
    PluginRow,
    PrebuiltInfo,
    PrebuiltPlugin,
    PrecisionRow,
    PydsRow,
    Stack,
    Status,
    TrtOssGuide,
    Verdict,
    X86Requirements,
)

__all__ = [
    "PLATFORMS",
    "ArchExtra",
    "CmakeArchive",
    "CmakeInfo",
    "DeepStreamRow",
    "DeviceRow",
    "GpuArchRule",
    "GpuRow",
    "JetPackRow",
    "L4tRow",
    "Matrix",
    "MatrixError",
    "OssGuide",
    "OssRefRow",
    "PluginRow",
    "PrebuiltInfo",
    "PrebuiltPlugin",
    "PrecisionRow",
    "PydsRow",
    "Stack",
    "Status",
    "TrtOssGuide",
    "Verdict",
    "X86Requirements",
]


_LOADED: dict[str, Matrix] = {}  # Matrix.load's, by the files' digest


def _prefix(row: Version, installed: Version) -> bool:
    """The row's version is the installed one's prefix ("10.13" and "10.13.3" for 10.13.3.9)."""
    return installed.release[: len(row.release)] == row.release


CHECKS_KEPT = 256  # Matrix.check's verdicts kept, by (matrix, stack)
# the matrix is kept beside its verdicts, so its id is not reused while they are
_CHECKS: dict[tuple[int, Stack], tuple[Matrix, tuple[Verdict, ...]]] = {}
_CHECKS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Matrix:
    """All tables of matrix/*.yml; build it with Matrix.load()."""

    l4t_rows: tuple[L4tRow, ...]
    jetpack_rows: tuple[JetPackRow, ...]
    deepstream_rows: tuple[DeepStreamRow, ...]
    gpu_arch_rules: tuple[GpuArchRule, ...]
    oss_refs: tuple[OssRefRow, ...]
    plugin_rows: tuple[PluginRow, ...]
    device_rows: tuple[DeviceRow, ...]
    gpu_rows: tuple[GpuRow, ...]
    precision_rows: tuple[PrecisionRow, ...]
    cmake: CmakeInfo
    prebuilt: PrebuiltInfo
    nvidia: NvidiaStack  # matrix/nvidia_stack.yml: what `provision --deepstream` installs

    @classmethod
    def load(cls, root: Path | None = None) -> Matrix:
        """Load and validate every file under `root` (default: the installed package data
        `provision.matrix.data`, which is the repository's matrix/ folder). Parsed once per process
        for the same files, and kept between runs (provision/matrix/kept.py): a matrix is kept by
        its files' SHA-256 (the rows are immutable)."""
        texts = _load.texts(Path(root) if root is not None else files(__name__ + ".data"))
        key = _load.digest(texts)
        matrix = _LOADED.get(key) or _kept.load(key)
        if matrix is None:
            matrix = cls(**_load.read(texts))
            _kept.save(key, matrix)
        _LOADED[key] = matrix
        return matrix

    # -- lookups --------------------------------------------------------------------------

    def l4t(self, l4t: Version) -> L4tRow | None:
        return next((r for r in self.l4t_rows if r.l4t == l4t), None)

    def jetpack_for_l4t(self, l4t: Version) -> JetPackRow | None:
        row = self.l4t(l4t)
        return self.jetpack(row.jetpack) if row else None

    def jetpack(self, version: Version) -> JetPackRow | None:
        return next((r for r in self.jetpack_rows if r.version == version), None)

    def deepstream(self, version: Version) -> DeepStreamRow | None:
        return next((r for r in self.deepstream_rows if r.version == version), None)

    def oss_ref(self, tensorrt: Version, platform: str) -> OssRefRow | None:
        """The OSS ref row for the INSTALLED TensorRT on this platform (its ref may be None): the
        row for its major.minor.patch where there is one (release/10.13.3 for 10.13.3.9), else the
        major.minor row. Exact-match tags are not the default (see exact_ref). Worked out once per
        (TensorRT, platform): a fleet's hosts ask it for the same ones."""
        key = (tensorrt, platform)
        if key not in self._oss_ref_kept:
            fits = [r for r in self.oss_refs if not r.exact_tag and platform in r.platforms and _prefix(r.tensorrt, tensorrt)]
            self._oss_ref_kept[key] = max(fits, key=lambda r: len(r.tensorrt.release), default=None)
        return self._oss_ref_kept[key]

    @functools.cached_property
    def _oss_ref_kept(self) -> dict[tuple[Version, str], OssRefRow | None]:
        return {}

    def exact_ref(self, tensorrt: Version, platform: str) -> OssRefRow | None:
        """A tag whose NvInferVersion is the installed TensorRT's patch exactly (tag 8.2.1 for 8.2.1.8)."""
        return next((r for r in self.oss_refs if r.exact_tag and platform in r.platforms
                     and _prefix(r.tensorrt, tensorrt)), None)

    def default_gpu_archs(self, ref: OssRefRow, platform: str, cuda: Version | None) -> tuple[str, ...]:
        """The SMs the ref's CMakeLists builds when -DGPU_ARCHS is not given, in its order.

        `platform` "jetson" assumes -DTRT_PLATFORM_ID=aarch64 is passed (a native build defaults
        to x86_64). With `cuda` None the ref's own default CUDA applies, else the CUDA-conditional
        SMs are left out. Empty when the default is not verified.
        """
        rule = next((r for r in self.gpu_arch_rules if r.name == ref.gpu_arch_rule), None)
        if rule is None:
            return ()
        cuda = cuda or rule.default_cuda
        archs = list(rule.base)
        for extra in rule.extra:
            if extra.platform is not None and extra.platform != platform:
                continue
            if extra.cuda_min is not None and (cuda is None or cuda < extra.cuda_min):
                continue
            archs.append(extra.sm)
        return tuple(dict.fromkeys(archs))

    def cmake_minimum(self, ref: OssRefRow | None) -> Version:
        """The cmake the ref's `cmake_minimum_required` asks for (cmake.yml's default if unset)."""
        return (ref.cmake_minimum if ref and ref.cmake_minimum else None) or self.cmake.minimum

    def prebuilt_for(self, platform: str, tensorrt: Version) -> PrebuiltPlugin | None:
        """The prebuilt library for this exact TensorRT on this platform (longest version match)."""
        fits = [p for p in self.prebuilt.libraries if p.platform == platform and p.fits(tensorrt)]
        return max(fits, key=lambda p: len(p.tensorrt.release), default=None)

    def plugins_in(self, ref: OssRefRow) -> frozenset[str]:
        """Plugin creators a build of this ref carries (of those the matrix tracks)."""
        if ref.ref is None:
            return frozenset()
        trt = ref.tensorrt
        return frozenset(
            p.name for p in self.plugin_rows if p.since <= trt and (p.removed_in is None or trt < p.removed_in)
        )

    def refs_with_plugin(self, name: str) -> list[OssRefRow]:
        """Refs that carry plugin `name`, oldest TensorRT first, one row per ref."""
        found: dict[str, OssRefRow] = {}
        for row in sorted(self.oss_refs, key=lambda r: r.tensorrt):
            if row.ref is not None and row.ref not in found and name in self.plugins_in(row):
                found[row.ref] = row
        return list(found.values())

    def device_for(self, model: str | None, compatible: Sequence[str]) -> DeviceRow | None:
        """The Jetson family from the device-tree SoC (compatible), else from the model string."""
        socs = {c.strip().split(",", 1)[-1] for c in compatible if c.strip()}
        by_soc = [d for d in self.device_rows if socs & set(d.soc)]
        if len(by_soc) == 1:
            return by_soc[0]
        pool = by_soc or list(self.device_rows)
        best: tuple[int, DeviceRow] | None = None
        for device in pool:
            for part in device.model_substrings:
                if model and part.lower() in model.lower() and (best is None or len(part) > best[0]):
                    best = (len(part), device)
        if best is not None:
            return best[1]
        return by_soc[0] if by_soc else None

    def compute_capability_for_gpu_name(self, name: str) -> str | None:
        """Compute capability from a GPU name ("Tesla T4" -> "7.5"), by whole-word tokens; the
        longest matching token wins ("RTX PRO 6000 Blackwell" over a one-word token)."""
        words = [w for w in re.split(r"[^0-9A-Za-z]+", name.upper()) if w]
        best: tuple[int, str] | None = None
        for gpu in self.gpu_rows:
            token = gpu.token.split()
            n = len(token)
            if any(words[i:i + n] == token for i in range(len(words) - n + 1)) and (best is None or n > best[0]):
                best = (n, gpu.compute_capability)
        return best[1] if best else None

    def known_sms(self) -> frozenset[str]:
        """SM numbers ("53", "87", "100") of every compute capability in devices.yml."""
        return self._known_sms

    @functools.cached_property  # once per matrix (its rows are immutable), not once per host
    def _known_sms(self) -> frozenset[str]:
        caps = [d.compute_capability for d in self.device_rows] + [g.compute_capability for g in self.gpu_rows]
        return frozenset("".join(str(int(part)) for part in c.split(".")) for c in caps if c)

    def precisions(self, compute_cap: str) -> frozenset[str]:
        """Precisions TensorRT runs fast on this compute capability: {"fp32", "fp16", "int8"}."""
        if not CAPABILITY.match(compute_cap or ""):
            return frozenset()
        capability = Version(compute_cap)
        return frozenset(p.name for p in self.precision_rows if p.applies_to(capability))

    def pyds(self, deepstream: Version) -> PydsRow | None:
        row = self.deepstream(deepstream)
        return row.pyds if row else None

    # -- checker --------------------------------------------------------------------------

    def check(self, stack: Stack) -> list[Verdict]:
        """One verdict per rule that applies to what `stack` says; never raises on odd input.
        Worked out once per stack (a fleet's identical hosts share theirs: the rows are immutable)."""
        key = (id(self), stack)
        with _CHECKS_LOCK:
            kept = _CHECKS.get(key)
        if kept is None or kept[0] is not self:
            kept = (self, tuple(_check.run(self, stack)))
            with _CHECKS_LOCK:
                if len(_CHECKS) >= CHECKS_KEPT:
                    _CHECKS.clear()
                _CHECKS[key] = kept
        return list(kept[1])
