"""Facts + matrix + options -> the ordered steps for one host, from the registered capabilities
(provision/capabilities/__init__.py). Pure: `--dry-run` prints it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from provision.artifacts import ArtifactStore
from provision.capabilities import REGISTRY
from provision.capabilities.engines import engine_roots
from provision.capabilities.model_config import parse_models
from provision.capabilities.prebuilt_plugin import prebuilt_settings
from provision.capabilities.pyds_plan import PydsOptions
from provision.core.detection import Detection
from provision.core.plan import Plan, Planning, PlanRefused
from provision.deepstream.model_config import ModelSetup
from provision.errors import ProvisionError
from provision.matrix import CmakeArchive, Matrix, PrebuiltInfo, Status
from provision.options import DEFAULT_TRT_OSS_REPO, Flags, Settings
from provision.validators import byte_size

__all__ = ["Options", "Plan", "PlanRefused", "make_plan"]


@dataclass(frozen=True)
class Options:
    """What the user asked for: CLI flags over inventory settings (`dsprov_*` vars)."""

    gpu_archs: str | None = None
    trt_oss_ref: str | None = None
    trt_oss_repo: str = DEFAULT_TRT_OSS_REPO
    required_plugins: tuple[str, ...] = ()
    cmake_archives: tuple[CmakeArchive, ...] = ()
    cmake_source: CmakeArchive | None = None
    cmake_from_source: bool = False
    force: bool = False
    # auto: the prebuilt library where the guide is binary-only or no OSS ref exists, else a build
    plugin_source: str = "auto"
    prebuilt: PrebuiltInfo | None = None  # dsprov_prebuilt_plugins: replaces the matrix's pin
    tao_apps_repo: str | None = None  # dsprov_tao_apps_repo
    # engines and DeepStream models
    skip_engines: bool = False
    engine_roots: tuple[str, ...] = ()  # from_settings: dsprov_engine_roots or the defaults; () searches none
    models: tuple[tuple[ModelSetup, dict], ...] = ()  # dsprov_models, checked and their COCO files read
    skip_models: bool = False
    settings: Settings = Settings()  # the host's dsprov_* vars (the parser library's repository)
    # the DeepStream Python bindings
    pyds: PydsOptions = PydsOptions()
    max_clocks: bool = False  # a Jetson's maximum power mode and pinned clocks
    # the run's flags as given: a capability reads its own flags here (and its settings in `settings`)
    flags: Flags = Flags()

    @classmethod
    def from_settings(cls, host_vars: dict[str, Any], flags: Flags = Flags()) -> Options:
        """The options of a run's flags over a host's `dsprov_*` vars (read, not checked)."""
        return cls.of(Settings.read(host_vars), flags)

    @classmethod
    def of(cls, settings: Settings, flags: Flags = Flags()) -> Options:
        """The options of a run's flags over a host's settings (resolved at the edge)."""
        return cls(
            gpu_archs=flags.gpu_archs,
            trt_oss_ref=flags.trt_oss_ref,
            trt_oss_repo=settings.trt_oss_repo,
            required_plugins=settings.required_plugins,
            cmake_archives=tuple(_archive(a, "dsprov_cmake_archives") for a in settings.cmake_archives),
            cmake_source=_archive(settings.cmake_source, "dsprov_cmake_source", arch="source") if settings.cmake_source else None,
            cmake_from_source=flags.cmake_from_source,
            force=flags.force,
            plugin_source=flags.plugin_source,
            prebuilt=prebuilt_settings(settings.prebuilt_plugins),
            tao_apps_repo=settings.tao_apps_repo,
            skip_engines=flags.skip_engines,
            engine_roots=engine_roots(settings),
            models=() if flags.skip_models else tuple(parse_models(settings.models)),
            skip_models=flags.skip_models,
            settings=settings,
            pyds=PydsOptions.from_settings(settings, flags),
            max_clocks=flags.max_clocks,
            flags=flags,
        )


def _archive(entry: Any, setting: str, arch: str | None = None) -> CmakeArchive:
    """A cmake archive from an inventory setting ({arch, version, url, sha256})."""
    try:
        return CmakeArchive(arch or str(entry["arch"]), Version(str(entry["version"])), str(entry["url"]),
                            str(entry["sha256"]), byte_size(setting, entry["size"]) if entry.get("size") else None)
    except (KeyError, TypeError, InvalidVersion):
        fields = "version, url and sha256" if arch else "arch, version, url and sha256"
        raise ProvisionError(f"{setting}: needs {fields}; got {entry!r}") from None


def make_plan(detection: Detection, matrix: Matrix, options: Options, store: ArtifactStore | None = None) -> Plan:
    """The host's steps from the registered capabilities' factories, in registry order (each adds its
    steps, notes and why-lines; a dependency such as a build's cmake is resolved through the
    capability providing it), or PlanRefused saying why not. `invoke pyds` plans pyds alone (and
    --max-clocks)."""
    host = detection.host
    failed = [v for v in detection.verdicts if v.status is Status.FAIL]
    if failed:
        raise PlanRefused(f"{host}: " + "; ".join(v.reason + (f" (fix: {v.fix})" if v.fix else "") for v in failed))
    planning = Planning(detection, matrix, options, store or ArtifactStore(), Plan(host),
                        {c.provides: c for c in REGISTRY if c.provides})
    for capability in REGISTRY:
        if capability.plan and (not options.pyds.only or capability.name in PYDS_ONLY):
            capability.plan(planning)
    return planning.plan


PYDS_ONLY = ("max_clocks", "pyds")  # the capabilities `invoke pyds` plans
