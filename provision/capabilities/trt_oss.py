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

from provision.core.step import StepContext, StepFailed, list_command, q
from provision.core.cached_build import CachedBuild
from provision.capabilities.plugin_files import PluginPaths, installed_build

GIB = 1024 * 1024  # KiB
JOB_MEMORY_KIB = 3 * GIB // 2  # one nvcc/g++ job of the plugin build: about 1.5 GiB
MIN_DISK_KIB = 2 * GIB  # checkout + build tree


def build_jobs(mem_available_kib: int | None, swap_free_kib: int | None, nproc: int | None) -> tuple[int, str | None]:
    """`-j` from memory and swap (a 4 GB Nano is OOM-killed at -j4), and a hint when swap would help."""
    cores = nproc or 1
    memory = (mem_available_kib or 0) + (swap_free_kib or 0)
    jobs = max(1, min(cores, memory // JOB_MEMORY_KIB))
    hint = None
    if jobs < cores and not swap_free_kib:
        hint = f"memory allows -j{jobs} of {cores} cores; adding swap (e.g. a 4 GB swap file) would allow more"
    return jobs, hint


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
        plugin = ctx.state.get("plugin") or {}
        return plugin.get("commit") if plugin.get("ref") == self.spec.ref else None

    def cached(self, key: str) -> Path | None:
        return self.store.get(key, f"{self.spec.library}.so")

    def built_file(self, ctx: StepContext) -> tuple[str, str]:
        library = self.spec.library
        out = ctx.sh(list_command(self.spec.src + "/build/out", f"{library}.so.*.*.*")).stdout.splitlines()
        if not out:
            raise StepFailed(f"{ctx.runner.host}: the build of {self.spec.target} made no {library}.so.X.Y.Z")
        return out[0], f"{library}.so"
