# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input ends in one line on stderr and exit code 2, before any host is contacted."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from provision.deepstream.labels import coco_labels
from provision.deepstream.onnx_file import onnx_problem
from provision.documents import validate
from provision.errors import ProvisionError
from provision.exit_codes import fleet_exit

ROOT = Path(__file__).resolve().parents[1]
# A host nobody listens for: any attempt to reach it would fail differently (and slowly).
INVENTORY = "[x86]\nt4-01 ansible_host=127.0.0.1 ansible_port=9 ansible_user=ubuntu\n"


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def one_line(result: subprocess.CompletedProcess, starts: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(starts), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name, data, says", [
    ("hosts.ini", b"[nano\nnano01 ansible_host=1.2.3.4\n", "Failed to parse inventory"),
    ("hosts.yml", b"all:\n  hosts:\n    a: {x: [}\n", ":3: YAML parsing failed"),
    ("hosts.ini", bytes(range(256)) * 4, "not a text file (a NUL byte at offset 0)"),
    ("hosts.ini", "[x86]\nt4-01 ansible_host=\xe9t\xe9\n".encode("latin-1"), ":2: not UTF-8 text (byte 0xe9)"),
    ("hosts.ini", b"", "empty (no hosts)"),
    ("hosts.ini", b"# only a comment\n\n", "empty (no hosts)"),
])
def test_broken_inventory_is_one_line_naming_the_file(tmp_path, name, data, says):
    path = tmp_path / name
    path.write_bytes(data)
    commands = ("provision", "detect", "rollback") if data == b"" else ("provision",)
    for command in commands:
        result = invoke(command, "--host", "t4-01", "-i", str(path))
        one_line(result, f"error: inventory {path}")
        assert says in result.stderr


def test_broken_group_vars_is_one_line(tmp_path):
    (tmp_path / "hosts.ini").write_text(INVENTORY)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "x86.yml").write_text("dsprov_build_dir: [\n")
    result = invoke("provision", "--host", "t4-01", "-i", str(tmp_path))
    one_line(result, f"error: inventory {tmp_path}: t4-01: ")


@pytest.mark.parametrize("data, says", [
    (bytes(range(128, 256)) * 8, "is not a probe capture (not UTF-8 text: byte 0x80 at offset 0)"),
    (b"==> uname_m <==\nx86_64\0\n", "is not a probe capture (a NUL byte at offset"),
    (b"", "is not a probe capture (no '==> uname_m <==' section)"),
])
def test_broken_capture_is_one_line(tmp_path, data, says):
    path = tmp_path / "capture.txt"
    path.write_bytes(data)
    for command in (("detect",), ("matrix.check",)):
        result = invoke(*command, "--capture", str(path))
        one_line(result, f"error: {path} {says}")


@pytest.mark.parametrize("args, says", [
    (("engines", "--host", "t4-01", "--config", "/opt/a\n/opt/b.txt"), "error: --config: control character '\\n'"),
    (("engines", "--host", "t4-01", "--config", "relative.txt"), "error: --config: 'relative.txt' is not an absolute path"),
    (("engines", "--host", "t4-01", "--root", "--help"), "error: --root: '--help' starts with '-'"),
    (("provision", "--host", "t4-01", "--trt-oss-ref", "--upload-pack=touch /tmp/pwned"),
     "error: --trt-oss-ref: '--upload-pack=touch /tmp/pwned' starts with '-'"),
    (("provision", "--host", "t4-01", "--trt-oss-ref", "release/8.2\n==> df_build <=="), "error: --trt-oss-ref: control character"),
    (("pyds", "--host", "t4-01", "--pyds-ref", "-v1.1.1"), "error: --pyds-ref: '-v1.1.1' starts with '-'"),
    (("deepstream.config", "--host", "t4-01", "--kind", "dino", "--onnx", "/m/a.onnx\n", "--coco", "c.json", "--out", "/m/c.txt"),
     "error: --onnx: control character"),
    (("deepstream.config", "--host", "t4-01", "--kind", "dino", "--onnx", "/m/a.onnx", "--coco", "c.json", "--out", "/m/c.txt",
      "--batch-size", "many"), "error: --batch-size: 'many' is not a whole number from 1 to 1024"),
    (("deepstream.config", "--host", "t4-01", "--kind", "yolo", "--onnx", "/m/a.onnx", "--coco", "c.json", "--out", "/m/c.txt",
      "--streams", "0"), "error: --streams: '0' is not a whole number from 1 to 1024"),
    (("deepstream.config", "--host", "t4-01", "--kind", "yolo", "--onnx", "/m/a.onnx", "--coco", "c.json", "--out", "/m/c.txt",
      "--streams", "4", "--batch-size", "2"), "error: --streams 4 and --batch-size 2 differ: give one"),
    (("deepstream.config", "--host", "t4-01", "--kind", "yolo", "--onnx", "/m/a.onnx", "--coco", "c.json", "--out", "/m/c.txt",
      "--parser", "gpu"), "error: --parser: 'gpu' is not one of cpu, cuda"),
])
def test_hostile_flags_end_before_any_host_is_contacted(tmp_path, args, says):
    (tmp_path / "hosts.ini").write_text(INVENTORY)
    one_line(invoke(*args, "-i", str(tmp_path / "hosts.ini")), says)


def test_hostile_setting_ends_a_fleet_run_before_any_host_is_contacted(tmp_path):
    (tmp_path / "hosts.ini").write_text(INVENTORY + "t4-02 ansible_host=127.0.0.1 ansible_port=9\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "t4-02.yml").write_text(json.dumps({"dsprov_trt_oss_repo": "--upload-pack=touch /tmp/pwned"}))
    result = invoke("provision", "--hosts", "x86", "-i", str(tmp_path / "hosts.ini"))
    one_line(result, "error: t4-02: dsprov_trt_oss_repo: '--upload-pack=touch /tmp/pwned' starts with '-'")


def test_unreachable_single_host_is_exit_2_with_its_line(tmp_path):
    (tmp_path / "hosts.ini").write_text(INVENTORY)
    result = invoke("provision", "--host", "t4-01", "-i", str(tmp_path / "hosts.ini"), "--json")
    printed = json.loads(result.stdout)
    validate(printed)
    assert result.returncode == 2 and [h["result"] for h in printed["hosts"]] == ["unreachable"]
    assert printed["hosts"][0]["device"] is None
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: t4-01: unreachable: cannot reach ubuntu@127.0.0.1:9")


@pytest.mark.parametrize("results, code", [
    (["ok", "ok"], 0), (["planned"], 0), (["ok", "refused"], 1), (["ok", "failed"], 1), (["ok", "unreachable"], 1),
    (["unreachable"], 2), (["unreachable", "unreachable"], 2), (["unreachable", "failed"], 1),
])
def test_exit_code_contract(results, code):
    assert fleet_exit(results) == code


def test_label_names_cannot_shift_lines_and_ids_are_bounded():
    coco = {"categories": [{"id": 1, "name": "person\nface"}, {"id": 2, "name": " bag\u2028 \x1b[31m"}]}
    assert coco_labels(coco, background_first=True).text == "BG\nperson face\nbag [31m\n"
    with pytest.raises(ProvisionError, match=r"id 100000000 is not between 0 and 65535"):
        coco_labels({"categories": [{"id": 10**8, "name": "x"}]}, background_first=True)
    with pytest.raises(ProvisionError, match="needs an integer 'id'"):
        coco_labels(json.loads('{"categories": [{"id": 1e8, "name": "x"}]}'), background_first=True)
    with pytest.raises(ProvisionError, match="needs an integer 'id'"):
        coco_labels({"categories": [{"id": 1, "name": "\n\t"}]}, background_first=False)


def test_onnx_head():
    assert onnx_problem(b"\x08\x08\x12\x0bpytorch") is None  # ir_version 8, then producer_name
    assert "empty" in onnx_problem(b"")
    assert "does not start like an ONNX model" in onnx_problem(b"[property]\nonnx-file=x\n")
    assert "does not start like an ONNX model" in onnx_problem(b"\x7fELF\x02\x01")


def test_user_text_is_never_read_as_markup():
    from rich.console import Console

    from provision.documents import host_report
    from provision.provisioner import HostReport
    from provision.report import print_summary

    out = io.StringIO()
    failed = HostReport("t4-01", result="failed", message="x.txt: no [property] group: not an nvinfer config")
    print_summary([host_report(failed)], Console(file=out, width=160))
    assert "x.txt: no [property] group" in out.getvalue()  # printed as it is, not read as rich markup


def test_host_text_in_a_capture_is_never_read_as_markup(tmp_path):
    capture = (ROOT / "tests" / "fixtures" / "recorded" / "h100-ubuntu2404" / "probe-capture.txt").read_text()
    hostile = capture.replace("80GB HBM3", "[/b] [property]")  # the GPU's name, as nvidia-smi and deviceQuery print it
    assert hostile != capture
    (tmp_path / "capture.txt").write_text(hostile)
    result = invoke("detect", "--capture", str(tmp_path / "capture.txt"))
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    assert "NVIDIA H100 [/b] [property]" in result.stdout
