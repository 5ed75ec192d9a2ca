"""Run over SSH with Fabric (paramiko); the target needs only sh and sudo."""

from __future__ import annotations

import re
import secrets
import select
import shutil
import socket
import time
from pathlib import Path
from typing import Callable

import paramiko
from fabric import Connection

from provision import cancel
from provision.errors import HostUnreachable, ProvisionError
from provision.inventory import HostSpec
from provision.runners.base import FileOps, Result, check_sudo, sudo_wrap
from provision.runners.host_keys import HostKeyRefused, apply_policy, host_key_policy, mismatch

PGID_MARK = "[dsprov-pgid]"
# sshd starts each session's shell with setsid(), so the shell's $$ is the command's process group.
PGID_LINE = re.compile(re.escape(PGID_MARK) + r" (\d+)\n")


class SSHRunner(FileOps):
    def __init__(self, spec: HostSpec, connect_timeout: float = 15) -> None:
        self.host = spec.name
        self.spec = spec
        connect_kwargs: dict = {"look_for_keys": spec.key_file is None, "allow_agent": False}
        if spec.key_file:
            connect_kwargs["key_filename"] = [spec.key_file]
        if spec.password:
            connect_kwargs["password"] = spec.password
        self.connection = Connection(
            spec.address,
            user=spec.user,
            port=spec.port,
            connect_timeout=connect_timeout,
            connect_kwargs=connect_kwargs,
        )
        self.host_keys = host_key_policy(spec.vars, self.connection.ssh_config)
        apply_policy(self.connection.client, self.host, self.host_keys)

    def _open(self) -> None:
        if self.connection.is_connected:
            return
        try:
            self.connection.open()
            _no_delay(self.connection.transport.sock)
        except paramiko.BadHostKeyException as exc:
            self.connection.close()
            raise mismatch(self.host, self.host_keys, exc, self.spec.port) from None
        except HostKeyRefused:
            self.connection.close()
            raise
        except (OSError, socket.timeout, paramiko.SSHException) as exc:
            where = f"{self.spec.user or ''}@{self.spec.address}:{self.spec.port or 22}"
            raise HostUnreachable(f"{self.host}: cannot reach {where}: {exc}") from exc

    def run(
        self,
        command: str,
        *,
        stdin: str | None = None,
        sudo: bool = False,
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result:
        self._open()
        self.sent()
        if sudo:
            command, stdin = sudo_wrap(command, self.spec.become_password, stdin)
        try:
            code, out, err = self._exec(command, stdin, timeout, on_line, stoppable=not sudo)
        except (OSError, paramiko.SSHException) as exc:
            raise HostUnreachable(f"{self.host}: connection lost: {exc}") from exc
        result = Result(command, code, out, err)
        return check_sudo(result) if sudo else result

    def _exec(self, command: str, stdin: str | None, timeout: float | None, on_line,
              stoppable: bool) -> tuple[int, str, str]:
        """Run on a fresh channel: send stdin whole, then read both streams until exit.

        A stoppable command (not under sudo: its processes are ours to signal) first reports its
        process group, so a timeout or a cancel kills everything it started on the host, not only
        the channel. (Fabric's in_stream feeds stdin a byte at a time with a pause between bytes:
        a 6 kB probe took a minute that way.)
        """
        if stoppable and cancel.interruptible():
            raise cancel.Cancelled(f"{self.host}: cancelled before `{command[:80]}`")
        channel = self.connection.client.get_transport().open_session()
        deadline = None if timeout is None else time.monotonic() + timeout
        pgid = None
        try:
            channel.exec_command(f"echo '{PGID_MARK}' $$ >&2; {command}" if stoppable else command)
            if stdin:
                channel.sendall(stdin.encode())
            channel.shutdown_write()
            out, err, pending = bytearray(), bytearray(), ""
            while True:
                if stoppable and pgid is None and (found := PGID_LINE.match(err.decode(errors="replace"))):
                    pgid = int(found.group(1))
                    del err[: found.end()]
                if deadline is not None and time.monotonic() > deadline:
                    self._kill(pgid)
                    raise ProvisionError(f"{self.host}: `{command[:80]}` timed out after {timeout:g} s (stopped)")
                if stoppable and cancel.interruptible():
                    self._kill(pgid)
                    raise cancel.Cancelled(f"{self.host}: cancelled during `{command[:80]}` (stopped on the host)")
                select.select([channel], [], [], 0.5)
                got = False
                while channel.recv_ready():
                    data = channel.recv(65536)
                    out += data
                    got = True
                    if on_line:
                        pending += data.decode(errors="replace")
                        *lines, pending = pending.split("\n")
                        for line in lines:
                            on_line(line)
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                    got = True
                if not got and channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                    break
            if on_line and pending:
                on_line(pending)
            return channel.recv_exit_status(), out.decode(errors="replace"), err.decode(errors="replace")
        finally:
            channel.close()

    def _kill(self, pgid: int | None) -> None:
        """Stop a command's whole process group on the host (TERM, then KILL after a grace)."""
        if pgid is None:
            return
        self.sent()
        channel = self.connection.client.get_transport().open_session()
        try:
            channel.exec_command(f"kill -TERM -{pgid} 2>/dev/null && sleep 2; kill -KILL -{pgid} 2>/dev/null; true")
            channel.recv_exit_status()
        finally:
            channel.close()

    def hold(self, command: str, *, ready: str, sudo: bool = False, timeout: float = 120) -> "SSHHold | None":
        """Start a command that prints `ready` and then waits on stdin; None if it never did."""
        self._open()
        self.sent()
        password_line = None
        if sudo:
            command, password_line = sudo_wrap(command, self.spec.become_password)
        channel = self.connection.client.get_transport().open_session()
        channel.exec_command(command)
        if password_line:
            channel.sendall(password_line.encode())
        out, err = "", ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            select.select([channel], [], [], 0.5)
            while channel.recv_ready():
                out += channel.recv(4096).decode(errors="replace")
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(4096).decode(errors="replace")
            if ready in out.splitlines():
                return SSHHold(channel)
            if "Sorry, try again" in err or channel.exit_status_ready():
                break  # a wrong password would be asked for again, forever
        channel.close()
        check_sudo(Result(command, 1, out, err))
        return None

    def put(self, local: Path, remote: str) -> None:
        """Copy a file to the host, creating `remote` anew (O_EXCL): a file or link that another
        user left at that path is refused, never written through."""
        self._open()
        self.sent()
        sftp = self.connection.sftp()
        try:
            sftp.remove(remote)  # our own leftover; another user's stays (sticky /tmp) and is refused below
        except OSError:
            pass
        self._copy(sftp, local, remote)

    def upload(self, local: Path) -> str:
        """Into a new folder of a random name, mode 0700 (SFTP mkdir fails on an existing path),
        in the same round trip as the copy."""
        self._open()
        self.sent()
        sftp = self.connection.sftp()
        folder = f"/tmp/.dsprov-up.{secrets.token_hex(8)}"
        try:
            sftp.mkdir(folder, 0o700)
        except OSError as exc:
            raise ProvisionError(f"{self.host}: cannot make a private folder {folder} ({exc})") from exc
        self._copy(sftp, local, f"{folder}/{local.name}")
        return f"{folder}/{local.name}"

    def _copy(self, sftp: paramiko.SFTPClient, local: Path, remote: str) -> None:
        """Write `remote` with pipelined SFTP writes (their errors surface at close; a short
        file, as a full disk leaves, is caught by the size and SHA-256 check that uses it)."""
        try:
            with open(local, "rb") as source, sftp.open(remote, "wxb") as target:
                target.set_pipelined(True)
                shutil.copyfileobj(source, target, 1 << 15)
        except OSError as exc:
            raise ProvisionError(f"{self.host}: cannot create {remote} ({exc}): is something else at that path?") from exc

    def get(self, remote: str, local: Path) -> None:
        self._open()
        self.sent()
        self.connection.get(remote, str(local))

    def close(self) -> None:
        self.connection.close()


def _no_delay(sock: object) -> None:
    """Send each small packet at once (TCP_NODELAY). paramiko sets no socket option itself
    (paramiko/transport.py and client.py have no setsockopt), so Nagle's algorithm holds a short
    request back behind the peer's delayed ACK: about 40 ms more per command. The same fix:
    https://github.com/imbue-ai/mngr/pull/2598, https://github.com/pahaz/sshtunnel/pull/246.
    A gateway's channel is no socket and is left as it is."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class SSHHold:
    """A remote command kept running until release() closes its stdin."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel

    def release(self) -> None:
        self.channel.shutdown_write()
        self.channel.recv_exit_status()
        self.channel.close()
