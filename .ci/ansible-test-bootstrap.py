# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for the pip bootstrap script ansible-test downloads.

ansible-test makes each sanity test's virtual environment without pip, then runs a cached
`get-pip.py` in it, downloaded from https://ci-files.testing.ansible.com/ansible-test/get-pip-<pip>.py
to ~/.ansible/test/cache/get_pip_<pip with _>.py (ansible-core's
test/lib/ansible_test/_util/target/setup/requirements.py, `bootstrap`). Installed at that path, this
script does the same job with what Python itself ships: `ensurepip` puts its bundled pip in the
environment, which then installs the arguments ansible-test passes (pip install options and
`pip==<version>`) from the configured package index, as get-pip.py does.

Usage, as get-pip.py: python ansible-test-bootstrap.py [pip install options] [packages]
[--no-setuptools] [--no-wheel]
"""

from __future__ import annotations

import subprocess
import sys

SKIP = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}  # get-pip.py's own options


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True)


def main(argv: list[str]) -> None:
    unwanted = [SKIP[arg] for arg in argv if arg in SKIP]
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True, stdout=subprocess.DEVNULL)
    pip("install", "--upgrade", *(arg for arg in argv if arg not in SKIP))
    if unwanted:  # ensurepip of Python < 3.12 installs setuptools along with pip
        pip("uninstall", "--yes", *unwanted)


if __name__ == "__main__":
    main(sys.argv[1:])
