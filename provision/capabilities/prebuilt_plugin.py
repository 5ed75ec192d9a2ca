# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Take NVIDIA's prebuilt `libnvinfer_plugin` from deepstream_tao_apps TRT-OSS/ instead of a build.

Where the DeepStream/TAO guide is binary-only (JetPack 6.0's TensorRT 8.6.2) or the user asks
(`--plugin-source prebuilt`), the library for the host's exact TensorRT is checked out on the
host from `dsprov_tao_apps_repo` at the matrix's pinned commit (matrix/prebuilt_plugins.yml),
fetched to the controller, checked against the SHA-256 held in the matrix (or, for a file kept
as a plain git blob, against its git blob id: the SHA-1 `git hash-object` prints) and kept in
the artifact cache; the plugin swap then installs, verifies and rolls it back as it does a build.
Most files are Git LFS objects: a host without git-lfs checks out the pointer, whose SHA-256
differs, and the step fails with that reason before anything is swapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from provision.artifacts import build_key, git_blob_id, sha256_file
from provision.outcomes import Outcome
from provision.errors import ProvisionError
from provision.core.capability import Capability, Planning
from provision.core.plan import PlanRefused
from provision.matrix import PLATFORMS, OssGuide, OssRefRow, PrebuiltInfo, PrebuiltPlugin
from provision.matrix.rows import TrtOssGuide
from provision.options import DEFAULT_BUILD_DIR
from provision.core.step import StepContext, StepFailed, q
from provision.core.cached_build import CachedBuild
from provision.capabilities.plugin_files import PluginPaths, installed_build

SETTING = "dsprov_prebuilt_plugins"
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


@dataclass(frozen=True)
class PrebuiltSpec:
    """One prebuilt library at a pinned commit of a deepstream_tao_apps repository (or mirror)."""

    repo: str
    commit: str
    path: str  # in the repository
    sha256: str | None  # None: pinned by git_blob instead
    tensorrt: str  # the host's TensorRT the library is for
    platform_id: str  # aarch64 | x86_64
    build_dir: str
    gpu_archs: str = "prebuilt"  # what the swap's state record says about architectures
    git_blob: str | None = None  # the git blob SHA-1, where no SHA-256 is recorded

    @property
    def pin(self) -> tuple[str, str]:
        """(what, digest) the fetched bytes must match: the SHA-256, else the git blob id."""
        return ("SHA-256", self.sha256) if self.sha256 else ("git blob", self.git_blob or "")

    @property
    def ref(self) -> str:
        return f"deepstream_tao_apps@{self.commit[:12]}:{self.path}"

    @property
    def src(self) -> str:
        return f"{self.build_dir}/deepstream_tao_apps-{self.commit[:12]}"

    def key_parts(self, commit: str) -> dict[str, str]:
        what, digest = self.pin
        return {"what": "prebuilt-plugin", "arch": self.platform_id, "tensorrt": self.tensorrt,
                "commit": commit, "path": self.path, "sha256" if what == "SHA-256" else "git_blob": digest}

    def commands(self) -> list[str]:
        src = q(self.src)
        return [
            f"rm -rf {src} && git clone -q --no-checkout -- {q(self.repo)} {src}",
            f"git -C {src} checkout -q {q(self.commit)} -- {q(self.path)}",
        ]


@dataclass
class FetchPrebuiltPlugin(CachedBuild):
    """Produce the prebuilt library for the host: from the cache, or checked out on the host."""

    spec: PrebuiltSpec
    installed: PluginPaths
    name = "prebuilt-plugin"
    provides = frozenset({"plugin-library"})
    main_product = True
    what = "prebuilt plugin library"

    @property
    def ref(self) -> str:
        return self.spec.ref

    def summary(self) -> str:
        s = self.spec
        what, digest = s.pin
        return (f"fetch the prebuilt {Path(s.path).name} from {s.repo} at {s.commit[:12]}"
                f" ({what} {digest[:12]}..., or reuse the cached copy)")

    def describe(self) -> list[str]:
        what, digest = self.spec.pin
        return [*self.spec.commands(),
                f"(controller) fetch {self.spec.path}, check {what} {digest}, keep it in the artifact cache"]

    def apply(self, ctx: StepContext) -> None:
        super().apply(ctx)
        if self.outcome is Outcome.BUILT:
            self.outcome = Outcome.FETCHED

    def resolve_key(self, ctx: StepContext) -> str:
        """The commit is pinned: no need to ask the repository."""
        if self.key is None:
            self.commit = self.spec.commit
            self.key = build_key(self.spec.key_parts(self.commit))
        return self.key

    def installed_key(self, ctx: StepContext) -> str | None:
        return installed_build(ctx, self.installed)

    def cached(self, key: str) -> Path | None:
        return self.store.get(key, "libnvinfer_plugin.so")

    def built_file(self, ctx: StepContext) -> tuple[str, str]:
        return f"{self.spec.src}/{self.spec.path}", "libnvinfer_plugin.so"

    def checkout_commands(self) -> int:
        return 0  # one file of the commit is checked out: its SHA-256 is checked instead

    def check_product(self, ctx: StepContext, local: Path) -> None:
        """Refuse a file whose SHA-256 (or git blob id) is not the matrix's (an LFS pointer says how
        to fix it)."""
        what, want = self.spec.pin
        got = sha256_file(local) if what == "SHA-256" else git_blob_id(local)
        if got == want:
            return
        with local.open("rb") as handle:
            pointer = handle.read(len(LFS_POINTER)) == LFS_POINTER
        why = (" (a Git LFS pointer: install git-lfs on the host, or serve the file itself from the mirror)"
               if pointer else "")
        raise StepFailed(f"{ctx.runner.host}: {self.spec.path} at {self.spec.commit[:12]} has {what} {got[:12]}...,"
                         f" not {want[:12]}...{why}; nothing was installed")


def prebuilt_settings(value: Any) -> PrebuiltInfo | None:
    """`dsprov_prebuilt_plugins` ({commit, libraries: [{platform, tensorrt, path, sha256}]}), or a
    one-line error."""
    if value is None:
        return None
    try:
        commit = str(value["commit"])
        libraries = tuple(_library(item) for item in value["libraries"])
    except (KeyError, TypeError):
        raise ProvisionError(f"{SETTING}: needs commit and libraries [{{platform, tensorrt, path, sha256}}]") from None
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ProvisionError(f"{SETTING}: commit {commit!r} is not 40 hex digits")
    return PrebuiltInfo(repo="", commit=commit, libraries=libraries, source=SETTING)


def _library(item: Any) -> PrebuiltPlugin:
    platform, path, sha256 = str(item["platform"]), str(item["path"]), str(item["sha256"])
    if platform not in PLATFORMS:
        raise ProvisionError(f"{SETTING}: platform {platform!r} is not one of {', '.join(PLATFORMS)}")
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ProvisionError(f"{SETTING}: {path}: sha256 must be 64 lower-case hex digits")
    try:
        tensorrt = Version(str(item["tensorrt"]))
    except InvalidVersion:
        raise ProvisionError(f"{SETTING}: {path}: tensorrt {item['tensorrt']!r} is not a version") from None
    return PrebuiltPlugin(platform, tensorrt, path, sha256, None, None, SETTING)


@dataclass(frozen=True)
class PluginSource:
    """Where the host's new plugin library comes from: NVIDIA's prebuilt one or a TensorRT OSS build
    (the choice both plugin capabilities read; the swap takes whichever is in the plan)."""

    prebuilt: bool
    oss: OssRefRow | None
    guide: TrtOssGuide | None


def plugin_source(p: Planning) -> PluginSource:
    """--plugin-source: `prebuilt`, `build`, or `auto`: the prebuilt library where the guide is
    binary-only or no OSS ref exists (and a pinned one fits), else a build. PlanRefused without
    TensorRT."""
    facts, options, matrix = p.detection.facts, p.options, p.matrix
    if facts.tensorrt is None or facts.platform is None:
        raise PlanRefused(f"{p.host}: no TensorRT found (dpkg-query, NvInferVersion.h): nothing to build against")
    oss = matrix.oss_ref(facts.tensorrt, facts.platform)
    guide = None
    if facts.deepstream and matrix.deepstream(facts.deepstream):
        guide = matrix.deepstream(facts.deepstream).trt_oss_guide(facts.platform)
    binary_only = guide is not None and guide.guide is OssGuide.BINARY_ONLY
    no_ref = oss is None or oss.ref is None
    prebuilt = options.plugin_source == "prebuilt" or (
        options.plugin_source == "auto" and not options.trt_oss_ref and (binary_only or no_ref)
        and prebuilt_row(p, pinned=True) is not None)
    return PluginSource(prebuilt, oss, guide)


def installed_plugin(p: Planning) -> PluginPaths:
    """The system's libnvinfer_plugin.so.X.Y.Z that the new library replaces."""
    facts = p.detection.facts
    real = [f.name for f in facts.plugin_files if f.link_target is None and f.name.count(".") >= 4]
    if not facts.lib_dir or not real:
        raise PlanRefused(f"{p.host}: no libnvinfer_plugin.so.X.Y.Z in {facts.lib_dir}: is TensorRT installed?")
    return PluginPaths(facts.lib_dir, sorted(real)[-1])


def prebuilt_row(p: Planning, pinned: bool = False) -> PrebuiltPlugin | None:
    """The prebuilt library for the host's exact TensorRT (the inventory's pin, else the matrix's);
    with `pinned`, only one whose SHA-256 or git blob id is recorded."""
    facts, options = p.detection.facts, p.options
    if options.prebuilt is not None:
        fits = [r for r in options.prebuilt.libraries if r.platform == facts.platform and r.fits(facts.tensorrt)]
        row = max(fits, key=lambda r: len(r.tensorrt.release), default=None)
    else:
        row = p.matrix.prebuilt_for(facts.platform, facts.tensorrt)
    return row if row is not None and (row.pinned or not pinned) else None


def plan(p: Planning) -> None:
    """Fetch NVIDIA's prebuilt library for the host's TensorRT (the swap follows), when it is the source."""
    if not plugin_source(p).prebuilt:
        return
    facts, options, matrix = p.detection.facts, p.options, p.matrix
    row = prebuilt_row(p)
    if row is None or not row.pinned:
        known = ", ".join(str(r.tensorrt) for r in matrix.prebuilt.libraries if r.platform == facts.platform and r.pinned)
        why = f"{row.filename}: {row.reason}" if row else f"none for TensorRT {facts.tensorrt} on {facts.platform}"
        raise PlanRefused(f"{p.host}: no prebuilt libnvinfer_plugin to install ({why}; pinned: {known});"
                          " --plugin-source build builds one")
    commit = options.prebuilt.commit if options.prebuilt else matrix.prebuilt.commit
    repo = options.tao_apps_repo or matrix.prebuilt.repo
    if options.required_plugins:
        p.plan.notes.append(f"the prebuilt library is checked for {', '.join(options.required_plugins)} after the swap")
    installed = installed_plugin(p)
    spec = PrebuiltSpec(repo=repo, commit=commit, path=row.path, sha256=row.sha256, tensorrt=str(facts.tensorrt),
                        platform_id="aarch64" if facts.platform == "jetson" else "x86_64",
                        build_dir=facts.build_dir or DEFAULT_BUILD_DIR, git_blob=row.git_blob)
    p.plan.notes.append(f"plugin source: prebuilt {row.filename} ({row.source})")
    p.plan.add(f"NVIDIA's prebuilt library for TensorRT {facts.tensorrt} ({row.source}); copied where the"
               " controller's cache has it", FetchPrebuiltPlugin(spec, p.store, installed))


CAPABILITY = Capability("prebuilt_plugin", plan=plan)
