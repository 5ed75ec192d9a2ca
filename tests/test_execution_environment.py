# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The execution environment (docs/awx.md): `ansible-builder create` with the repository's
execution-environment.yml makes a build context that holds everything an image build needs, and the
collection's Python requirements (its meta/execution-environment.yml) are the wheel's dependencies.

No container engine here: the real `ansible-builder create` writes the context, and the galaxy
stage of its Containerfile is replayed on this machine (its COPY, WORKDIR and RUN lines, their
absolute paths under a temporary folder), so the collection the image would hold is installed by
the stage's own commands and ansible-builder's own introspection reads it.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLLECTION = ROOT / "playbooks" / "collections" / "ansible_collections" / "dsprov" / "deepstream"
DEFINITION = ROOT / "execution-environment.yml"
# The absolute paths the galaxy stage uses, and the base stage's scripts it runs
STAGE_PATHS = re.compile(r"(?<![\w.])(/tmp/dsprov|/build|/usr/share/ansible|/output)(?=[/\"\s]|$)")


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600, **kwargs)


def requirement_lines(path: Path) -> dict[str, SpecifierSet]:
    reqs = [Requirement(line) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {canonicalize_name(r.name): r.specifier for r in reqs}


def lower_bounds(specifier: SpecifierSet) -> SpecifierSet:
    return SpecifierSet(",".join(str(s) for s in specifier if s.operator in (">=", ">")))


@dataclass
class Context:
    path: Path  # the build context `ansible-builder create` wrote
    definition: dict
    stages: dict[str, list[str]]  # the Containerfile's lines by stage name (`FROM ... AS name`)


@pytest.fixture(scope="module")
def context(tmp_path_factory, built_dist) -> Context:
    """The definition copied beside a dist/ holding the wheel and the collection tarball, as a user
    has them after the two build commands the definition's header names."""
    tmp = tmp_path_factory.mktemp("ee")
    (tmp / "dist").mkdir()
    for built in (built_dist.wheel, built_dist.collection_tarball):
        shutil.copy2(built, tmp / "dist" / built.name)
    shutil.copy2(DEFINITION, tmp / DEFINITION.name)
    result = run([BIN / "ansible-builder", "create", "--file", tmp / DEFINITION.name, "--context", tmp / "context",
                  "--output-filename", "Containerfile"], cwd=tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No matches" not in result.stdout + result.stderr, result.stdout + result.stderr
    stages: dict[str, list[str]] = {}
    for line in (tmp / "context" / "Containerfile").read_text().splitlines():
        if match := re.fullmatch(r"FROM \S+ AS (\w+)", line):
            stages[match.group(1)] = []
        elif stages and line and not line.startswith(("#", "ARG ")):
            stages[list(stages)[-1]].append(line)
    return Context(tmp / "context", yaml.safe_load(DEFINITION.read_text()), stages)


def replay_galaxy_stage(context: Context, root: Path, extra: Path | None = None) -> subprocess.CompletedProcess:
    """Run the galaxy stage's lines here with its absolute paths under `root` (files it copies that
    name them, requirements.yml, too); `extra` is one more file in the context's dsprov/. The last
    command's result, or the first that failed."""
    def at(text: str) -> str:
        return STAGE_PATHS.sub(lambda m: f"{root}{m.group(1)}", text)

    build = root / "context" / "_build"
    shutil.copytree(context.path / "_build", build)
    if extra:
        shutil.copy2(extra, build / "dsprov")
    shutil.copytree(build / "scripts", root / "output" / "scripts")  # the base stage's COPY
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_GALAXY_CLI_COLLECTION_OPTS": "",
           "ANSIBLE_GALAXY_CLI_ROLE_OPTS": ""}
    cwd, result = root, None
    for line in context.stages["galaxy"]:
        word, _, rest = line.partition(" ")
        if word == "COPY":
            src, dst = rest.split()
            shutil.copytree(build.parent / src, at(dst), dirs_exist_ok=True)
            for copied in Path(at(dst)).glob("*.yml"):
                copied.write_text(at(copied.read_text()))
        elif word == "WORKDIR":
            cwd = Path(at(rest))
        else:
            assert word == "RUN", line
            result = run(["sh", "-c", at(rest)], cwd=cwd, env=env)
            if result.returncode:
                return result
    assert result is not None
    return result


def test_the_collection_requirements_are_the_wheel_dependencies_without_ansible_core_or_upper_bounds():
    """Ansible's collection requirements take no ansible-core (the image's own) and no upper bound
    (https://docs.ansible.com/projects/partner-certification-requirements/dependencies/); the wheel
    keeps its own bounds when it is installed after them."""
    meta = yaml.safe_load((COLLECTION / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "meta/ee-requirements.txt", "system": "meta/ee-bindep.txt"}
    wheel = {canonicalize_name(r.name): r.specifier
             for r in map(Requirement, tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])}
    listed = requirement_lines(COLLECTION / "meta" / "ee-requirements.txt")
    assert listed == {name: lower_bounds(spec) for name, spec in wheel.items() if name != "ansible-core"}
    assert "ansible-core" in wheel and "ansible-core" not in listed


def test_the_image_gets_the_ansible_core_series_ci_tests():
    ci = next(line.split("==")[1] for line in (ROOT / ".ci" / "constraints.txt").read_text().splitlines()
              if line.startswith("ansible-core=="))
    core = Requirement(yaml.safe_load(DEFINITION.read_text())["dependencies"]["ansible_core"]["package_pip"])
    assert core.name == "ansible-core" and core.specifier.contains(ci), (str(core), ci)
    assert ci.startswith("2.19.") and not core.specifier.contains("2.20.0")


def test_create_puts_the_wheel_the_collection_and_the_requirements_in_the_context(context, built_dist):
    build = context.path / "_build"
    assert (context.path / "Containerfile").is_file()
    for built in (built_dist.wheel, built_dist.collection_tarball):
        assert (build / "dsprov" / built.name).read_bytes() == built.read_bytes()
    assert sorted(p.name for p in (build / "dsprov").iterdir()) == sorted((built_dist.wheel.name,
                                                                          built_dist.collection_tarball.name))
    dependencies = context.definition["dependencies"]
    assert yaml.safe_load((build / "requirements.yml").read_text()) == dependencies["galaxy"]
    assert (build / "bindep.txt").read_text().splitlines() == dependencies["system"]
    assert {"assemble", "introspect.py", "install-from-bindep", "pip_install", "check_galaxy", "check_ansible",
            "entrypoint"} <= {p.name for p in (build / "scripts").iterdir()}
    header = (context.path / "Containerfile").read_text()
    assert f'ARG EE_BASE_IMAGE="{context.definition["images"]["base_image"]["name"]}"' in header
    assert f'ARG ANSIBLE_INSTALL_REFS="{dependencies["ansible_core"]["package_pip"]} ansible-runner"' in header


def test_the_final_stage_installs_the_wheel_after_the_collection_requirements(context, built_dist):
    final = context.stages["final"]
    pip = next(i for i, line in enumerate(final) if "-m pip install" in line and ".whl" in line)
    assert final[pip - 1] == "COPY _build/dsprov/ /tmp/dsprov/"
    assert pip > next(i for i, line in enumerate(final) if "install-from-bindep" in line)  # the wheels of the requirements
    assert final[pip].startswith("RUN $PYCMD -m pip install ")  # the Python that runs Ansible (python_path)
    globs = [Path(word).name for word in shlex.split(final[pip]) if "*" in word]
    names = [p.name for p in (context.path / "_build" / "dsprov").iterdir()]
    assert [fnmatch.filter(names, g) for g in globs] == [[built_dist.wheel.name]]


def test_the_galaxy_stage_installs_the_collection_and_introspection_finds_its_requirements(context, tmp_path):
    result = replay_galaxy_stage(context, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    collections = tmp_path / "usr" / "share" / "ansible" / "collections"
    manifest = collections / "ansible_collections" / "dsprov" / "deepstream" / "MANIFEST.json"
    assert '"version": "' + yaml.safe_load((COLLECTION / "galaxy.yml").read_text())["version"] + '"' in manifest.read_text()
    pip, bindep = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    introspect = run([BIN / "ansible-builder", "introspect", "--sanitize", "--user-bindep",
                      context.path / "_build" / "bindep.txt", "--write-pip", pip, "--write-bindep", bindep, collections])
    assert introspect.returncode == 0, introspect.stdout + introspect.stderr
    assert "# from collection dsprov.deepstream" in introspect.stdout
    found = pip.read_text().splitlines()
    assert all(line.endswith("  # from collection dsprov.deepstream") for line in found)
    listed = requirement_lines(COLLECTION / "meta" / "ee-requirements.txt")
    # ansible-builder leaves out PyYAML: ansible-core's own dependency (EXCLUDE_REQUIREMENTS in
    # ansible-builder's src/ansible_builder/_target_scripts/introspect.py)
    assert {canonicalize_name(Requirement(line.split("#")[0]).name) for line in found} == set(listed) - {"pyyaml"}
    system = bindep.read_text().splitlines()
    assert "openssh-clients [platform:rpm]  # from collection dsprov.deepstream" in system
    assert "sshpass [platform:rpm]  # from collection user" in system


def test_a_second_collection_tarball_in_dist_stops_the_build(context, built_dist, tmp_path):
    older = tmp_path / "older" / "dsprov-deepstream-0.0.1.tar.gz"
    older.parent.mkdir()
    shutil.copy2(built_dist.collection_tarball, older)
    result = replay_galaxy_stage(context, tmp_path / "root", extra=older)
    assert result.returncode != 0 and result.stderr.startswith("mv: target "), result.stdout + result.stderr
    assert not (tmp_path / "root" / "usr" / "share" / "ansible" / "collections").exists()


def test_docs_give_the_build_commands_the_definition_names():
    """docs/awx.md builds the image with the commands in the definition's header; the collection's
    README builds the wheel and the tarball with the same two."""
    header = [line[len("#   "):] for line in DEFINITION.read_text().splitlines() if line.startswith("#   ")]
    assert len(header) == 3 and header[2].startswith("ansible-builder build")
    assert "\n".join(header) in (ROOT / "docs" / "awx.md").read_text()
    assert "\n".join(header[:2]) in (COLLECTION / "README.md").read_text()
