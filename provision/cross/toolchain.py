# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's cross toolchain for JetPack >= 7 devices: check it, and prepare it.

What a cross build of TensorRT OSS's plugin for aarch64 needs here:

* the controller's CUDA 13 ``nvcc``: it compiles device code for any SM it lists
  (``nvcc --list-gpu-code``; CUDA 13.0 lists sm_75 and newer, so Nano/TX2/Xavier are out) and
  hands host code to the cross compiler given as ``-ccbin``;
* Debian's ``aarch64-linux-gnu-gcc``/``-g++`` (packages ``gcc-aarch64-linux-gnu``,
  ``g++-aarch64-linux-gnu``) and the arm64 libc in ``/usr/aarch64-linux-gnu``;
* the aarch64 CUDA runtime (headers, ``libcudart_static.a``, ``libcudart.so.13``): the manylinux
  aarch64 wheel of ``nvidia-cuda-runtime`` (https://pypi.org/project/nvidia-cuda-runtime/) of the
  controller toolkit's own cudart version, fetched with ``pip download`` into the cache;
* a CMake toolchain file. NVIDIA's (TensorRT OSS ``cmake/toolchains/cmake_aarch64_cross.toolchain``,
  https://github.com/NVIDIA/TensorRT/tree/release/10.16/cmake/toolchains) expects the runtime in
  ``/usr/local/cuda/targets/sbsa-linux`` and ``/usr/aarch64-linux-gnu/lib/librt.so`` (Debian's
  ``libc6-dev-arm64-cross`` ships only ``librt.so.1``); :func:`prepare` writes a private one into
  the cache instead, pointing at a private ``sbsa-linux`` tree, and leaves the toolkit alone.

nvcc picks its target include directory from the host compiler (``targets/aarch64-linux`` for an
aarch64 ``-ccbin``; ``bin/nvcc.profile``), which the x86 toolkit lacks: the private tree holds the
wheel's headers and, for what the runtime wheel does not carry (``crt/``, ``cccl/``, ``nv/``: the
``nvidia-cuda-crt`` and ``nvidia-cuda-cccl`` parts, the same text on every architecture), links
into the controller toolkit's own ``include``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

TRIPLET = "aarch64-linux-gnu"
SYSROOT_LIB = Path("/usr") / TRIPLET / "lib"  # Debian's libc6-dev-arm64-cross
RUNTIME_DIST = "nvidia-cuda-runtime"
WHEEL_PLATFORM = "manylinux2014_aarch64"


def _run(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def nvcc_version(nvcc: Path) -> str | None:
    """``13.0.88`` from ``nvcc --version`` (its last line: ``Build cuda_13.0.r13.0/compiler...``;
    the line before it: ``Cuda compilation tools, release 13.0, V13.0.88``)."""
    out = _run([str(nvcc), "--version"])
    match = re.search(r"release \d+\.\d+, V(\d+\.\d+\.\d+)", out or "")
    return match.group(1) if match else None


def nvcc_sms(nvcc: Path) -> tuple[int, ...]:
    """The real architectures nvcc generates code for: ``--list-gpu-code`` prints ``sm_75`` ..."""
    out = _run([str(nvcc), "--list-gpu-code"]) or ""
    return tuple(sorted({int(m) for m in re.findall(r"^sm_(\d+)[a-z]?$", out, re.M)}))


def gcc_version(compiler: str) -> str | None:
    out = _run([compiler, "-dumpfullversion"])
    return out.strip() if out else None


def runtime_version(cuda_root: Path) -> str | None:
    """The toolkit's own cudart version: ``version.json``'s ``cuda_cudart`` (NVIDIA's installers),
    else the ``nvidia_cuda_runtime-X.Y.Z.dist-info`` of a toolkit assembled from the wheels."""
    meta = cuda_root / "version.json"
    if meta.is_file():
        version = json.loads(meta.read_text()).get("cuda_cudart", {}).get("version")
        if version:
            return version
    found = sorted((cuda_root / "dist-info").glob("nvidia_cuda_runtime-*.dist-info"))
    return found[-1].name.removeprefix("nvidia_cuda_runtime-").removesuffix(".dist-info") if found else None


@dataclass(frozen=True)
class ToolchainCheck:
    """What the controller has for a cross build, and what is missing."""

    nvcc: str
    nvcc_version: str | None
    sms: tuple[int, ...]
    cxx: str
    cxx_version: str | None
    runtime: str | None  # nvidia-cuda-runtime version to fetch (the toolkit's cudart)
    runtime_cached: bool
    rt_lib: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def cc(self) -> str:  # aarch64-linux-gnu-gcc beside the g++
        return self.cxx.removesuffix("g++") + "gcc"

    @property
    def cuda_version(self) -> str | None:  # 13.0
        return ".".join(self.nvcc_version.split(".")[:2]) if self.nvcc_version else None

    def supports(self, sms: list[int]) -> bool:
        return self.ok and all(sm in self.sms for sm in sms)

    def to_json(self) -> dict[str, Any]:
        """The check in ``detect --json`` (``build.toolchain``)."""
        return {"ok": self.ok, "nvcc": self.nvcc, "nvcc_version": self.nvcc_version, "sms": list(self.sms),
                "cxx": self.cxx, "cxx_version": self.cxx_version, "runtime": self.runtime,
                "runtime_cached": self.runtime_cached, "rt_lib": self.rt_lib, "problems": list(self.problems)}

    def lines(self) -> list[str]:
        """The check as ``detect``/``--dry-run`` show it."""
        runtime = (f"{RUNTIME_DIST}=={self.runtime} ({'cached' if self.runtime_cached else 'fetched with pip download'})"
                   if self.runtime else "unknown")
        return [
            f"cross toolchain: {'ok' if self.ok else 'unusable'}",
            f"  nvcc: {self.nvcc} {self.nvcc_version or 'missing'}"
            + (f", SMs {' '.join(map(str, self.sms))}" if self.sms else ""),
            f"  host compiler: {self.cxx} {self.cxx_version or 'missing'}",
            f"  aarch64 CUDA runtime: {runtime}",
            f"  librt: {self.rt_lib or 'missing'}",
            *(f"  problem: {p}" for p in self.problems),
        ]


def cache_dir(cache: Path) -> Path:
    return cache / "cross"


def check(cache: Path, cuda_root: Path = Path("/usr/local/cuda")) -> ToolchainCheck:
    """Look at the controller (runs ``nvcc`` and the cross compiler; fetches nothing)."""
    nvcc = cuda_root / "bin" / "nvcc"
    cxx = shutil.which(f"{TRIPLET}-g++") or f"{TRIPLET}-g++"
    version = nvcc_version(nvcc) if nvcc.exists() else None
    sms = nvcc_sms(nvcc) if version else ()
    cxx_version = gcc_version(cxx)
    runtime = runtime_version(cuda_root) if version else None
    rt = SYSROOT_LIB / "librt.so.1"
    problems = []
    if not version:
        problems.append(f"no nvcc at {nvcc}")
    elif int(version.split(".")[0]) < 13:
        problems.append(f"nvcc {version}: cross builds for JetPack 7 need CUDA 13 (SBSA-style runtime)")
    if not cxx_version:
        problems.append(f"no {TRIPLET}-g++ (Debian/Ubuntu: apt-get install g++-{TRIPLET})")
    if version and not runtime:
        problems.append(f"{cuda_root}: no cudart version (version.json or dist-info) to match the aarch64 runtime to")
    if not rt.exists():
        problems.append(f"no {rt} (Debian/Ubuntu: apt-get install libc6-dev-arm64-cross)")
    cached = bool(runtime) and (target_tree(cache, runtime) / ".complete").exists()
    return ToolchainCheck(str(nvcc), version, sms, cxx, cxx_version, runtime, cached,
                          str(rt) if rt.exists() else None, problems)


def target_tree(cache: Path, runtime: str) -> Path:
    """The private ``sbsa-linux`` target tree for one runtime version."""
    return cache_dir(cache) / f"cuda-{runtime}-sbsa-linux"


@dataclass(frozen=True)
class Toolchain:
    """A prepared cross toolchain: what a cross build's cmake is given."""

    check: ToolchainCheck
    tree: Path  # private targets/sbsa-linux: include/, lib/
    file: Path  # the CMake toolchain file

    @property
    def cc(self) -> str:
        return self.check.cc


def fetch_runtime(version: str, dest: Path) -> Path:
    """Download the aarch64 wheel of ``nvidia-cuda-runtime==version`` into ``dest`` with pip."""
    dest.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--platform", WHEEL_PLATFORM, "--dest", str(dest), f"{RUNTIME_DIST}=={version}"]
    done = subprocess.run(argv, capture_output=True, text=True)
    wheels = sorted(dest.glob(f"nvidia_cuda_runtime-{version}-*aarch64*.whl"))
    if done.returncode != 0 or not wheels:
        raise RuntimeError(f"{shlex.join(argv)} failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return wheels[0]


def _assemble(wheel: Path, cuda_root: Path, tree: Path) -> None:
    """Unpack the wheel's ``nvidia/cu<M>/{include,lib}`` into ``tree``; link the toolkit's
    architecture-independent headers the wheel lacks; add the ``libcudart.so`` dev link."""
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            parts = Path(name).parts
            if len(parts) > 3 and parts[0] == "nvidia" and parts[2] in ("include", "lib"):
                out = tree.joinpath(*parts[2:])
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(name))
    include = tree / "include"
    host_include = cuda_root / "include"
    for entry in sorted(host_include.iterdir()):
        if not (include / entry.name).exists():
            (include / entry.name).symlink_to(entry.resolve())
    sonames = sorted((tree / "lib").glob("libcudart.so.*"))
    if sonames:
        (tree / "lib" / "libcudart.so").symlink_to(sonames[0].name)


def toolchain_file_text(check: ToolchainCheck, tree: Path, rt_lib: str) -> str:
    """A CMake toolchain file for TensorRT OSS: the variables NVIDIA's
    ``cmake_aarch64_cross.toolchain`` sets, pointed at the private tree and the real librt."""
    flags = f"-I{tree}/include -isystem {tree}/include/cccl -L{tree}/lib"
    return "\n".join([
        "# Written by dsprov (provision/cross/toolchain.py) for a cross build on this controller.",
        "set(CMAKE_SYSTEM_NAME Linux)",
        "set(CMAKE_SYSTEM_PROCESSOR aarch64)",
        'set(TRT_PLATFORM_ID "aarch64")',
        'set(CUDA_PLATFORM_ID "sbsa-linux")',
        f"set(CMAKE_C_COMPILER {check.cc})",
        f"set(CMAKE_CXX_COMPILER {check.cxx})",
        f"set(CMAKE_C_COMPILER_TARGET {TRIPLET})",
        f"set(CMAKE_CXX_COMPILER_TARGET {TRIPLET})",
        f"set(CMAKE_CUDA_COMPILER {check.nvcc})",
        "set(CMAKE_CUDA_HOST_COMPILER ${CMAKE_CXX_COMPILER} CACHE STRING \"\" FORCE)",
        f'set(CMAKE_CUDA_FLAGS "{flags} -Xcompiler=-fPIC" CACHE STRING "" FORCE)',
        "set(CMAKE_CUDA_COMPILER_FORCED TRUE)",
        f'set(CUDA_ROOT "{tree}" CACHE STRING "CUDA ROOT dir")',
        f"set(CUDA_TOOLKIT_ROOT_DIR {tree})",
        f"set(CUDA_INCLUDE_DIRS {tree}/include)",
        f"set(RT_LIB {rt_lib})",
        "set(BUILD_LIBRARY_ONLY 1)",
        # the C++ driver links (CUDA objects too): CMake adds -lcudadevrt -lcudart_static for a
        # static CUDA runtime, found here
        f'set(CMAKE_SHARED_LINKER_FLAGS_INIT "-L{tree}/lib")',
        f'set(CMAKE_EXE_LINKER_FLAGS_INIT "-L{tree}/lib")',
        "",
    ])


def prepare(check: ToolchainCheck, cache: Path, cuda_root: Path = Path("/usr/local/cuda")) -> Toolchain:
    """Fetch and unpack the runtime (once per version), write the toolchain file."""
    if not check.ok:
        raise RuntimeError("cross toolchain unusable: " + "; ".join(check.problems))
    tree = target_tree(cache, check.runtime)
    if not (tree / ".complete").exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=tree.parent, prefix=".tmp-"))
        wheel = fetch_runtime(check.runtime, cache_dir(cache) / "wheels")
        _assemble(wheel, cuda_root, tmp)
        (tmp / ".complete").write_text(wheel.name + "\n")
        shutil.rmtree(tree, ignore_errors=True)
        tmp.rename(tree)
        check = replace(check, runtime_cached=True)
    file = cache_dir(cache) / f"aarch64-cuda-{check.runtime}.toolchain.cmake"
    text = toolchain_file_text(check, tree, check.rt_lib)
    if not file.exists() or file.read_text() != text:
        file.write_text(text)
    return Toolchain(check, tree, file)


def stub_library(names: list[str], soname: str, out: Path, cc: str = f"{TRIPLET}-gcc") -> Path:
    """A link-time stand-in for a device library: ``soname``, exporting ``names`` (C++ names
    through asm labels), compiled by the cross compiler. Only linked against, never loaded."""
    lines = [f"/* link stub for {soname}, written by dsprov's cross build */"]
    for i, name in enumerate(names):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"not a symbol name: {name!r}")
        lines.append(f'void dsprov_stub_{i}(void) __asm__("{name}");')
        lines.append(f"void dsprov_stub_{i}(void) {{}}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cross-stub-") as tmp:
        source = Path(tmp) / "stub.c"
        source.write_text("\n".join(lines) + "\n")
        subprocess.run([cc, "-shared", "-fPIC", "-O0", f"-Wl,-soname,{soname}", "-o", str(out), str(source)],
                       check=True, capture_output=True, text=True)
    return out
