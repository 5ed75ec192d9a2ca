# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet page after a fleet run, in a real browser: headless Chromium (Debian's `chromium`,
.ci/apt-packages.txt) loads the page offline, runs its script, and the DOM it ends with shows each
host, its versions and the refused host's reason. The screenshot is kept: the test's tmp folder and,
when DSPROV_ARTIFACTS names a folder, fleet-report.png (and the page) there. And an Ansible play
with `-e dsprov_report_out=FILE` writing the page at its end."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from page_dom import Dom

from .helpers import ROOT, hosts, invoke

pytestmark = pytest.mark.fleet
CHROMIUM = ("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-extensions")


def chromium(*args: str) -> subprocess.CompletedProcess:
    found = shutil.which("chromium")
    assert found, "no chromium: `bash .ci/setup` installs it (.ci/apt-packages.txt)"
    return subprocess.run([found, *CHROMIUM[1:], *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HOME": os.environ.get("HOME", "/root")})


def test_the_fleet_page_after_a_run_in_headless_chromium(fleet, tmp_path, record_property):
    # the session fleet, probed and planned (a dry run changes nothing); the build route refuses the
    # hosts whose TensorRT has no OSS ref (orin01's 8.6.2, as tests/fleet/test_ansible.py's)
    run = invoke(fleet, "provision", "--hosts", "all", "--dry-run", "--plugin-source", "build", "--json")
    entries = {e["host"]: e for e in hosts(run)}
    refused = [e for e in entries.values() if e["result"] == "refused"]
    assert refused and entries["nano01"]["result"] == "planned", run.stdout + run.stderr
    out = tmp_path / "fleet.html"
    written = invoke(fleet, "report", "--out", str(out))
    assert written.returncode == 0 and written.stdout.startswith(f"fleet report: {out} ({len(entries)} hosts"), written.stderr

    dumped = chromium("--dump-dom", out.as_uri())
    assert dumped.returncode == 0, dumped.stderr
    dom = Dom(dumped.stdout)
    assert set(dom.rows) == set(entries)
    for host, entry in entries.items():
        cells, device = dom.cells(host), entry["device"]
        assert device, entry  # every demo device answered the probe
        for version in (device["cuda"], device["tensorrt"], device["deepstream"]):
            assert (version or "-") in cells, (host, version, cells)
        assert " ".join(device["gpu_archs"]) in cells and dom.rows[host]["titles"][1] == device["model"]
        jetpack, driver = device["jetpack"], device["driver"]
        assert (f"JetPack {jetpack}" if jetpack else f"driver {driver}" if driver else "") in cells[2], cells
        assert f"{entry['result']} provision (dry run)" in cells[11]
    for entry in refused:
        assert entry["message"].removeprefix(entry["host"] + ": ") in dom.cells(entry["host"])[11]
        assert "bad" in dom.rows[entry["host"]]["class"]
    # the script ran in the browser: the filter bar is shown and counts the rows
    assert re.search(rf'id="shown"[^>]*>{len(entries)} of {len(entries)} hosts shown<', dumped.stdout)

    picture = tmp_path / "fleet-report.png"
    shot = chromium(f"--screenshot={picture}", "--window-size=1400,900", "--hide-scrollbars", out.as_uri())
    assert shot.returncode == 0 and picture.stat().st_size > 10000, shot.stderr
    if os.environ.get("DSPROV_ARTIFACTS"):
        kept = Path(os.environ["DSPROV_ARTIFACTS"])
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copy(picture, kept / "fleet-report.png")
        shutil.copy(out, kept / "fleet-report.html")
    record_property("fleet_report_screenshot", str(picture))


def test_a_play_with_dsprov_report_out_ends_writing_the_page(fleet, tmp_path):
    """The collection's recap callback writes the page of the play's hosts: the detect action's
    records, and the record of a host Ansible could not reach."""
    ghost = tmp_path / "ghost.ini"
    ghost.write_text("[nano]\nghost01 ansible_host=127.0.0.1 ansible_port=9 ansible_user=nvidia\n")
    out = tmp_path / "play.html"
    play = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(fleet.inventory), "-i", str(ghost),
                           "playbooks/detect.yml", "--limit", "nano01,t4-01,ghost01", "-e", f"dsprov_report_out={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    assert f"fleet report: {out} (3 hosts, 1 failed, refused or unreachable, 0 drifting)" in play.stdout, play.stdout
    dom = Dom(out.read_text())
    assert set(dom.rows) == {"nano01", "t4-01", "ghost01"}
    assert "JetPack 4.6.1 (L4T 32.7.1)" in dom.cells("nano01") and "8.2.1.8" in dom.cells("nano01")
    assert "driver 470.63.01" in dom.cells("t4-01") and dom.cells("t4-01")[11].startswith("ok detect")
    ghost_run = dom.cells("ghost01")[11]
    assert ghost_run.startswith("unreachable detect") and "127.0.0.1" in ghost_run, ghost_run


def test_refresh_probes_each_host_once_and_records_it(fleet, tmp_path):
    folders = {h: Path(os.environ["DSPROV_CACHE"]) / "records" / h for h in ("nano01", "t4-01")}
    before = {h: set(f.glob("*.json")) if f.is_dir() else set() for h, f in folders.items()}
    out = tmp_path / "refreshed.html"
    result = invoke(fleet, "report", "--refresh", "--hosts", "nano01,t4-01", "--out", str(out))
    assert result.returncode == 0 and result.stdout.startswith(f"fleet report: {out} (2 hosts, 0 failed"), result.stderr
    dom = Dom(out.read_text())
    for host, folder in folders.items():
        (added,) = set(folder.glob("*.json")) - before[host]
        assert added.name.endswith("-detect.json")
        assert dom.cells(host)[11].startswith("ok detect")
    assert "JetPack 4.6.1 (L4T 32.7.1)" in dom.cells("nano01") and "driver 470.63.01" in dom.cells("t4-01")
