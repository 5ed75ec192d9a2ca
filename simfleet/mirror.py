# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's upstream mirror: the fixture repositories and cmake archives over local HTTP.

Devices reach it at 127.0.0.1 (they share the host's network), and the tool only through the
settings a real user has for a mirror: `dsprov_trt_oss_repo`, `dsprov_pyds_repo`,
`dsprov_cmake_archives`, `dsprov_tao_apps_repo`, `dsprov_prebuilt_plugins` (the mirror's
stand-in prebuilt libraries, pinned by commit and SHA-256) and `dsprov_deepstream_yolo_repo` with
its pinned commit `dsprov_deepstream_yolo_ref`, and the stand-in of NVIDIA's CUDA network repository
with DeepStream's .deb files (`dsprov_cuda_repo`, `dsprov_cuda_keyring_sha256`,
`dsprov_deepstream_debs`; upstreams/cuda_repo.py) and of NVIDIA's L4T apt repository
(`dsprov_l4t_repo`, `dsprov_l4t_key_sha256`; upstreams/l4t_repo.py), written to the fleet inventory's group_vars.

A fleet file with `trt_oss: bundle` gets NVIDIA's real TensorRT trees instead of the shaped
repository: one bare repository holding the branches of every bundle found
(`upstreams/trt_debs.py: TREES`; release/10.16, release/10.13.3, release/11.1) at the same URL,
`<mirror>/git/NVIDIA/TensorRT.git`, as a company mirror of github.com/NVIDIA/TensorRT.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from provision.errors import ProvisionError
from simfleet.fleet import MIRROR_PID_FILE, FleetHandle, _free_port, fleet_down, fleet_up
from simfleet.roots import CACHE_DIR
from simfleet.upstreams import build_upstreams, cuda_repo, l4t_repo, trt_debs
from simfleet.upstreams.trt_oss import git

def wants_bundle(fleet_file: Path) -> bool:
    """Whether the fleet file asks for the real TensorRT tree (`trt_oss: bundle`)."""
    return yaml.safe_load(Path(fleet_file).read_text()).get("trt_oss") == "bundle"


def _bundle_root(ups_root: Path, runtime_dir: Path) -> Path:
    """A folder served like the upstreams, whose NVIDIA/TensorRT.git holds the real bundles' branches."""
    bundles = sorted({tree.bundle_path() for tree in trt_debs.TREES.values() if tree.bundle_path().is_file()})
    if not bundles:
        where = ", ".join(f"{t.bundle_path()} ({t.env})" for t in trt_debs.TREES.values())
        raise ProvisionError(f"no TensorRT bundle at {where}")
    root = runtime_dir / "mirror"
    (root / "git" / "NVIDIA").mkdir(parents=True)
    for entry in ups_root.iterdir():
        if entry.is_dir() and entry.name != "git":
            (root / entry.name).symlink_to(entry)
    for entry in (ups_root / "git").iterdir():
        if entry.name != "NVIDIA":
            (root / "git" / entry.name).symlink_to(entry)
    bare = root / "git" / "NVIDIA" / "TensorRT.git"
    git("init", "--quiet", "--bare", str(bare))
    for bundle in bundles:
        git("fetch", "--quiet", str(bundle), "refs/heads/*:refs/heads/*", cwd=bare)
    git("update-server-info", cwd=bare)  # the mirror is a dumb HTTP server
    return root


def _with_cuda_repo(root: Path, runtime_dir: Path,
                    base: str) -> tuple[Path, cuda_repo.CudaMirror, l4t_repo.L4tMirror]:
    """A folder served like `root` that also holds the stand-ins of the CUDA repository and the L4T
    apt repository, and DeepStream's .deb files (simfleet/upstreams/cuda_repo.py, l4t_repo.py);
    the CUDA keyring names `base`."""
    served = runtime_dir / "served"
    served.mkdir()
    for entry in root.iterdir():
        (served / entry.name).symlink_to(entry)
    cuda = cuda_repo.lay_out(cuda_repo.build_packages(CACHE_DIR), served, base)
    return served, cuda, l4t_repo.lay_out(l4t_repo.build_packages(CACHE_DIR), served, base)


def start_mirror(handle: FleetHandle, real_trt_oss: bool = False) -> str:
    """Serve the upstreams from a detached HTTP server (it outlives `invoke fleet.up`; `fleet_down`
    stops it with the fleet); its URL.
    `real_trt_oss` serves the real TensorRT bundle as NVIDIA/TensorRT.git."""
    ups = build_upstreams()
    port = _free_port()
    served_root, cuda, l4t = _with_cuda_repo(_bundle_root(ups.root, handle.runtime_dir) if real_trt_oss else ups.root,
                                        handle.runtime_dir, f"http://127.0.0.1:{port}")
    log = (handle.runtime_dir / "mirror.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(served_root)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    (handle.runtime_dir / MIRROR_PID_FILE).write_text(str(proc.pid))
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
        "dsprov_deepstream_yolo_repo": served.deepstream_yolo_url,
        "dsprov_deepstream_yolo_ref": served.deepstream_yolo_commit,
        "dsprov_cmake_archives": [  # first in order that is new enough: 3.31 only for the refs that need it
            *({"arch": arch, "version": served.cmake_version, "url": url, "sha256": sha}
              for arch, (url, sha) in sorted(served.cmake_archives.items())),
            dict(zip(("arch", "version", "url", "sha256"), served.newer_cmake)),
        ],
        "dsprov_cuda_repo": cuda.repository,
        "dsprov_cuda_keyring_sha256": cuda.keyring_sha256,
        "dsprov_deepstream_debs": {**cuda.deepstream, **l4t.deepstream},
        "dsprov_l4t_repo": l4t.repository,
        "dsprov_l4t_key_sha256": l4t.key_sha256,
        "ansible_become_password": "{{ lookup('env', 'PROVISION_BECOME_PASSWORD') }}",
    }
    group_vars = handle.runtime_dir / "group_vars"
    group_vars.mkdir(exist_ok=True)
    (group_vars / "all.yml").write_text(
        "# Written by fleet up: the fleet's mirror (settings a user with a mirror has too).\n"
        + yaml.safe_dump(settings, sort_keys=True)
    )
    return base


@contextlib.contextmanager
def served_fleet(fleet_file: Path, runtime_dir: Path) -> Iterator[FleetHandle]:
    """A fleet with its mirror for the length of a `with`: always stopped and cleaned up after,
    also when starting it failed half-way."""
    try:
        handle = fleet_up(fleet_file, runtime_dir)
        start_mirror(handle, wants_bundle(fleet_file))
        yield handle
    finally:
        fleet_down(runtime_dir)
