# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures. ``fleet``: the simulated device fleet (simfleet), one per session;
``serve_fleet``: a fleet of a test module's own; ``needs_root``: skip unless root; ``built_dist``:
the wheel and the collection tarball, built once per session."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


def _skip_unless_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the simulated fleet needs root (mounts, namespaces, chroot)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fleet: needs the simulated device fleet (root)")


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    """The demo fleet (or the one named by DSPROV_FLEET_FILE), always torn down at the end."""
    _skip_unless_root()
    from simfleet.fleet import DEFAULT_FLEET
    from simfleet.mirror import served_fleet

    fleet_file = Path(os.environ.get("DSPROV_FLEET_FILE", DEFAULT_FLEET))
    runtime_dir = tmp_path_factory.mktemp("fleet", numbered=True)
    with served_fleet(fleet_file, runtime_dir / "run") as handle:
        os.environ["PROVISION_BECOME_PASSWORD"] = handle.become_password
        os.environ["DSPROV_CACHE"] = str(runtime_dir / "controller-cache")  # builds start cold
        yield handle


@pytest.fixture
def needs_root() -> None:
    """Skip the test unless it runs as root (what the simulated fleet needs)."""
    _skip_unless_root()


@pytest.fixture(scope="session")
def serve_fleet(tmp_path_factory: pytest.TempPathFactory):
    """Serve a test module a fleet of its own (root only) from a fleet file's text, torn down when
    its `with` ends: `with serve_fleet("hostile", "name: hostile\\ndevices: ...") as handle:`."""
    _skip_unless_root()
    from simfleet.mirror import served_fleet

    @contextlib.contextmanager
    def serve(folder_name: str, fleet_file: str, runtime: str = "run"):
        folder = tmp_path_factory.mktemp(folder_name)
        (folder / "fleet.yml").write_text(fleet_file)
        with served_fleet(folder / "fleet.yml", folder / runtime) as handle:
            yield handle

    return serve



@dataclass(frozen=True)
class BuiltDist:
    wheel: Path
    collection_tarball: Path


ROOT = Path(__file__).resolve().parents[1]
WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "provision", "matrix")  # what building the wheel may read


@pytest.fixture(scope="session")
def built_dist(tmp_path_factory: pytest.TempPathFactory) -> BuiltDist:
    """The project's wheel (built from a copy of its sources, so no build folder lands in the
    checkout) and the collection's tarball, as a user builds them; tests/test_install.py and
    tests/test_execution_environment.py share them."""
    tmp = tmp_path_factory.mktemp("dist")
    src, dist = tmp / "src", tmp / "dist"
    src.mkdir()
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    collection = ROOT / "playbooks" / "collections" / "ansible_collections" / "dsprov" / "deepstream"
    for command in ([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, src],
                    [Path(sys.executable).parent / "ansible-galaxy", "collection", "build", collection, "--output-path", dist]):
        result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
        assert "BuildBackendWarning" not in result.stderr, result.stderr  # e.g. a data folder not in `packages`
    wheel, = dist.glob("*.whl")
    tarball, = dist.glob("*.tar.gz")
    return BuiltDist(wheel, tarball)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Each test starts, before its fixtures, with blocking stdin/stdout/stderr. The fleet tests'
    OpenSSH clients inherit the runner's streams and set them non-blocking while they run; one
    killed mid-session (a timeout, a simulated reboot) cannot set them back, and every later
    ansible-* command then refuses to start ("Ansible requires blocking IO on stdin/stdout/stderr")."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            os.set_blocking(fd, True)
