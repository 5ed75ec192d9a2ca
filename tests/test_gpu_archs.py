# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""--gpu-archs: SM numbers checked against the compute capabilities in matrix/devices.yml, and
which GPU runs what (NVIDIA's binary compatibility rule)."""

import pytest

from provision.errors import ProvisionError
from provision.gpu.archs import parse_override, runs_on
from provision.matrix import Matrix

KNOWN = Matrix.load().known_sms()


def test_known_sms_come_from_the_matrix():
    assert {"53", "62", "72", "87", "75", "90"} <= KNOWN  # Nano, TX2, Xavier, Orin, T4, H100 rows
    assert all(sm.isdigit() and "." not in sm for sm in KNOWN)


def test_several_archs_each_real_are_accepted_in_any_spelling():
    assert parse_override("75,86", KNOWN) == ("75", "86")
    assert parse_override("8.7 7.2;53", KNOWN) == ("87", "72", "53")


@pytest.mark.parametrize("value", ["999", "75 999", "54", "8.8"])
def test_an_arch_no_known_gpu_has_is_one_line(value):
    with pytest.raises(ProvisionError) as refused:
        parse_override(value, KNOWN)
    message = str(refused.value)
    assert message.startswith("--gpu-archs: ") and "is no compute capability a known GPU has" in message
    assert "\n" not in message and "(matrix/devices.yml: 53, " in message


@pytest.mark.parametrize("value", ["", "sm_75", "7", "75a", "--upload-pack=x"])
def test_what_is_not_an_sm_number_is_refused(value):
    with pytest.raises(ProvisionError, match="--gpu-archs"):
        parse_override(value, KNOWN)


@pytest.mark.parametrize(("arch", "cap", "runs"), [
    ("75", "7.5", True), ("70", "7.5", True), ("72", "7.5", True),  # same major, minor <= the GPU's
    ("86", "8.0", False), ("80", "8.6", True),
    ("75", "8.6", False), ("90", "10.0", False), ("100", "10.3", True), ("121", "12.0", False),
    ("53", "5.3", True), ("62", "5.3", False),
])
def test_a_build_runs_on_the_same_major_and_a_minor_up_to_the_gpus(arch, cap, runs):
    assert runs_on(arch, cap) is runs


def test_the_cli_refuses_an_unknown_arch_with_one_line_and_exit_2():
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, "-m", "invoke", "provision", "--host", "nano01", "--gpu-archs", "999"],
                            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --gpu-archs: 999 is no compute capability a known GPU has")
    assert result.stderr.count("\n") == 1
