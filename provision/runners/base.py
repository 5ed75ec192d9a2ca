"""What every runner offers: run a command, copy files, read and atomically replace a file. Transport only, no logic."""

from __future__ import annotations

import base64
import binascii
import os
import posixpath
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from provision import input_files
from provision.errors import ProvisionError

SUDO_PROMPT = "[dsprov-sudo]"

# Lines that explain a failure, most telling first: a full disk or a stalled download explains the
# compiler or git error that follows from it, and those explain cmake's or make's summary lines.
EXPLAINING = (
    re.compile(r"No space left on device|Disk quota exceeded", re.I),
    re.compile(r"Operation too slow|timed out|Could not resolve host|Connection refused", re.I),
    re.compile(r"(^|\s|:)(fatal )?error:", re.I),  # gcc/nvcc/ld "file:3:1: error: ...", git "error: ..."
    re.compile(r"^fatal:|^CMake Error|Killed|Permission denied", re.I),
)


class WrongSudoPassword(ProvisionError):
    """sudo refused the become password."""


@dataclass(frozen=True)
class Result:
    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def tail(self, lines: int = 20) -> str:
        """The last lines of output, for an error message."""
        text = (self.stdout + "\n" + self.stderr).strip()
        return "\n".join(text.splitlines()[-lines:])

    def reason(self) -> str:
        """The one line of output that explains a failure (the first of the most telling kind,
        stderr before stdout), else the last line."""
        lines = [line.strip() for line in (self.stderr + "\n" + self.stdout).splitlines() if line.strip()]
        for pattern in EXPLAINING:
            found = next((line for line in lines if pattern.search(line)), None)
            if found:
                return found
        return self.tail(1)


class Held(Protocol):
    def release(self) -> None: ...


class Runner(Protocol):
    """Carries out commands on one host."""

    host: str
    round_trips: int  # how many round trips to the host so far

    def run(
        self,
        command: str,
        *,
        stdin: str | None = None,
        sudo: bool = False,
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result: ...

    def hold(self, command: str, *, ready: str, sudo: bool = False) -> "Held | None":
        """Start a long-lived command; return once it printed `ready` (None if it exited)."""

    def put(self, local: Path, remote: str) -> None: ...

    def get(self, remote: str, local: Path) -> None: ...

    def read_text(self, remote: str) -> str | None:
        """A text file's content, or None when it cannot be read."""

    def sha256(self, remote: str) -> str | None:
        """A file's SHA-256, or None when it cannot be read."""

    def run_script(self, script: str, *args: str, timeout: float | None = None) -> Result:
        """Run a POSIX sh script (sent on stdin) with arguments."""

    def write_atomic(self, data: bytes | Path, remote: str, *, mode: str | None = None, sudo: bool = False) -> Result:
        """Replace `remote` so that it always holds a whole file (see FileOps.write_atomic)."""

    def close(self) -> None: ...


class FileOps:
    """read_text, sha256 and write_atomic for a runner, from its `run` and `put` (POSIX sh on the
    host, no Python there): the one place files are read back or replaced on a host; and the
    count of the runner's round trips to the host."""

    host: str
    round_trips: int = 0  # commands run or held, files copied either way (the runner calls sent())

    def sent(self) -> None:
        """Count one round trip to the host."""
        self.round_trips += 1

    def read_text(self, remote: str) -> str | None:
        """A text file's content (base64 on the wire: any bytes arrive whole), or None when it
        cannot be read or is not UTF-8. At most input_files.HOST_TEXT bytes are sent: a larger file
        (or an endless one, a link to /dev/zero) is refused with one line."""
        limit = input_files.HOST_TEXT
        result = self.run(f"head -c {limit + 1} < {shlex.quote(remote)} 2>/dev/null | base64 | tr -d '\\n'")
        if not result.ok:
            return None
        try:
            data = base64.b64decode(result.stdout.strip(), validate=True)
        except binascii.Error:
            return None
        if len(data) > limit:
            raise input_files.too_large(f"{self.host}:", remote, limit)
        try:
            return data.decode()
        except UnicodeDecodeError:
            return None

    def run_script(self, script: str, *args: str, timeout: float | None = None) -> Result:
        """`sh -s -- ARGS` with the script on stdin: no file on the host, arguments quoted."""
        return self.run(script_command(*args), stdin=script, timeout=timeout)

    def sha256(self, remote: str) -> str | None:
        result = self.run(sha256_command(remote))
        return result.stdout.split()[0] if result.ok and result.stdout else None

    def write_atomic(self, data: bytes | Path, remote: str, *, mode: str | None = None, sudo: bool = False) -> Result:
        """Replace `remote` with `data` (bytes, or a controller file): upload to /tmp, copy beside
        `remote` (over a copy of the old file, so its mode and owner stay), chmod `mode` if given,
        then rename over it. The caller checks the result."""
        if isinstance(data, bytes):
            with tempfile.NamedTemporaryFile(delete=False) as tmp:
                tmp.write(data)
            try:
                return self.write_atomic(Path(tmp.name), remote, mode=mode, sudo=sudo)
            finally:
                os.unlink(tmp.name)
        upload = f"/tmp/.dsprov-upload-{os.getpid()}-{posixpath.basename(remote)}"
        self.put(data, upload)
        command = write_atomic_command(upload, remote, mode)
        result = self.run(command, sudo=sudo)
        return Result(command, result.exit_code, result.stdout, result.stderr)


def script_command(*args: str) -> str:
    """What FileOps.run_script runs (the script comes on stdin)."""
    return "sh -s" + (" -- " + " ".join(shlex.quote(a) for a in args) if args else "")


def sha256_command(remote: str) -> str:
    """What FileOps.sha256 runs."""
    return f"sha256sum {shlex.quote(remote)} 2>/dev/null"


def write_atomic_command(upload: str, remote: str, mode: str | None = None) -> str:
    """The command that moves an uploaded file into place atomically (FileOps.write_atomic)."""
    q = shlex.quote
    staging = posixpath.join(posixpath.dirname(remote), ".dsprov-tmp-" + posixpath.basename(remote))
    chmod = f" && chmod {mode} {q(staging)}" if mode else ""
    return (f"mkdir -p {q(posixpath.dirname(remote))} && {{ cp -p {q(remote)} {q(staging)} 2>/dev/null || :; }}"
            f" && cat {q(upload)} > {q(staging)}{chmod} && mv -f {q(staging)} {q(remote)}; rc=$?; rm -f {q(upload)}; exit $rc")


def sudo_wrap(command: str, password: str | None, stdin: str | None = None) -> tuple[str, str | None]:
    """`sudo sh -c COMMAND`; with a password, sudo reads it from stdin (the caller sends it).

    `-k` makes sudo ask (and so read that line) every time, cached credentials or not. Commands
    run under sudo get no other stdin: data goes to the host as a file first.
    """
    if stdin is not None:
        raise ValueError("no stdin for sudo commands: send a file instead")
    if password is None:
        return f"sudo -n sh -c {shlex.quote(command)}", None
    return f"sudo -k -S -p {shlex.quote(SUDO_PROMPT)} sh -c {shlex.quote(command)}", password + "\n"


def check_sudo(result: Result) -> Result:
    """Turn sudo's refusals into one clear error."""
    err = result.stderr
    if result.exit_code != 0 and ("incorrect password" in err or "Sorry, try again" in err):
        raise WrongSudoPassword("sudo refused the become password (wrong PROVISION_BECOME_PASSWORD?)")
    if result.exit_code != 0 and "a password is required" in err:
        raise WrongSudoPassword("sudo needs a password: set PROVISION_BECOME_PASSWORD or ansible_become_password")
    return Result(result.command, result.exit_code, result.stdout, err.replace(SUDO_PROMPT, ""))
