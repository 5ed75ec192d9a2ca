# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""detect end to end: the probe under dash and busybox sh, captures analysed offline, the CLI's errors."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from provision.detect import analyse, capture, read_capture
from provision.documents import validate
from provision.detect import probe_script
from provision.runners import LocalRunner

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "fixtures" / "recorded"
INVOKE = [sys.executable, "-m", "invoke"]


def test_h100_capture_recorded_on_the_gpu_machine():
    host, text = read_capture(RECORDED / "h100-ubuntu2404" / "probe-capture.txt")
    d = analyse(host, text)
    assert d.facts.platform == "x86" and d.facts.arch == "x86_64"
    assert [(g.name, g.compute_cap, g.source) for g in d.facts.gpus] == [("NVIDIA H100 80GB HBM3", "9.0", "deviceQuery")]
    assert d.gpu_archs.archs == ("90",) and d.gpu_archs.source == "deviceQuery"
    assert d.gpu_archs.notes == ()  # nvidia-smi agrees
    assert str(d.facts.cuda) == "13.0.88" and d.facts.driver == "580.159.04"
    assert d.facts.tensorrt is None and d.facts.jetson is None


def test_no_gpu_capture_says_so():
    text = (RECORDED / "nogpu-debian12" / "probe-output.txt").read_text()
    d = analyse("dev", text)
    assert d.facts.gpus == ()
    assert d.gpu_archs.archs == () and "--gpu-archs" in d.gpu_archs.notes[0]
    assert any("no NVIDIA GPU found" in w for w in d.facts.warnings)
    assert analyse("dev", text, gpu_archs="7.5,86").gpu_archs.archs == ("75", "86")


@pytest.mark.parametrize("shell", [["dash"], ["busybox", "sh"]])
def test_probe_runs_under_posix_shells(shell, tmp_path):
    if not shutil.which(shell[0]):
        pytest.fail(f"{shell[0]} is not installed (.ci/apt-packages.txt installs it)")
    result = subprocess.run([*shell, "-s", "--", str(tmp_path)], input=probe_script(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    d = analyse("here", result.stdout)
    assert d.facts.arch and d.facts.mem_total_kib and d.facts.nproc and d.facts.disk_free_kib
    for section in ("uname_m", "nv_tegra_release", "dpkg_nvinfer", "nvidia_smi_query", "device_query"):
        assert f"==> {section} <==" in result.stdout


def test_capture_through_local_runner_round_trips(tmp_path):
    text = capture(LocalRunner(), str(tmp_path))
    out = tmp_path / "here.capture"
    out.write_text(text)
    host, again = read_capture(out)
    assert host == "localhost" and analyse(host, again).facts.arch == analyse(host, text).facts.arch


def run_invoke(*args, cwd=ROOT):
    return subprocess.run([*INVOKE, *args], cwd=cwd, capture_output=True, text=True)


def document(result: subprocess.CompletedProcess) -> dict:
    """A --json run's document, checked against its command's schema."""
    doc = json.loads(result.stdout)
    validate(doc)
    return doc


def test_cli_detect_json_from_capture():
    result = run_invoke("detect", "--capture", str(RECORDED / "h100-ubuntu2404" / "probe-capture.txt"), "--json")
    assert result.returncode == 0, result.stderr
    data = document(result)
    assert data["gpu_archs"]["archs"] == ["90"] and data["facts"]["gpus"][0]["compute_cap"] == "9.0"


def test_cli_what_if_fails_with_reason():
    result = run_invoke("matrix.check", "--jetpack", "4.6.1", "--deepstream", "6.3", "--json")
    assert result.returncode == 1
    data = document(result)
    failed = [v for v in data["verdicts"] if v["status"] == "FAIL"]
    assert failed and "5.1.2" in failed[0]["reason"] and data["matrix"] == "FAIL"
    assert data["subject"] == {"what_if": {"platform": "jetson", "jetpack": "4.6.1", "deepstream": "6.3"}}
    ok = run_invoke("matrix.check", "--jetpack", "4.6.1", "--deepstream", "6.0.1", "--json")
    assert ok.returncode == 0, ok.stdout
    assert document(ok)["matrix"] in ("OK", "WARN")


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--jetpack", "7.0", "--deepstream", "8.0"),
         {"jetpack": "OK", "deepstream.jetpack": "OK", "tensorrt.oss": "OK", "deepstream.sources": "WARN"}),
        (("--jetpack", "6.2", "--deepstream", "7.1"),
         {"jetpack": "OK", "deepstream.jetpack": "WARN", "tensorrt.oss": "OK", "tensorrt.oss.guide": "OK"}),
        (("--tensorrt", "11.1", "--platform", "x86"), {"tensorrt.oss": "OK"}),
    ],
)
def test_cli_what_if_2026_stack_has_sourced_verdicts(args, expected):
    """Issue 10's done-when: verdicts from sourced rows, none saying 'not in the matrix'."""
    result = run_invoke("matrix.check", *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = {v["rule"]: v for v in document(result)["verdicts"]}
    assert {rule: verdicts[rule]["status"] for rule in expected} == expected
    assert not any("not in the matrix" in v["reason"] or "unknown" in v["reason"] for v in verdicts.values())
    if "--tensorrt" in args:
        assert "release/11.1" in verdicts["tensorrt.oss"]["reason"] and "cmake >= 3.31" in verdicts["tensorrt.oss"]["reason"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("detect", "--host", "no-such-host"), "error: host 'no-such-host' is not in"),
        (("detect", "--capture", "/nonexistent/file"), "error: cannot read capture /nonexistent/file"),
        (("detect",), "error: give exactly one of --host or --capture"),
        (("matrix.check", "--jetpack", "four"), "error: --jetpack: 'four' is not a version"),
        (("provision", "--host", "localhost", "--plugin-source", "binary"),
         "error: --plugin-source: 'binary' is not one of auto, prebuilt, build"),
        (("detect", "--host", "nano01", "-i", "/nonexistent"), "error: inventory /nonexistent does not exist"),
    ],
)
def test_cli_errors_are_one_line(args, message):
    result = run_invoke(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]
    assert result.stderr.startswith(message), result.stderr


def test_cli_unreachable_host_is_one_line(tmp_path):
    inventory = tmp_path / "hosts.ini"
    # port 9 on loopback: nothing listens, the connection is refused at once
    inventory.write_text("gone ansible_host=127.0.0.1 ansible_port=9 ansible_user=nobody\n")
    result = run_invoke("detect", "--host", "gone", "-i", str(inventory))
    assert result.returncode == 2
    assert result.stderr.startswith("error: gone: cannot reach nobody@127.0.0.1:9")
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_bad_flag_fails():
    result = run_invoke("detect", "--no-such-flag")
    assert result.returncode != 0 and "no-such-flag" in result.stderr
