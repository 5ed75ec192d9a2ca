# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A TensorRT-OSS-shaped git repository (NVIDIA/TensorRT) for the simulated fleet.

``make_trt_oss_repo(dest)`` writes two bare repositories laid out like a GitHub mirror:
``dest/NVIDIA/TensorRT.git`` and ``dest/NVlabs/cub.git``. Each ref of TensorRT.git carries that
ref's real ``include/NvInferVersion.h`` version and a C-only CMake project whose
``nvinfer_plugin`` target compiles ``libnvinfer_plugin.so.<TRT_VERSION>`` (+ ``.so.<major>``,
``.so``) from ``plugin/common/trtstub.c`` with that ref's plugin creator names and the
GPU_ARCHS it was configured with, linked against ``${TRT_LIB_DIR}/libnvinfer.so``.

The ``third_party/cub`` submodule uses the relative URL ``../../NVlabs/cub.git``: it resolves
to the mirror beside TensorRT.git (and to github.com/NVlabs/cub on GitHub). Upstream's
``.gitmodules`` uses absolute GitHub URLs instead. Cloning submodules over ``file://`` needs
``git -c protocol.file.allow=always`` (git >= 2.38.1 refuses file transport for submodules).
Like the real tree (release/10.16's ``.gitmodules``), every ref also has the submodules
``third_party/protobuf`` and ``parsers/onnx`` at their absolute GitHub URLs, which the fleet
cannot reach: a ``--recursive`` clone fails here as it does on an offline host, and only the
tool's clone (no submodule contents but CUB before CUDA 11) works. The plugin links with
``--no-undefined`` against ``libnvinfer`` as the real plugin's does.

CMake behaviour modelled on the real top-level CMakeLists.txt of github.com/NVIDIA/TensorRT: version from
NvInferVersion.h, ``Targeting TRT Platform: <id>``, TRT_LIB_DIR/TRT_OUT_DIR defaulting to the
build dir, per-era default GPU_ARCHS, BUILD_PLUGINS/PARSERS/SAMPLES, and on refs >= 8.2 the CUB
pitfall: a CUDA 10.x toolkit (found at CUDA_TOOLKIT_ROOT_DIR, default /usr/local/cuda, from
version.json or version.txt) with the default CUDA_VERSION (11.x) fails on ``cub/cub.cuh``
unless ``-DCUDA_VERSION=10.2`` is given (NVIDIA/TensorRT#2159). Without any toolkit the CUB
check is skipped (the controller has no CUDA).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .trtlibs import STUB_SOURCE, plugins_for, version_header


@dataclass(frozen=True)
class OssRef:
    """One ref of the fixture repo: its name, kind, NvInferVersion.h version and CMake era."""

    name: str
    kind: str  # "branch" or "tag"
    version: str  # MAJOR.MINOR.PATCH.BUILD as in include/NvInferVersion.h at that ref
    era: str  # "7" (7.1-8.0), "8" (8.2-9.3), "10" (10.0-10.4): default GPU_ARCHS rules
    default_cuda: str  # DEFAULT_CUDA_VERSION of that CMakeLists (approximate, see below)


# Versions: include/NvInferVersion.h of github.com/NVIDIA/TensorRT at each branch tip / tag. DEFAULT_CUDA_VERSION values
# are approximations (11.x from 7.1 on per NVIDIA/TensorRT#2159; exact minors not
# re-checked per branch).
OSS_REFS: tuple[OssRef, ...] = (
    OssRef("release/7.1", "branch", "7.1.3.4", "7", "11.0"),
    OssRef("release/7.2", "branch", "7.2.1.6", "7", "11.1"),
    OssRef("21.03", "tag", "7.2.2.3", "7", "11.2"),
    OssRef("21.08", "tag", "8.0.1.6", "7", "11.3.1"),
    OssRef("release/8.0", "branch", "8.0.1.6", "7", "11.3.1"),
    OssRef("release/8.2", "branch", "8.2.3.0", "8", "11.3.1"),
    OssRef("release/8.4", "branch", "8.4.3.1", "8", "11.6.2"),
    OssRef("release/8.5", "branch", "8.5.3.1", "8", "11.8.0"),
    OssRef("release/8.6", "branch", "8.6.1.5", "8", "12.0.1"),
    OssRef("release/10.3", "branch", "10.3.0.26", "10", "12.5.0"),
    # DeepStream 8.0's x86 TensorRT 10.9 (profile x86-bare after `provision --deepstream 8.0`):
    # NvInferVersion.h 10.9.0.34, DEFAULT_CUDA_VERSION 12.2.0 (matrix/tensorrt_oss.yml, read at
    # release/10.9); it reads -DGPU_ARCHS in this fixture's "10" era CMake.
    OssRef("release/10.9", "branch", "10.9.0.34", "10", "12.2.0"),
    # DeepStream 9.1's x86 TensorRT 10.16 (profile x86-bare after `provision --deepstream 9.1`):
    # NvInferVersion.h 10.16.0.72, DEFAULT_CUDA_VERSION 13.2 (matrix/tensorrt_oss.yml, read at
    # release/10.16). The real tree is simfleet/upstreams/trt_debs.py's, for the real-build tests.
    # Listed before release/10.13 so that main stays at release/10.13.3 (DEFAULT_BRANCH).
    OssRef("release/10.16", "branch", "10.16.0.72", "10", "13.2"),
    # JetPack 7.0's TensorRT 10.13 (Thor). The fixture models it with the "10" era's CMake: it
    # reads -DGPU_ARCHS as release/10.13 does (CMakeLists.txt there); its defaults without
    # GPU_ARCHS (72 75 80 86 87 89 90, +100 120) are not modelled: the tool always passes them.
    OssRef("release/10.13", "branch", "10.13.0.35", "10", "12.2.0"),
    # JetPack 7.0 / 7.1 ship TensorRT 10.13.3.9: the matrix's ref is release/10.13.3 (NvInferVersion.h
    # 10.13.3.9; it reads -DGPU_ARCHS, DEFAULT_CUDA_VERSION 12.2.0 as in its CMakeLists.txt).
    OssRef("release/10.13.3", "branch", "10.13.3.9", "10", "12.2.0"),
)
# Submodules the fleet cannot fetch, as the real tree's point at commits on GitHub only.
UNREACHABLE_SUBMODULES = ("third_party/protobuf", "parsers/onnx")
DEFAULT_BRANCH = "main"  # points at the newest ref above (stand-in; upstream main moves on)

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "simfleet",
    "GIT_AUTHOR_EMAIL": "simfleet@localhost",
    "GIT_COMMITTER_NAME": "simfleet",
    "GIT_COMMITTER_EMAIL": "simfleet@localhost",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with a fixed identity/date and no user config; return stdout."""
    env = {**os.environ, **_GIT_ENV}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout.strip()


_ERA_ARCHS = {
    # Default GPU_ARCHS per ref family, from NVIDIA/TensorRT's top-level CMakeLists.txt at those refs.
    "7": """    list(APPEND GPU_ARCHS 35 53 61 70 75)
    if(TRT_PLATFORM_ID STREQUAL "aarch64")
        list(APPEND GPU_ARCHS 72)
    endif()
    if(CUDA_VERSION VERSION_GREATER_EQUAL 11.0)
        list(APPEND GPU_ARCHS 80)
    endif()""",
    "8": """    list(APPEND GPU_ARCHS 53 60 61 70 75)
    if(TRT_PLATFORM_ID STREQUAL "aarch64")
        list(APPEND GPU_ARCHS 72)
    endif()
    if(CUDA_VERSION VERSION_GREATER_EQUAL 11.0)
        list(APPEND GPU_ARCHS 80)
    endif()
    if(CUDA_VERSION VERSION_GREATER_EQUAL 11.1)
        list(APPEND GPU_ARCHS 86)
    endif()""",
    "10": """    list(APPEND GPU_ARCHS 70 75)
    if(CUDA_VERSION VERSION_GREATER_EQUAL 11.0)
        list(APPEND GPU_ARCHS 80)
    endif()
    if(CUDA_VERSION VERSION_GREATER_EQUAL 11.1)
        list(APPEND GPU_ARCHS 86)
    endif()""",
}

# Refs before 8.2 always use the bundled CUB; 8.2 on only when CUDA_VERSION < 11.
_ERA_CUB = {
    "7": "include_directories(${CMAKE_CURRENT_SOURCE_DIR}/third_party/cub)",
    "8": """if(CUDA_VERSION VERSION_LESS 11.0)
    include_directories(${CMAKE_CURRENT_SOURCE_DIR}/third_party/cub)
endif()""",
}
_ERA_CUB["10"] = _ERA_CUB["8"]

TOP_CMAKELISTS = r"""# TensorRT-OSS-shaped build (simulated fleet fixture): C only, no CUDA code is compiled.
cmake_minimum_required(VERSION 3.13 FATAL_ERROR)

# Version from include/NvInferVersion.h, as the real project does.
file(STRINGS "${CMAKE_CURRENT_SOURCE_DIR}/include/NvInferVersion.h" VERSION_STRINGS
     REGEX "#define NV_TENSORRT_.*")
foreach(TYPE MAJOR MINOR PATCH BUILD)
    string(REGEX MATCH "NV_TENSORRT_${TYPE} [0-9]+" TRT_TYPE_STRING "${VERSION_STRINGS}")
    string(REGEX MATCH "[0-9]+" TRT_${TYPE} "${TRT_TYPE_STRING}")
endforeach()
string(REGEX MATCH "NV_TENSORRT_SONAME_MAJOR [0-9]+" TRT_SO_STRING "${VERSION_STRINGS}")
if(TRT_SO_STRING)
    string(REGEX MATCH "[0-9]+" TRT_SO_MAJOR "${TRT_SO_STRING}")
else()
    set(TRT_SO_MAJOR ${TRT_MAJOR})
endif()
set(TRT_VERSION "${TRT_MAJOR}.${TRT_MINOR}.${TRT_PATCH}")
set(TRT_SOVERSION "${TRT_SO_MAJOR}")
message(STATUS "Building for TensorRT version: ${TRT_VERSION}, library version: ${TRT_SOVERSION}")

if(NOT DEFINED TRT_PLATFORM_ID)
    set(TRT_PLATFORM_ID "x86_64")
endif()
message(STATUS "Targeting TRT Platform: ${TRT_PLATFORM_ID}")

project(TensorRT LANGUAGES C VERSION ${TRT_VERSION})
message(STATUS "C compiler: ${CMAKE_C_COMPILER}")

option(BUILD_PLUGINS "Build TensorRT plugin" ON)
option(BUILD_PARSERS "Build TensorRT parsers" ON)
option(BUILD_SAMPLES "Build TensorRT samples" ON)

if(NOT DEFINED TRT_LIB_DIR)
    set(TRT_LIB_DIR ${CMAKE_BINARY_DIR})
endif()
if(NOT DEFINED TRT_OUT_DIR)
    set(TRT_OUT_DIR ${CMAKE_BINARY_DIR})
endif()
message(STATUS "TRT_LIB_DIR: ${TRT_LIB_DIR}")
message(STATUS "TRT_OUT_DIR: ${TRT_OUT_DIR}")

set(DEFAULT_CUDA_VERSION @DEFAULT_CUDA@)
if(NOT DEFINED CUDA_VERSION)
    set(CUDA_VERSION ${DEFAULT_CUDA_VERSION})
endif()
message(STATUS "CUDA version set to ${CUDA_VERSION}")

# The CUDA toolkit actually installed (stand-in for find_package(CUDA)).
if(NOT DEFINED CUDA_TOOLKIT_ROOT_DIR)
    set(CUDA_TOOLKIT_ROOT_DIR /usr/local/cuda)
endif()
set(CUDA_TOOLKIT_VERSION "")
if(EXISTS "${CUDA_TOOLKIT_ROOT_DIR}/version.json")
    file(READ "${CUDA_TOOLKIT_ROOT_DIR}/version.json" CUDA_VERSION_JSON)
    if(CUDA_VERSION_JSON MATCHES "\"cuda\"[^}]*\"version\"[ \t\r\n]*:[ \t\r\n]*\"([0-9.]+)\"")
        set(CUDA_TOOLKIT_VERSION "${CMAKE_MATCH_1}")
    endif()
endif()
if(NOT CUDA_TOOLKIT_VERSION AND EXISTS "${CUDA_TOOLKIT_ROOT_DIR}/version.txt")
    file(READ "${CUDA_TOOLKIT_ROOT_DIR}/version.txt" CUDA_VERSION_TXT)
    if(CUDA_VERSION_TXT MATCHES "CUDA Version ([0-9.]+)")
        set(CUDA_TOOLKIT_VERSION "${CMAKE_MATCH_1}")
    endif()
endif()
set(TRT_NEED_CUB OFF)
if(CUDA_TOOLKIT_VERSION)
    message(STATUS "Found CUDA toolkit ${CUDA_TOOLKIT_VERSION} at ${CUDA_TOOLKIT_ROOT_DIR}")
    set(TRT_NEED_CUB ON)
    if(CUDA_TOOLKIT_VERSION VERSION_GREATER_EQUAL 11.0)
        # CUDA 11+ toolkits ship CUB in their include folder; stand in for it.
        file(WRITE ${CMAKE_BINARY_DIR}/cuda_toolkit_include/cub/cub.cuh
             "/* CUB of the CUDA ${CUDA_TOOLKIT_VERSION} toolkit (stand-in) */\n#define TRT_CUB_FROM_TOOLKIT 1\n")
        include_directories(${CMAKE_BINARY_DIR}/cuda_toolkit_include)
    endif()
else()
    message(STATUS "No CUDA toolkit at ${CUDA_TOOLKIT_ROOT_DIR}: building without the CUB check")
endif()
@CUB_RULE@

if(DEFINED GPU_ARCHS)
    message(STATUS "GPU_ARCHS defined as ${GPU_ARCHS}. Generating CUDA code for SM ${GPU_ARCHS}")
    separate_arguments(GPU_ARCHS)
else()
@DEFAULT_ARCHS@
    message(STATUS "GPU_ARCHS is not defined. Generating CUDA code for default SMs: ${GPU_ARCHS}")
endif()
foreach(arch ${GPU_ARCHS})
    if(NOT arch MATCHES "^[0-9]+$")
        message(FATAL_ERROR "Invalid GPU_ARCHS entry '${arch}' (expected SM numbers such as 53 72 87)")
    endif()
endforeach()
string(REPLACE ";" " " TRT_GPU_ARCHS_STRING "${GPU_ARCHS}")

find_library(TRT_NVINFER_LIB nvinfer PATHS ${TRT_LIB_DIR} NO_DEFAULT_PATH)
if(NOT TRT_NVINFER_LIB)
    find_library(TRT_NVINFER_LIB nvinfer)
endif()
if(NOT TRT_NVINFER_LIB)
    message(FATAL_ERROR "Cannot find libnvinfer in TRT_LIB_DIR=${TRT_LIB_DIR}")
endif()
message(STATUS "Linking against ${TRT_NVINFER_LIB}")

if(BUILD_PLUGINS)
    add_subdirectory(plugin)
endif()
if(BUILD_PARSERS)
    add_subdirectory(parsers)
endif()
if(BUILD_SAMPLES)
    add_subdirectory(samples)
endif()
"""

PLUGIN_CMAKELISTS = r"""# nvinfer_plugin: the creator names of this ref live in plugin_creators.txt.
file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/plugin_creators.txt PLUGIN_CREATORS REGEX "^[A-Za-z0-9_]+$")
set(PLUGIN_NAME_LITERALS "")
foreach(name ${PLUGIN_CREATORS})
    list(APPEND PLUGIN_NAME_LITERALS "\"${name}\"")
endforeach()
list(JOIN PLUGIN_NAME_LITERALS ", " PLUGIN_NAMES_C)
set(GENERATED_DIR ${CMAKE_CURRENT_BINARY_DIR}/generated)
file(WRITE ${GENERATED_DIR}/trtstub_config.h
     "#define TRTSTUB_PLUGIN_NAMES ${PLUGIN_NAMES_C}\n#define TRTSTUB_GPU_ARCHS \"${TRT_GPU_ARCHS_STRING}\"\n")

add_library(nvinfer_plugin SHARED common/trtstub.c common/cubCheck.c)
target_include_directories(nvinfer_plugin PRIVATE ${GENERATED_DIR})
target_compile_definitions(nvinfer_plugin PRIVATE
    TRTSTUB_PLUGIN TRTSTUB_HAVE_CONFIG
    TRTSTUB_MAJOR=${TRT_MAJOR} TRTSTUB_MINOR=${TRT_MINOR} TRTSTUB_PATCH=${TRT_PATCH})
if(TRT_NEED_CUB)
    target_compile_definitions(nvinfer_plugin PRIVATE TRT_NEED_CUB)
endif()
set_target_properties(nvinfer_plugin PROPERTIES
    VERSION ${TRT_VERSION}
    SOVERSION ${TRT_SOVERSION}
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${TRT_OUT_DIR})
target_link_libraries(nvinfer_plugin PRIVATE -Wl,--no-as-needed -Wl,--no-undefined ${TRT_NVINFER_LIB})
"""

CUB_CHECK_C = r"""/* The real plugins include CUB from .cu files; this stand-in includes it the same way. */
#ifdef TRT_NEED_CUB
#include <cub/cub.cuh>
#endif
int trtCubCheck(void)
{
    return 0;
}
"""

PARSERS_CMAKELISTS = r"""# Stand-in for the ONNX parser (nvonnxparser).
add_library(nvonnxparser SHARED onnx_stub.c)
set_target_properties(nvonnxparser PROPERTIES VERSION ${TRT_VERSION} SOVERSION ${TRT_SOVERSION}
    LIBRARY_OUTPUT_DIRECTORY ${TRT_OUT_DIR})
target_link_libraries(nvonnxparser PRIVATE ${TRT_NVINFER_LIB})
"""

PARSERS_C = "int nvonnxparserStandIn(void)\n{\n    return 1;\n}\n"

SAMPLES_CMAKELISTS = r"""# Stand-in for the samples (trtexec only).
add_executable(trtexec trtexec/trtexec.c)
target_link_libraries(trtexec PRIVATE nvinfer_plugin ${TRT_NVINFER_LIB})
set_target_properties(trtexec PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${TRT_OUT_DIR})
"""

TRTEXEC_C = r"""#include <stdio.h>
extern int getInferLibVersion(void);
int main(void)
{
    printf("trtexec (simulated fleet stand-in), TensorRT %d\n", getInferLibVersion());
    return 0;
}
"""

TOOLCHAIN = r"""# Cross-compiling for aarch64 (Jetson) from x86_64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(TRT_PLATFORM_ID "aarch64")
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
"""

README = """# TensorRT Open Source Software (simulated fleet fixture)

Shaped like github.com/NVIDIA/TensorRT for tests: same refs, same NvInferVersion.h version per
ref, same build variables. Nothing here computes anything: `nvinfer_plugin` is a small C
library that carries the plugin creator names of TensorRT @VERSION@ and the GPU_ARCHS it was
configured with.

    git submodule update --init --recursive
    mkdir -p build && cd build
    cmake .. -DTRT_LIB_DIR=$TRT_LIBPATH -DTRT_OUT_DIR=`pwd`/out -DGPU_ARCHS=53
    make nvinfer_plugin
"""

CUB_HEADER = """/* cub.cuh: stand-in for NVlabs CUB 1.8.0 (simulated fleet fixture). */
#ifndef CUB_CUH_STANDIN
#define CUB_CUH_STANDIN 1
#define CUB_VERSION 100800
#endif
"""


def oss_tree(ref: OssRef) -> dict[str, str]:
    """The files (path -> text) that ``ref`` carries, submodule excluded."""
    top = (
        TOP_CMAKELISTS.replace("@DEFAULT_CUDA@", ref.default_cuda)
        .replace("@CUB_RULE@", _ERA_CUB[ref.era])
        .replace("@DEFAULT_ARCHS@", _ERA_ARCHS[ref.era])
    )
    return {
        "README.md": README.replace("@VERSION@", ref.version),
        "CMakeLists.txt": top,
        "include/NvInferVersion.h": version_header(ref.version),
        "plugin/CMakeLists.txt": PLUGIN_CMAKELISTS,
        "plugin/plugin_creators.txt": "\n".join(plugins_for(ref.version)) + "\n",
        "plugin/common/trtstub.c": STUB_SOURCE.read_text(),
        "plugin/common/cubCheck.c": CUB_CHECK_C,
        "parsers/CMakeLists.txt": PARSERS_CMAKELISTS,
        "parsers/onnx_stub.c": PARSERS_C,
        "samples/CMakeLists.txt": SAMPLES_CMAKELISTS,
        "samples/trtexec/trtexec.c": TRTEXEC_C,
        "cmake/toolchains/cmake_aarch64.toolchain": TOOLCHAIN,
        ".gitmodules": (
            '[submodule "third_party/protobuf"]\n\tpath = third_party/protobuf\n'
            "\turl = https://github.com/protocolbuffers/protobuf.git\n\tbranch = 3.20.x\n"
            '[submodule "third_party/cub"]\n\tpath = third_party/cub\n'
            "\turl = ../../NVlabs/cub.git\n\tbranch = 1.8.0\n"
            '[submodule "parsers/onnx"]\n\tpath = parsers/onnx\n'
            "\turl = https://github.com/onnx/onnx-tensorrt.git\n\tbranch = release/10.7-GA\n"
        ),
    }


def _write_tree(work: Path, files: dict[str, str]) -> None:
    for entry in work.iterdir():
        if entry.name == ".git":
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for rel, text in files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _publish(work: Path, bare: Path, head: str) -> Path:
    if bare.exists():
        shutil.rmtree(bare)
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "--quiet", "--bare", "--no-local", str(work), str(bare))
    git("symbolic-ref", "HEAD", f"refs/heads/{head}", cwd=bare)
    git("config", "uploadpack.allowReachableSHA1InWant", "true", cwd=bare)
    git("update-server-info", cwd=bare)  # lets a dumb HTTP server serve it too
    return bare


def make_cub_repo(dest: Path) -> tuple[Path, str]:
    """Bare ``dest/NVlabs/cub.git`` (tag 1.8.0, branch main); returns (path, commit)."""
    with tempfile.TemporaryDirectory(prefix="cub-") as tmp:
        work = Path(tmp)
        git("init", "--quiet", "-b", "main", cwd=work)
        _write_tree(work, {"cub/cub.cuh": CUB_HEADER, "README.md": "CUB 1.8.0 (stand-in)\n"})
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", "CUB 1.8.0 (stand-in)", cwd=work)
        git("tag", "1.8.0", cwd=work)
        commit = git("rev-parse", "HEAD", cwd=work)
        return _publish(work, Path(dest) / "NVlabs" / "cub.git", "main"), commit


def _unstored_commit(name: str) -> str:
    """The id of a commit that exists nowhere (hashed, never written): an unfetchable gitlink."""
    text = f"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor x <x> 0 +0000\ncommitter x <x> 0 +0000\n\n{name}\n"
    with tempfile.TemporaryDirectory(prefix="gitlink-") as tmp:
        git("init", "--quiet", tmp)
        return subprocess.run(["git", "hash-object", "-t", "commit", "--stdin"], cwd=tmp, input=text,
                              capture_output=True, text=True, check=True).stdout.strip()


def make_trt_oss_repo(dest: Path) -> Path:
    """Create bare ``dest/NVIDIA/TensorRT.git`` (+ ``dest/NVlabs/cub.git``); return its path.

    Clone it as the tool does (``BuildSpec.clone_commands`` in provision/capabilities/trt_oss.py).
    """
    dest = Path(dest)
    _, cub_commit = make_cub_repo(dest)
    with tempfile.TemporaryDirectory(prefix="trt-oss-") as tmp:
        work = Path(tmp)
        git("init", "--quiet", "-b", "root", cwd=work)
        (work / "LICENSE").write_text("Fixture repository for tests; no upstream code.\n")
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", "Initial commit", cwd=work)
        root = git("rev-parse", "HEAD", cwd=work)
        last = root
        for ref in OSS_REFS:
            git("checkout", "--quiet", "-B", f"build-{ref.name}", root, cwd=work)
            _write_tree(work, {"LICENSE": "Fixture repository for tests; no upstream code.\n",
                               **oss_tree(ref)})
            git("add", "-A", cwd=work)
            gitlinks = {"third_party/cub": cub_commit,
                        **{path: _unstored_commit(path) for path in UNREACHABLE_SUBMODULES}}
            for path, commit in gitlinks.items():
                git("update-index", "--add", "--cacheinfo", f"160000,{commit},{path}", cwd=work)
            git("commit", "--quiet", "-m", f"TensorRT OSS {ref.version} ({ref.name})", cwd=work)
            last = git("rev-parse", "HEAD", cwd=work)
            if ref.kind == "tag":
                git("tag", ref.name, last, cwd=work)
            else:
                git("branch", "--quiet", "-f", ref.name, last, cwd=work)
        git("branch", "--quiet", "-f", DEFAULT_BRANCH, last, cwd=work)
        git("checkout", "--quiet", DEFAULT_BRANCH, cwd=work)
        for branch in git("for-each-ref", "--format=%(refname:short)", "refs/heads/", cwd=work).split():
            if branch.startswith("build-") or branch == "root":
                git("branch", "--quiet", "-D", branch, cwd=work)
        return _publish(work, dest / "NVIDIA" / "TensorRT.git", DEFAULT_BRANCH)
