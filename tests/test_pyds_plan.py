# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which pyds steps a host gets and with which commands (pure), refusals before anything runs, CLI input errors."""

import subprocess
import sys
from pathlib import Path

import pytest
from captures import h100 as recorded_h100
from packaging.version import Version as V

from provision.core.step import q
from provision.artifacts import ArtifactStore
from provision.errors import ProvisionError
from provision.matrix import Matrix
from provision.options import Flags, Options, PydsOptions
from provision.plan import PlanRefused, make_plan
from provision.pyds.build_spec import PydsBuildSpec, build_style
from provision.capabilities.pyds import PydsNotApplicable, pyds_steps
from provision.pyds.wheel_tags import Interpreter
from provision.runners import LocalRunner
from provision.core.step import StepContext
from provision.capabilities.pyds import BuildPyds, InstallPyds, WheelRefused

ROOT = Path(__file__).resolve().parent.parent


def h100(deepstream: str | None = None, python: bool = True, **sections: str):
    """The recorded H100 capture with a DeepStream version file added, python3 taken away or whole
    sections replaced where a test says so."""
    if deepstream:
        sections["deepstream_version"] = f"Version: {deepstream}\n"
    if not python:
        sections["python3_version"] = ""
    return recorded_h100(**sections)


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(tmp_path)


def test_no_python_no_pyds(store):
    with pytest.raises(PydsNotApplicable, match="no python3 on the host"):
        pyds_steps(h100("6.0.1", python=False), Matrix.load(), PydsOptions(), store)


def test_no_deepstream_no_pyds(store):
    with pytest.raises(PydsNotApplicable, match="no DeepStream on the host"):
        pyds_steps(h100(), Matrix.load(), PydsOptions(), store)


def test_deepstream_6_0_1_builds_v1_1_1_with_cmake_for_the_hosts_python(store):
    planned = pyds_steps(h100("6.0.1"), Matrix.load(), PydsOptions(repo="https://mirror.example/dpa.git"), store)
    build, install = planned.steps
    assert isinstance(build, BuildPyds) and isinstance(install, InstallPyds) and install.build is build
    spec = build.spec
    assert (spec.tag, spec.style, spec.pip_platform, str(spec.python)) == ("v1.1.1", "cmake", "linux_x86_64", "3.12.3")
    clone, configure, make = spec.commands()
    assert f"git clone --recursive --single-branch -b v1.1.1 -- https://mirror.example/dpa.git {q(spec.src)}" in clone
    assert ("-DPYTHON_MAJOR_VERSION=3 -DPYTHON_MINOR_VERSION=12 -DPIP_PLATFORM=linux_x86_64"
            " -DDS_PATH=/opt/nvidia/deepstream/deepstream") in configure
    assert make.startswith("cmake --build ") and spec.wheel_dir.endswith("/bindings/build")
    assert planned.notes == [
        "pyds: WARN: pyds v1.1.1 for DeepStream 6.0.1 targets Python 3.6; this host has 3.12.3;"
        " build it with -DPYTHON_MINOR_VERSION=12 (untested by NVIDIA) or use Python 3.6"
    ]


def test_deepstream_7_1_builds_v1_2_0_with_python_build_offline(store):
    build = pyds_steps(h100("7.1"), Matrix.load(), PydsOptions(), store).steps[0]
    assert build.spec.tag == "v1.2.0" and build.spec.style == "build"
    command = build.spec.commands()[1]
    assert "CMAKE_ARGS='-DDS_PATH=/opt/nvidia/deepstream/deepstream -DPIP_PLATFORM=linux_x86_64'" in command
    assert "python3 -m build --wheel --no-isolation --outdir" in command and build.spec.wheel_dir.endswith("/dist")


def test_key_follows_what_decides_the_bytes():
    spec = PydsBuildSpec("r", "v1.1.1", V("3.6.9"), "linux_aarch64", "6.0.1", "gcc 7.5.0", "2.27", "/b", 2)
    parts = spec.key_parts("abc")
    assert parts["python"] == "3.6" and parts["platform"] == "linux_aarch64" and parts["commit"] == "abc"
    assert "build_dir" not in parts and "jobs" not in parts and "r" not in parts.values()  # where/how fast: not the bytes


def test_build_style_by_tag():
    assert [build_style(t) for t in ("v1.1.0", "v1.1.11", "v1.2.0", "v1.10.0")] == ["cmake", "cmake", "build", "build"]


def test_values_reach_commands_quoted(store):
    options = PydsOptions(repo="https://x/y.git; touch /tmp/pwned", ref="v1.1.1")
    build = pyds_steps(h100("6.0.1"), Matrix.load(), options, store).steps[0]
    assert "'https://x/y.git; touch /tmp/pwned'" in build.spec.commands()[0]


def test_a_given_wheel_for_another_platform_is_refused_at_plan_time(store, tmp_path):
    wheel = tmp_path / "pyds-1.1.1-py3-none-linux_aarch64.whl"
    wheel.write_bytes(b"")
    with pytest.raises(PydsNotApplicable, match="platform linux_aarch64 is not one it runs"):
        pyds_steps(h100(), Matrix.load(), PydsOptions(wheel=str(wheel)), store)
    fits = tmp_path / "pyds-1.1.0-py3-none-linux_x86_64.whl"
    fits.write_bytes(b"")
    (install,) = pyds_steps(h100(), Matrix.load(), PydsOptions(wheel=str(fits)), store).steps
    assert install.wheel == fits  # a given wheel needs no DeepStream version and no build


def test_install_step_refuses_a_misfit_wheel_before_any_command(tmp_path):
    wheel = tmp_path / "pyds-1.1.1-py3-none-linux_x86_64.whl"
    wheel.write_bytes(b"not used: the name decides")
    nano = Interpreter(V("3.6.9"), "aarch64", V("2.27"))
    ran = []
    ctx = StepContext(LocalRunner("nano"), None, log=ran.append)
    with pytest.raises(WheelRefused, match="nano: not installed: .*platform linux_x86_64"):
        InstallPyds(nano, wheel=wheel).check(ctx)
    assert ran == []  # nothing was run on the host


@pytest.mark.parametrize(
    "args, message",
    [
        (["--host", "h", "--wheel", "/nonexistent.whl"], "error: --wheel: /nonexistent.whl is not a file"),
        (["--host", "h", "--pyds-ref", "master"], "error: --pyds-ref: 'master' is not a deepstream_python_apps release tag"),
        ([], "error: give exactly one of --host or --hosts"),
    ],
)
def test_cli_input_errors_are_one_line(args, message):
    result = subprocess.run([sys.executable, "-m", "invoke", "pyds", *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1


def test_cli_rejects_a_wheel_that_is_not_pyds(tmp_path):
    other = tmp_path / "numpy-2.1.0-cp312-cp312-linux_x86_64.whl"
    other.write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", "invoke", "pyds", "--host", "h", "--wheel", str(other)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip() == f"error: --wheel: {other.name} is a numpy wheel, not pyds"


def test_validate_rejects_an_invalid_wheel_name(tmp_path):
    bad = tmp_path / "pyds.whl"
    bad.write_bytes(b"")
    with pytest.raises(ProvisionError, match="--wheel: Invalid wheel filename"):
        Flags.parse({"wheel": str(bad)})


# What-if: DeepStream 7.1 on x86 (DeepStream dGPU setup guide) with CUDA 12.6 in place of the H100's 13.0, so the matrix passes.
DS71_OLD_CMAKE = {"cuda_version_txt": "CUDA Version 12.6.77\n", "nvcc_version": "",
                  "cmake_version": "cmake version 3.10.2\n"}


def test_invoke_pyds_plans_cmake_then_pyds_only():
    plan = make_plan(h100("7.1", **DS71_OLD_CMAKE), Matrix.load(), Options(pyds=PydsOptions(only=True)))
    assert [s.name for s in plan.steps] == ["cmake", "pyds-build", "pyds-install"]  # no TensorRT needed


def test_invoke_pyds_refuses_a_host_without_python():
    with pytest.raises(PlanRefused, match="^localhost: pyds: no python3 on the host"):
        make_plan(h100("7.1", python=False, **DS71_OLD_CMAKE), Matrix.load(), Options(pyds=PydsOptions(only=True)))
