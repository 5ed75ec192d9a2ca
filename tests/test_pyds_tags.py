# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wheel tags a host's python3 accepts, computed from facts (pure): pyds wheels fit or are refused with the reason."""

import platform
from pathlib import Path

import pytest
from packaging import tags
from packaging.version import Version as V

from provision.detect import analyse, read_capture
from provision.pyds.wheel_tags import Interpreter, check_wheel

H100 = Path(__file__).parent / "fixtures" / "recorded" / "h100-ubuntu2404" / "probe-capture.txt"

# A stock Jetson Nano on JetPack 4.6.1: Python 3.6 (matrix/jetpack.yml) on Ubuntu 18.04, whose libc6
# is glibc 2.27 (packages.ubuntu.com/bionic/libc6).
NANO = Interpreter(V("3.6.9"), "aarch64", V("2.27"))
# The names NVIDIA publishes for the v1.1.1 release and the 1.2.0 build (github.com/NVIDIA-AI-IOT/deepstream_python_apps releases).
AARCH64_WHEEL = "pyds-1.1.1-py3-none-linux_aarch64.whl"
X86_WHEEL = "pyds-1.1.1-py3-none-linux_x86_64.whl"


def test_tags_equal_packaging_for_this_controllers_python():
    libc, version = platform.libc_ver()
    if libc != "glibc":
        pytest.skip("needs a glibc controller")
    mine = Interpreter(V(platform.python_version()), platform.machine(), V(version))
    assert mine.tags() == list(tags.sys_tags())


def test_nano_takes_the_aarch64_wheel():
    verdict = check_wheel(AARCH64_WHEEL, NANO)
    assert verdict.ok and str(verdict.tag) == "py3-none-linux_aarch64"
    assert "CPython 3.6 (cp36m) on linux_aarch64, glibc 2.27" in verdict.reason


def test_nano_refuses_the_x86_64_wheel_and_says_why():
    verdict = check_wheel(X86_WHEEL, NANO)
    assert not verdict.ok and verdict.tag is None
    assert verdict.reason == (
        "pyds-1.1.1-py3-none-linux_x86_64.whl does not fit CPython 3.6 (cp36m) on linux_aarch64, glibc 2.27:"
        " py3-none-linux_x86_64: platform linux_x86_64 is not one it runs"
        " (linux_aarch64, manylinux_2_17..2_27_aarch64, any)"
    )


def test_interpreter_from_the_recorded_h100_capture():
    host, text = read_capture(H100)
    interpreter = Interpreter.from_facts(analyse(host, text).facts)
    assert interpreter == Interpreter(V("3.12.3"), "x86_64", V("2.39"))
    assert check_wheel("pyds-1.1.0-py3-none-linux_x86_64.whl", interpreter).ok
    assert check_wheel("numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", interpreter).ok
    assert not check_wheel(AARCH64_WHEEL, interpreter).ok
    cp310 = check_wheel("pyds-1.2.0-cp310-cp310-linux_x86_64.whl", interpreter)
    assert not cp310.ok and cp310.reason.endswith("cp310-cp310-linux_x86_64: ABI cp310 is not cp312, abi3 or none")
    cp313 = check_wheel("pyds-1.2.0-cp313-cp313-linux_x86_64.whl", interpreter)
    assert cp313.reason.endswith("interpreter tag cp313 is for another Python than 3.12")


def test_no_python_no_interpreter():
    host, text = read_capture(H100)
    text = text.replace("==> python3_version <==\nPython 3.12.3\n", "==> python3_version <==\n")
    assert Interpreter.from_facts(analyse(host, text).facts) is None


def test_manylinux_needs_the_glibc_it_names():
    assert check_wheel("x-1-cp36-cp36m-manylinux_2_27_aarch64.whl", NANO).ok
    newer = check_wheel("x-1-cp36-cp36m-manylinux_2_28_aarch64.whl", NANO)
    assert not newer.ok and "platform manylinux_2_28_aarch64 is not one it runs" in newer.reason
    assert check_wheel("x-1-cp36-cp36m-manylinux2014_aarch64.whl", NANO).ok


def test_legacy_manylinux_aliases_per_architecture():
    x86 = Interpreter(V("3.8.10"), "x86_64", V("2.31")).platforms()
    assert {"manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"} <= set(x86)
    assert x86[0] == "linux_x86_64" and x86[1] == "manylinux_2_31_x86_64" and x86[-1] == "manylinux1_x86_64"
    arm = NANO.platforms()
    assert "manylinux2014_aarch64" in arm and not any(p.startswith(("manylinux1", "manylinux2010")) for p in arm)
    assert Interpreter(V("3.8"), "aarch64", None).platforms() == ["linux_aarch64"]  # glibc unknown


def test_abi_flag_before_3_8():
    assert NANO.abi == "cp36m" and Interpreter(V("3.8.10"), "aarch64", V("2.31")).abi == "cp38"
    assert not check_wheel("x-1-cp36-cp36-linux_aarch64.whl", NANO).ok


def test_not_a_wheel_name():
    verdict = check_wheel("pyds-1.1.1.tar.gz", NANO)
    assert not verdict.ok and verdict.reason.startswith("not a wheel file name")
