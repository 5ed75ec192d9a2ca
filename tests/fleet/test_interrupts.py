# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interrupts and failures on real simulated hosts, each ending in one line: Ctrl-C during
`engines` stops after the engine being built; a `deepstream.config` failure is one `error:` line;
a device killed mid-build is reported unreachable, not as a compile error.

Each test gets a fleet of one T4 of its own: the engines test holds the host's trtexec (a wrapper
waits on a file the test removes), the last one kills its device."""

import json
import signal
import subprocess
import sys
import time

import pytest

from simfleet.device import kill_all

from .helpers import ROOT, fleet_env, hosts, on_device
from .test_engines import DINO, ONNX_HEAD, PEOPLENET, T4_FILES, YOLO, put
from .test_faults import STALL_BOUND, StallingMirror
from simfleet.upstreams import build_upstreams

pytestmark = pytest.mark.fleet
HOST = "t4-01"
TRTEXEC = "/usr/src/tensorrt/bin/trtexec"
HOLD = "/tmp/hold-trtexec"


@pytest.fixture
def t4(serve_fleet):
    with serve_fleet("interrupts", f"name: interrupts\ndevices:\n  - {{name: {HOST}, profile: t4}}\n") as handle:
        yield handle


def start(handle, *args: str, inventory=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "invoke", *args, "-i", str(inventory or handle.inventory)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=fleet_env(handle))


def wait_for(what: str, check, bound: float = STALL_BOUND) -> None:
    deadline = time.monotonic() + bound
    while not check():
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.5)


def running(handle, word: str) -> bool:
    listing = on_device(handle, HOST, "for p in /proc/[0-9]*; do [ $p = /proc/$$ ] || "
                                      "{ tr '\\0' ' ' < $p/cmdline; echo; } 2>/dev/null; done").stdout
    return any(word in line and "/proc/" not in line for line in listing.splitlines())


def test_ctrl_c_during_engines_stops_after_the_current_engine(t4):
    for path in (DINO, YOLO, PEOPLENET):
        put(t4, HOST, path, T4_FILES[path].read_bytes())
    for path, source in T4_FILES.items():
        if not hasattr(source, "read_bytes"):
            put(t4, HOST, path, source)
    hold = on_device(t4, HOST, f"mv {TRTEXEC} {TRTEXEC}.real && printf '#!/bin/sh\\nwhile [ -e {HOLD} ]; do sleep 0.2; done\\n"
                               f"exec {TRTEXEC}.real \"$@\"\\n' > {TRTEXEC} && chmod 755 {TRTEXEC} && touch {HOLD}", sudo=True)
    assert hold.returncode == 0, hold.stderr
    run = start(t4, "engines", "--host", HOST, "--config", DINO, "--config", YOLO, "--config", PEOPLENET)
    try:
        wait_for("trtexec on the host", lambda: running(t4, "trtexec --onnx="))
        run.send_signal(signal.SIGINT)
        time.sleep(1)  # the controller takes the cancel while the first engine is still held
        on_device(t4, HOST, f"rm -f {HOLD}", sudo=True)  # the engine being built may finish now
        out, err = run.communicate(timeout=STALL_BOUND)
    finally:
        if run.poll() is None:
            run.kill()
        on_device(t4, HOST, f"rm -f {HOLD}", sudo=True)
    lines = err.strip().splitlines()
    assert run.returncode == 130, out + err
    assert "Traceback" not in err
    assert lines[-1].startswith(f"{HOST}: cancelled after 1 of 3 engine rebuild(s) (1 rebuilt);"), err
    assert lines[-1].endswith("the others keep their old engines; lock released"), err
    records = on_device(t4, HOST, "find /home/ubuntu/ds -name '*.engine.dsprov.json'").stdout.split()
    assert len(records) == 1, records  # one engine rebuilt, the other two never started


def test_a_deepstream_config_failure_is_one_error_line(t4, tmp_path):
    put(t4, HOST, "/home/ubuntu/m/dino.onnx", ONNX_HEAD + b"onnx stand-in\n")
    inventory = t4.inventory_with(tmp_path / "inventory", HOST, json.dumps({"dsprov_tao_apps_repo": "http://127.0.0.1:9/none.git"}))
    coco = tmp_path / "coco.json"
    coco.write_text('{"categories": [{"id": 1, "name": "person"}]}')
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "deepstream.config", "--host", HOST, "--kind", "dino", "--onnx", "/home/ubuntu/m/dino.onnx",
         "--coco", str(coco), "--out", "/home/ubuntu/m/config.txt", "--parser-lib", "/home/ubuntu/m/libparser.so",
         "-i", str(inventory)], cwd=ROOT, capture_output=True, text=True, env=fleet_env(t4), timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower() or "failed" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith(f"error: {HOST}: failed: "), result.stderr
    assert "127.0.0.1:9" in errors[0] and errors[0].endswith(".log)"), errors


def test_a_device_killed_mid_build_is_unreachable_not_a_compile_error(t4, tmp_path):
    mirror = StallingMirror(build_upstreams().root, "/objects/")  # the clone (the build's first part) hangs
    inventory = t4.inventory_with(tmp_path / "inventory", HOST,
                                  f"dsprov_trt_oss_repo: {mirror.url}/git/NVIDIA/TensorRT.git\ndsprov_stall_timeout: 900\n")
    run = start(t4, "provision", "--host", HOST, "--force", "--json", inventory=inventory)
    try:
        assert mirror.stalled.wait(STALL_BOUND), "the build never reached the clone"
        kill_all(t4.pids())  # power off: every process of the device, its sshd included
        out, err = run.communicate(timeout=STALL_BOUND)
    finally:
        if run.poll() is None:
            run.kill()
        mirror.close()
    report = hosts(subprocess.CompletedProcess(run.args, run.returncode, out, err))[0]
    assert run.returncode == 2, out + err
    assert report["result"] == "unreachable", report
    assert "the connection was lost during `" in report["message"], report
    assert err.strip().count("\n") == 0 and err.startswith(f"error: {HOST}: unreachable: "), err
