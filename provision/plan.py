# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Facts + matrix + options -> the ordered steps for one host, from the registered capabilities
(provision/capabilities/__init__.py). Pure: `--dry-run` prints it."""

from __future__ import annotations

from typing import Any

from packaging.version import InvalidVersion, Version

from provision.artifacts import ArtifactStore
from provision.capabilities import REGISTRY
from provision.capabilities.engines import engine_roots
from provision.capabilities.model_config import parse_models
from provision.capabilities.prebuilt_plugin import prebuilt_settings
from provision.core.detection import Detection
from provision.core.capability import Planning
from provision.core.plan import Plan, PlanRefused
from provision.errors import ProvisionError
from provision.matrix import CmakeArchive, Matrix, Status
from provision.options import Flags, Options, PydsOptions, Settings
from provision.validators import byte_size

__all__ = ["Options", "Plan", "PlanRefused", "make_plan", "plan_options"]


def plan_options(settings: Settings, flags: Flags = Flags()) -> Options:
    """The plan's options: a run's flags over a host's settings (resolved at the edge), with what the
    capabilities make of them (cmake archives, prebuilt pins, models and their COCO files)."""
    return Options(
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
        pyds=PydsOptions(repo=settings.pyds_repo, ref=flags.pyds_ref, wheel=flags.wheel, skip=flags.skip_pyds,
                         only=flags.pyds_only),
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
        if planning.plan.stop:  # the rest is planned once these steps ran (provisioner.run_job)
            break
    return planning.plan


PYDS_ONLY = ("max_clocks", "pyds")  # the capabilities `invoke pyds` plans
