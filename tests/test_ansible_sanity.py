# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""`ansible-test sanity` on the collection dsprov.deepstream, as Galaxy and Automation Hub check a
collection: every test that has something to check here passes, with no ignore file.

ansible-test downloads a pip bootstrap script from the internet for each test's virtual environment;
.ci/ansible-test-bootstrap.py stands in for it from ansible-test's cache, so only the package index
that pip uses is needed. The environments stay in ~/.ansible/test/venv: the first run makes them
(about 3 minutes), a later one takes about 30 seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from ansible_test._internal.python_requirements import get_venv_packages

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLLECTION = ROOT / "playbooks" / "collections" / "ansible_collections" / "dsprov" / "deepstream"
BOOTSTRAP = ROOT / ".ci" / "ansible-test-bootstrap.py"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# Sanity tests with nothing to check in this collection (ansible-test would report them as skipped).
SKIPPED = {
    "changelog": "the collection keeps CHANGELOG.md by hand, no antsibull-changelog changelogs/ folder",
    "pslint": "no PowerShell",
    "shellcheck": "no shell scripts",
}


def pip_version() -> str:
    """The pip ansible-test puts in each sanity test's virtual environment."""
    return get_venv_packages(SimpleNamespace(version=PYTHON))["pip"]


def install_bootstrap() -> Path:
    """The stand-in, where ansible-test looks for its downloaded bootstrap script (ansible-core's
    test/lib/ansible_test/_util/target/setup/requirements.py, `bootstrap`); a real one there stays."""
    cached = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{pip_version().replace('.', '_')}.py"
    ours = BOOTSTRAP.read_text()
    if not cached.exists() or cached.read_text().startswith(ours.splitlines()[0]):
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(ours)
    return cached


def test_the_bootstrap_stand_in_puts_ansible_tests_pip_in_an_empty_environment(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    wanted = pip_version()
    # the arguments ansible-test's bootstrap passes (requirements.py, `bootstrap`)
    subprocess.run([python, str(BOOTSTRAP), "--disable-pip-version-check", f"pip=={wanted}", "--no-setuptools",
                    "--no-wheel"], check=True, capture_output=True, timeout=300)
    listed = subprocess.run([python, "-m", "pip", "list", "--format", "freeze"], check=True, capture_output=True,
                            text=True, timeout=120).stdout.split()
    assert listed == [f"pip=={wanted}"]


def test_ansible_test_sanity_passes_on_the_collection(tmp_path):
    install_bootstrap()
    # ansible-test runs from the collection's root in an ansible_collections/NAMESPACE/NAME tree
    # (outside git, it takes every file there)
    root = tmp_path / "ansible_collections" / "dsprov" / "deepstream"
    shutil.copytree(COLLECTION, root, ignore=shutil.ignore_patterns("__pycache__", "*.tar.gz"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    skips = [arg for test in SKIPPED for arg in ("--skip-test", test)]
    result = subprocess.run([str(BIN / "ansible-test"), "sanity", "--color", "no", "--local", "--python", PYTHON,
                             "--python-interpreter", sys.executable, *skips], cwd=root, env=env,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for test in ("validate-modules", "ansible-doc", "import", "pylint", "pep8", "yamllint", "runtime-metadata"):
        assert f'Running sanity test "{test}"' in output, output
