# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run on this machine (inventory hosts with `ansible_connection=local`).

As root, commands that want sudo run as they are: root needs no sudo binary (a container or
gVisor sandbox often has none). Each command runs in its own process group, so the terminal's
Ctrl-C reaches only the tool (which cancels at its next safe point), and a cancel or a timeout
stops everything the command started, as the SSH runner does on a remote host.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from collections.abc import Callable

from provision import cancel
from provision.errors import ProvisionError, StepFailed
from provision.runners.base import FileOps, Result, check_sudo, sudo_wrap

KILL_GRACE = 2.0  # seconds between TERM and KILL when a command is stopped


class LocalRunner(FileOps):
    def __init__(self, host: str = "localhost", become_password: str | None = None) -> None:
        self.host = host
        self.become_password = become_password

    def run(
        self,
        command: str,
        *,
        stdin: str | None = None,
        sudo: bool = False,
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result:
        self.sent()
        stoppable = not sudo  # a sudo command's processes are root's, not ours to signal
        sudo = sudo and not _is_root()
        if sudo:
            command, stdin = sudo_wrap(command, self.become_password, stdin)
        if stoppable and cancel.interruptible():
            raise cancel.Cancelled(f"{self.host}: cancelled before `{command[:80]}`")
        proc = subprocess.Popen(
            ["sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        out, err = _stream(proc, stdin, on_line)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() > deadline:
                    _kill(proc)
                    raise ProvisionError(f"{self.host}: `{command[:80]}` timed out after {timeout:g} s (stopped)") from None
                if stoppable and cancel.interruptible():
                    _kill(proc)
                    raise cancel.Cancelled(f"{self.host}: cancelled during `{command[:80]}` (stopped)") from None
        result = Result(command, proc.returncode, *(part.result() for part in (out, err)))
        return check_sudo(result) if sudo else result

    def hold(self, command: str, *, ready: str, sudo: bool = False) -> LocalHold | None:
        """Start a command that prints `ready` and then waits on stdin; None if it never did."""
        self.sent()
        password_line = None
        sudo = sudo and not _is_root()
        if sudo:
            command, password_line = sudo_wrap(command, self.become_password)
        proc = subprocess.Popen(
            ["sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,  # a Ctrl-C at the terminal must not end the hold before release()
        )
        if password_line:
            proc.stdin.write(password_line)
            proc.stdin.flush()
        printed: list[str] = []
        for line in proc.stdout:
            if line.strip() == ready:
                return LocalHold(proc, "".join(printed))
            printed.append(line)
        err = proc.stderr.read()
        proc.wait()
        check_sudo(Result(command, proc.returncode, "", err))
        return None

    def put(self, local: Path, remote: str) -> None:
        self.sent()
        shutil.copyfile(local, remote)

    def upload(self, local: Path) -> str:
        """Into a new private folder (tempfile.mkdtemp: mode 0700, a name nobody can squat)."""
        self.sent()
        remote = Path(tempfile.mkdtemp(prefix=".dsprov-up.")) / local.name
        shutil.copyfile(local, remote)
        return str(remote)

    def get(self, remote: str, local: Path) -> None:
        self.sent()
        try:
            shutil.copyfile(remote, local)
        except OSError as exc:  # a build output that vanished
            raise StepFailed(f"{self.host}: cannot copy {remote}: {exc.strerror or exc}") from None

    def close(self) -> None:
        pass


def _is_root() -> bool:
    return os.geteuid() == 0


class _Collected:
    """Text a reader thread gathers from one of the command's streams."""

    def __init__(self, stream, on_line: Callable[[str], None] | None = None) -> None:
        self.chunks: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream, on_line), daemon=True)
        self.thread.start()

    def _read(self, stream, on_line) -> None:
        for line in stream:
            self.chunks.append(line)
            if on_line:
                on_line(line.rstrip("\n"))

    def result(self) -> str:
        self.thread.join()
        return "".join(self.chunks)


def _stream(proc: subprocess.Popen, stdin: str | None, on_line) -> tuple[_Collected, _Collected]:
    """Start reading stdout (each line to on_line as it comes) and stderr, then feed stdin."""
    out, err = _Collected(proc.stdout, on_line), _Collected(proc.stderr)
    try:
        if stdin:
            proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:  # the command ended without reading its input
        pass
    return out, err


def _kill(proc: subprocess.Popen) -> None:
    """Stop the command's whole process group: TERM, then KILL after a grace."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=KILL_GRACE)
            return
        except subprocess.TimeoutExpired:
            continue


class LocalHold:
    """A command kept running until release() closes its stdin."""

    def __init__(self, proc: subprocess.Popen, printed: str) -> None:
        self.proc = proc
        self.printed: str | None = printed  # before the ready line

    def release(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
