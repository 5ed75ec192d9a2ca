"""Shared fixtures. ``fleet``: the simulated device fleet (simfleet), one per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fleet: needs the simulated device fleet (root)")


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    """The demo fleet (or the one named by DSPROV_FLEET_FILE), always torn down at the end."""
    if os.geteuid() != 0:
        pytest.skip("the simulated fleet needs root (mounts, namespaces, chroot)")
    from simfleet.fleet import DEFAULT_FLEET
    from simfleet.mirror import served_fleet

    fleet_file = Path(os.environ.get("DSPROV_FLEET_FILE", DEFAULT_FLEET))
    runtime_dir = tmp_path_factory.mktemp("fleet", numbered=True)
    with served_fleet(fleet_file, runtime_dir / "run") as handle:
        os.environ["PROVISION_BECOME_PASSWORD"] = handle.become_password
        os.environ["DSPROV_CACHE"] = str(runtime_dir / "controller-cache")  # builds start cold
        yield handle
