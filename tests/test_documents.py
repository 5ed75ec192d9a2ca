# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The --json documents (provision/documents.py) against their shipped schemas (provision/schemas/),
from real runs where one can run here (a capture, this machine, a host nobody listens for), and the
fleet run's summary line at 80 columns. The fleet tests validate the documents of real devices."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from captures import H100, h100
from provision import documents
from provision.ansible_plugins import _details, _result
from provision.detect import analyse, read_capture
from provision.outcomes import Outcome, RunResult, StepStatus
from provision.provisioner import HostReport, StepReport
from provision.report import clip, print_summary, summary_line, summary_lines

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "provision" / "schemas"
LOCALHOST = "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
NOBODY = "[x86]\nt4-01 ansible_host=127.0.0.1 ansible_port=9 ansible_user=ubuntu\n"  # port 9: refused at once


def invoke(*args: str, inventory: Path | None = None, columns: int = 80) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "invoke", *args, *(("-i", str(inventory)) if inventory else ())]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": str(columns)})


def document(result: subprocess.CompletedProcess, command: str) -> dict:
    doc = json.loads(result.stdout)
    documents.validate(doc)
    assert doc["command"] == command and doc["schema_version"] == documents.SCHEMA_VERSION
    return doc


@pytest.fixture
def localhost(tmp_path) -> Path:
    (tmp_path / "hosts.yml").write_text(LOCALHOST)
    return tmp_path / "hosts.yml"


@pytest.fixture
def nobody(tmp_path) -> Path:
    (tmp_path / "hosts.ini").write_text(NOBODY + "a-very-long-host-name-in-the-lab-07 ansible_host=127.0.0.1 ansible_port=9\n")
    return tmp_path / "hosts.ini"


def test_every_command_has_a_valid_schema_with_its_id():
    assert sorted(p.name for p in SCHEMAS.glob("*.schema.json")) == sorted(
        f"{name}.schema.json" for name in ("common", *documents.COMMANDS))
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == documents.SCHEMA_ID + path.name.removesuffix(".schema.json")


def test_detect_document_of_a_capture_has_facts_and_no_probe_text():
    doc = documents.detection(analyse(*read_capture(H100)))
    documents.validate(json.loads(json.dumps(doc)))
    assert (doc["host"], doc["matrix"], doc["gpu_archs"]["archs"]) == ("localhost", "OK", ["90"])
    text = json.dumps(doc)
    assert "==> " not in text and not {"device_query", "smi", "plugin_state", "nvinfer_configs"} & set(doc["facts"])


def test_detect_document_of_a_jetson_stack_with_verdicts():
    """The H100 capture with a Jetson's sections (what-if host): a Jetson object, FAIL verdicts."""
    jetson = h100(nv_tegra_release="# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64\n",
                  dt_model="NVIDIA Jetson Nano Developer Kit\n", uname_m="aarch64\n",
                  deepstream_version="DeepStream Version 6.3.0\n")
    doc = json.loads(json.dumps(documents.detection(jetson)))
    documents.validate(doc)
    assert doc["facts"]["jetson"]["jetpack"] == "4.6.1" and doc["matrix"] == "FAIL"
    assert any(v["status"] == "FAIL" for v in doc["verdicts"])


def test_cli_documents_validate_detect_and_matrix_check():
    detect = invoke("detect", "--capture", str(H100), "--json")
    assert detect.returncode == 0, detect.stderr
    assert document(detect, "detect")["facts"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    capture = invoke("matrix.check", "--capture", str(H100), "--json")
    assert document(capture, "matrix.check")["subject"] == {"capture": str(H100)}


def test_unreachable_hosts_are_entries_of_one_document(nobody):
    result = invoke("provision", "--hosts", "x86", "--json", inventory=nobody)
    assert result.returncode == 2, result.stderr  # every host unreachable (provision/exit_codes.py)
    doc = document(result, "provision")
    assert [(h["result"], h["device"]) for h in doc["hosts"]] == [("unreachable", None)] * 2
    assert doc["dry_run"] is False and doc["cancelled"] is False


def test_this_machine_refused_or_planned_and_rollback(localhost):
    for command, more in (("provision", ["--skip-engines"]), ("pyds", [])):
        result = invoke(command, "--host", "localhost", "--dry-run", *more, "--json", inventory=localhost)
        (entry,) = document(result, command)["hosts"]
        assert entry["result"] in ("planned", "refused") and entry["device"]["platform"] == "x86", entry
    back = invoke("rollback", "--host", "localhost", "--json", inventory=localhost)
    assert back.returncode == 0, back.stderr
    (entry,) = document(back, "rollback")["hosts"]
    assert entry["result"] == "ok" and entry["outcome"] == "unchanged"


def test_chained_tasks_with_json_are_refused_before_any_runs():
    result = invoke("detect", "--capture", str(H100), "--json", "matrix.check", "--jetpack", "4.6.1")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: --json prints one document: run one task per invocation (given: detect, matrix.check)"]


def reports() -> list[HostReport]:
    """A host of each ending, the first two probed."""
    probed = analyse(*read_capture(H100))
    return [
        HostReport("nano01", RunResult.OK, Outcome.BUILT, "k" * 16, 512.25, 9, "changed",
                   [StepReport("plugin_swap", StepStatus.CHANGED, "swapped")], ["nano01: 1 step(s)"], "/tmp/x.log",
                   probed),
        HostReport("h100", RunResult.REFUSED, Outcome.NONE, message="h100: no TensorRT found " * 8, detection=probed),
        HostReport("t4-01", RunResult.FAILED, message="t4-01: make exited 2"),
        HostReport("a-very-long-host-name-in-the-lab-07", RunResult.UNREACHABLE,
                   message="cannot reach ubuntu@127.0.0.1:9: connection refused"),
        HostReport("xavier01", RunResult.CANCELLED, message="xavier01: cancelled during build; lock released"),
    ]


@pytest.mark.parametrize("command", ["provision", "pyds", "rollback"])
def test_fleet_documents_of_every_ending_validate(command):
    for cancelled in (False, True):
        doc = json.loads(json.dumps(documents.fleet(command, reports(), dry_run=False, cancelled=cancelled)))
        documents.validate(doc)
    assert [h["result"] for h in doc["hosts"]] == ["ok", "refused", "failed", "unreachable", "cancelled"]
    assert doc["hosts"][0]["device"]["gpu_archs"] == ["90"] and doc["hosts"][0]["changed"] is True


def test_the_ansible_report_is_the_host_entry():
    for report in reports():
        result = _result(report)
        documents.validate(result["dsprov_report"], "host_report")
        assert result["dsprov_report"] == documents.host_report(report)
        assert result["failed"] == (report.result in ("failed", "refused", "unreachable"))


def test_the_ansible_verbose_output_is_the_fact_and_verdict_tables_and_steps():
    text = _details(reports()[0])
    assert "localhost: host facts" in text and "GPU_ARCHS" in text
    assert "nano01: [plugin_swap] changed: swapped" in text


@pytest.mark.parametrize("drift", [
    lambda doc: doc.update(extra=1),
    lambda doc: doc["hosts"][0].update(seconds="12s"),
    lambda doc: doc["hosts"][0]["device"].pop("tensorrt"),
    lambda doc: doc.update(schema_version="2.0"),
    lambda doc: doc.update(command="detect"),
])
def test_a_document_that_drifts_from_its_schema_fails(drift):
    doc = json.loads(json.dumps(documents.fleet("provision", reports(), dry_run=False)))
    drift(doc)
    with pytest.raises(jsonschema.ValidationError):
        documents.validate(doc)


def test_summary_lines_fit_80_columns_with_long_names_and_reasons():
    lines = summary_lines([documents.host_report(r) for r in reports()], width=80)
    assert lines[0].split() == ["HOST", "MODEL/GPU", "JP/DRV", "TRT", "DS", "ARCHS", "TIME", "RESULT"]
    assert len(lines) == 6 and max(len(line) for line in lines) <= 80
    by_host = dict(zip(("nano01", "h100", "t4-01", "long", "xavier01"), lines[1:]))
    assert by_host["nano01"].split() == ["nano01", "H100", "80GB", "HBM3", "580.159", "-", "-", "90", "512s", "ok"]
    assert by_host["long"].startswith("a-very-\u2026b-07 ")  # cut in the middle: the numbered tail stays
    assert by_host["h100"].endswith("  refused: no Tens\u2026")  # the whole reason is on stderr
    assert by_host["long"].split()[1:4] == ["cannot", "reach", "ubuntu@127.0.0.1:9:"]  # never probed: the reason
    assert by_host["long"].endswith(" 0.0s  unreachable") and by_host["t4-01"].split()[1:] == [
        "make", "exited", "2", "0.0s", "failed"]


def test_the_summary_uses_a_wider_terminal_and_rich_prints_it_unwrapped():
    entries = [documents.host_report(r) for r in reports()]
    wide = summary_lines(entries, width=200)
    assert "refused: no TensorRT found h100: no TensorRT found" in wide[2] and max(map(len, wide)) == 200
    out = io.StringIO()
    print_summary(entries, Console(file=out, width=80))
    assert out.getvalue().splitlines() == summary_lines(entries, 80)


def test_a_long_build_time_stays_in_its_column():
    entry = documents.host_report(reports()[0])
    times = [summary_line({**entry, "seconds": s}, 80).split()[-2] for s in (0.04, 41.25, 512.4, 12345.0)]
    assert times == ["0.0s", "41.2s", "512s", "206m"]


def test_clip():
    assert clip("nano01", 12) == "nano01"
    assert clip("jetson-nano-lab-03", 12, middle=True) == "jetson-\u2026b-03"
    assert clip("a reason\nover lines", 40) == "a reason over lines"
    assert clip("x" * 20, 8) == "x" * 7 + "\u2026"


def test_a_fleet_run_prints_one_line_per_host_at_80_columns(nobody):
    result = invoke("provision", "--hosts", "x86", inventory=nobody, columns=80)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and max(map(len, lines)) <= 80, result.stdout
    assert lines[1].split()[:3] == ["t4-01", "cannot", "reach"] and lines[1].endswith(" unreachable")
    assert lines[2].startswith("a-very-\u2026b-07 ")
    assert len(result.stderr.splitlines()) == 2  # the whole reason, one line per host
    verbose = invoke("provision", "--hosts", "x86", "--verbose", inventory=nobody, columns=80)
    assert "t4-01: unreachable: cannot reach" in verbose.stdout and verbose.stdout.splitlines()[-3:] == lines
