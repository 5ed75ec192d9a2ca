"""The fleet's upstream mirror: the fixture repositories and cmake archives over local HTTP.

Devices reach it at 127.0.0.1 (they share the host's network), and the tool only through the
settings a real user has for a mirror: `dsprov_trt_oss_repo`, `dsprov_pyds_repo`,
`dsprov_cmake_archives`, `dsprov_tao_apps_repo` and `dsprov_prebuilt_plugins` (the mirror's
stand-in prebuilt libraries, pinned by commit and SHA-256), written to the fleet inventory's
group_vars.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from provision.simfleet.fleet import FleetHandle, _free_port, fleet_down, fleet_up
from provision.simfleet.upstreams import build_upstreams

PID_FILE = "mirror.pid"


def start_mirror(handle: FleetHandle) -> str:
    """Serve the upstreams from a detached HTTP server (it outlives `invoke fleet.up`); its URL."""
    ups = build_upstreams()
    port = _free_port()
    log = (handle.runtime_dir / "mirror.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(ups.root)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    (handle.runtime_dir / PID_FILE).write_text(str(proc.pid))
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    served = ups.over_http(base)
    settings = {
        "dsprov_trt_oss_repo": served.trt_oss_url,
        "dsprov_pyds_repo": served.pyds_url,
        "dsprov_tao_apps_repo": served.tao_apps_url,
        "dsprov_prebuilt_plugins": served.prebuilt,
        "dsprov_cmake_archives": [
            {"arch": arch, "version": served.cmake_version, "url": url, "sha256": sha}
            for arch, (url, sha) in sorted(served.cmake_archives.items())
        ],
        "ansible_become_password": "{{ lookup('env', 'PROVISION_BECOME_PASSWORD') }}",
    }
    group_vars = handle.runtime_dir / "group_vars"
    group_vars.mkdir(exist_ok=True)
    (group_vars / "all.yml").write_text(
        "# Written by fleet up: the fleet's mirror (settings a user with a mirror has too).\n"
        + yaml.safe_dump(settings, sort_keys=True)
    )
    return base


def stop_mirror(runtime_dir: Path) -> None:
    """Stop the mirror server of a fleet, if one runs."""
    pid_file = Path(runtime_dir) / PID_FILE
    if not pid_file.exists():
        return
    try:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    except (ProcessLookupError, ValueError):
        pass
    pid_file.unlink()


@contextlib.contextmanager
def served_fleet(fleet_file: Path, runtime_dir: Path) -> Iterator[FleetHandle]:
    """A fleet with its mirror for the length of a `with`: always stopped and cleaned up after,
    also when starting it failed half-way."""
    try:
        handle = fleet_up(fleet_file, runtime_dir)
        start_mirror(handle)
        yield handle
    finally:
        stop_mirror(runtime_dir)
        fleet_down(runtime_dir)
