# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run over SSH with Fabric (paramiko); the target needs only sh and sudo."""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import select
import shlex
import shutil
import socket
import threading
import time
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import paramiko
from fabric import Config, Connection

from provision import cancel
from provision.errors import HostUnreachable, ProvisionError, StepFailed
from provision.inventory import HostSpec
from provision.runners.base import UPLOAD_PREFIX, FileOps, Result, check_sudo, sudo_wrap
from provision.runners.host_keys import HostKeyPolicy, apply_policy, host_key_policy, mismatch
from provision.runners.ssh_settings import Endpoint, resolve
from provision.stall import LOW_SPEED_LIMIT, RateWindow

# paramiko logs a refused channel (and other failures) on its own: our one line says it, so its
# records go nowhere unless the program configures logging (Python's logging HOWTO, "Configuring
# Logging for a Library": without a handler they would reach stderr through logging.lastResort).
logging.getLogger("paramiko").addHandler(logging.NullHandler())
# paramiko checks every packet's MAC with a pure-Python byte loop (paramiko/util.py,
# constant_time_bytes_eq): about a third of its transport thread's CPU on a no-op. The standard
# library's constant-time comparison does the same in C (https://docs.python.org/3/library/hmac.html).
paramiko.packet.util.constant_time_bytes_eq = hmac.compare_digest


def _hmac(key: bytes, message: bytes, digest_class: Callable) -> bytes:
    """paramiko's per-packet MAC (paramiko/packet.py, compute_hmac: an hmac.HMAC object per packet)
    in the standard library's one-shot C function (hmac.digest, same bytes)."""
    return hmac.digest(key, message, digest_class)


_NOT_PRINTABLE = re.compile(rb"[^\x20-\x7f]")


def _safe_string(data: bytes) -> bytes:
    """paramiko's escape for a server's debug message (paramiko/util.py, safe_string: a byte at a
    time in Python, about a millisecond for the line every login of these sshds sends): the same
    bytes, printable ones kept, others `%XX`."""
    return _NOT_PRINTABLE.sub(lambda found: b"%%%02X" % found.group()[0], data)


paramiko.packet.compute_hmac = _hmac
paramiko.util.safe_string = _safe_string

PGID_MARK = "[dsprov-pgid]"
CLOSE_GRACE = 5  # seconds a stalled transfer's channel gets to close before the connection is ended
# sshd starts each session's shell with setsid(), so the shell's $$ is the command's process group.
PGID_LINE = re.compile(re.escape(PGID_MARK) + r" (\d+)\n")


class SSHRunner(FileOps):
    def __init__(self, spec: HostSpec, connect_timeout: float = 15) -> None:
        self.host = spec.name
        self.spec = spec
        target = resolve(spec)
        self.connection = _connection(spec, target, target, connect_timeout)

    def _open(self) -> None:
        if not self.connection.is_connected:
            _open(self.connection)

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
            code = channel.recv_exit_status()
            if code == -1 and not self.connection.client.get_transport().is_active():
                # no exit status and the connection gone: the host died or rebooted mid-command
                # (power loss), not a failure of the command's own (a compile error)
                raise HostUnreachable(f"{self.host}: the connection was lost during `{command[:80]}`"
                                      " (the host went down or rebooted?)")
            return code, out.decode(errors="replace"), err.decode(errors="replace")
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

    def hold(self, command: str, *, ready: str, sudo: bool = False, timeout: float = 120) -> SSHHold | None:
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
            lines = out.splitlines()
            if ready in lines:
                return SSHHold(channel, "\n".join(lines[:lines.index(ready)]))
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

        def copy(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.remove(remote)  # our own leftover; another user's stays (sticky /tmp) and is refused below
            except OSError:
                pass
            self._copy(sftp, local, remote)

        self._transfer(f"{local.name} to the host", copy)

    def upload(self, local: Path) -> str:
        """Into a new folder of a random name, mode 0700 (SFTP mkdir fails on an existing path),
        in the same round trip as the copy."""
        self._open()
        self.sent()
        folder = f"/tmp/.dsprov-up.{secrets.token_hex(8)}"

        def copy(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.mkdir(folder, 0o700)
            except OSError as exc:
                raise ProvisionError(f"{self.host}: cannot make a private folder {folder} ({exc})") from exc
            self._copy(sftp, local, f"{folder}/{local.name}")

        self._transfer(f"{local.name} to the host", copy)
        return f"{folder}/{local.name}"

    def put_files(self, files: Sequence[tuple[Path, str]], folder: str | None = None) -> str:
        """One SFTP session, one round trip: the fresh folder (as upload's) unless given, and every copy."""
        self._open()
        self.sent()
        target = folder or f"{UPLOAD_PREFIX}{secrets.token_hex(8)}"

        def copy(sftp: paramiko.SFTPClient) -> None:
            if folder is None:
                try:
                    sftp.mkdir(target, 0o700)
                except OSError as exc:
                    raise ProvisionError(f"{self.host}: cannot make a private folder {target} ({exc})") from exc
            for local, name in files:
                self._copy(sftp, local, f"{target}/{name}")

        self._transfer(f"{len(files)} file(s) to the host", copy)
        return target

    def _transfer(self, what: str, work: Callable[[paramiko.SFTPClient], object],
                  failure: type[ProvisionError] = ProvisionError) -> None:
        """Copy `what` by `work` on a fresh SFTP session that is abandoned when it stalls
        (provision/stall.py): a thread watches how many bytes have moved (what arrived, and what
        the host has taken in: the SSH window it grants back as it reads) and closes the channel
        when a whole window of
        `stall_timeout` seconds brought under LOW_SPEED_LIMIT bytes/s, or at a cancel; when even
        the close cannot leave (a link that takes nothing), the whole connection. What was sent
        lies in a private staging folder and is never used unverified (write_atomic); what
        arrived is in the caller's temporary folder. Other failures: `failure`, one line."""
        transport = self.connection.client.get_transport()
        channel = transport.open_session()
        counted = _CountedChannel(channel)
        stopped: list[str] = []
        done = threading.Event()

        def watch() -> None:
            window, taken = RateWindow(self.stall_timeout), counted.taken()
            while not done.wait(0.25):
                now = counted.taken()
                window.add(now - taken)
                taken = now
                if window.stalled() or cancel.requested():
                    stopped.append("cancel" if cancel.requested() else "stall")
                    closing = threading.Thread(target=_quietly, args=(channel.close,), daemon=True)
                    closing.start()
                    closing.join(CLOSE_GRACE)
                    if closing.is_alive():  # the link itself takes nothing (the close cannot leave): end it
                        transport.close()
                    return

        watcher = threading.Thread(target=watch, name=f"dsprov-sftp-{self.host}", daemon=True)
        watcher.start()
        try:
            channel.invoke_subsystem("sftp")
            with paramiko.SFTPClient(counted) as sftp:
                work(sftp)
        except (OSError, EOFError, paramiko.SSHException, ProvisionError) as exc:
            if not stopped:
                if isinstance(exc, ProvisionError):
                    raise
                # a build output that vanished, a lost connection
                reason = getattr(exc, "strerror", None) or exc or type(exc).__name__
                raise failure(f"{self.host}: cannot copy {what}: {reason}") from None
        finally:
            done.set()
            watcher.join()
            channel.close()
        if stopped == ["cancel"]:
            raise cancel.Cancelled(f"{self.host}: cancelled while copying {what} (nothing of it is used)")
        if stopped:
            raise ProvisionError(
                f"{self.host}: copying {what} moved under {LOW_SPEED_LIMIT} bytes/s for {self.stall_timeout:g} s:"
                " abandoned, nothing of it is used (stall limit: dsprov_stall_timeout)")

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
        self._transfer(f"{remote} from the host", lambda sftp: sftp.get(remote, str(local)), StepFailed)

    def close(self) -> None:
        self.connection.close()


_NAMES: dict[type, frozenset[str]] = {}  # dir() of each _Lean class


def _names(cls: type) -> frozenset[str]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = frozenset(dir(cls))
    return names


class _Lean:
    """For Fabric's Connection and Config (invoke's DataProxy), the same attribute semantics at less
    cost per host: DataProxy asks `key in dir(self)` on every attribute set (a Connection sets ~14),
    and on every miss (its own hasattr checks for `_root`, `_keypath`, `_modify`: ~8 a host) lists
    dir(type(self)) and the config's keys for the error message. A class's names are fixed, so they
    are listed once (dir(self) is they and the instance's own); a miss raises without the listing."""

    if TYPE_CHECKING:  # DataProxy's
        _config: dict
        _proxies: tuple[str, ...]

        def _get(self, key: str) -> Any: ...

        def __setitem__(self, key: str, value: object) -> None: ...

    def __setattr__(self, key: str, value: object) -> None:
        if key in _names(type(self)) or key in self.__dict__:
            object.__setattr__(self, key, value)
        else:
            self[key] = value  # as DataProxy does: a config update (Fabric's inline_ssh_env is one)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._get(key)
        except KeyError:
            if key in self._proxies:
                return getattr(self._config, key)
            raise AttributeError(f"No attribute or config key found for {key!r}") from None


class _Config(_Lean, Config):
    pass


class _Connection(_Lean, Connection):
    """Fabric's Connection to one server on the way to a host, with the host-key policy it is checked
    by and what its errors call it. Its gateway is ours (the hop before it, or a ProxyCommand), never
    Fabric's own: Fabric makes each ~/.ssh/config ProxyJump hop a Connection of its own with
    paramiko's AutoAddPolicy and none of our credentials (fabric/connection.py, get_gateway)."""

    name: str  # the inventory host this connection is for
    jump: bool  # a jump host on the way, not the host itself
    where: str  # user@host:port
    policy: HostKeyPolicy

    @property
    def label(self) -> str:
        return f"{self.name}: jump host {self.where}" if self.jump else self.name

    def open_gateway(self):
        if isinstance(self.gateway, str):
            return _ProxyCommand(self.gateway)
        _open(self.gateway)
        try:
            return self.gateway.transport.open_channel("direct-tcpip", (self.host, int(self.port)), ("", 0))
        except (OSError, paramiko.SSHException) as exc:
            reason = exc.text if isinstance(exc, paramiko.ChannelException) else exc
            raise HostUnreachable(f"{self.name}: jump host {self.gateway.where} cannot reach {self.where}: {reason}") from exc

    def close(self) -> None:
        super().close()
        if isinstance(self.gateway, _Connection):
            self.gateway.close()


def _connection(spec: HostSpec, server: Endpoint, target: Endpoint, connect_timeout: float) -> _Connection:
    """The Connection to `server` (the target or a hop on its way) and those before it. Every hop is
    checked against the same known_hosts and StrictHostKeyChecking as the target and is offered the
    same keys (the inventory's key file, ssh-agent); a password goes to the target only."""
    keys = list(dict.fromkeys(server.key_files + target.key_files))  # its own first; each once
    connect_kwargs: dict = {"look_for_keys": not keys, "allow_agent": True}
    first = loaded_key(keys[0]) if keys else None
    if first is not None:  # read once per run; paramiko tries `pkey` first, then the files, then the agent
        connect_kwargs["pkey"], keys = first, keys[1:]
    if keys:
        connect_kwargs["key_filename"] = keys
    if spec.password and server is target:
        connect_kwargs["password"] = spec.password
    via = server.via
    gateway = _connection(spec, via, target, connect_timeout) if isinstance(via, Endpoint) else via or False
    connection = _Connection(
        server.host, user=server.user, port=server.port, gateway=gateway, connect_timeout=connect_timeout,
        connect_kwargs=connect_kwargs, config=_Config(ssh_config=paramiko.SSHConfig()),  # looked up already
    )
    # real attributes (a Connection turns a plain attribute set into a config update: invoke's DataProxy)
    connection._set(name=spec.name, jump=server is not target, where=str(server),
                    policy=host_key_policy(spec.vars, server.options, spec.ssh or None))
    # the name paramiko looks the server's key up by (SSHClient.connect: `[host]:port` off port 22)
    lookup = server.host if server.port in (None, 22) else f"[{server.host}]:{server.port}"
    apply_policy(connection.client, connection.label, connection.policy, lookup)
    return connection


UNKNOWN_KEY_TYPE = getattr(paramiko, "UnknownKeyType", paramiko.SSHException)  # PKey.from_path's (paramiko 3.2)
_KEYS: dict[tuple, paramiko.PKey | None] = {}  # loaded_key's, by the key file's and its certificate's identity
_KEYS_LOCK = threading.Lock()


def loaded_key(path: str) -> paramiko.PKey | None:
    """The private key in `path` (and its `-cert.pub` certificate), read once per run while neither
    file changes (a fleet's hosts share one key file); None when it cannot be read without a
    passphrase, or at all: paramiko's own loop then tries it and says why."""
    stats = []
    for name in (path, f"{path}-cert.pub"):
        try:
            st = os.stat(os.path.expanduser(name))
            stats.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            stats.append(None)
    key = (path, *stats)
    with _KEYS_LOCK:
        if key not in _KEYS:
            try:
                _KEYS[key] = paramiko.PKey.from_path(path) if stats[0] else None
            except (OSError, ValueError, TypeError, AttributeError, paramiko.SSHException, UNKNOWN_KEY_TYPE):
                _KEYS[key] = None  # encrypted, unreadable, of a type paramiko does not know, or a paramiko before 3.2
        return _KEYS[key]


def _open(connection: _Connection) -> None:
    """Connect (through the hops before it), each failure one line naming where it happened."""
    try:
        connection.open()
        _no_delay(connection.client.get_transport().sock)
    except paramiko.BadHostKeyException as exc:
        connection.close()
        raise mismatch(connection.label, connection.policy, exc, connection.port) from None
    except HostUnreachable:  # a refused host key, or a hop that failed (its line names it)
        connection.close()
        raise
    except (TimeoutError, OSError, paramiko.SSHException) as exc:
        connection.close()
        what = "jump host " if connection.jump else ""
        proxy = f" through ProxyCommand `{connection.gateway}`" if isinstance(connection.gateway, str) else ""
        raise HostUnreachable(f"{connection.name}: cannot reach {what}{connection.where}{proxy}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    """A connect failure in a few words: paramiko's "[Errno None] Unable to connect to port 22 on
    10.0.0.5" becomes what each address answered ("Connection refused"); a ProxyCommand's failure is
    the last line it wrote."""
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return "; ".join(sorted({e.strerror or str(e) for e in exc.errors.values()}))
    if isinstance(exc, paramiko.ProxyCommandFailure):
        return exc.error  # its command is in our line already
    return str(exc)


class _ProxyCommand(paramiko.ProxyCommand):
    """paramiko's ProxyCommand run as ssh(1) runs one (`$SHELL -c "exec COMMAND"`, OpenSSH
    sshconnect.c), that tells at once when the command has ended, with the last line it wrote to
    stderr (paramiko's recv waits on the closed pipe until the banner timeout)."""

    def __init__(self, command: str) -> None:
        super().__init__(shlex.join([os.environ.get("SHELL") or "/bin/sh", "-c", f"exec {command}"]))
        self.command = command

    def recv(self, size: int) -> bytes:
        if self.process.poll() is None:
            return super().recv(size)
        data = os.read(self.process.stdout.fileno(), size)  # what it wrote before it ended
        if data:
            return data
        said = self.process.stderr.read().decode(errors="replace").strip().splitlines()
        raise paramiko.ProxyCommandFailure(self.command, said[-1] if said else f"exit status {self.process.returncode}")

    def close(self) -> None:
        if self.process.poll() is None:  # paramiko's close signals the process even once it is gone
            super().close()


def _no_delay(sock: object) -> None:
    """Send each small packet at once (TCP_NODELAY). paramiko sets no socket option itself
    (paramiko/transport.py and client.py have no setsockopt), so Nagle's algorithm holds a short
    request back behind the peer's delayed ACK: about 40 ms more per command. The same fix:
    https://github.com/imbue-ai/mngr/pull/2598, https://github.com/pahaz/sshtunnel/pull/246.
    A jump host's channel is no socket (the jump host's own connection is one, and is set)."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _quietly(close: Callable[[], None]) -> None:
    """Close something whose connection may end under it (its error is the transfer's, told once)."""
    try:
        close()
    except (OSError, EOFError, paramiko.SSHException):
        pass


class _CountedChannel:
    """An SFTP session's channel that counts what it sent and received: with the send window
    left, that tells how many bytes the host has taken in (SSH flow control: RFC 4254 section 5.2)."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self.sent = self.received = 0

    def send(self, data: bytes) -> int:
        count = self.channel.send(data)
        self.sent += count
        return count

    def recv(self, size: int) -> bytes:
        data = self.channel.recv(size)
        self.received += len(data)
        return data

    def taken(self) -> int:
        """What arrived, plus what was sent and the send window still open (which grows only as
        the host grants window back, as it reads)."""
        return self.received + self.sent + self.channel.out_window_size

    def __getattr__(self, name: str):
        return getattr(self.channel, name)


class SSHHold:
    """A remote command kept running until release() closes its stdin."""

    def __init__(self, channel: paramiko.Channel, printed: str) -> None:
        self.channel = channel
        self.printed: str | None = printed  # before the ready line

    def release(self) -> None:
        self.channel.shutdown_write()
        self.channel.recv_exit_status()
        self.channel.close()
