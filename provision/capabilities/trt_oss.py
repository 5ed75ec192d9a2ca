"""Build TensorRT OSS's plugin library on the host (or take it from the controller's cache).

Clone the ref that follows the INSTALLED TensorRT into the build folder, configure with the
derived GPU_ARCHS, the host's library folder, its C compiler, platform and CUDA version, parsers
and samples off, and build only the ref's plugin target, `nvinfer_plugin` up to 10.x and
`tensorrt_plugins` in 11.x (matrix/tensorrt_oss.yml: build_target; building everything fails on
trtexec on TX2/AGX: NVIDIA/TensorRT#1308, #1846). `-j` follows memory, not cores.

The clone takes only what the plugin needs: one branch or tag, `--depth 1` (a dumb-HTTP
mirror cannot serve shallow clones: then the same single-branch clone in full), no tags, and
no submodule contents: third_party/protobuf and parsers/onnx serve the parsers only. The one
exception is third_party/cub on a CUDA toolkit older than 11.0, which has no CUB of its own
(the top-level CMakeLists.txt uses third_party/cub only when `CUDA_VERSION VERSION_LESS 11.0`,
https://github.com/NVIDIA/TensorRT/blob/release/10.16/CMakeLists.txt); it is fetched alone,
shallow where the server allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from provision.capabilities.cmake import CmakeNeed
from provision.capabilities.prebuilt_plugin import installed_plugin, plugin_source
from provision.core.capability import Capability, Planning
from provision.core.plan import PlanRefused
from provision.core.step import StepContext, StepFailed, list_command, q
from provision.gpu.archs import host_compute_caps, runs_on
from provision.matrix import Matrix, OssGuide, OssRefRow
from provision.options import DEFAULT_BUILD_DIR
from provision.core.cached_build import GIB, JOB_MEMORY_KIB, CachedBuild, build_jobs
from provision.capabilities.plugin_files import PluginPaths, PluginRecord, installed_build

MIN_DISK_KIB = 2 * GIB  # checkout + build tree


def preflight(mem_available_kib: int | None, swap_total_kib: int | None, disk_free_kib: int | None,
              build_dir: str) -> str | None:
    """Why the host cannot build at all (too little disk or memory), or None: checked before
    anything on the host is touched."""
    if disk_free_kib is not None and disk_free_kib < MIN_DISK_KIB:
        return (f"only {disk_free_kib // 1024} MiB free in {build_dir}; the build needs {MIN_DISK_KIB // 1024} MiB"
                " (free space or set dsprov_build_dir)")
    memory = (mem_available_kib or 0) + (swap_total_kib or 0)
    if mem_available_kib is not None and memory < JOB_MEMORY_KIB:
        return (f"only {memory // 1024} MiB of memory and swap available; one build job needs about"
                f" {JOB_MEMORY_KIB // 1024} MiB (add swap)")
    return None


@dataclass(frozen=True)
class BuildSpec:
    """Everything that decides the build's bytes, and where it happens."""

    repo: str
    ref: str
    gpu_archs: str
    lib_dir: str
    platform_id: str  # aarch64 | x86_64
    cuda_version: str  # major.minor
    compiler: str  # e.g. "gcc 7.5.0"
    tensorrt: str
    build_dir: str
    jobs: int
    arch_flag: str = "GPU_ARCHS"  # CMAKE_CUDA_ARCHITECTURES for refs that ignore or mangle GPU_ARCHS
    target: str = "nvinfer_plugin"  # the ref's plugin target: tensorrt_plugins in 11.x
    library: str = "libnvinfer_plugin"  # what the target writes: <library>.so.X.Y.Z, SONAME <library>.so.X

    @property
    def src(self) -> str:
        return f"{self.build_dir}/TensorRT-{self.ref.replace('/', '-')}"

    def key_parts(self, commit: str) -> dict[str, str]:
        return {
            "arch": self.platform_id,
            "tensorrt": self.tensorrt,
            "ref": self.ref,
            "commit": commit,
            "gpu_archs": self.gpu_archs,
            "compiler": self.compiler,
            "cuda": self.cuda_version,
        }

    @property
    def needs_cub(self) -> bool:
        """CUDA before 11.0 ships no CUB: the build takes third_party/cub."""
        return bool(self.cuda_version) and Version(self.cuda_version) < Version("11.0")

    def clone_commands(self) -> list[str]:
        src = q(self.src)
        clone = f"git clone --single-branch --no-tags -b {q(self.ref)} -- {q(self.repo)} {src}"
        commands = [f"rm -rf {src} && {{ {clone.replace('clone ', 'clone --depth 1 ', 1)}"
                    f" || {{ rm -rf {src} && {clone}; }}; }}"]
        if self.needs_cub:
            update = f"git -C {src} submodule update --init"
            commands.append(f"{update} --depth 1 -- third_party/cub || {update} -- third_party/cub")
        return commands

    def commands(self) -> list[str]:
        src, build = q(self.src), q(self.src + "/build")
        return [
            *self.clone_commands(),
            (
                f"cmake -S {src} -B {build} -D{self.arch_flag}={q(self.gpu_archs)} -DTRT_LIB_DIR={q(self.lib_dir)}"
                f" -DTRT_OUT_DIR={q(self.src + '/build/out')} -DCMAKE_C_COMPILER=/usr/bin/gcc"
                f" -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DTRT_PLATFORM_ID={q(self.platform_id)}"
                f" -DCUDA_VERSION={q(self.cuda_version)} -DBUILD_PARSERS=OFF -DBUILD_SAMPLES=OFF"
            ),
            f"cmake --build {build} --target {q(self.target)} -- -j{self.jobs}",
        ]


@dataclass
class BuildPlugin(CachedBuild):
    """Produce the plugin library for a build key: from the cache, or built on this host."""

    spec: BuildSpec
    installed: PluginPaths  # the system library this build is for
    name = "trt-oss-build"
    provides = frozenset({"plugin-library"})
    main_product = True
    what = "plugin library"

    @property
    def ref(self) -> str:
        return self.spec.ref

    def summary(self) -> str:
        s = self.spec
        return (f"build {s.target} from TensorRT OSS {s.ref} for {s.arch_flag} {s.gpu_archs} with -j{s.jobs}"
                " (or reuse a cached build)")

    def describe(self) -> list[str]:
        return [f"git ls-remote -- {q(self.spec.repo)} {q(self.spec.ref)}", *self.spec.commands(),
                f"(controller) fetch build/out/{self.spec.library}.so.* into the artifact cache"]

    def installed_key(self, ctx: StepContext) -> str | None:
        return installed_build(ctx, self.installed)

    def checkout_commands(self) -> int:
        return len(self.spec.clone_commands())

    def installed_commit(self, ctx: StepContext) -> str | None:
        plugin = ctx.state.record_of(PluginRecord) or PluginRecord()
        return plugin.commit if plugin.ref == self.spec.ref else None

    def cached(self, key: str) -> Path | None:
        return self.store.get(key, f"{self.spec.library}.so")

    def built_file(self, ctx: StepContext) -> tuple[str, str]:
        library = self.spec.library
        out = ctx.sh(list_command(self.spec.src + "/build/out", f"{library}.so.*.*.*")).stdout.splitlines()
        if not out:
            raise StepFailed(f"{ctx.runner.host}: the build of {self.spec.target} made no {library}.so.X.Y.Z")
        return out[0], f"{library}.so"


def _row_of_ref(matrix: Matrix, ref: str, platform: str) -> OssRefRow | None:
    """The matrix row of a ref given with --trt-oss-ref, if the matrix knows it."""
    return next((r for r in matrix.oss_refs if r.ref == ref and platform in r.platforms), None)


def plan(p: Planning) -> None:
    """Build the OSS plugin library for the host's TensorRT (the swap follows), when it is the source
    and the guides or the options ask for it; PlanRefused when no ref can help or the host cannot build."""
    source = plugin_source(p)
    if source.prebuilt:
        return
    facts, options, matrix, host = p.detection.facts, p.options, p.matrix, p.host
    oss, guide = source.oss, source.guide
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
        p.plan.notes.append(
            f"DeepStream {facts.deepstream}: the guides say the TensorRT OSS build is {guide.guide.value}"
            f" ({guide.source}); nothing to do (--force builds anyway)"
        )
        return
    if facts.gcc is None:
        raise PlanRefused(f"{host}: no C compiler (gcc) on the host: install build-essential first")
    build_dir = facts.build_dir or DEFAULT_BUILD_DIR
    short = preflight(facts.mem_available_kib, facts.swap_total_kib, facts.disk_free_kib, build_dir)
    if short:
        raise PlanRefused(f"{host}: {short}")
    archs = p.detection.gpu_archs
    if not archs.archs:
        raise PlanRefused(f"{host}: no GPU found to derive GPU_ARCHS from; pass --gpu-archs")
    cannot = [c for c in host_compute_caps(facts) if not any(runs_on(a, c) for a in archs.archs)]
    if archs.source == "--gpu-archs" and cannot and not options.force:
        raise PlanRefused(
            f"{host}: --gpu-archs {archs.cmake_value} has no code this host's GPU (compute capability"
            f" {', '.join(cannot)}) runs: a build for X.y runs on X.z with z >= y only (NVIDIA CUDA binary"
            " compatibility); --force builds it anyway"
        )
    p.plan.notes += list(archs.notes)
    jobs, hint = build_jobs(facts.mem_available_kib, facts.swap_total_kib, facts.nproc)
    if hint:
        p.plan.notes.append(hint)
    ref_row = oss if oss and oss.ref == ref else _row_of_ref(matrix, ref, facts.platform)
    minimum = matrix.cmake_minimum(ref_row)
    if ref_row is not None and ref_row.arch_flag != "GPU_ARCHS":
        reason = ref_row.arch_note or f"{ref} ignores GPU_ARCHS"
        p.plan.notes.append(f"{reason}: architectures go in -D{ref_row.arch_flag}")
    installed = installed_plugin(p)
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
    build = BuildPlugin(spec, p.store, installed, follow_ref=options.force)
    because = f" ({ref} needs it)" if minimum > matrix.cmake.minimum else ""
    p.require("cmake", [build], CmakeNeed(minimum, because))
    asked = ("--force" if options.force and guide and guide.guide is not OssGuide.BUILD
             else "the required plugins " + ", ".join(options.required_plugins) if options.required_plugins
             else f"the DeepStream {facts.deepstream} guide builds it ({guide.source})" if guide
             else f"TensorRT {facts.tensorrt} has the OSS ref {ref}")
    p.plan.add(f"the plugin library of TensorRT OSS {ref} for this host ({asked}); copied where the controller's"
               " cache has its build key, built here otherwise", build)


CAPABILITY = Capability("trt_oss", plan=plan)
