# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Endless, huge, deep or oddly typed input ends in one line, never a traceback or a MemoryError
(issue 23's "no unbounded read" and "one line, never a traceback" classes), through the real
command line where the input comes from the command line."""

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from provision import input_files
from provision.artifacts import ArtifactStore
from provision.deepstream.labels import coco_labels
from provision.errors import ProvisionError, StepFailed
from provision.runners.local import LocalRunner
from provision.state import State
from provision.core.step import list_command
from provision.capabilities.model_config import parse_models

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = "[x86]\nt4-01 ansible_host=127.0.0.1 ansible_port=9 ansible_user=ubuntu\n"
CONFIG = ("deepstream.config", "--host", "t4-01", "--kind", "yolo", "--onnx", "/m/a.onnx", "--out", "/m/c.txt")


def invoke(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def one_line(result: subprocess.CompletedProcess, starts: str, code: int = 2) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(starts), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command, device", [
    (("detect",), "/dev/zero"), (("matrix.check",), "/dev/urandom"),
])
def test_an_endless_capture_is_refused_at_its_limit(command, device):
    one_line(invoke(*command, "--capture", device), f"error: capture {device} is larger than {input_files.CAPTURE} bytes")


def test_an_endless_coco_file_is_refused_at_its_limit(tmp_path):
    (tmp_path / "hosts.ini").write_text(INVENTORY)
    one_line(invoke(*CONFIG, "--coco", "/dev/zero", "-i", str(tmp_path / "hosts.ini")),
             f"error: COCO annotation /dev/zero is larger than {input_files.COCO} bytes: refused")


@pytest.mark.parametrize("args, says", [
    (("--streams", "²"), "error: --streams: '²' is not a whole number from 1 to 1024"),
    (("--batch-size", "³"), "error: --batch-size: '³' is not a whole number from 1 to 1024"),
    (("--batch-size", "99999999"), "error: --batch-size: '99999999' is not a whole number from 1 to 1024"),
    (("--streams", "٣"), "error: --streams: '٣' is not a whole number"),  # int() would take an Arabic-Indic 3
])
def test_digits_that_int_refuses_are_one_line(tmp_path, args, says):
    (tmp_path / "hosts.ini").write_text(INVENTORY)
    (tmp_path / "coco.json").write_text('{"categories": [{"id": 1, "name": "a"}]}')
    one_line(invoke(*CONFIG, "--coco", str(tmp_path / "coco.json"), *args, "-i", str(tmp_path / "hosts.ini")), says)


def test_unicode_forks_is_one_line():
    """The Ansible actions' `forks` and `-e dsprov_forks` come as strings to Flags.parse (invoke's own
    `--forks` is an int flag: invoke refuses what int() refuses before any task runs)."""
    from provision.options import Flags
    from provision.validators import BadSetting

    for value in ("²", "٣", "1e3", "-1", "99999"):
        with pytest.raises(BadSetting, match=f"^--forks: '{value}' is not a whole number from 1 to 1000$"):
            Flags.parse({"forks": value})
    assert Flags.parse({"forks": "7"}).forks == 7


@pytest.mark.parametrize("host_vars, says", [
    ({"dsprov_stall_timeout": "²"}, "error: t4-01: dsprov_stall_timeout: '²' is not a number of seconds"),
    ({"dsprov_lock_lease": "1e3"}, "error: t4-01: dsprov_lock_lease: '1e3' is not a number of seconds"),
    ({"dsprov_models": [{"kind": "yolo", "onnx": "/m/a.onnx", "coco": "c.json", "config": "/m/c.txt", "batch_size": "³"}]},
     "error: t4-01: dsprov_models[0].batch_size: '³' is not a whole number from 1 to 1024"),
    ({"dsprov_cmake_archives": [{"arch": "x86_64", "version": "3.31.6", "url": "https://m/cmake-3.31.6.tar.gz",
                                 "sha256": "0" * 64, "size": "²"}]},
     "error: t4-01: dsprov_cmake_archives[0].size: '²' is not a whole number"),
    ({"ansible_port": "22; rm -rf /"}, "error: t4-01: ansible_port '22; rm -rf /' is not a port number (1-65535)"),
    ({"ansible_port": 99999}, "error: t4-01: ansible_port '99999' is not a port number (1-65535)"),
])
def test_bad_numbers_in_settings_are_one_line(tmp_path, host_vars, says):
    (tmp_path / "hosts.ini").write_text("[x86]\nt4-01 ansible_host=127.0.0.1 ansible_user=ubuntu\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "t4-01.yml").write_text(json.dumps({"ansible_port": 9, **host_vars}))
    one_line(invoke("provision", "--host", "t4-01", "-i", str(tmp_path / "hosts.ini")), says)


@pytest.mark.parametrize("args, says", [
    (("provision", "--host", "t4-01", "--log-dir", "/dev/null"), "error: cannot write the logs under /dev/null: not a folder"),
    (("capture", "--host", "t4-01", "--out", "/nonexistent/c.txt"), "error: --out /nonexistent/c.txt: no folder /nonexistent"),
])
def test_unwritable_outputs_are_one_line_before_any_host(tmp_path, args, says):
    (tmp_path / "hosts.ini").write_text(INVENTORY)
    one_line(invoke(*args, "-i", str(tmp_path / "hosts.ini")), says)


def test_a_capture_written_to_a_full_disk_is_one_line():
    from provision.commands import write_out

    with pytest.raises(ProvisionError, match=r"^--out /dev/full: cannot write the capture: No space left on device$"):
        write_out("/dev/full", "==> uname_m <==\nx86_64\n" * 1000)


def test_a_special_file_as_inventory_is_one_line(tmp_path):
    one_line(invoke("provision", "--host", "t4-01", "-i", "/dev/zero"), "error: inventory /dev/zero: not a file or folder")
    (tmp_path / "hosts.ini").write_text(INVENTORY)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "x86.yml").symlink_to("/dev/zero")
    one_line(invoke("provision", "--host", "t4-01", "-i", str(tmp_path / "hosts.ini")),
             f"error: inventory {tmp_path}/group_vars/x86.yml: not a file")


def test_deep_and_duplicated_coco(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"categories": ' + "[" * 200_000 + "]" * 200_000 + "}")
    model = {"kind": "yolo", "onnx": "/m/a.onnx", "config": "/m/c.txt"}
    with pytest.raises(ProvisionError, match=r"^dsprov_models\[0\]: COCO annotation .*deep.json: nested too deeply to read$"):
        parse_models([{**model, "coco": str(deep)}])
    many = tmp_path / "many.json"
    many.write_text(json.dumps({"categories": [{"id": 1, "name": f"n{i}"} for i in range(534_000)]}))
    ((_, coco),) = parse_models([{**model, "coco": str(many)}])
    labels = coco_labels(coco, background_first=False)
    assert labels.names == ("n0",)
    assert labels.duplicate_note() == ("duplicate category id 1 is used by 'n0' and 'n1': kept 'n0'"
                                       " (and 533998 more duplicated categories, each id keeps its first name)")


@pytest.mark.parametrize("text, says", [
    ("[]", "the top level is a list"), ('"x"', "the top level is a string"), ("3", "the top level is a number"),
    ('{"plugin": "x"}', "['plugin'] is a string"), ('{"max_clocks": {"previous_mode": "2"}}', "['max_clocks']['previous_mode'] is a string"),
    ("[" * 100_000, "is not valid JSON (nested too deeply)"), ("{", "is not valid JSON"),
])
def test_state_of_the_wrong_type_is_one_line(text, says):
    with pytest.raises(StepFailed) as caught:
        State.parse("nano01", text)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_truncated_meta_json_is_a_cache_miss_and_put_repairs_it(tmp_path):
    store = ArtifactStore(tmp_path)
    source = tmp_path / "lib.so"
    source.write_bytes(b"\x7fELF library")
    path = store.put("k1", "lib.so", source, {"arch": "x86_64"})
    assert store.get("k1", "lib.so") == path
    meta = path.parent / "meta.json"
    for broken in (meta.read_text()[:20], "", "[1, 2]", "{" * 100_000):
        meta.write_text(broken)
        assert store.get("k1", "lib.so") is None
    store.put("k1", "lib.so", source, {"arch": "x86_64"})
    assert store.get("k1", "lib.so") == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["lib.so", "meta.json"]  # no temp file left


def test_build_outputs_in_a_folder_with_a_space_and_a_vanished_one(tmp_path):
    folder = tmp_path / "build dir" / "out"
    folder.mkdir(parents=True)
    (folder / "libnvinfer_plugin.so.8.2.1").write_bytes(b"x")
    runner = LocalRunner()
    listed = runner.run(list_command(str(folder), "libnvinfer_plugin.so.*.*.*")).stdout.splitlines()
    assert listed == [str(folder / "libnvinfer_plugin.so.8.2.1")]
    assert runner.run(list_command(str(tmp_path / "gone"), "*.whl")).stdout == ""
    with pytest.raises(StepFailed, match=r"^localhost: cannot copy .*/gone\.so: No such file or directory$"):
        runner.get(str(tmp_path / "gone.so"), tmp_path / "copy.so")


def test_a_host_file_read_back_is_size_limited():
    with pytest.raises(ProvisionError, match=r"^localhost: /dev/zero is larger than \d+ bytes: refused$"):
        LocalRunner().read_text("/dev/zero")


def test_silent_hosts_give_one_line_each_and_no_paramiko_traceback(tmp_path):
    """Hosts that accept TCP and never speak SSH: each ends in its one line; paramiko's own
    log records (a traceback per host) stay off stderr."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held, stop = [], threading.Event()

    def accept() -> None:
        listener.settimeout(0.5)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    hosts = "".join(f"silent{i:02d} ansible_host=127.0.0.1 ansible_port={port} ansible_user=u\n" for i in range(12))
    (tmp_path / "hosts.ini").write_text("[silent]\n" + hosts)
    try:
        result = invoke("provision", "--hosts", "silent", "--log-dir", str(tmp_path / "logs"),
                        "-i", str(tmp_path / "hosts.ini"), timeout=300)
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "paramiko" not in result.stderr.lower()
    assert len(lines) == 12 and all(line.startswith("error: silent") and ": unreachable: " in line for line in lines), lines
