# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report (provision/fleet_report/): run records written whole and pruned, the page
rendered from records of real documents (the recorded H100 capture and what-if hosts made of its
sections, as tests/captures.py does) and read back as a DOM with the standard library's parser;
`invoke report` end to end on this machine (a real `detect --host localhost` first). The page in a
real browser after a fleet run: tests/fleet/test_fleet_report.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from captures import h100
from page_dom import Dom
from provision import documents
from provision.fleet_report import command, page, records
from provision.options import check_settings
from provision.outcomes import EngineOutcome, EngineStatus, Outcome, RunResult, StepStatus
from provision.provisioner import HostReport, StepReport
from provision.validators import BadSetting
from provision.capabilities.engines import Engine

ROOT = Path(__file__).resolve().parents[1]
# DeepStream 7.1 on x86 (DeepStream dGPU setup guide, docs.nvidia.com/metropolis/deepstream/dev-guide):
# TensorRT 10.3.0.26, as tests/test_deepstream_plan.py's DS71
DS71 = {"dpkg_nvinfer": "tensorrt\t10.3.0.26-1+cuda12.5\nlibnvinfer10\t10.3.0.26-1+cuda12.5\n"
                        "libnvinfer-plugin10\t10.3.0.26-1+cuda12.5\ndeepstream-7.1\t7.1.0-1\n",
        "deepstream_version": "Version: 7.1\n"}
CUDA126 = {"cuda_version_txt": "CUDA Version 12.6.77\n", "nvcc_version": "", "cuda_version_json": ""}
NANO = {"nv_tegra_release": "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64\n",
        "dt_model": "NVIDIA Jetson Nano Developer Kit\n", "uname_m": "aarch64\n",
        "deepstream_version": "DeepStream Version 6.3.0\n"}
HOSTILE = 'lab<script>alert("x")</script>07'


def report(host: str, detection, result=RunResult.OK, message="", steps=(), key="-", log="") -> HostReport:
    return HostReport(host, result=result, outcome=Outcome.BUILT if steps else Outcome.UNCHANGED, key=key,
                      message=message, steps=[StepReport(*s) for s in steps], detection=detection, log=log)


@pytest.fixture
def fleet_records(tmp_path) -> Path:
    """Records of five hosts: three H100s on DeepStream 7.1 (one with another CUDA: drift), one
    swapped in by the run, a Nano refused by the matrix with a hostile name and reason, an
    unreachable host that was never probed, and an engines run on one H100."""
    root = tmp_path / "records"
    logs = tmp_path / "logs"
    logs.mkdir()
    ds71, other_cuda = h100(**DS71), h100(**DS71, **CUDA126)
    swap = [("trt-oss-build", StepStatus.CHANGED, "built"), ("plugin-swap", StepStatus.CHANGED, "swapped")]
    runs = [
        records.of_report("provision", report("h100-a", ds71, steps=swap, key="9f3c2a1b0d4e5f60",
                                              log=str(logs / "a.log")), time="2026-12-07T09:00:00.000Z"),
        records.of_report("provision", report("h100-b", ds71, log=str(logs / "b.log")), time="2026-12-07T09:00:01.000Z"),
        records.of_report("provision", report("h100-c", other_cuda), time="2026-12-07T09:00:02.000Z"),
        records.of_report("provision", report(HOSTILE, h100(**NANO), RunResult.REFUSED,
                                              f"{HOSTILE}: <script>alert(1)</script> TensorRT does not fit"),
                          time="2026-12-07T09:00:03.000Z"),
        records.of_report("provision", report("ghost01", None, RunResult.UNREACHABLE,
                                              "ghost01: cannot reach nvidia@127.0.0.1:9: refused"),
                          time="2026-12-07T09:00:04.000Z"),
    ]
    engines = [Engine("/opt/a.txt", status=EngineStatus.STALE, outcome=EngineOutcome.REBUILT).to_json(),
               Engine("/opt/b.txt", status=EngineStatus.STALE).to_json(),
               Engine("/opt/c.txt", status=EngineStatus.MISSING).to_json()]
    runs.append(records.of_report("engines", report("h100-b", ds71), engines=engines, time="2026-12-07T09:05:00.000Z"))
    for run in runs:
        records.write(run, root)
    return root


def rendered(root: Path) -> tuple[str, page.Fleet]:
    fleet = command.build(records.recorded_hosts(root), root)
    return page.render(fleet), fleet


def test_records_hold_the_commands_documents(fleet_records):
    files = sorted(fleet_records.rglob("*.json"))
    assert len(files) == 6 and all(p.name.startswith("20261207T0") for p in files)
    for path in files:
        saved = json.loads(path.read_text())
        if saved["report"]:
            documents.validate(saved["report"], "host_report")
        if saved["detect"]:
            documents.validate(saved["detect"])
        assert saved["time"].endswith("Z") and saved["command"] in ("provision", "engines")
    assert records.recorded_hosts(fleet_records) == sorted(["h100-a", "h100-b", "h100-c", HOSTILE, "ghost01"])


def test_every_host_and_its_versions_are_rows_of_the_page(fleet_records):
    html, fleet = rendered(fleet_records)
    dom = Dom(html)
    assert set(dom.rows) == {"h100-a", "h100-b", "h100-c", HOSTILE, "ghost01"}
    for host in ("h100-a", "h100-b", "h100-c", HOSTILE):
        facts = records.latest(host, fleet_records).probed.detect["facts"]
        cells = dom.cells(host)
        assert cells[0].startswith(host)
        for version in (facts["cuda"], facts["tensorrt"], facts["deepstream"]):
            assert (version or "-") in cells, (host, version, cells)
    a = dom.cells("h100-a")
    assert a[1] == "H100 80GB HBM3 x86" and dom.rows["h100-a"]["titles"][1] == "NVIDIA H100 80GB HBM3" and "driver 580.159.04" in a and "90" in a
    assert "OSS build 9f3c2a1b0d4e5f60" in a  # swapped by the run the record is of
    assert dom.cells("h100-b")[7] == "stock" and a[-1] == "log" and dom.links[0].startswith("file:///")
    assert dom.cells("h100-b")[9].startswith("1 fresh, 1 stale, 1 missing")
    nano = dom.cells(HOSTILE)
    assert "JetPack 4.6.1 (L4T 32.7.1)" in nano and nano[1] == "Jetson Nano nano"
    assert nano[10].startswith("FAIL") and "refused provision" in nano[11]
    assert "<script>alert(1)</script> TensorRT does not fit" in nano[11]
    assert "bad" in dom.rows[HOSTILE]["class"] and "bad" in dom.rows["ghost01"]["class"]
    ghost = dom.cells("ghost01")
    assert ghost[1] == "-" and "cannot reach nvidia@127.0.0.1:9: refused" in ghost[11]
    assert fleet.results["refused"] == 1 and fleet.results["unreachable"] == 1 and fleet.results["ok"] == 3


def test_a_host_unlike_most_of_its_model_is_drift_with_what_differs(fleet_records):
    html, fleet = rendered(fleet_records)
    dom = Dom(html)
    drifting = {h for h, row in dom.rows.items() if row["data-drift"] == "yes"}
    assert drifting == {"h100-c", "h100-a"}  # CUDA 12.6 of three on 13.0; a's plugin build of two on stock
    assert "CUDA 12.6.77 (most NVIDIA H100 80GB HBM3: 13.0.88)" in dom.cells("h100-c")[0]
    assert "plugin build 9f3c2a1b0d4e5f60 (most NVIDIA H100 80GB HBM3: stock)" in dom.cells("h100-a")[0]
    assert fleet.drifting == 2


def test_host_text_is_escaped_and_nothing_is_loaded(fleet_records):
    html, _ = rendered(fleet_records)
    dom = Dom(html)
    assert dom.scripts == 1  # the page's own: the hostile names and reasons stayed text
    assert HOSTILE in dom.rows and dom.cells(HOSTILE)[0] == HOSTILE and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not dom.handlers and not dom.loads
    assert all(link.startswith("file:///") for link in dom.links)


def test_records_past_the_keep_setting_go_and_writes_are_whole(tmp_path):
    detection = h100(**DS71)
    for second in range(25):
        records.write(records.of_report("pyds", report("h100-a", detection), time=f"2026-12-07T10:00:{second:02}.000Z"),
                      tmp_path, keep=records.keep_of({"dsprov_report_keep": "20"}))
    files = sorted(p.name for p in (tmp_path / "h100-a").iterdir())
    assert len(files) == 20 and files[0].startswith("20261207T100005") and not [f for f in files if f.startswith(".")]
    assert records.keep_of({}) == records.KEEP == 20 and records.keep_of({"dsprov_report_keep": 3}) == 3
    check_settings({"dsprov_report_keep": 3})
    for bad in ("0", "-1", "many", True):
        with pytest.raises(BadSetting, match="dsprov_report_keep"):
            check_settings({"dsprov_report_keep": bad})


def test_a_record_that_cannot_be_written_is_one_warning(tmp_path, capsys):
    blocked = tmp_path / "records"
    blocked.write_text("a file where the folder goes")
    records.save([(records.of_report("provision", report("h100-a", h100())), 20)], blocked)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"warning: the run records under {blocked} were not written:")


def test_a_broken_record_is_passed_over(fleet_records):
    newest = sorted((fleet_records / "h100-b").glob("*.json"))[-1]
    newest.write_text('{"record_version": 1, "host": "h100-b"')  # cut short
    assert records.latest("h100-b", fleet_records).run.command == "provision"


def invoke(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "DSPROV_CACHE": str(cache)})


def test_detect_records_the_host_and_report_writes_its_page(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    detect = invoke("detect", "--host", "localhost", "-i", str(inventory), "--json", cache=tmp_path / "cache")
    assert detect.returncode in (0, 1), detect.stderr
    (saved,) = (tmp_path / "cache" / "records" / "localhost").glob("*-detect.json")
    assert json.loads(saved.read_text())["detect"] == json.loads(detect.stdout)
    out = tmp_path / "fleet.html"
    result = invoke("report", "-i", str(inventory), "--out", str(out), cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"fleet report: {out} (1 hosts, 0 failed")
    cells = Dom(out.read_text()).cells("localhost")
    assert "detect" in cells[11] and cells[3] == (json.loads(detect.stdout)["facts"]["cuda"] or "-")


def test_report_bad_out_is_one_line(tmp_path):
    result = invoke("report", "--out", str(tmp_path / "nowhere" / "fleet.html"), cache=tmp_path)
    assert result.returncode == 2 and result.stderr == f"error: --out {tmp_path}/nowhere/fleet.html: no folder {tmp_path}/nowhere\n"


def test_a_rollback_after_the_swap_shows_the_stock_library(fleet_records):
    restore = HostReport("h100-a", outcome=Outcome.RESTORED, steps=[StepReport("restore", StepStatus.CHANGED, "restored")])
    records.write(records.of_report("rollback", restore, time="2026-12-07T11:00:00.000Z"), fleet_records)
    row = page.host_row("h100-a", records.latest("h100-a", fleet_records))
    assert (row.plugin, row.plugin_key, row.command, row.result) == ("stock", None, "rollback", "ok")
    assert row.tensorrt == "10.3.0.26"  # the stack of the newest probe (rollback probes nothing)
