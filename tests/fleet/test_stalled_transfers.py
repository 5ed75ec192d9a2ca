# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Transfers that stall end after `dsprov_stall_timeout` with one line, on a real simulated host
(issue 23): an SFTP upload the host stops reading (its internal-sftp process stopped with
SIGSTOP, so sshd grants no more window), and git clones over git:// and ssh:// from a server
that sends one byte every 2 s (a trickle, not a dead link: each byte resets any idle timeout).
The stall limit here is 3 s; each transfer is given at most BOUND seconds before the test fails
(a hang guard, not a timing assertion)."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from provision.errors import ProvisionError, StepFailed
from provision.inventory import Inventory
from provision.runners import runner_for
from provision.core.step import StepContext

from .helpers import on_device

pytestmark = pytest.mark.fleet
HOST = "t4-01"
STALL = 3  # seconds: dsprov_stall_timeout in these tests
BOUND = 120  # seconds a stalled transfer may run before the test calls it a hang
SFTP = "[@]internal-sftp$"  # sshd's title for an internal-sftp session, USER@internal-sftp ([@]: not pkill's shell)


@pytest.fixture(scope="module")
def t4(serve_fleet):
    with serve_fleet("stalls", f"name: stalls\ndevices:\n  - {{name: {HOST}, profile: t4}}\n") as handle:
        yield handle


@pytest.fixture
def runner(t4):
    runner = runner_for(Inventory(t4.inventory).host(HOST))
    runner.stall_timeout = STALL
    yield runner
    runner.close()


class Trickle:
    """A TCP server that reads what a client sends first, then answers one byte every 2 s (for
    at most BOUND seconds): a git:// daemon or an ssh server on a link that barely moves."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connected = threading.Event()
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.connected.set()
            threading.Thread(target=self._trickle, args=(client,), daemon=True).start()

    def _trickle(self, client: socket.socket) -> None:
        with client:
            client.settimeout(2)
            try:
                client.recv(4096)
            except OSError:
                pass
            for _ in range(BOUND // 2):
                try:
                    client.sendall(b"0")
                except OSError:
                    return
                if self.closed.wait(2):
                    return

    def close(self) -> None:
        self.closed.set()
        self.server.close()


@pytest.fixture
def trickle():
    server = Trickle()
    yield server
    server.close()


def stalled(what: str) -> str:
    return (f"{HOST}: copying {what} moved under 1000 bytes/s for {STALL} s: abandoned, nothing of it is used"
            " (stall limit: dsprov_stall_timeout)")


def stopping_sftp(handle) -> subprocess.Popen:
    """Stop (SIGSTOP) every internal-sftp session of the login user on the host as it starts, for
    at most BOUND seconds; returns once the loop runs."""
    loop = (f"end=$(($(date +%s) + {BOUND})); while [ $(date +%s) -lt $end ];"
            f" do pkill -STOP -f '{SFTP}'; echo stopping; sleep 0.05; done")
    stopper = subprocess.Popen([*handle.ssh_command(HOST), loop],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert stopper.stdout.readline() == "stopping\n"
    return stopper


def release_sftp(handle, stopper: subprocess.Popen) -> None:
    stopper.kill()
    stopper.wait()
    on_device(handle, HOST, f"pkill -KILL -f '{SFTP}'; true")


def ended(work, bound: float = BOUND):
    """Run `work` in a thread; the exception it ended with (the test fails if it never ends)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            work()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(bound)
    assert outcome, f"still running after {bound} s with a {STALL} s stall limit"
    return outcome[0]


def test_an_upload_the_host_stops_reading_is_abandoned_and_nothing_is_installed(t4, runner, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(32 << 20))  # more than sshd's channel window (2 MiB) and the pipes behind it
    target = "/home/" + t4.device(HOST).profile.user + "/stalled-target"
    stopper = stopping_sftp(t4)
    try:
        failure = ended(lambda: runner.write_atomic(big, target))
    finally:
        release_sftp(t4, stopper)
    assert isinstance(failure, ProvisionError), failure
    assert str(failure) == stalled("big.bin to the host")
    assert on_device(t4, HOST, f"test -e {target}").returncode == 1
    runner.write_atomic(b"whole\n", target)  # the host and the runner's connection are fine afterwards
    assert on_device(t4, HOST, f"cat {target}").stdout == "whole\n"


def test_a_copy_from_a_host_that_stops_sending_is_abandoned(t4, runner, tmp_path):
    """The build output's copy back to the controller (cached_build) obeys the same limit."""
    on_device(t4, HOST, "head -c 33554432 /dev/zero > /tmp/stalled-output")
    stopper = stopping_sftp(t4)
    try:
        failure = ended(lambda: runner.get("/tmp/stalled-output", tmp_path / "output"))
    finally:
        release_sftp(t4, stopper)
        on_device(t4, HOST, "rm -f /tmp/stalled-output")
    assert isinstance(failure, ProvisionError), failure
    assert str(failure) == stalled("/tmp/stalled-output from the host")


def test_an_upload_over_a_link_that_barely_moves_is_abandoned(t4, tmp_path):
    """The host reads, but the link between (a ProxyCommand letting one byte through every 2 s)
    takes nothing more: even the channel's close cannot leave, so the connection is ended."""
    gate = tmp_path / "slow"
    spec = Inventory(t4.inventory).host(HOST)
    proxy = f"{sys.executable} {Path(__file__).with_name('slow_link.py')} %h %p {gate}"
    common = f"{spec.vars.get('ansible_ssh_common_args', '')} -o \"ProxyCommand {proxy}\""
    # the ssh options as the inventory resolves them (HostSpec.ssh) and the var they come from
    runner = runner_for(dataclasses.replace(spec, vars={**spec.vars, "ansible_ssh_common_args": common},
                                            ssh={**spec.ssh, "ssh_common_args": common}))
    runner.stall_timeout = STALL
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(8 << 20))
    try:
        assert runner.run("true").ok  # connected through the relay while it still moves
        gate.touch()
        failure = ended(lambda: runner.upload(big))
    finally:
        runner.close()
    assert isinstance(failure, ProvisionError), failure
    assert str(failure) == stalled("big.bin to the host")


@pytest.mark.parametrize("scheme", ["git", "ssh"])
def test_a_trickling_clone_is_stopped_with_one_line(t4, runner, trickle, scheme):
    ctx = StepContext(runner, None, stall_timeout=STALL)
    url = f"{scheme}://127.0.0.1:{trickle.port}/NVIDIA/TensorRT.git"
    clone = f"rm -rf /tmp/stalled-clone && git clone --single-branch -- {url} /tmp/stalled-clone"
    failure = ended(lambda: ctx.sh(clone))
    assert trickle.connected.is_set(), "git never reached the server"
    assert isinstance(failure, StepFailed), failure
    assert str(failure).endswith(f"failed (143): error: Operation too slow: git moved less than 1000 bytes/s"
                                 f" for {STALL} s: stopped (stall limit: dsprov_stall_timeout)"), failure
    assert "\n" not in str(failure)
    leftovers = on_device(t4, HOST, "pgrep -af 'git|ssh 127' | grep -v pgrep; test -e /tmp/stalled-clone && echo left")
    assert "stalled-clone" not in leftovers.stdout and "left" not in leftovers.stdout, leftovers.stdout
