# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""How pyds is built for a host (pure): the commands and what decides the wheel's bytes.

deepstream_python_apps `bindings/` (github.com/NVIDIA-AI-IOT/deepstream_python_apps, bindings/README.md per tag): up to 1.1.x, `cmake ..
-DPYTHON_MAJOR_VERSION=3 -DPYTHON_MINOR_VERSION=<m> -DPIP_PLATFORM=<linux_aarch64|linux_x86_64>
-DDS_PATH=<deepstream>` then make, which writes `pyds-<ver>-py3-none-<PIP_PLATFORM>.whl` into the
build folder; from 1.2, `python3 -m build` with the cmake options in CMAKE_ARGS, writing
`pyds-<ver>-cp3X-cp3X-<platform>.whl` into dist/. `--no-isolation` keeps 1.2 offline: an isolated
build would download its build requirements.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from provision.core.step import q

PIP_PLATFORMS = {"aarch64": "linux_aarch64", "x86_64": "linux_x86_64"}
DS_PATH = "/opt/nvidia/deepstream/deepstream"
FIRST_PEP517 = Version("1.2")


def build_style(tag: str) -> str:
    """"cmake" (cmake + make, up to 1.1.x) or "build" (python3 -m build, 1.2 and later)."""
    return "build" if Version(tag.lstrip("v")) >= FIRST_PEP517 else "cmake"


@dataclass(frozen=True)
class PydsBuildSpec:
    """Everything that decides the wheel's bytes, and where it is built on the host."""

    repo: str
    tag: str  # deepstream_python_apps tag, e.g. v1.1.1
    python: Version  # the host's python3
    pip_platform: str
    deepstream: str
    compiler: str  # e.g. "gcc 12.2.0"
    glibc: str
    build_dir: str
    jobs: int
    ds_path: str = DS_PATH

    @property
    def style(self) -> str:
        return build_style(self.tag)

    @property
    def src(self) -> str:
        return f"{self.build_dir}/deepstream_python_apps-{self.tag}"

    @property
    def wheel_dir(self) -> str:
        """Where the build leaves the wheel."""
        return f"{self.src}/bindings/" + ("build" if self.style == "cmake" else "dist")

    def key_parts(self, commit: str) -> dict[str, str]:
        return {
            "artifact": "pyds-wheel",
            "tag": self.tag,
            "commit": commit,
            "style": self.style,
            "python": f"{self.python.major}.{self.python.minor}",
            "platform": self.pip_platform,
            "deepstream": self.deepstream,
            "ds_path": self.ds_path,
            "compiler": self.compiler,
            "glibc": self.glibc,
        }

    def commands(self) -> list[str]:
        src, bindings = q(self.src), q(self.src + "/bindings")
        clone = f"rm -rf {src} && git clone --recursive --single-branch -b {q(self.tag)} -- {q(self.repo)} {src}"
        if self.style == "cmake":
            build = q(self.src + "/bindings/build")
            return [
                clone,
                (
                    f"cmake -S {bindings} -B {build} -DPYTHON_MAJOR_VERSION={self.python.major}"
                    f" -DPYTHON_MINOR_VERSION={self.python.minor} -DPIP_PLATFORM={q(self.pip_platform)}"
                    f" -DDS_PATH={q(self.ds_path)}"
                ),
                f"cmake --build {build} -- -j{self.jobs}",
            ]
        cmake_args = f"-DDS_PATH={self.ds_path} -DPIP_PLATFORM={self.pip_platform}"
        return [
            clone,
            (
                f"cd {bindings} && CMAKE_ARGS={q(cmake_args)} CMAKE_BUILD_PARALLEL_LEVEL={self.jobs}"
                f" python3 -m build --wheel --no-isolation --outdir {q(self.wheel_dir)} ."
            ),
        ]
