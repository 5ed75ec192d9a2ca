# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""--max-clocks: the nvpmodel.conf, `nvpmodel -q` and `jetson_clocks --show` parsers on the outputs
published for several modules (simfleet/published/, sources in each SOURCE.md), the choice of
the maximum mode, and the plan's lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from captures import H100, h100
from test_plan import CUDA126, TRT10

from provision.detect import analyse, read_capture
from provision.facts.power import (Clocks, NvpmodelConf, PowerModel, max_mode, parse_clocks_show, parse_conf,
                                   parse_jetson_power, parse_nvpmodel_q)
from provision.matrix import Matrix
from provision.options import Options
from provision.plan import make_plan
from provision.core.step import StepContext
from provision.capabilities.max_clocks import UNIT_PATH, WANTS_LINK, MaxClocks

ROOT = Path(__file__).resolve().parents[1]
PUB = ROOT / "simfleet" / "published"

# Orin Nano 8GB, JetPack 5 (before Super): nvpmodel_p3767_0003.conf's mode headers and PM_CONFIG,
# https://github.com/LineageOS/android_device_nvidia_concord nvpmodel/nvpmodel_p3767_0003.conf
ORIN_NANO_JP5 = "< POWER_MODEL ID=0 NAME=15W >\nCPU_ONLINE CORE_0 1\n\n< POWER_MODEL ID=1 NAME=7W >\n" \
                "CPU_ONLINE CORE_0 1\n\n# mandatory section to configure the default power mode\n< PM_CONFIG DEFAULT=0 >\n"
# Orin Nano 8GB Super, JetPack 6.2: nvpmodel_p3767_0003_super.conf (same repository)
ORIN_NANO_SUPER = "< POWER_MODEL ID=0 NAME=15W >\n< POWER_MODEL ID=1 NAME=25W >\n< POWER_MODEL ID=2 NAME=MAXN_SUPER >\n" \
                  "< PM_CONFIG DEFAULT=1 >\n"
# Orin Nano devkit at 15W: `jetson_clocks --show` through a snap (no NV Power Mode line there),
# https://github.com/canonical/tegra-snap-samples nvpmodel/README.md
ORIN_NANO_SHOW = """SOC family:tegra234  Machine:NVIDIA Jetson Orin Nano Developer Kit
Online CPUs: 0-5
cpu0:  Online=1 Governor=ondemand MinFreq=729600 MaxFreq=1510400 CurrentFreq=960000 IdleStates: WFI=1 c7=1
cpu1:  Online=1 Governor=ondemand MinFreq=729600 MaxFreq=1510400 CurrentFreq=729600 IdleStates: WFI=1 c7=1
GPU MinFreq=306000000 MaxFreq=624750000 CurrentFreq=306000000
Active GPU TPCs: 4
EMC MinFreq=204000000 MaxFreq=2133000000 CurrentFreq=665600000 FreqOverride=0
Failed to retrieve unit state: Access denied
FAN Dynamic Speed Control=kernel hwmon0_pwm1=88
"""


def published(path: str) -> str:
    return (PUB / path).read_text()


@pytest.mark.parametrize("text, expected", [
    (published("nano/nvpmodel_q_5w.txt"), PowerModel(1, "5W")),
    (published("nano/nvpmodel_q_nonroot.txt"), PowerModel(1, "5W")),  # NVPM ERROR lines after it
    (published("orin/nvpmodel_q_maxn.txt"), PowerModel(0, "MAXN")),
    # Orin Nano through a snap (canonical/tegra-snap-samples), Thor (anduril/jetpack-nixos PR 460)
    ("NV Power Mode: 15W\n0\n", PowerModel(0, "15W")),
    ("NVPM VERB: Config file: /etc/nvpmodel.conf\nNVPM VERB: Current mode: NV Power Mode: MAXN_SUPER\n2\n"
     "NVPM VERB: PARAM CPU_ONLINE: ARG CORE_0: PATH /sys/devices/system/cpu/cpu0/online: REAL_VAL: 1 CONF_VAL: 1\n",
     PowerModel(2, "MAXN_SUPER")),  # --verbose: the id stays bare on the next line
    ("NV Power Mode: MAXN_SUPER\n", None),  # no id line: unknown, not guessed
    ("sudo: nvpmodel: command not found\n", None),
])
def test_nvpmodel_q(text, expected):
    assert parse_nvpmodel_q(text) == expected


def test_confs_of_several_modules():
    nano = parse_conf(published("nano/nvpmodel_power_models.txt"))
    assert nano == NvpmodelConf((PowerModel(0, "MAXN"), PowerModel(1, "5W")), None)  # no PM_CONFIG in the quote
    orin = parse_conf(published("orin/nvpmodel_p3701_0000_power_models.txt"))
    assert [str(m) for m in orin.models] == ["MAXN (0)", "MODE_15W (1)", "MODE_30W (2)", "MODE_50W (3)"]
    assert orin.default == 2 and max_mode(orin) == PowerModel(0, "MAXN")
    assert max_mode(nano) == PowerModel(0, "MAXN")
    super_ = parse_conf(ORIN_NANO_SUPER)
    assert super_.default == 1 and max_mode(super_) == PowerModel(2, "MAXN_SUPER")  # not 0: 15W there
    assert parse_conf("< PM_CONFIG DEFAULT=0 >\n") is None
    assert parse_conf("< POWER_MODEL ID=3 NAME=MAXN >\n< PM_CONFIG DEFAULT=MAXN >\n").default == 3  # by name


def test_a_conf_without_maxn_takes_the_largest_power_budget():
    assert max_mode(parse_conf(ORIN_NANO_JP5)) == PowerModel(0, "15W")
    assert max_mode(parse_conf("< POWER_MODEL ID=0 NAME=MODE_10W >\n< POWER_MODEL ID=1 NAME=MODE_40W >\n"
                               "< POWER_MODEL ID=2 NAME=MODE_7.5W >\n")) == PowerModel(1, "MODE_40W")
    assert max_mode(parse_conf("< POWER_MODEL ID=0 NAME=CUSTOM >\n< POWER_MODEL ID=1 NAME=QUIET >\n")) is None


def pinned_show(text: str) -> str:
    """A --show as jetson_clocks leaves it: each minimum at its maximum, EMC overridden."""
    text = re.sub(r"MinFreq=\d+ MaxFreq=(\d+)", r"MinFreq=\1 MaxFreq=\1", text)
    return text.replace("FreqOverride=0", "FreqOverride=1")


def test_clocks_show_of_several_modules():
    nano = published("nano/jetson_clocks_show.txt")
    assert parse_clocks_show(nano) == Clocks(False, ("cpu0", "cpu1", "cpu2", "cpu3", "GPU", "EMC"))
    assert parse_clocks_show(pinned_show(nano)) == Clocks(True, ())
    assert parse_clocks_show(ORIN_NANO_SHOW) == Clocks(False, ("cpu0", "cpu1", "GPU", "EMC"))
    assert parse_clocks_show(pinned_show(ORIN_NANO_SHOW)).pinned
    orin = published("orin/jetson_clocks_show_partial.txt")
    assert parse_clocks_show(orin).loose == ("cpu0", "cpu1", "cpu10", "cpu11", "cpu2")
    # the newer layout: no Online= field, no FreqOverride; an offline CPU does not count
    newer = "cpu0:  Governor=schedutil MinFreq=2201600 MaxFreq=2201600 CurrentFreq=2201600\n" \
            "cpu1: Online=0 Governor=schedutil\nGPU MinFreq=1300500000 MaxFreq=1300500000 CurrentFreq=1300500000\n"
    assert parse_clocks_show(newer) == Clocks(True, ())
    assert parse_clocks_show("Error: Run this script(/usr/bin/jetson_clocks) as a root user\n") is None
    assert parse_clocks_show("not root\n") is None


def power_section(q: str, conf: str, show: str = "not root", unit: tuple[str, ...] = ()) -> str:
    return (f"-- nvpmodel -q\n{q}-- nvpmodel.conf\n{conf}-- jetson_clocks --show\n{show}\n-- boot unit\n"
            + "".join(u + "\n" for u in unit))


def test_the_probe_section():
    power = parse_jetson_power(power_section(published("nano/nvpmodel_q_nonroot.txt"),
                                             published("nano/nvpmodel_power_models.txt")))
    assert power.mode == PowerModel(1, "5W") and power.clocks is None and power.boot_unit == ()
    assert max_mode(power.conf) == PowerModel(0, "MAXN")
    assert parse_jetson_power("") is None  # no nvpmodel: the section is empty
    probe = (ROOT / "provision" / "facts" / "probe.sh").read_text()
    assert UNIT_PATH in probe and WANTS_LINK in probe  # the probe looks where the step writes


NANO = {  # the Nano of simfleet/profiles/nano.yml, as sections of the recorded capture
    "uname_m": "aarch64\n",
    "nv_tegra_release": published("nano/nv_tegra_release.txt"),
    "dt_model": "NVIDIA Jetson Nano Developer Kit\n",
    "dt_compatible": "nvidia,p3450-0000\nnvidia,jetson-nano\nnvidia,tegra210\n",
    "cuda_version_txt": "CUDA Version 10.2.300\n", "nvcc_version": "", "nvidia_smi_query": "",
    "dpkg_nvinfer": "nvidia-l4t-core\t32.7.1-20220219090432\ntensorrt\t8.2.1.8-1+cuda10.2\nlibnvinfer8\t8.2.1-1+cuda10.2\n"
                    "libnvinfer-plugin8\t8.2.1-1+cuda10.2\ndeepstream-6.0\t6.0.1-1\n",
    "deepstream_version": "Version: 6.0.1\n", "gcc_version": "7.5.0\n",
    "nvinfer_plugin": "-rw-r--r-- 1 root root 40000 Feb 19 2022 /usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so.8.2.1\n",
    "device_query": published("nano/device_query.txt"),
}


def nano(power: str | None):
    """The Nano's detection, with this jetson_power section (None: a probe without it)."""
    host, text = read_capture(H100)
    for name, body in NANO.items():
        text, count = re.subn(rf"(==> {name} <==\n)(?:(?!==> ).*\n)*", lambda m: m.group(1) + body, text)
        assert count == 1, name
    return analyse("nano01", text + (f"==> jetson_power <==\n{power}" if power is not None else ""))


def test_the_plan_sets_maxn_first_with_its_commands():
    detection = nano(power_section(published("nano/nvpmodel_q_5w.txt"), published("nano/nvpmodel_power_models.txt")))
    plan = make_plan(detection, Matrix.load(), Options(max_clocks=True))
    assert [s.name for s in plan.steps[:3]] == ["max-clocks", "trt-oss-build", "plugin-swap"]
    lines = plan.lines()
    first = lines.index("  1. [max-clocks] " + plan.steps[0].summary())
    assert lines[first + 1].startswith("       why: --max-clocks")
    assert lines[first + 2:][:6] == [
        "       $ mkdir -p /var/lib/dsprov && rm -f /var/lib/dsprov/l4t_dfs.conf.partial && jetson_clocks --store"
        " /var/lib/dsprov/l4t_dfs.conf.partial </dev/null && mv -f /var/lib/dsprov/l4t_dfs.conf.partial"
        " /var/lib/dsprov/l4t_dfs.conf",
        "       $ nvpmodel -m 0 </dev/null",
        "       $ jetson_clocks",
        "       $ mkdir -p /etc/systemd/system/multi-user.target.wants",
        "       $ (controller) write /etc/systemd/system/dsprov-jetson-clocks.service"
        " (ExecStart=/usr/bin/jetson_clocks, After=nvpmodel.service)",
        "       $ ln -sfn /etc/systemd/system/dsprov-jetson-clocks.service"
        " /etc/systemd/system/multi-user.target.wants/dsprov-jetson-clocks.service"
        " && if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi",
    ]
    assert "power mode MAXN (0)" in plan.steps[0].summary()
    assert not any(n.startswith("max clocks") for n in plan.notes)
    assert make_plan(detection, Matrix.load(), Options()).steps[0].name == "trt-oss-build"  # opt-in


@pytest.mark.parametrize("power, why", [
    (None, "no nvpmodel on the host (a container without L4T's tools?)"),
    (power_section("NV Power Mode: X\n0\n", ""), "/etc/nvpmodel.conf defines no POWER_MODEL"),
    (power_section("NV Power Mode: QUIET\n1\n", "< POWER_MODEL ID=0 NAME=CUSTOM >\n< POWER_MODEL ID=1 NAME=QUIET >\n"),
     "/etc/nvpmodel.conf has no MAXN mode and no mode named by its power budget (modes: CUSTOM (0), QUIET (1))"),
])
def test_a_jetson_it_cannot_apply_to_gets_a_note(power, why):
    plan = make_plan(nano(power), Matrix.load(), Options(max_clocks=True))
    assert f"max clocks: skipped: {why}" in plan.notes and plan.steps[0].name == "trt-oss-build"


def test_x86_says_why_it_is_skipped():
    plan = make_plan(h100(**TRT10, **CUDA126), Matrix.load(), Options(force=True, max_clocks=True))
    assert "max clocks: skipped: not a Jetson (nvpmodel and jetson_clocks are L4T tools)" in plan.notes
    assert "max-clocks" not in [s.name for s in plan.steps]


def test_check_reads_the_facts_and_says_already_done():
    show = pinned_show(published("nano/jetson_clocks_show.txt"))
    detection = nano(power_section("NV Power Mode: MAXN\n0\n", published("nano/nvpmodel_power_models.txt"), show,
                                   (UNIT_PATH, WANTS_LINK)))
    step = make_plan(detection, Matrix.load(), Options(max_clocks=True)).steps[0]
    assert isinstance(step, MaxClocks)
    ctx = StepContext(runner=None, facts=detection.facts)  # the probe ran as root: nothing to ask the host
    assert step.check(ctx) == "power mode MAXN (0), clocks pinned, boot unit enabled"
    loose = nano(power_section("NV Power Mode: MAXN\n0\n", published("nano/nvpmodel_power_models.txt"),
                               published("nano/jetson_clocks_show.txt"), (UNIT_PATH, WANTS_LINK)))
    assert make_plan(loose, Matrix.load(), Options(max_clocks=True)).steps[0].check(
        StepContext(runner=None, facts=loose.facts)) is None  # already MAXN, clocks not pinned: apply runs
