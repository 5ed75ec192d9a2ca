"""Run on this machine (inventory hosts with `ansible_connection=local`).

As root, commands that want sudo run as they are: root needs no sudo binary (a container or
gVisor sandbox often has none).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Callable

from provision.runners.base import Result, check_sudo, sudo_wrap


class LocalRunner:
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
        sudo = sudo and not _is_root()
        if sudo:
            command, stdin = sudo_wrap(command, self.become_password, stdin)
        proc = subprocess.Popen(
            ["sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if on_line is None:
            out, err = proc.communicate(stdin, timeout=timeout)
        else:
            out, err = _stream(proc, stdin, on_line, timeout)
        result = Result(command, proc.returncode, out, err)
        return check_sudo(result) if sudo else result

    def hold(self, command: str, *, ready: str, sudo: bool = False) -> "LocalHold | None":
        """Start a command that prints `ready` and then waits on stdin; None if it never did."""
        password_line = None
        sudo = sudo and not _is_root()
        if sudo:
            command, password_line = sudo_wrap(command, self.become_password)
        proc = subprocess.Popen(
            ["sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if password_line:
            proc.stdin.write(password_line)
            proc.stdin.flush()
        for line in proc.stdout:
            if line.strip() == ready:
                return LocalHold(proc)
        err = proc.stderr.read()
        proc.wait()
        check_sudo(Result(command, proc.returncode, "", err))
        return None

    def put(self, local: Path, remote: str) -> None:
        shutil.copyfile(local, remote)

    def get(self, remote: str, local: Path) -> None:
        shutil.copyfile(remote, local)

    def close(self) -> None:
        pass


def _is_root() -> bool:
    return os.geteuid() == 0


def _stream(proc: subprocess.Popen, stdin: str | None, on_line, timeout) -> tuple[str, str]:
    """Feed stdin, pass stdout lines to on_line as they come, collect stderr."""
    err_chunks: list[str] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    if stdin:
        proc.stdin.write(stdin)
    proc.stdin.close()
    lines = []
    for line in proc.stdout:
        lines.append(line)
        on_line(line.rstrip("\n"))
    proc.wait(timeout=timeout)
    reader.join()
    return "".join(lines), "".join(err_chunks)


class LocalHold:
    """A command kept running until release() closes its stdin."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    def release(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
