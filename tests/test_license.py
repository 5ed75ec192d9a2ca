"""The project's license, GPL-3.0-or-later: the text, the SPDX header of every source file, the metadata.

SPDX headers as the REUSE specification writes them (https://reuse.software/spec-3.3/); recorded
outputs under tests/fixtures/ are data, not source, and carry none.
"""
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SPDX = "SPDX-License-Identifier: GPL-3.0-or-later"
SOURCE_SUFFIXES = (".py", ".sh", ".yml", ".yaml", ".toml", ".c", ".cu", ".j2")
SCRIPTS = (".ci/lock", ".ci/run", ".ci/setup")
COLLECTION = ROOT / "playbooks" / "collections" / "ansible_collections" / "dsprov" / "deepstream"


def sources() -> list[str]:
    """The tracked source files (not recorded data)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [p for p in tracked if (p.endswith(SOURCE_SUFFIXES) or p in SCRIPTS) and "/fixtures/" not in f"/{p}"]


def test_the_license_text_is_the_gpl_version_3():
    head = (ROOT / "LICENSE").read_text().split("\n", 3)
    assert head[0].strip() == "GNU GENERAL PUBLIC LICENSE" and head[1].strip() == "Version 3, 29 June 2007"


def test_every_source_file_carries_the_spdx_header_near_its_top():
    files = sources()
    assert "provision/cli.py" in files and "provision/facts/probe.sh" in files and "matrix/devices.yml" in files
    missing = [p for p in files if not any(SPDX in line for line in (ROOT / p).read_text().splitlines()[:20])]
    assert not missing, missing


def test_the_python_package_the_simulated_fleet_and_the_collection_declare_it():
    for pyproject in (ROOT / "pyproject.toml", ROOT / "simfleet" / "pyproject.toml"):
        assert tomllib.loads(pyproject.read_text())["project"]["license"] == "GPL-3.0-or-later", pyproject
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())
    assert galaxy.get("license") == ["GPL-3.0-or-later"] or galaxy.get("license_file"), galaxy
