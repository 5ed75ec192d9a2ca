# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults on a real simulated host: a Ctrl-C during the build, a mirror that stalls.

The mirror here is the fleet's own upstream files served by a small HTTP server that answers
the chosen requests with headers and then nothing (for at most STALL_BOUND seconds), so git on
the host really waits on a dead transfer.
"""

import functools
import json
import os
import signal
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from simfleet.upstreams import build_upstreams

from .helpers import document, hosts

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.fleet
HOST = "t4-01"
LIB = "/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8.0.1"
STALL_BOUND = 180  # seconds a stalled request is held at most (the server never outlives a test by more)


class StallingMirror:
    """Serve `root`; a request whose path contains `stall_on` gets its headers, then silence."""

    def __init__(self, root: Path, stall_on: str) -> None:
        self.stalled = threading.Event()  # a request is being stalled now
        self.release = threading.Event()
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002 (stdlib name)
                pass

            def send_head(self):
                if stall_on not in self.path:
                    return super().send_head()
                self.send_response(200)
                self.send_header("Content-Length", "1048576")
                self.end_headers()
                self.wfile.flush()
                mirror.stalled.set()
                mirror.release.wait(STALL_BOUND)
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stalling(request):
    mirrors = []

    def make(stall_on: str) -> StallingMirror:
        mirrors.append(StallingMirror(build_upstreams().root, stall_on))
        return mirrors[-1]

    yield make
    for mirror in mirrors:
        mirror.close()


def on_device(fleet, command: str, sudo: bool = False) -> subprocess.CompletedProcess:
    if sudo:
        command = f"echo {fleet.become_password} | sudo -S -p '' sh -c '{command}'"
    return subprocess.run([*fleet.ssh_command(HOST), command], capture_output=True, text=True, timeout=120)


def inventory_with(fleet, tmp_path: Path, host_vars: str) -> Path:
    """The fleet's inventory (with its mirror settings) plus host vars for HOST."""
    return fleet.inventory_with(tmp_path / "inventory", HOST, host_vars)


def sha(fleet, path: str) -> str:
    return on_device(fleet, f"sha256sum {path}").stdout.split()[0]


def lock_is_free(fleet) -> bool:
    """Nobody holds the host's provision lock: there is none yet (a run that stopped before taking
    it), or flock -n gets it at once."""
    lock = "/var/lib/dsprov/lock"
    return on_device(fleet, f"[ ! -e {lock} ] || flock -n {lock} true", sudo=True).returncode == 0


def host_processes(fleet, word: str) -> list[str]:
    """Command lines of the host's processes that mention `word` (this probe excluded)."""
    listing = on_device(fleet, "for p in /proc/[0-9]*; do [ $p = /proc/$$ ] || "
                               "{ tr '\\0' ' ' < $p/cmdline; echo; } 2>/dev/null; done").stdout
    return [line for line in listing.splitlines() if word in line and "/proc/" not in line]


def test_ctrl_c_during_the_build_stops_it_releases_the_lock_and_exits_130(fleet, stalling, tmp_path):
    mirror = stalling("/objects/")  # ls-remote answers; the clone's object transfer hangs
    inventory = inventory_with(fleet, tmp_path, f"dsprov_trt_oss_repo: {mirror.url}/git/NVIDIA/TensorRT.git\n"
                                                "dsprov_stall_timeout: 900\n")
    original = sha(fleet, LIB)
    logs = tmp_path / "logs"
    run = subprocess.Popen([sys.executable, "-m", "invoke", "provision", "--host", HOST, "--force", "-i", str(inventory),
                            "--log-dir", str(logs)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert mirror.stalled.wait(STALL_BOUND), "the build never reached the clone"
        assert host_processes(fleet, "git clone"), "git clone runs on the host"
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=STALL_BOUND)
    finally:
        if run.poll() is None:
            run.kill()
    lines = err.strip().splitlines()
    assert run.returncode == 130, err
    assert lines[-1].startswith(f"{HOST}: cancelled during trt-oss-build, its command stopped on the host"), err
    assert lines[-1].endswith("; lock released"), err
    assert "Traceback" not in err
    assert host_processes(fleet, "git") == []
    assert lock_is_free(fleet)
    assert sha(fleet, LIB) == original  # the swap never started
    assert on_device(fleet, "cat /var/lib/dsprov/state.json 2>/dev/null").stdout.find('"plugin"') == -1
    assert "cancelled during trt-oss-build" in (logs / f"{HOST}.log").read_text()


def test_a_cancel_before_the_run_changes_nothing(fleet, tmp_path):
    """A cancel already asked stops the probe itself (in-process, real host)."""
    from provision import cancel
    from provision.artifacts import ArtifactStore
    from provision.inventory import Inventory
    from provision.matrix import Matrix
    from provision.provisioner import provision_host
    from provision.options import Flags

    original = sha(fleet, LIB)
    cancel.request()
    try:
        report = provision_host(HOST, Inventory(fleet.inventory), Flags(force=True), Matrix.load(), ArtifactStore(),
                                log_dir=tmp_path)
    finally:
        cancel.reset()
    assert report.result == "cancelled"
    assert report.message.startswith(f"{HOST}: cancelled during detect (nothing changed)"), report.message
    assert sha(fleet, LIB) == original and lock_is_free(fleet)


@pytest.mark.parametrize(("stall_on", "command"), [
    ("/TensorRT.git/", "git ls-remote"),  # every request of the repository: headers, then nothing
    ("/objects/", "PATH=/usr/local/bin:$PATH; rm -rf"),  # ls-remote answers, the clone's objects stall
])
def test_a_stalled_mirror_ends_the_run_with_one_line_and_the_lock_released(fleet, stalling, tmp_path, stall_on, command):
    mirror = stalling(stall_on)
    inventory = inventory_with(fleet, tmp_path, f"dsprov_trt_oss_repo: {mirror.url}/git/NVIDIA/TensorRT.git\n"
                                                "dsprov_stall_timeout: 3\n")
    original = sha(fleet, LIB)
    result = subprocess.run([sys.executable, "-m", "invoke", "provision", "--host", HOST, "--force", "--json",
                             "-i", str(inventory)], cwd=ROOT, capture_output=True, text=True, timeout=STALL_BOUND)
    report = hosts(result)[0]
    assert (result.returncode, report["result"]) == (1, "failed"), report
    assert mirror.stalled.is_set()
    assert "\n" not in report["message"]
    assert report["message"].startswith(f"{HOST}: `{command} "), report
    assert "Operation too slow. Less than 1000 bytes/sec transferred the last 3 seconds" in report["message"], report
    assert lock_is_free(fleet) and sha(fleet, LIB) == original
    assert host_processes(fleet, "git") == []


def test_a_stalled_controller_download_is_abandoned(stalling, tmp_path, monkeypatch):
    """The controller's own downloads (cmake archives) obey the same limit."""
    from provision.artifacts import fetch
    from provision.errors import ProvisionError

    mirror = stalling("/cmake/")
    monkeypatch.setenv("DSPROV_CACHE", str(tmp_path))
    with pytest.raises(ProvisionError, match=r"cannot download .*/cmake/x\.tar\.gz: .*timed out"):
        fetch(f"{mirror.url}/cmake/x.tar.gz", "0" * 64, "x.tar.gz", stall_timeout=2)
    assert mirror.stalled.is_set()
    assert os.listdir(tmp_path / "downloads" / ("0" * 64)) == []  # nothing half-written is kept


SAVED = "/var/lib/dsprov/orig/libnvinfer_plugin.so.8.0.1"


def invoke(*args: str, inventory) -> tuple[int, dict | None, str]:
    """Run an invoke task with --json on HOST: exit code, the host's report, stderr."""
    result = subprocess.run([sys.executable, "-m", "invoke", *args, "--json", "-i", str(inventory)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = document(result) if result.stdout.strip() else None
    return result.returncode, out["hosts"][0] if out and "hosts" in out else out, result.stderr


def install_deb(fleet, tmp_path: Path, version: str, library: bytes) -> None:
    """Build a real libnvinfer-plugin8 .deb with dpkg-deb carrying `library` and `dpkg -i` it on
    the host, as an apt upgrade (or downgrade) of TensorRT's plugin package does."""
    pkg = tmp_path / f"deb-{version}"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        f"Package: libnvinfer-plugin8\nVersion: {version}\nArchitecture: amd64\nMaintainer: dsprov tests <t@t>\n"
        "Description: TensorRT plugin library (test upgrade)\n")
    lib = pkg / LIB.lstrip("/")
    lib.parent.mkdir(parents=True)
    lib.write_bytes(library)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(pkg), str(tmp_path / "p.deb")], check=True,
                   capture_output=True)
    subprocess.run([*fleet.ssh_command(HOST), "cat > /tmp/p.deb"], input=(tmp_path / "p.deb").read_bytes(),
                   check=True, timeout=60)
    done = on_device(fleet, "dpkg -i /tmp/p.deb && rm -f /tmp/p.deb", sudo=True)
    assert done.returncode == 0, done.stderr


def back_to_stock(fleet, original: str) -> None:
    """Whatever step a failed test stopped at: the package's library back in place (from wherever
    a copy with its SHA-256 is), no diversion, no dsprov state, so the next test starts clean."""
    on_device(fleet, f"for f in /var/lib/dsprov/orig/previous/* {SAVED}; do [ -f $f ] &&"
                     f" [ $(sha256sum < $f | cut -c1-64) = {original} ] && cp -p $f {LIB} && break; done;"
                     f" dpkg-divert --package dsprov --no-rename --remove {LIB};"
                     " rm -rf /var/lib/dsprov/orig /var/lib/dsprov/state.json /tmp/theirs", sudo=True)


def device_bytes(fleet, path: str) -> bytes:
    return subprocess.run([*fleet.ssh_command(HOST), f"cat {path}"], capture_output=True, check=True, timeout=60).stdout


def test_someone_elses_library_is_refused_and_with_force_kept_for_rollback(fleet, tmp_path):
    inv = fleet.inventory
    invoke("rollback", "--host", HOST, inventory=inv)
    original = sha(fleet, LIB)
    code, report, _ = invoke("provision", "--host", HOST, inventory=inv)
    assert (code, report["result"]) == (0, "ok"), report
    built = sha(fleet, LIB)
    assert on_device(fleet, f"cp {LIB} /tmp/theirs && printf theirs >> /tmp/theirs && cp /tmp/theirs {LIB}",
                     sudo=True).returncode == 0
    theirs = sha(fleet, LIB)
    try:
        code, report, _ = invoke("provision", "--host", HOST, inventory=inv)
        assert (code, report["result"]) == (1, "failed"), report
        assert report["message"] == (
            f"{HOST}: {LIB} (SHA-256 {theirs[:12]}) is neither the original dsprov saved ({original[:12]}) nor the"
            f" build it installed ({built[:12]}): changed by hand? Nothing was changed; --force replaces it and"
            " keeps it for rollback")
        assert sha(fleet, LIB) == theirs and sha(fleet, SAVED) == original
        code, report, err = invoke("rollback", "--host", HOST, inventory=inv)
        assert code == 1 and "is neither the original" in err and sha(fleet, LIB) == theirs  # rollback refuses too

        code, report, _ = invoke("provision", "--host", HOST, "--force", inventory=inv)
        assert (code, report["result"]) == (0, "ok"), report
        assert "kept as the original rollback restores (--force)" in report["message"]
        assert sha(fleet, LIB) == built
        kept = f"/var/lib/dsprov/orig/previous/libnvinfer_plugin.so.8.0.1.{original[:12]}"
        assert sha(fleet, kept) == original  # the package's original is not lost either
        code, report, _ = invoke("rollback", "--host", HOST, inventory=inv)
        assert (code, report["outcome"]) == (0, "restored"), report
        assert sha(fleet, LIB) == theirs
        assert json.loads(on_device(fleet, "cat /var/lib/dsprov/state.json").stdout)["previous_originals"] == [
            {"sha256": original, "path": kept}]
    finally:
        back_to_stock(fleet, original)
    assert sha(fleet, LIB) == original


def test_a_tensorrt_package_upgrade_makes_a_new_original(fleet, tmp_path):
    inv = fleet.inventory
    invoke("rollback", "--host", HOST, inventory=inv)
    stock = device_bytes(fleet, LIB)
    old_version = on_device(fleet, "dpkg-query -W -f '${Version}' libnvinfer-plugin8").stdout
    code, report, _ = invoke("provision", "--host", HOST, inventory=inv)
    assert (code, report["result"]) == (0, "ok"), report["message"]
    built = sha(fleet, LIB)
    upgraded = stock + b"\0" * 4096  # still the same loadable library, other bytes
    try:
        install_deb(fleet, tmp_path, "8.0.1-2+cuda11.3", upgraded)
        assert device_bytes(fleet, SAVED) == upgraded  # dpkg respected the diversion: the upgrade went
        assert sha(fleet, LIB) == built  # to the saved copy, the build stays in place

        code, report, _ = invoke("provision", "--host", HOST, inventory=inv)
        assert (code, report["result"]) == (0, "ok"), report
        assert (f"libnvinfer_plugin.so.8.0.1: its package was upgraded ({old_version} -> 8.0.1-2+cuda11.3); dpkg"
                f" wrote the new library to {SAVED} (diverted): it is the new original") in report["message"]
        assert sha(fleet, LIB) == built
        code, report, _ = invoke("provision", "--host", HOST, inventory=inv)
        assert code == 0 and {s["status"] for s in report["steps"]} == {"unchanged"}, report
        assert "new original" not in report["message"]
        code, report, _ = invoke("rollback", "--host", HOST, inventory=inv)
        assert (code, report["outcome"]) == (0, "restored"), report
        assert device_bytes(fleet, LIB) == upgraded
    finally:
        invoke("rollback", "--host", HOST, inventory=inv)
        install_deb(fleet, tmp_path, old_version, stock)
    assert device_bytes(fleet, LIB) == stock


def test_a_command_past_its_timeout_is_stopped_on_the_host(fleet):
    """The runner's timeout kills the command's whole process group on the host, not only the channel."""
    from provision.errors import ProvisionError
    from provision.inventory import Inventory
    from provision.runners import runner_for

    runner = runner_for(Inventory(fleet.inventory).host(HOST))
    try:
        with pytest.raises(ProvisionError, match=r"`sh -c 'sleep 617 & sleep 618'` timed out after 3 s \(stopped\)"):
            runner.run("sh -c 'sleep 617 & sleep 618'", timeout=3)
    finally:
        runner.close()
    assert host_processes(fleet, "sleep 61") == []
