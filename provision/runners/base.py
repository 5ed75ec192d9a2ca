# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every runner offers: run a command, copy files, read and atomically replace a file. Transport only, no logic."""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from collections.abc import Callable, Sequence

from provision import input_files
from provision.errors import ProvisionError
from provision.options import DEFAULT_STALL_TIMEOUT

SUDO_PROMPT = "[dsprov-sudo]"
UPLOAD_PREFIX = "/tmp/.dsprov-up."  # the private folders files are uploaded into

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
    printed: str | None  # what the command printed before its ready line (None: the runner keeps none)

    def release(self) -> None: ...


class Runner(Protocol):
    """Carries out commands on one host."""

    host: str
    round_trips: int  # how many round trips to the host so far
    stall_timeout: float  # seconds: a copy to the host moving under LOW_SPEED_LIMIT bytes/s that long is abandoned

    def run(
        self,
        command: str,
        *,
        stdin: str | None = None,
        sudo: bool = False,
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result: ...

    def hold(self, command: str, *, ready: str, sudo: bool = False) -> Held | None:
        """Start a long-lived command; return once it printed `ready` (None if it exited)."""

    def put(self, local: Path, remote: str) -> None: ...

    def upload(self, local: Path) -> str:
        """Copy a controller file into a fresh private folder on the host; returns its path."""

    def put_files(self, files: Sequence[tuple[Path, str]], folder: str | None = None) -> str:
        """Copy controller files into `folder` under the given names, or into a fresh private folder
        (as upload's); returns the folder."""

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
    """read_text, sha256, upload and write_atomic for a runner, from its `run` and `put` (POSIX sh on the
    host, no Python there): the one place files are read back or replaced on a host; and the
    count of the runner's round trips to the host."""

    run: Callable[..., Result]  # the runner's own (Runner.run, Runner.put)
    put: Callable[[Path, str], None]

    host: str
    round_trips: int = 0  # commands run or held, files copied either way (the runner calls sent())
    stall_timeout: float = DEFAULT_STALL_TIMEOUT  # a copy to the host moving slower is abandoned (provision/stall.py)

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

    def upload(self, local: Path) -> str:
        """Copy a controller file into a fresh private folder on the host (`mktemp -d`, mode 0700,
        the login user's): no other user can guess, plant or change the path. Returns the file's
        path; the command that uses it removes the folder (INSTALL_SCRIPT does)."""
        remote = f"{self._private_folder()}/{local.name}"
        self.put(local, remote)
        return remote

    def put_files(self, files: Sequence[tuple[Path, str]], folder: str | None = None) -> str:
        """Copy controller files into `folder` on the host, each under its given name (a file name),
        or, without a folder, into a fresh private one (`mktemp -d`, as upload's); returns the
        folder. Here a command and a copy each; a runner that can copies them in one round trip."""
        folder = folder or self._private_folder()
        for local, name in files:
            self.put(local, f"{folder}/{name}")
        return folder

    def _private_folder(self) -> str:
        """A fresh folder only the login user can use (`mktemp -d`, mode 0700) under UPLOAD_PREFIX."""
        made = self.run(f"mktemp -d {UPLOAD_PREFIX}XXXXXXXXXX")
        folder = made.stdout.strip()
        if not made.ok or not folder.startswith(UPLOAD_PREFIX):
            raise ProvisionError(f"{self.host}: cannot make a private folder in /tmp: {made.reason()}")
        return folder

    def write_atomic(self, data: bytes | Path, remote: str, *, mode: str | None = None, sudo: bool = False) -> Result:
        """Replace `remote` with `data` (bytes, or a controller file) so that it always holds a
        whole, verified file: upload into a private folder, then one command (install_command)
        checks the upload's size and SHA-256 and moves it into place. The caller checks the result."""
        if isinstance(data, bytes):
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / (posixpath.basename(remote) or "data")
                local.write_bytes(data)
                return self.write_atomic(local, remote, mode=mode, sudo=sudo)
        digest, size = file_digest(data)
        upload = self.upload(data)
        result = self.run(install_command(upload, remote, digest, size, mode), sudo=sudo)
        return Result(f"install {remote} ({size} bytes, SHA-256 {digest[:12]}...)", result.exit_code,
                      result.stdout, result.stderr)


def file_digest(path: Path) -> tuple[str, int]:
    """A controller file's SHA-256 and size."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest(), path.stat().st_size


def script_command(*args: str) -> str:
    """What FileOps.run_script runs (the script comes on stdin)."""
    return "sh -s" + (" -- " + " ".join(shlex.quote(a) for a in args) if args else "")


def sha256_command(remote: str) -> str:
    """What FileOps.sha256 runs."""
    return f"sha256sum {shlex.quote(remote)} 2>/dev/null"


REFUSED = "dsprov-refused: "  # INSTALL_SCRIPT's one line saying why it changed nothing

# Shell functions for a command that writes a file, root or not (POSIX sh; sent inline, since
# commands under sudo get no stdin). `verified F SHA SIZE` fails unless F has that size and
# SHA-256 (an upload cut short by a full disk is refused, never used). `safe_folder D` fails when
# root is writing and D, or a folder above it, is owned by a user other than root and the login
# user (sudo's SUDO_UID), or writable by group or others without the sticky bit, or the path as
# given passes through a link such a user owns (theirs to point elsewhere, e.g. in sticky /tmp,
# where fs.protected_symlinks may be off): such a user could swap a part of the path for a link. `place F T MODE SHA SIZE` copies F into a fresh file beside T (mktemp:
# a new name, created exclusively), sets owner and mode explicitly (an existing regular file's, else
# root's or the login user's, with MODE if given) and renames it over T with mv -T (a link or
# anything else at T is replaced, never followed) once the copy is verified against SHA and SIZE.
# Each process is a fork and an exec on the host (a root install of eight files ran 350, most of
# them `dirname` and `stat` per folder of each path): `parent` is dirname(1) in the shell, the
# folders of a path are asked in one `stat`, `id -u` once.
FILE_FUNCTIONS = r"""
refuse() { echo "dsprov-refused: $*" >&2; exit 3; }
parent() {  # dirname(1) of $1, into $up_dir
    up_dir=$1
    while [ "$up_dir" != / ] && [ "${up_dir%/}" != "$up_dir" ]; do up_dir=${up_dir%/}; done
    case $up_dir in
        /) ;;
        */*) up_dir=${up_dir%/*}
             while [ "${up_dir%/}" != "$up_dir" ]; do up_dir=${up_dir%/}; done
             [ -n "$up_dir" ] || up_dir=/ ;;
        *) up_dir=. ;;
    esac
}
my_uid() { [ -n "${my_uid_:-}" ] || my_uid_=$(id -u); }
verified() {
    [ -f "$1" ] && [ "$(wc -c <"$1")" -eq "$3" ] && sum_=$(sha256sum <"$1") && [ "${sum_%% *}" = "$2" ]
}
safe_folder() {
    my_uid
    [ "$my_uid_" = 0 ] || return 0
    trusted_folder "$1" "${SUDO_UID:-0}"
}
trusted_folder() {
    d=$1 me=$2
    while [ ! -d "$d" ]; do parent "$d"; d=$up_dir; done
    l=$d
    while :; do
        if [ -L "$l" ]; then
            u=$(stat -c %u "$l")
            [ "$u" = 0 ] || [ "$u" = "$me" ] || refuse "$l is a link owned by uid $u: dsprov writes as root only where root or the login user owns every part of the path"
        fi
        { [ "$l" = / ] || [ "$l" = . ]; } && break
        parent "$l"; l=$up_dir
    done
    d=$(readlink -f "$d")
    set -- "$d"
    l=$d
    while [ "$l" != / ]; do parent "$l"; l=$up_dir; set -- "$@" "$l"; done
    modes=$(stat -c '%u %g %a' "$@") || refuse "cannot read the owner and mode of $d or of a folder above it"
    while read -r u g a; do  # one line per folder, the deepest first
        [ $# -gt 0 ] || refuse "cannot read the owner and mode of $d or of a folder above it"
        m=$((0$a))
        if [ "$u" != 0 ] && [ "$u" != "$me" ]; then
            refuse "$1 is owned by uid $u: dsprov writes as root only where root or the login user owns every folder of the path"
        fi
        if [ $((m & 01000)) = 0 ] && { [ $((m & 02)) != 0 ] || { [ $((m & 020)) != 0 ] && [ "$g" != 0 ]; }; }; then
            refuse "$1 is writable by other users (mode $a): dsprov does not write there as root"
        fi
        shift
    done <<EOF_MODES
$modes
EOF_MODES
    [ $# = 0 ] || refuse "cannot read the owner and mode of $d or of a folder above it"
}
place() {
    f=$1 t=$2 mode=$3 sha=$4 size=$5
    parent "$2"; dir=$up_dir
    safe_folder "$dir"
    [ -d "$dir" ] || mkdir -p "$dir" || refuse "cannot create $dir"
    new=$(mktemp "$dir/.dsprov-tmp-XXXXXXXXXX") || refuse "cannot create a file in $dir"
    if ! cat "$f" >"$new" 2>/dev/null || ! verified "$new" "$sha" "$size"; then
        rm -f "$new"; refuse "cannot write $t in full (disk full?): nothing was replaced"
    fi
    if [ -f "$t" ] && [ ! -L "$t" ]; then
        set -- $(stat -c '%u %g %a' "$t")
        my_uid
        [ "$my_uid_" != 0 ] || chown "$1:$2" "$new"
        [ -n "$mode" ] || mode=$(printf '%o' $((0$3 & 0777)))
    else
        [ -n "$mode" ] || mode=$(printf '%o' $((0666 & ~0$(umask))))
    fi
    chmod "$mode" "$new"
    mv -fT "$new" "$t" || { rm -f "$new"; refuse "cannot rename a file over $t"; }
}
"""

# $1 the upload (in its private folder), $2 the target, $3 its SHA-256, $4 its size, $5 a mode or "".
INSTALL_SCRIPT = FILE_FUNCTIONS + r"""
up=$1 sha=$3 size=$4
trap 'rm -f "$up"; rmdir "$(dirname "$up")" 2>/dev/null' EXIT
verified "$up" "$sha" "$size" || refuse "$2: the upload arrived incomplete ($(wc -c <"$up" 2>/dev/null || echo 0) of $size bytes, or another SHA-256; a full /tmp?): nothing was replaced"
place "$up" "$2" "$5" "$sha" "$size"
"""


# $@: files to be written; fails (REFUSED line) when one's folder is not the login user's to write
# and root would refuse it (safe_folder): asked before any change.
WRITABLE_SCRIPT = FILE_FUNCTIONS + r"""
for t; do
    d=$(dirname "$t")
    while [ ! -d "$d" ]; do d=$(dirname "$d"); done
    [ -w "$d" ] || trusted_folder "$d" "$(id -u)"
done
"""


def writable_command(*paths: str) -> str:
    """The command that checks, as the login user, that each path can be written (WRITABLE_SCRIPT)."""
    return f"sh -c {shlex.quote(WRITABLE_SCRIPT)} writable " + " ".join(shlex.quote(p) for p in paths)


def install_command(upload: str, remote: str, sha256: str, size: int, mode: str | None = None) -> str:
    """The command that checks an upload and moves it into place atomically (FileOps.write_atomic)."""
    q = shlex.quote
    return f"sh -c {q(INSTALL_SCRIPT)} install {q(upload)} {q(remote)} {sha256} {int(size)} {q(mode or '')}"


def refusal(result: Result) -> str:
    """The reason a file command refused (its REFUSED line; in stdout too, where a pty merges the
    streams, as Ansible's become does), else the output's explaining line."""
    for line in (result.stderr + "\n" + result.stdout).splitlines():
        if line.strip().startswith(REFUSED):
            return line.strip()[len(REFUSED):]
    return result.reason()


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
