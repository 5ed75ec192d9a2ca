# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Installed as a user installs it: the wheel and the collection built in a temporary folder, put
into a fresh venv and a collections path outside the repository, and used from an unrelated folder.

pip takes the dependencies from the package registry (through pip's cache, warm after .ci/setup).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import provision
from provision import documents
from provision.artifacts import cache_root
from provision.capabilities.trt_oss import build_view
from provision.detect import analyse, read_capture

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CAPTURE = ROOT / "tests" / "fixtures" / "recorded" / "h100-ubuntu2404" / "probe-capture.txt"
LOCALHOST = "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600, **kwargs)


def checked(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = run(command, **kwargs)
    assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result


@dataclass
class Installed:
    wheel: Path
    collection_tarball: Path
    venv: Path
    collections: Path
    work: Path  # the unrelated folder commands run in
    env: dict[str, str]
    before_provision: subprocess.CompletedProcess  # a collection playbook run before the wheel was installed

    def __call__(self, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return run([self.venv / "bin" / command[0], *command[1:]], cwd=self.work, env={**self.env, **(env or {})})


@pytest.fixture(scope="module")
def installed(tmp_path_factory, built_dist) -> Installed:
    tmp = tmp_path_factory.mktemp("install")
    venv, collections, work = (tmp / n for n in ("venv", "collections", "work"))
    wheel, tarball = built_dist.wheel, built_dist.collection_tarball

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV", "DSPROV_"))}
    env.update(PATH=f"{venv / 'bin'}:{env['PATH']}", ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1",
               COLUMNS="200")
    work.mkdir()
    (work / "inventory").mkdir()
    (work / "inventory" / "hosts.yml").write_text(LOCALHOST)
    checked([sys.executable, "-m", "venv", "--without-pip", venv])  # this pip installs into it: quicker
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q"]
    checked([*pip, "ansible-core>=2.17,<2.20"], env=env)
    checked([venv / "bin" / "ansible-galaxy", "collection", "install", tarball, "-p", collections], cwd=work, env=env)
    before = run([venv / "bin" / "ansible-playbook", "-i", "inventory/", "dsprov.deepstream.detect",
                  "-e", "dsprov_hosts=localhost"], cwd=work, env=env)
    checked([*pip, wheel], env=env)
    return Installed(wheel, tarball, venv, collections, work, env, before)


def test_the_wheel_holds_the_product_and_its_data_and_no_test_or_fleet_file(installed):
    wheel = zipfile.ZipFile(installed.wheel)
    names = set(wheel.namelist())
    assert not [n for n in names if n.startswith(("simfleet/", "tests/")) or "/test_" in n or "conftest" in n]
    others = {n.split("/")[0] for n in names} - {"provision"}
    assert len(others) == 1 and others.pop().endswith(".dist-info")
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "provision").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names
    assert {"provision/facts/probe.sh", "provision/gpu/devicequery.cu"} <= names
    schemas = sorted((ROOT / "provision" / "schemas").glob("*.schema.json"))
    assert len(schemas) == len(documents.COMMANDS) + 1  # and common.schema.json
    assert all(wheel.read(f"provision/schemas/{p.name}") == p.read_bytes() for p in schemas)
    yml = sorted((ROOT / "matrix").glob("*.yml"))
    assert yml and all(wheel.read(f"provision/matrix/data/{p.name}") == p.read_bytes() for p in yml)


def test_the_wheel_says_its_license(installed):
    """PEP 639 metadata (core metadata 2.4): the SPDX expression and the license text in the wheel."""
    wheel = zipfile.ZipFile(installed.wheel)
    info = next(n.split("/")[0] for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = wheel.read(f"{info}/METADATA").decode()
    assert "License-Expression: GPL-3.0-or-later" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    assert wheel.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()


def test_dsprov_command_version_list_and_help(installed):
    assert installed("dsprov", "--version").stdout == f"dsprov {provision.__version__}\n"
    listing = installed("dsprov", "--list").stdout
    assert all(task in listing for task in ("provision", "detect", "rollback", "matrix.check", "pyds", "engines"))
    assert "--capture" in installed("dsprov", "detect", "--help").stdout


def test_dsprov_detect_reads_a_capture_with_the_installed_matrix(installed):
    result = installed("dsprov", "detect", "--capture", str(CAPTURE), "--json")
    assert result.returncode == 0, result.stderr
    d = analyse(*read_capture(CAPTURE))
    expected = documents.detection(d, build_view(d, cache_root()).to_json())  # detect adds where it would build
    printed = json.loads(result.stdout)
    documents.validate(printed)
    assert printed == json.loads(json.dumps(expected))
    table = installed("dsprov", "detect", "--capture", str(CAPTURE)).stdout
    assert "NVIDIA H100 80GB HBM3 (compute 9.0, from deviceQuery)" in table


def test_dsprov_matrix_check_refuses_deepstream_6_3_on_jetpack_4_6_1(installed):
    result = installed("dsprov", "matrix.check", "--jetpack", "4.6.1", "--deepstream", "6.3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DeepStream 6.3 needs JetPack 5.1.2+" in " ".join(result.stdout.split())


def test_dsprov_prints_one_json_document_per_invocation(installed):
    checked = installed("dsprov", "matrix.check", "--jetpack", "4.6.1", "--deepstream", "6.3", "--json")
    documents.validate(json.loads(checked.stdout))
    chained = installed("dsprov", "detect", "--capture", str(CAPTURE), "--json", "matrix.check", "--jetpack", "4.6.1")
    assert chained.returncode == 2 and chained.stdout == ""
    assert chained.stderr.startswith("error: --json prints one document: run one task per invocation"), chained.stderr


def test_dsprov_probes_and_plans_a_host_of_the_inventory_folder_here(installed):
    """The probe script is package data: a live detect and a dry-run provision of this machine,
    inventory/ found in the cwd (this machine may or may not have TensorRT: planned or refused)."""
    result = installed("dsprov", "detect", "--host", "localhost")
    assert result.returncode == 0, result.stderr
    assert "localhost: host facts" in result.stdout
    dry = installed("dsprov", "provision", "--host", "localhost", "--dry-run", "--json")
    printed = json.loads(dry.stdout)
    documents.validate(printed)
    report, = printed["hosts"]
    assert (report["host"], dry.returncode) in (("localhost", 0), ("localhost", 1)), dry.stderr
    assert report["result"] in ("planned", "refused") and report["message"], report


def test_the_simulated_fleet_is_not_in_the_product(installed):
    result = installed("dsprov", "fleet.up")
    assert result.returncode == 2  # the checkout's own tasks.py has it (tests/test_cli.py)
    assert result.stderr.splitlines()[0] == "error: unknown task or extra argument 'fleet.up'"


def test_ansible_doc_reads_the_installed_collection(installed):
    doc = installed("ansible-doc", "dsprov.deepstream.provision")
    assert doc.returncode == 0, doc.stderr
    assert str(installed.collections) in doc.stdout and "plugin_source" in doc.stdout
    assert installed("ansible-doc", "-t", "callback", "dsprov.deepstream.recap").returncode == 0


def test_the_collection_says_what_to_install_when_provision_is_missing(installed):
    output = installed.before_provision.stdout + installed.before_provision.stderr
    assert installed.before_provision.returncode != 0
    assert "dsprov.deepstream needs the Python package deepstream-provision in the Python that runs Ansible" in output
    # on no index: how to build the wheel, and the command that installs it into Ansible's own Python
    assert "python3 -m pip wheel --no-deps -w dist CHECKOUT" in output
    assert f"{installed.venv}/bin/python -m pip install dist/deepstream_provision-*.whl" in output


def test_the_collection_playbooks_run_from_an_unrelated_folder(installed):
    syntax = installed("ansible-playbook", "--syntax-check", "dsprov.deepstream.provision")
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    detect = installed("ansible-playbook", "-i", "inventory/", "dsprov.deepstream.detect", "-e", "dsprov_hosts=localhost")
    assert detect.returncode == 0, detect.stdout + detect.stderr
    assert '"msg": "x86: TensorRT' in detect.stdout
    rollback = installed("ansible-playbook", "--check", "-i", "inventory/", "dsprov.deepstream.rollback",
                         "-e", "dsprov_hosts=localhost", "-e", "ansible_become=false",
                         env={"ANSIBLE_CALLBACKS_ENABLED": "dsprov.deepstream.recap"})
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    recap = rollback.stdout.split("DSPROV RECAP", 1)[1].splitlines()
    assert recap[2].split()[:2] == ["localhost", "ok"]
