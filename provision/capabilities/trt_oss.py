# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
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

Where the build happens (`--build-on`, provision/cross/choice.py): for a JetPack >= 7 host whose
SMs the controller's CUDA 13 cross toolchain can build, `auto` (and `controller`) cross-build on
the controller instead (`CrossBuildPlugin`): the repository is cloned there, the link stub for
libnvinfer is made from the device's own exports (`nm -D` on the host), and the result enters the
same cache under a key that adds where and with which toolchain it was built; the swap installs
and verifies it exactly as a host build.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.version import Version

from provision.capabilities.cmake import CmakeNeed
from provision.capabilities.prebuilt_plugin import installed_plugin, plugin_source
from provision.core.capability import Capability, Planning
from provision.core.detection import Detection
from provision.core.plan import PlanRefused
from provision.core.step import StepContext, StepFailed, list_command, q
from provision.cross import build as cross, choice, exports, toolchain
from provision.cross.toolchain import ToolchainCheck
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
    built_on: tuple[tuple[str, str], ...] = ()  # a cross build's key parts (choice.key_parts); none on the host

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
            **dict(self.built_on),
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


BUILD_LOG = "build.log"  # a cross build's commands and CMake's output, kept beside the cached library

# Where the check is not consulted (an x86 host, an older JetPack, --build-on host)
UNCHECKED = ToolchainCheck("", None, (), "", None, None, False, None, ["not checked"])


@dataclass
class CrossBuildPlugin(BuildPlugin):
    """Produce the plugin library for a build key: from the cache, or cross-built on the controller
    (provision.cross) against a stub of the host's own libnvinfer."""

    toolchain_check: ToolchainCheck = field(default=UNCHECKED, kw_only=True)  # the controller's toolchain
    cache: Path = field(default=Path(), kw_only=True)  # the controller's cache root (toolchain, runtime)
    sms: tuple[int, ...] = field(default=(), kw_only=True)

    def summary(self) -> str:
        s = self.spec
        return (f"cross-build {s.target} from TensorRT OSS {s.ref} on the controller for SM"
                f" {' '.join(map(str, self.sms))} with -j{s.jobs} (or reuse a cached build)")

    @property
    def nvinfer(self) -> str:
        """The host's libnvinfer.so.<major>, whose exports make the link stub."""
        return f"{self.spec.lib_dir}/libnvinfer.so.{self.spec.tensorrt.split('.')[0]}"

    def describe(self) -> list[str]:
        work = Path("<work>")
        tc = toolchain.Toolchain(self.toolchain_check, toolchain.target_tree(self.cache, str(self.toolchain_check.runtime)),
                                 toolchain.cache_dir(self.cache) / f"aarch64-cuda-{self.toolchain_check.runtime}.toolchain.cmake")
        spec = cross.cross_build(work / "src", work / "src" / "build", list(self.sms), tc, work / "stubs",
                                 self.spec.jobs, self.spec.target)
        return [f"git ls-remote -- {q(self.spec.repo)} {q(self.spec.ref)}",
                *(f"(controller) {line}" for line in self.toolchain_check.lines()),
                f"(controller) {shlex.join(self.clone_argv(work / 'src'))}",
                f"{exports.NM_COMMAND} {q(self.nvinfer)}",
                f"(controller) {self.toolchain_check.cc} -shared: the link stub {work}/stubs/libnvinfer.so from those exports",
                *(f"(controller) {line}" for line in spec.script().splitlines()),
                f"(controller) keep build/out/{self.spec.library}.so in the artifact cache"]

    def clone_argv(self, src: Path) -> list[str]:
        return ["git", "clone", "--quiet", "--single-branch", "--no-tags", "-b", self.spec.ref, "--",
                self.spec.repo, str(src)]

    def _controller(self, ctx: StepContext, argv: list[str]) -> str:
        ctx.log(f"$ (controller) {shlex.join(argv)}")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout)
        if done.returncode != 0:
            raise StepFailed(f"{ctx.runner.host}: (controller) {shlex.join(argv[:3])} ... exited {done.returncode}:"
                             f" {(done.stderr or done.stdout).strip()[-300:]}")
        return done.stdout

    def build(self, ctx: StepContext, key: str) -> Path:
        """Build on the controller against a link stub of the host's libnvinfer; put it in the store."""
        names = exports.defined_symbols(ctx.sh(f"{exports.NM_COMMAND} {q(self.nvinfer)}").stdout)
        if not names:
            raise StepFailed(f"{ctx.runner.host}: {self.nvinfer} exports nothing (nm -D)")
        try:
            prepared = toolchain.prepare(self.toolchain_check, self.cache)
        except RuntimeError as exc:
            raise StepFailed(f"{ctx.runner.host}: (controller) {exc}") from None
        root = toolchain.cache_dir(self.cache)
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="build-", dir=root) as tmp:
            work = Path(tmp)
            src = work / "src"
            self._controller(ctx, self.clone_argv(src))
            head = self._controller(ctx, ["git", "-C", str(src), "rev-parse", "HEAD"]).strip()
            if head != self.commit:
                raise StepFailed(f"{ctx.runner.host}: (controller) {src} is at {head}, not {self.commit}")
            major = self.spec.tensorrt.split(".")[0]
            stubs = work / "stubs"
            toolchain.stub_library(names, f"libnvinfer.so.{major}", stubs / f"libnvinfer.so.{major}", prepared.cc)
            (stubs / "libnvinfer.so").symlink_to(f"libnvinfer.so.{major}")
            spec = cross.cross_build(src, src / "build", list(self.sms), prepared, stubs, self.spec.jobs,
                                     self.spec.target)
            log = work / "build.log"
            for line in spec.script().splitlines():
                ctx.log(f"$ (controller) {line}")
            try:
                built = cross.run(spec, log)
            except RuntimeError as exc:
                raise StepFailed(f"{ctx.runner.host}: (controller) {exc}") from None
            finally:
                for line in log.read_text(errors="replace").splitlines() if log.exists() else ():
                    ctx.log(line)
            folder = self.store.root / key  # the log first: the library's meta.json completes the entry
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, folder / BUILD_LOG)
            return self.store.put(key, f"{self.spec.library}.so", built.resolve(), self.spec.key_parts(self.commit))


def build_place(p: Planning, archs: tuple[str, ...]) -> tuple[choice.BuildPlace, ToolchainCheck]:
    """Where the build happens (`--build-on`), and the controller's toolchain check where it was
    consulted (a JetPack >= 7 host); PlanRefused for `--build-on controller` where it cannot."""
    facts = p.detection.facts
    jetpack = facts.jetson.jetpack if facts.jetson else None
    build_on = p.options.flags.build_on
    consulted = (build_on != "host" and facts.platform == "jetson" and jetpack is not None
                 and jetpack >= choice.FIRST_CROSS_JETPACK)
    check = toolchain.check(p.store.root.parent) if consulted else UNCHECKED
    try:
        place = choice.choose(build_on, facts.platform, jetpack, [int(a) for a in archs if a.isdigit()], check)
    except ValueError as exc:
        raise PlanRefused(f"{p.host}: {exc}") from None
    return place, check


@dataclass(frozen=True)
class BuildView:
    """Where `provision --build-on auto` would build a host's plugin, as `detect` shows it, with the
    controller's cross toolchain check where it is consulted (a JetPack >= 7 host)."""

    place: choice.BuildPlace
    check: ToolchainCheck | None

    def lines(self) -> list[str]:
        return [*(self.check.lines() if self.check else ()),
                f"build on (--build-on auto): {self.place.where}: {self.place.why}"]

    def to_json(self) -> dict[str, Any]:
        """detect --json's `build` (provision/schemas/detect.schema.json)."""
        return {"where": self.place.where, "why": self.place.why,
                "toolchain": self.check.to_json() if self.check else None}


def build_view(detection: Detection, cache: Path) -> BuildView:
    """Where the plugin of a detected host would be built with `--build-on auto` (the toolchain is
    checked for a JetPack >= 7 host only: the others build on themselves whatever it holds)."""
    facts = detection.facts
    jetpack = facts.jetson.jetpack if facts.jetson else None
    consulted = facts.platform == "jetson" and jetpack is not None and jetpack >= choice.FIRST_CROSS_JETPACK
    check = toolchain.check(cache) if consulted else None
    sms = [int(a) for a in detection.gpu_archs.archs if a.isdigit()]
    return BuildView(choice.choose("auto", facts.platform, jetpack, sms, check or UNCHECKED), check)


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
    archs = p.detection.gpu_archs
    place, check = build_place(p, archs.archs)
    on_host = place.where == "host"
    if on_host and facts.gcc is None:
        raise PlanRefused(f"{host}: no C compiler (gcc) on the host: install build-essential first")
    build_dir = facts.build_dir or DEFAULT_BUILD_DIR
    short = preflight(facts.mem_available_kib, facts.swap_total_kib, facts.disk_free_kib, build_dir) if on_host else None
    if short:
        raise PlanRefused(f"{host}: {short}")
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
    if check is not UNCHECKED:  # a JetPack >= 7 host: say where and why
        p.plan.notes.append(place.why)
    if on_host:
        jobs, hint = build_jobs(facts.mem_available_kib, facts.swap_total_kib, facts.nproc)
        if hint:
            p.plan.notes.append(hint)
    else:
        jobs = os.cpu_count() or 1
    ref_row = oss if oss and oss.ref == ref else _row_of_ref(matrix, ref, facts.platform)
    minimum = matrix.cmake_minimum(ref_row)
    if ref_row is not None and ref_row.arch_flag != "GPU_ARCHS":
        reason = ref_row.arch_note or f"{ref} ignores GPU_ARCHS"
        p.plan.notes.append(f"{reason}: architectures go in -D{ref_row.arch_flag}")
    installed = installed_plugin(p)
    row_parts: dict[str, Any] = {"target": ref_row.build_target, "library": ref_row.library} if ref_row else {}
    spec = BuildSpec(
        repo=options.trt_oss_repo,
        ref=ref,
        gpu_archs=ref_row.arch_define(archs.archs) if ref_row else archs.cmake_value,
        arch_flag=ref_row.arch_flag if ref_row else "GPU_ARCHS",
        **row_parts,
        lib_dir=facts.lib_dir,
        platform_id="aarch64" if facts.platform == "jetson" else "x86_64",
        cuda_version=f"{facts.cuda.major}.{facts.cuda.minor}" if facts.cuda else "",
        compiler=f"gcc {facts.gcc}",
        tensorrt=str(facts.tensorrt),
        build_dir=build_dir,
        jobs=jobs,
    )
    if on_host:
        build = BuildPlugin(spec, p.store, installed, follow_ref=options.force)
        because = f" ({ref} needs it)" if minimum > matrix.cmake.minimum else ""
        p.require("cmake", [build], CmakeNeed(minimum, because))
    else:
        spec = replace(spec, compiler=f"{Path(check.cxx).name} {check.cxx_version}", cuda_version=str(check.cuda_version),
                       build_dir=str(toolchain.cache_dir(p.store.root.parent)),
                       built_on=tuple(choice.key_parts(place, check).items()))
        build = CrossBuildPlugin(spec, p.store, installed, follow_ref=options.force, toolchain_check=check,
                                 cache=p.store.root.parent, sms=tuple(int(a) for a in archs.archs if a.isdigit()))
    asked = ("--force" if options.force and guide and guide.guide is not OssGuide.BUILD
             else "the required plugins " + ", ".join(options.required_plugins) if options.required_plugins
             else f"the DeepStream {facts.deepstream} guide builds it ({guide.source})" if guide
             else f"TensorRT {facts.tensorrt} has the OSS ref {ref}")
    where = "built here" if on_host else "cross-built on the controller"
    p.plan.add(f"the plugin library of TensorRT OSS {ref} for this host ({asked}); copied where the controller's"
               f" cache has its build key, {where} otherwise", build)


CAPABILITY = Capability("trt_oss", plan=plan)
