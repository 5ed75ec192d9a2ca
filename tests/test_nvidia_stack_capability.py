# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nvidia_stack capability's pure parts: the checker's gate on the stack to be installed, the
phases' done-tests the step's check uses, and the rollback's list (what it removes, what it keeps)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from packaging.version import Version

from provision.capabilities.nvidia_stack import RemoveStack, _done, checked
from provision.core.plan import PlanRefused
from provision.matrix import Matrix
from provision.nvidia_stack.apt_plan import StackOptions, plan_jetson, plan_stack
from provision.nvidia_stack.facts import NvidiaFacts, parse_pci


@pytest.fixture(scope="module")
def m() -> Matrix:
    return Matrix.load()


def stack(m):
    facts = NvidiaFacts(gpus=parse_pci("0000:00:1e.0 0x10de 0x1eb8 0x030200 0x10de 0x12a2 -"), boot_id="b1")
    return plan_stack(facts, m.nvidia, StackOptions(Version("8.0")), platform="x86", machine="x86_64", ubuntu="24.04")


def test_the_checker_passes_the_matrix_stack_and_refuses_one_it_does_not_support(m):
    planned = stack(m)
    checked(SimpleNamespace(matrix=m, host="h"), planned)  # deepstream.yml agrees with nvidia_stack.yml
    odd = dataclasses.replace(planned, row=dataclasses.replace(planned.row, cuda=Version("12.6")))
    with pytest.raises(PlanRefused, match=r"h: DeepStream 8.0's stack: DeepStream 8.0 needs CUDA 12.8; this host"
                                          r" has 12.6 \(fix: install CUDA 12.8\)"):
        checked(SimpleNamespace(matrix=m, host="h"), odd)


def test_phases_are_done_by_the_packages_and_holds_they_name(m):
    planned = stack(m)
    trt = next(p for p in planned.phases if p.name == "tensorrt")
    hold = next(p for p in planned.phases if p.name == "hold")
    row = planned.row
    installed = dict.fromkeys(row.tensorrt_packages, row.tensorrt)
    assert _done(NvidiaFacts(packages=installed), trt)
    assert not _done(NvidiaFacts(packages=installed | {"libnvinfer10": "10.9.0.34-1+cuda12.9"}), trt)
    assert _done(NvidiaFacts(held=frozenset(row.tensorrt_packages)), hold)
    assert not _done(NvidiaFacts(held=frozenset(row.tensorrt_packages[1:])), hold)


def test_rollback_removes_what_was_installed_and_keeps_the_driver():
    step = RemoveStack({"deepstream": "8.0", "installed": ["cuda-keyring", "nvidia-driver-pinning-570.133.20",
                                                           "nvidia-open-570", "cuda-toolkit-12-8", "libnvinfer10",
                                                           "deepstream-8.0"], "held": ["libnvinfer10"]})
    assert step.describe() == ["apt-mark unhold libnvinfer10",
                               "DEBIAN_FRONTEND=noninteractive apt-get remove -y cuda-toolkit-12-8 libnvinfer10"
                               " deepstream-8.0"]
    assert "the driver and the CUDA repository's keyring are kept" in step.summary()


def test_a_release_without_a_package_set_is_bad_input():
    from provision.options import Flags, check_settings
    from provision.validators import BadSetting

    assert Flags.parse({"deepstream": "8.0", "reboot": True}).deepstream == "8.0"
    assert Flags.parse({"deepstream": "7.1"}).deepstream == "7.1"  # Jetson's
    with pytest.raises(BadSetting, match=r"--deepstream: DeepStream '7.0' has no package set in the matrix"
                                         r" \(known: 7.1, 8.0, 9.1\)"):
        Flags.parse({"deepstream": "7.0"})
    with pytest.raises(BadSetting, match=r"h: dsprov_cuda_repo: 'ftp://mirror/cuda' is not an http\(s\) URL"):
        check_settings({"dsprov_cuda_repo": "ftp://mirror/cuda"}, "h")


def jetson_stack(m):
    return plan_jetson(NvidiaFacts(), m.nvidia, StackOptions(Version("7.1")), l4t=Version("36.4.0"), soc="tegra234",
                       ubuntu="22.04")


def test_on_jetson_the_checker_passes_the_row_and_the_repository_phase_is_done_by_its_lines(m):
    planned = jetson_stack(m)
    checked(SimpleNamespace(matrix=m, host="h"), planned)  # deepstream.yml: 7.1 on JetPack 6.1
    repo = planned.phases[0]
    lines = m.nvidia.l4t_repository.lines("https://repo.download.nvidia.com/jetson/", "36.4", "t234")
    assert repo.name == "l4t-repository" and not _done(NvidiaFacts(), repo)
    assert _done(NvidiaFacts(l4t_sources=lines), repo)
    assert not _done(NvidiaFacts(l4t_sources=lines.replace("t234", "t194")), repo)
    odd = dataclasses.replace(planned, row=dataclasses.replace(planned.row, jetpack=Version("6.0")))
    with pytest.raises(PlanRefused, match=r"h: DeepStream 7.1's stack: .*JetPack 6.0"):
        checked(SimpleNamespace(matrix=m, host="h"), odd)


def test_rollback_on_jetson_keeps_the_l4t_sources_and_says_why():
    step = RemoveStack({"deepstream": "7.1", "platform": "jetson", "installed": ["nvidia-cuda", "cuda-toolkit-12-6"]})
    assert step.describe() == ["DEBIAN_FRONTEND=noninteractive apt-get remove -y nvidia-cuda cuda-toolkit-12-6"]
    assert "the L4T apt repository's sources list and key are kept" in step.summary()
