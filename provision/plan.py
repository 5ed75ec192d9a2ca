"""Facts + matrix + options -> the ordered steps for one host. Pure: `--dry-run` prints it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from provision.artifacts import ArtifactStore
from provision.core.detection import Detection
from provision.errors import ProvisionError
from provision.facts import HostFacts
from provision.gpu.archs import host_compute_caps, runs_on
from provision.options import DEFAULT_BUILD_DIR, DEFAULT_TRT_OSS_REPO, Flags, Settings
from provision.settings import byte_size
from provision.matrix import CmakeArchive, Matrix, OssGuide, OssRefRow, PrebuiltInfo, PrebuiltPlugin, Status
from provision.capabilities.pyds_plan import PydsNotApplicable, PydsOptions, pyds_steps
from provision.core.step import Step
from provision.core.cached_build import CachedBuild
from provision.capabilities.cmake import EnsureCmake, EnsureCmakeFromSource
from provision.capabilities.plugin_files import PluginPaths
from provision.capabilities.plugin_swap import SwapPlugin
from provision.capabilities.max_clocks import MaxClocks, reading, target_or_why
from provision.capabilities.prebuilt_plugin import FetchPrebuiltPlugin, PrebuiltSpec, prebuilt_settings
from provision.deepstream.model_config import ModelSetup
from provision.capabilities.model_config import model_steps, parse_models
from provision.capabilities.engines import engine_roots, rebuild_engines_step
from provision.capabilities.trt_oss import BuildPlugin, BuildSpec, build_jobs, preflight



class PlanRefused(ProvisionError):
    """The host must not be touched: the reason and what would fix it."""


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

    @classmethod
    def from_settings(cls, host_vars: dict[str, Any], flags: Flags = Flags()) -> Options:
        """The options of a run's flags over a host's `dsprov_*` vars."""
        settings = Settings.read(host_vars)
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
        )


def _archive(entry: Any, setting: str, arch: str | None = None) -> CmakeArchive:
    """A cmake archive from an inventory setting ({arch, version, url, sha256})."""
    try:
        return CmakeArchive(arch or str(entry["arch"]), Version(str(entry["version"])), str(entry["url"]),
                            str(entry["sha256"]), byte_size(setting, entry["size"]) if entry.get("size") else None)
    except (KeyError, TypeError, InvalidVersion):
        fields = "version, url and sha256" if arch else "arch, version, url and sha256"
        raise ProvisionError(f"{setting}: needs {fields}; got {entry!r}") from None


@dataclass
class Plan:
    host: str
    steps: list[Step]
    notes: list[str] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)  # id(step) -> why the step is in the plan

    def add(self, why: str, *steps: Step) -> None:
        """Append steps, each with the reason it is there (the plan's `why:` line)."""
        for step in steps:
            self.steps.append(step)
            self.reasons[id(step)] = why

    def provides(self, what: str) -> bool:
        """Whether a step of the plan provides `what` (e.g. a new enough cmake)."""
        return any(what in step.provides for step in self.steps)

    def lines(self) -> list[str]:
        """The plan as text: a line per step, then its exact commands."""
        out = [f"{self.host}: {len(self.steps)} step(s)"]
        out += [f"  note: {n}" for n in self.notes]
        for number, step in enumerate(self.steps, 1):
            out.append(f"  {number}. [{step.name}] {step.summary()}")
            if id(step) in self.reasons:
                out.append(f"       why: {self.reasons[id(step)]}")
            out += [f"       $ {command}" for command in step.describe()]
        return out


def _installed_plugin(detection: Detection) -> PluginPaths:
    facts = detection.facts
    real = [p.name for p in facts.plugin_files if p.link_target is None and p.name.count(".") >= 4]
    if not facts.lib_dir or not real:
        raise PlanRefused(f"{detection.host}: no libnvinfer_plugin.so.X.Y.Z in {facts.lib_dir}: is TensorRT installed?")
    return PluginPaths(facts.lib_dir, sorted(real)[-1])


def _new_enough(archives: list[CmakeArchive], minimum: Version) -> CmakeArchive | None:
    """The first archive (in configured order) whose version is at least `minimum`."""
    return next((a for a in archives if a.version >= minimum), None)


def _cmake_step(matrix: Matrix, options: Options, host: str, facts: HostFacts, build_dir: str, jobs: int,
                minimum: Version | None = None, why: str = "") -> EnsureCmake:
    """Install a release archive >= `minimum` for the host's architecture, or build the source
    when asked; the inventory's archives (a mirror) replace the matrix's."""
    minimum = minimum or matrix.cmake.minimum
    if options.cmake_from_source:
        source = _new_enough([options.cmake_source] if options.cmake_source else list(matrix.cmake.source_archives),
                             minimum)
        if source is None:
            raise PlanRefused(f"{host}: no cmake source release >= {minimum}{why} is configured (set dsprov_cmake_source)")
        return EnsureCmakeFromSource(minimum, facts.cmake, source, build_dir, jobs)
    configured = [a for a in options.cmake_archives if a.arch == facts.arch]
    known = configured or [a for a in matrix.cmake.archives if a.arch == facts.arch]
    archive = _new_enough(known, minimum)
    if archive is None:
        have = ", ".join(str(a.version) for a in known) or "none"
        raise PlanRefused(
            f"{host}: cmake {facts.cmake or 'missing'} is older than {minimum}{why} and no cmake release"
            f" archive >= {minimum} is known for {facts.arch} (have: {have}; set dsprov_cmake_archives, or"
            " --cmake-from-source)"
        )
    return EnsureCmake(minimum, facts.cmake, archive)


def make_plan(detection: Detection, matrix: Matrix, options: Options, store: ArtifactStore | None = None) -> Plan:
    """The host's steps, or PlanRefused saying why not: with --max-clocks the Jetson's maximum power
    mode first (the builds, and the engine builds' timing of kernels, then run at full clocks),
    then those of the plugin."""
    plan = _plugin_plan(detection, matrix, options, store)
    if options.max_clocks:
        target = target_or_why(detection.facts.power, detection.facts.platform)
        if isinstance(target, str):
            plan.notes.append(f"max clocks: skipped: {target}")
        else:
            step = MaxClocks(target, reading(detection.facts.power))
            plan.steps.insert(0, step)
            plan.reasons[id(step)] = "--max-clocks: builds and engine timing then run at the module's full clocks"
    return plan


def _plugin_plan(detection: Detection, matrix: Matrix, options: Options, store: ArtifactStore | None) -> Plan:
    """The steps that bring the host to a swapped OSS plugin, or PlanRefused saying why not."""
    facts, host = detection.facts, detection.host
    failed = [v for v in detection.verdicts if v.status is Status.FAIL]
    if failed:
        raise PlanRefused(
            f"{host}: " + "; ".join(v.reason + (f" (fix: {v.fix})" if v.fix else "") for v in failed)
        )
    if options.pyds.only:
        return _pyds_only_plan(detection, matrix, options, store)
    if facts.tensorrt is None or facts.platform is None:
        raise PlanRefused(f"{host}: no TensorRT found (dpkg-query, NvInferVersion.h): nothing to build against")
    plan = Plan(host, [])

    oss = matrix.oss_ref(facts.tensorrt, facts.platform)
    guide = None
    if facts.deepstream and matrix.deepstream(facts.deepstream):
        guide = matrix.deepstream(facts.deepstream).trt_oss_guide(facts.platform)
    binary_only = guide is not None and guide.guide is OssGuide.BINARY_ONLY
    no_ref = oss is None or oss.ref is None
    if options.plugin_source == "prebuilt" or (
        options.plugin_source == "auto" and not options.trt_oss_ref and (binary_only or no_ref)
        and _prebuilt_row(matrix, options, facts, pinned=True) is not None
    ):
        return _prebuilt_plan(plan, detection, matrix, options, store)

    ref = options.trt_oss_ref or (oss.ref if oss else None)
    if ref is None:
        why = oss.reason if oss and oss.reason else "the matrix has no TensorRT OSS ref for it"
        raise PlanRefused(f"{host}: TensorRT {facts.tensorrt} on {facts.platform}: {why} (override: --trt-oss-ref)")
    if oss and not options.trt_oss_ref:
        carried = matrix.plugins_in(oss)
        for plugin in options.required_plugins:
            if plugin not in carried:
                where = ", ".join(r.ref for r in matrix.refs_with_plugin(plugin) if r.ref) or "no ref"
                raise PlanRefused(
                    f"{host}: {plugin} is not in {ref}, the OSS ref for the installed TensorRT {facts.tensorrt};"
                    f" it is in {where}: upgrade TensorRT (JetPack) first, a build cannot help"
                )

    if guide and guide.guide is not OssGuide.BUILD and not options.required_plugins and not options.force:
        plan.notes.append(
            f"DeepStream {facts.deepstream}: the guides say the TensorRT OSS build is {guide.guide.value}"
            f" ({guide.source}); nothing to do (--force builds anyway)"
        )
        return _after_plugin(plan, detection, matrix, options, store)

    if facts.gcc is None:
        raise PlanRefused(f"{host}: no C compiler (gcc) on the host: install build-essential first")
    build_dir = facts.build_dir or DEFAULT_BUILD_DIR
    short = preflight(facts.mem_available_kib, facts.swap_total_kib, facts.disk_free_kib, build_dir)
    if short:
        raise PlanRefused(f"{host}: {short}")
    archs = detection.gpu_archs
    if not archs.archs:
        raise PlanRefused(f"{host}: no GPU found to derive GPU_ARCHS from; pass --gpu-archs")
    cannot = [c for c in host_compute_caps(facts) if not any(runs_on(a, c) for a in archs.archs)]
    if archs.source == "--gpu-archs" and cannot and not options.force:
        raise PlanRefused(
            f"{host}: --gpu-archs {archs.cmake_value} has no code this host's GPU (compute capability"
            f" {', '.join(cannot)}) runs: a build for X.y runs on X.z with z >= y only (NVIDIA CUDA binary"
            " compatibility); --force builds it anyway"
        )
    plan.notes += list(archs.notes)
    jobs, hint = build_jobs(facts.mem_available_kib, facts.swap_total_kib, facts.nproc)
    if hint:
        plan.notes.append(hint)
    ref_row = oss if oss and oss.ref == ref else _row_of_ref(matrix, ref, facts.platform)
    minimum = matrix.cmake_minimum(ref_row)
    cmake = None
    if not facts.cmake or facts.cmake < minimum:
        why = f" ({ref} needs it)" if minimum > matrix.cmake.minimum else ""
        cmake = _cmake_step(matrix, options, host, facts, build_dir, jobs, minimum, why)
        plan.add(_CMAKE_WHY.format(have=facts.cmake or "none", minimum=minimum), cmake)
    if ref_row is not None and ref_row.arch_flag != "GPU_ARCHS":
        reason = ref_row.arch_note or f"{ref} ignores GPU_ARCHS"
        plan.notes.append(f"{reason}: architectures go in -D{ref_row.arch_flag}")
    installed = _installed_plugin(detection)
    spec = BuildSpec(
        repo=options.trt_oss_repo,
        ref=ref,
        gpu_archs=ref_row.arch_define(archs.archs) if ref_row else archs.cmake_value,
        arch_flag=ref_row.arch_flag if ref_row else "GPU_ARCHS",
        **({"target": ref_row.build_target, "library": ref_row.library} if ref_row else {}),
        lib_dir=facts.lib_dir,
        platform_id="aarch64" if facts.platform == "jetson" else "x86_64",
        cuda_version=f"{facts.cuda.major}.{facts.cuda.minor}" if facts.cuda else "",
        compiler=f"gcc {facts.gcc}",
        tensorrt=str(facts.tensorrt),
        build_dir=build_dir,
        jobs=jobs,
    )
    build = BuildPlugin(spec, store or ArtifactStore(), installed, follow_ref=options.force)
    if cmake:
        _needs(cmake, build)
    asked = ("--force" if options.force and guide and guide.guide is not OssGuide.BUILD
             else "the required plugins " + ", ".join(options.required_plugins) if options.required_plugins
             else f"the DeepStream {facts.deepstream} guide builds it ({guide.source})" if guide
             else f"TensorRT {facts.tensorrt} has the OSS ref {ref}")
    plan.add(f"the plugin library of TensorRT OSS {ref} for this host ({asked}); copied where the controller's"
             " cache has its build key, built here otherwise", build)
    plan.add(_SWAP_WHY.format(link=installed.soname_link),
             SwapPlugin(installed, build, options.required_plugins, options.force))
    return _after_plugin(plan, detection, matrix, options, store)


_CMAKE_WHY = ("cmake {have} is older than the {minimum} the build needs; only where the host builds: a host that"
              " copies a cached build needs no cmake")
_SWAP_WHY = "programs load {link}: the new library takes the original's place (kept for rollback)"


def _needs(cmake: EnsureCmake, build: CachedBuild) -> None:
    """`build` needs `cmake` where it builds (the cmake step is skipped where every such build copies)."""
    cmake.for_builds.append(build)
    build.before_build.append(cmake)


def _row_of_ref(matrix: Matrix, ref: str, platform: str) -> OssRefRow | None:
    """The matrix row of a ref given with --trt-oss-ref, if the matrix knows it."""
    return next((r for r in matrix.oss_refs if r.ref == ref and platform in r.platforms), None)


def _prebuilt_row(matrix: Matrix, options: Options, facts: HostFacts, pinned: bool = False) -> PrebuiltPlugin | None:
    """The prebuilt library for the host's exact TensorRT (the inventory's pin, else the matrix's);
    with `pinned`, only one whose SHA-256 or git blob id is recorded."""
    if options.prebuilt is not None:
        fits = [p for p in options.prebuilt.libraries if p.platform == facts.platform and p.fits(facts.tensorrt)]
        row = max(fits, key=lambda p: len(p.tensorrt.release), default=None)
    else:
        row = matrix.prebuilt_for(facts.platform, facts.tensorrt)
    return row if row is not None and (row.pinned or not pinned) else None


def _prebuilt_plan(plan: Plan, detection: Detection, matrix: Matrix, options: Options, store: ArtifactStore | None) -> Plan:
    """Fetch NVIDIA's prebuilt library for the host's TensorRT, then the same swap as a build."""
    facts, host = detection.facts, detection.host
    row = _prebuilt_row(matrix, options, facts)
    if row is None or not row.pinned:
        known = ", ".join(str(p.tensorrt) for p in matrix.prebuilt.libraries if p.platform == facts.platform and p.pinned)
        why = f"{row.filename}: {row.reason}" if row else f"none for TensorRT {facts.tensorrt} on {facts.platform}"
        raise PlanRefused(f"{host}: no prebuilt libnvinfer_plugin to install ({why}; pinned: {known});"
                          " --plugin-source build builds one")
    commit = options.prebuilt.commit if options.prebuilt else matrix.prebuilt.commit
    repo = options.tao_apps_repo or matrix.prebuilt.repo
    if options.required_plugins:
        plan.notes.append(f"the prebuilt library is checked for {', '.join(options.required_plugins)} after the swap")
    installed = _installed_plugin(detection)
    spec = PrebuiltSpec(repo=repo, commit=commit, path=row.path, sha256=row.sha256, tensorrt=str(facts.tensorrt),
                        platform_id="aarch64" if facts.platform == "jetson" else "x86_64",
                        build_dir=facts.build_dir or DEFAULT_BUILD_DIR, git_blob=row.git_blob)
    fetch = FetchPrebuiltPlugin(spec, store or ArtifactStore(), installed)
    plan.notes.append(f"plugin source: prebuilt {row.filename} ({row.source})")
    plan.add(f"NVIDIA's prebuilt library for TensorRT {facts.tensorrt} ({row.source}); copied where the"
             " controller's cache has it", fetch)
    plan.add(_SWAP_WHY.format(link=installed.soname_link), SwapPlugin(installed, fetch, options.required_plugins))
    return _after_plugin(plan, detection, matrix, options, store)


def _after_plugin(plan: Plan, detection: Detection, matrix: Matrix, options: Options, store: ArtifactStore | None) -> Plan:
    """What follows the plugin: pyds, then the models and every stale engine."""
    return _with_deepstream_steps(_add_pyds(plan, detection, matrix, options, store), detection, matrix, options, store)


def _with_deepstream_steps(plan: Plan, detection: Detection, matrix: Matrix, options: Options,
                           store: ArtifactStore | None) -> Plan:
    """After the swap: the models' parser libraries and configs, then every stale engine (the
    swap makes all of them stale; the new configs' engines are built in the same run)."""
    if not detection.facts.gpus:
        plan.notes.append("engines and models: no GPU found, skipped")
        return plan
    configs: list[str] = []
    if options.skip_models and options.settings.models:
        plan.notes.append("models: skipped (--skip-models)")
    elif options.models:
        models = model_steps(detection, matrix, options.settings, list(options.models), store)
        plan.add("dsprov_models asks for it", *models.steps)
        plan.notes += models.warnings
        configs = [step.setup.config for step in models.configs]
    if options.skip_engines:
        plan.notes.append("engines: skipped (--skip-engines)")
        return plan
    if configs or options.engine_roots:
        plan.add("an engine is built against one plugin library: a swap or a new model config makes it stale or"
                 " missing", rebuild_engines_step(detection, matrix, tuple(configs), options.engine_roots))
    return plan


def _extend_with_pyds(plan: Plan, detection: Detection, matrix: Matrix, options: Options, store: ArtifactStore | None) -> Plan:
    """Append the pyds steps, and cmake when they build and the plan has none; PydsNotApplicable says why not."""
    pyds = pyds_steps(detection, matrix, options.pyds, store or ArtifactStore())
    facts = detection.facts
    needs_cmake = pyds.builds and (not facts.cmake or facts.cmake < matrix.cmake.minimum)
    if needs_cmake and not plan.provides("cmake"):
        jobs, _ = build_jobs(facts.mem_available_kib, facts.swap_total_kib, facts.nproc)
        try:
            cmake = _cmake_step(matrix, options, detection.host, facts, facts.build_dir or DEFAULT_BUILD_DIR, jobs)
        except PlanRefused as exc:
            raise PydsNotApplicable(str(exc).removeprefix(f"{detection.host}: ")) from None
        plan.add(_CMAKE_WHY.format(have=facts.cmake or "none", minimum=matrix.cmake.minimum), cmake)
    if needs_cmake:
        cmake = next(s for s in plan.steps if isinstance(s, EnsureCmake))
        for build in pyds.steps:
            if isinstance(build, CachedBuild):
                _needs(cmake, build)
    plan.add(f"the DeepStream Python bindings for python3 {facts.python} (--skip-pyds leaves them out)", *pyds.steps)
    plan.notes += pyds.notes
    return plan


def _add_pyds(plan: Plan, detection: Detection, matrix: Matrix, options: Options, store: ArtifactStore | None) -> Plan:
    """The provision plan with pyds; a host without Python or DeepStream gets a note instead."""
    if options.pyds.skip:
        plan.notes.append("pyds: skipped (--skip-pyds)")
        return plan
    try:
        return _extend_with_pyds(plan, detection, matrix, options, store)
    except PydsNotApplicable as exc:
        plan.notes.append(f"pyds: skipped: {exc}")
        return plan


def _pyds_only_plan(detection: Detection, matrix: Matrix, options: Options, store: ArtifactStore | None) -> Plan:
    """`invoke pyds`: only the pyds steps; a host they do not apply to is refused with the reason."""
    try:
        return _extend_with_pyds(Plan(detection.host, []), detection, matrix, options, store)
    except PydsNotApplicable as exc:
        raise PlanRefused(f"{detection.host}: pyds: {exc}") from None
