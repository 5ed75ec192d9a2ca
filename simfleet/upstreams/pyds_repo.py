# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A deepstream_python_apps-shaped git repository (NVIDIA-AI-IOT) for the simulated fleet.

``make_pyds_repo(dest)`` writes bare ``dest/NVIDIA-AI-IOT/deepstream_python_apps.git`` with the
release tags of github.com/NVIDIA-AI-IOT/deepstream_python_apps (v1.1.0 ... v1.2.2). ``bindings/`` is a CMake project with the real options
(PYTHON_MAJOR_VERSION, PYTHON_MINOR_VERSION, PIP_PLATFORM, DS_PATH):

* 1.1.x: ``cmake .. -D...; make`` writes ``pyds-<ver>-py3-none-<PIP_PLATFORM>.whl`` into the
  build folder (upstream runs ``setup.py bdist_wheel --plat-name``; here a stdlib-only script,
  ``bindings/packaging/make_wheel.py``, writes the zip with METADATA/WHEEL/RECORD, so the
  device needs python3 but no setuptools/wheel). The configure step fails clearly when DS_PATH
  is missing or no ``python<M>.<m>``/``python3`` of that version is on PATH.
* 1.2.0: ``cd bindings; CMAKE_ARGS="..." python3 -m build`` (or ``pip wheel .``) through an
  in-tree PEP 517 backend (``backend-path``, no build requirements, so it works offline) that
  runs the same CMake project and writes ``pyds-1.2.0-cp3X-cp3X-<platform>.whl``. Upstream
  1.2.0 uses its own pyproject with real build requirements; this one only has the shape.

The wheel holds ``pyds/__init__.py`` (a pure-Python stand-in with ``__version__``, importable)
and ``pyds/_native_standin.so``, a tiny C library compiled for the build machine's architecture.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from .trt_oss import _publish, _write_tree, git


@dataclass(frozen=True)
class PydsTag:
    """A release tag, its pyds version and the DeepStream/Python minor it targets (that repository's bindings/README.md per tag)."""

    tag: str
    version: str
    deepstream: str
    default_python_minor: int


PYDS_TAGS: tuple[PydsTag, ...] = (
    PydsTag("v1.1.0", "1.1.0", "6.0", 6),
    PydsTag("v1.1.1", "1.1.1", "6.0.1", 6),
    PydsTag("v1.1.4", "1.1.4", "6.1.1", 8),
    PydsTag("v1.1.6", "1.1.6", "6.2", 8),
    PydsTag("v1.1.8", "1.1.8", "6.3", 8),
    PydsTag("v1.1.10", "1.1.10", "6.4", 10),
    PydsTag("v1.1.11", "1.1.11", "7.0", 10),
    PydsTag("v1.2.0", "1.2.0", "7.1", 10),
    # DeepStream 8.0's (matrix/deepstream.yml: jetson-containers builds v1.2.2 for 8.0; Ubuntu 24.04's
    # Python 3.12). Same 1.2 layout as v1.2.0 here: its own bindings were not read.
    PydsTag("v1.2.2", "1.2.2", "8.0", 12),
)

BINDINGS_CMAKELISTS = r"""# DeepStream Python bindings (simulated fleet fixture): builds a stand-in pyds wheel.
cmake_minimum_required(VERSION 3.12)
project(pyds LANGUAGES C)
set(PYDS_VERSION @VERSION@)

if(NOT DEFINED PYTHON_MAJOR_VERSION)
    set(PYTHON_MAJOR_VERSION 3)
endif()
if(NOT DEFINED PYTHON_MINOR_VERSION)
    set(PYTHON_MINOR_VERSION @DEFAULT_MINOR@)
endif()
if(NOT DEFINED PIP_PLATFORM)
    set(PIP_PLATFORM linux_x86_64)
endif()
if(NOT DEFINED DS_PATH)
    set(DS_PATH /opt/nvidia/deepstream/deepstream)
endif()
if(NOT PIP_PLATFORM MATCHES "^[A-Za-z0-9_]+$")
    message(FATAL_ERROR "Invalid PIP_PLATFORM '${PIP_PLATFORM}' (e.g. linux_aarch64, linux_x86_64)")
endif()
message(STATUS "Using python ${PYTHON_MAJOR_VERSION}.${PYTHON_MINOR_VERSION}")
message(STATUS "Using PIP_PLATFORM=${PIP_PLATFORM}")
message(STATUS "Using DS_PATH=${DS_PATH}")
if(NOT EXISTS "${DS_PATH}")
    message(FATAL_ERROR "DS_PATH ${DS_PATH} does not exist: install DeepStream or pass -DDS_PATH=<deepstream folder>")
endif()

set(PY_VERSION "${PYTHON_MAJOR_VERSION}.${PYTHON_MINOR_VERSION}")
find_program(PYDS_PYTHON NAMES python${PY_VERSION} python${PYTHON_MAJOR_VERSION})
if(NOT PYDS_PYTHON)
    message(FATAL_ERROR "python${PY_VERSION} not found: building the pyds wheel needs python3 on this host (apt-get install python3)")
endif()
execute_process(COMMAND ${PYDS_PYTHON} -c "import sys; print('%d.%d' % sys.version_info[:2])"
                OUTPUT_VARIABLE PYDS_PYTHON_FOUND OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE PYDS_PY_RC)
if(NOT PYDS_PY_RC EQUAL 0 OR NOT PYDS_PYTHON_FOUND STREQUAL PY_VERSION)
    message(FATAL_ERROR "python${PY_VERSION} not found (${PYDS_PYTHON} is python ${PYDS_PYTHON_FOUND}): pass the host's -DPYTHON_MINOR_VERSION")
endif()
message(STATUS "Found ${PYDS_PYTHON} (python ${PYDS_PYTHON_FOUND})")

if(NOT DEFINED PYDS_WHEEL_TAG)
    set(PYDS_WHEEL_TAG "py3-none-${PIP_PLATFORM}")
endif()
if(NOT DEFINED PYDS_WHEEL_DIR)
    set(PYDS_WHEEL_DIR ${CMAKE_BINARY_DIR})
endif()
set(PYDS_WHEEL ${PYDS_WHEEL_DIR}/pyds-${PYDS_VERSION}-${PYDS_WHEEL_TAG}.whl)

add_library(pyds_native SHARED src/pyds_native.c)
set_target_properties(pyds_native PROPERTIES OUTPUT_NAME _native_standin PREFIX "")
add_custom_command(OUTPUT ${PYDS_WHEEL}
    COMMAND ${PYDS_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/packaging/make_wheel.py
            --version ${PYDS_VERSION} --tag ${PYDS_WHEEL_TAG} --out ${PYDS_WHEEL_DIR}
            --package ${CMAKE_CURRENT_SOURCE_DIR}/src/pyds --native $<TARGET_FILE:pyds_native>
    DEPENDS pyds_native ${CMAKE_CURRENT_SOURCE_DIR}/packaging/make_wheel.py
            ${CMAKE_CURRENT_SOURCE_DIR}/src/pyds/__init__.py
    COMMENT "Writing pyds-${PYDS_VERSION}-${PYDS_WHEEL_TAG}.whl")
add_custom_target(pyds_wheel ALL DEPENDS ${PYDS_WHEEL})
"""

NATIVE_C = r"""/* Marks the architecture the pyds wheel was built for (simulated fleet stand-in). */
const char pyds_native_standin[] = "pyds stand-in native part";
int pydsNativeStandIn(void)
{
    return 1;
}
"""

PYDS_INIT = '''"""pyds stand-in (simulated fleet fixture), NOT NVIDIA's DeepStream Python bindings.

A pure-Python module so that an installed wheel imports and reports its version; it binds
nothing. Built from the fixture deepstream_python_apps repository, DeepStream @DS@.
"""

__version__ = "@VERSION@"
'''

MAKE_WHEEL = r'''#!/usr/bin/env python3
"""Write a wheel (zip with METADATA, WHEEL, RECORD) with the standard library only.

Stand-in for `setup.py bdist_wheel --plat-name`: works on python3.6+ with no setuptools/wheel.
usage: make_wheel.py --version V --tag py3-none-linux_aarch64 --out DIR --package DIR [--native SO]
"""
import argparse
import base64
import hashlib
import os
import sys
import zipfile


def record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="pyds")
    ap.add_argument("--version", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--package", required=True)
    ap.add_argument("--native")
    args = ap.parse_args(argv)
    if len(args.tag.split("-")) != 3:
        ap.error("--tag must be python-abi-platform, e.g. py3-none-linux_aarch64")
    files = []
    for root, dirs, names in os.walk(args.package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, os.path.dirname(args.package)).replace(os.sep, "/")
            with open(path, "rb") as f:
                files.append((rel, f.read()))
    if args.native:
        with open(args.native, "rb") as f:
            files.append((args.name + "/_native_standin.so", f.read()))
    dist_info = "%s-%s.dist-info" % (args.name, args.version)
    metadata = (
        "Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
        "Summary: DeepStream Python bindings (simulated fleet stand-in)\n"
        "Requires-Python: >=3.6\n" % (args.name, args.version)
    )
    wheel = (
        "Wheel-Version: 1.0\nGenerator: make_wheel.py (simulated fleet)\n"
        "Root-Is-Purelib: false\nTag: %s\n" % args.tag
    )
    files.append((dist_info + "/METADATA", metadata.encode()))
    files.append((dist_info + "/WHEEL", wheel.encode()))
    record = "".join("%s,%s,%d\n" % (rel, record_hash(data), len(data)) for rel, data in files)
    record += dist_info + "/RECORD,,\n"
    files.append((dist_info + "/RECORD", record.encode()))
    if not os.path.isdir(args.out):
        os.makedirs(args.out)
    target = os.path.join(args.out, "%s-%s-%s.whl" % (args.name, args.version, args.tag))
    tmp = target + ".part"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files:
            info = zipfile.ZipInfo(rel, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if rel.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    os.replace(tmp, target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

PYPROJECT = """[build-system]
requires = []
build-backend = "pyds_build_backend"
backend-path = ["."]

[project]
name = "pyds"
version = "@VERSION@"
description = "DeepStream Python bindings (simulated fleet stand-in)"
requires-python = ">=3.6"
"""

BACKEND = r'''"""In-tree PEP 517 backend for the pyds stand-in: runs the bindings CMake project.

CMAKE_ARGS (environment, shell-split) is passed to cmake as upstream 1.2.0 documents. The wheel
tag is cp<XY>-cp<XY>-<platform> of the running interpreter; -DPIP_PLATFORM=... overrides the
platform. Needs cmake >= 3.12 on PATH; no network, no build requirements.
"""
import os
import shlex
import subprocess
import sys
import sysconfig
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = "@VERSION@"


def _platform(cmake_args):
    for arg in cmake_args:
        if arg.startswith("-DPIP_PLATFORM="):
            return arg.split("=", 1)[1]
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    cmake_args = shlex.split(os.environ.get("CMAKE_ARGS", ""))
    py = "cp%d%d" % sys.version_info[:2]
    tag = "%s-%s-%s" % (py, py, _platform(cmake_args))
    wheel_directory = os.path.abspath(wheel_directory)
    with tempfile.TemporaryDirectory(prefix="pyds-build-") as build:
        subprocess.check_call(
            ["cmake", "-S", HERE, "-B", build,
             "-DPYTHON_MAJOR_VERSION=%d" % sys.version_info[0],
             "-DPYTHON_MINOR_VERSION=%d" % sys.version_info[1],
             "-DPYDS_PYTHON=" + sys.executable,
             "-DPYDS_WHEEL_TAG=" + tag, "-DPYDS_WHEEL_DIR=" + wheel_directory] + cmake_args)
        subprocess.check_call(["cmake", "--build", build])
    return "pyds-%s-%s.whl" % (VERSION, tag)


def build_sdist(sdist_directory, config_settings=None):
    name = "pyds-%s" % VERSION
    target = os.path.join(sdist_directory, name + ".tar.gz")
    pkg_info = "Metadata-Version: 2.1\nName: pyds\nVersion: %s\n" % VERSION
    with tarfile.open(target, "w:gz") as tar:
        for root, dirs, names in os.walk(HERE):
            dirs[:] = sorted(d for d in dirs if d not in ("build", "dist", "__pycache__"))
            for n in sorted(names):
                path = os.path.join(root, n)
                tar.add(path, arcname=os.path.join(name, os.path.relpath(path, HERE)))
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(pkg_info)
        tar.add(f.name, arcname=name + "/PKG-INFO")
        os.unlink(f.name)
    return name + ".tar.gz"
'''

README = """# DeepStream Python Apps (simulated fleet fixture)

Shaped like github.com/NVIDIA-AI-IOT/deepstream_python_apps @TAG@ (DeepStream @DS@).

    cd bindings && mkdir build && cd build
    cmake .. -DPYTHON_MAJOR_VERSION=3 -DPYTHON_MINOR_VERSION=@MINOR@ \\
        -DPIP_PLATFORM=linux_aarch64 -DDS_PATH=/opt/nvidia/deepstream/deepstream/
    make
"""

README_120 = """# DeepStream Python Apps (simulated fleet fixture)

Shaped like github.com/NVIDIA-AI-IOT/deepstream_python_apps @TAG@ (DeepStream @DS@).

    cd bindings
    export CMAKE_ARGS="-DDS_PATH=/opt/nvidia/deepstream/deepstream/"
    python3 -m build          # or: python3 -m pip wheel --no-deps -w dist .
"""


def pyds_tree(tag: PydsTag) -> dict[str, str]:
    """The files (path -> text) of the fixture repo at ``tag``."""
    def sub(text: str) -> str:
        return (text.replace("@VERSION@", tag.version).replace("@TAG@", tag.tag)
                .replace("@DS@", tag.deepstream).replace("@MINOR@", str(tag.default_python_minor))
                .replace("@DEFAULT_MINOR@", str(tag.default_python_minor)))

    files = {
        "bindings/CMakeLists.txt": sub(BINDINGS_CMAKELISTS),
        "bindings/src/pyds_native.c": NATIVE_C,
        "bindings/src/pyds/__init__.py": sub(PYDS_INIT),
        "bindings/packaging/make_wheel.py": MAKE_WHEEL,
    }
    if tuple(int(p) for p in tag.version.split(".")) >= (1, 2, 0):
        files["README.md"] = sub(README_120)
        files["bindings/pyproject.toml"] = sub(PYPROJECT)
        files["bindings/pyds_build_backend.py"] = sub(BACKEND)
    else:
        files["README.md"] = sub(README)
    return files


def make_pyds_repo(dest: Path) -> Path:
    """Create bare ``dest/NVIDIA-AI-IOT/deepstream_python_apps.git``; return its path."""
    with tempfile.TemporaryDirectory(prefix="pyds-") as tmp:
        work = Path(tmp)
        git("init", "--quiet", "-b", "master", cwd=work)
        for tag in PYDS_TAGS:  # linear history, one commit per release, oldest first
            _write_tree(work, pyds_tree(tag))
            (work / "bindings/packaging/make_wheel.py").chmod(0o755)
            git("add", "-A", cwd=work)
            git("commit", "--quiet", "-m", f"DeepStream {tag.deepstream} bindings ({tag.tag})",
                cwd=work)
            git("tag", tag.tag, cwd=work)
        return _publish(work, Path(dest) / "NVIDIA-AI-IOT" / "deepstream_python_apps.git", "master")
