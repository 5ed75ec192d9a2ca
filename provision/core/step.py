# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The step contract (after Ansible's modules): check, apply, verify, rollback.

`check` says whether the work is already done (and why), so a rerun changes nothing; `apply`
does it; `verify` proves it; `rollback` undoes what `apply` changed when `verify` fails.
"""

from __future__ import annotations

import posixpath
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

from provision.core.observed import Observed
from provision.errors import StepFailed
from provision.facts import HostFacts
from provision.options import DEFAULT_STALL_TIMEOUT
from provision.outcomes import Outcome
from provision.runners import Result, Runner
from provision.runners.base import refusal
from provision.state import State
from provision.stall import LOW_SPEED_LIMIT


# A `git` shell function for the commands steps run (POSIX sh, awk and /proc on the host, no
# Python there): a clone, fetch, pull or submodule update not given an http(s) URL (those end by
# libcurl's limits) runs in the background while a watcher adds up the bytes that git and the
# processes it started (ssh, index-pack, submodule clones) read and wrote (/proc/PID/io rchar +
# wchar, proc(5)) once a second. Blocked on a dead or
# trickling ssh:// or git:// connection they do no I/O; when the last $dsprov_stall seconds brought
# under LOW_SPEED_LIMIT bytes/s (provision/stall.py's rule), the watcher stops them all and says so
# in one line that reads like curl's own ("Operation too slow", as http(s) transfers end).
GIT_STALL_WATCH = r"""dsprov_io() {
    for s in /proc/[0-9]*/stat; do read -r l <"$s" && echo "${s%/stat} ${l##*) }"; done 2>/dev/null | awk -v root="$1" '
        { split($1, a, "/"); parent[a[3]] = $3 }
        END {
            tree[root] = 1; grown = 1
            while (grown) { grown = 0
                for (p in parent) if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grown = 1 } }
            for (p in tree) { f = "/proc/" p "/io"; n = 0
                while ((getline line < f) > 0) if (line ~ /^[rw]char: /) { split(line, kv, ": "); total += kv[2]; n++ }
                close(f)
                if (p == root && n == 0) blind = 1 }
            printf "%d %s\n", total, !(root in parent) ? "gone" : blind ? "blind" : ""
            for (p in tree) printf "%s ", p
        }'
}
dsprov_watch() {
    pid=$1 last=0 moved=0 seen=
    while sleep 1; do
        set -- $(dsprov_io "$pid")
        case $2 in gone | blind) return 0 ;; esac  # git ended, or its /proc/PID/io cannot be read here
        step=$(($1 - last)); last=$1
        [ "$step" -gt 0 ] && moved=$((moved + step))
        seen="$seen $moved"
        set -- $seen
        [ "$#" -gt "$dsprov_stall" ] || continue
        shift $(($# - dsprov_stall - 1)); seen="$*"
        if [ $((moved - $1)) -lt $((""" + str(LOW_SPEED_LIMIT) + r""" * dsprov_stall)) ]; then
            echo "error: Operation too slow: git moved less than """ + str(LOW_SPEED_LIMIT) + r""" bytes/s for $dsprov_stall s:" \
                "stopped (stall limit: dsprov_stall_timeout)" >&2
            kill -TERM $(dsprov_io "$pid" | tail -n 1) 2>/dev/null
            return 0
        fi
    done
}
git() {
    case " $* " in
        *" http://"* | *" https://"*) command git "$@"; return ;;  # libcurl's own limits (GIT_HTTP_LOW_SPEED_*)
        *" clone "* | *" fetch "* | *" pull "* | *" submodule "*) ;;
        *) command git "$@"; return ;;
    esac
    command git "$@" </dev/null &
    dsprov_git=$!
    dsprov_watch "$dsprov_git" &
    dsprov_watcher=$!
    wait "$dsprov_git"; dsprov_rc=$?
    kill "$dsprov_watcher" 2>/dev/null; wait "$dsprov_watcher" 2>/dev/null
    return "$dsprov_rc"
}"""


@dataclass
class StepContext:
    """What a step works with on one host."""

    runner: Runner
    facts: HostFacts
    log: Callable[[str], None] = lambda line: None
    state: State = field(default_factory=State)  # the host's state file (provision/state.py)
    stall_timeout: int = DEFAULT_STALL_TIMEOUT  # seconds a download may go without progress
    notes: list[str] = field(default_factory=list)  # what the user must be told (the run's message)
    # What the probe saw, while it still says how the host is (no lock taken, nothing changed
    # since): checks compare with it instead of asking the host again. None: ask the host.
    observed: Observed | None = None

    @property
    def env(self) -> str:
        """Set before every command: git (through libcurl) gives up on an http(s) transfer that stays
        under 1000 bytes/s for stall_timeout seconds (git-config http.lowSpeedLimit/lowSpeedTime);
        ssh:// and git:// have no such setting, so `git` is the shell function GIT_STALL_WATCH."""
        return (f"GIT_HTTP_LOW_SPEED_LIMIT={LOW_SPEED_LIMIT} GIT_HTTP_LOW_SPEED_TIME={self.stall_timeout};"
                f" export GIT_HTTP_LOW_SPEED_LIMIT GIT_HTTP_LOW_SPEED_TIME; dsprov_stall={int(self.stall_timeout)};"
                f" {GIT_STALL_WATCH}\n")

    def sh(self, command: str, *, sudo: bool = False, check: bool = True, stream: bool = False,
           timeout: float | None = None) -> Result:
        """Run a command on the host, logging it; a failure raises StepFailed unless check=False."""
        self.log(f"$ {'sudo ' if sudo else ''}{command}")
        started = time.monotonic()
        result = self.runner.run(self.env + command, sudo=sudo, timeout=timeout, on_line=self.log if stream else None)
        for line in (result.stderr if stream else result.stdout + result.stderr).splitlines():
            self.log(line)  # a streamed command's stdout is logged as it comes
        self.ended(result, started)
        if check and not result.ok:
            raise StepFailed(f"{self.runner.host}: `{command[:120]}` failed ({result.exit_code}): {result.reason()}")
        return result

    def ended(self, result: Result, started: float) -> None:
        """A logged command's last line: its exit status and how long it took (since `started`,
        time.monotonic())."""
        self.log(f"exit {result.exit_code} after {time.monotonic() - started:.2f}s")

    def write(self, path: str, data: bytes | Path, *, mode: str | None = None, sudo: bool = False) -> None:
        """Replace a file on the host atomically (the runner's write_atomic), logging the command;
        a failure raises StepFailed."""
        started = time.monotonic()
        result = self.runner.write_atomic(data, path, mode=mode, sudo=sudo)
        self.log(f"$ {'sudo ' if sudo else ''}{result.command}")
        for line in (result.stdout + result.stderr).splitlines():
            self.log(line)
        self.ended(result, started)
        if not result.ok:
            raise StepFailed(f"{self.runner.host}: cannot write {path}: {refusal(result)}")


class Step:
    """One idempotent piece of the plan. Subclasses set `name` and implement the methods."""

    name = "step"
    interruptible = False  # may a cancel stop apply halfway (True only for steps that change no system file)
    main_product = False  # its key and outcome are the run's (the plugin, the pyds wheel, the restore)
    key: str | None = None  # the build key of what it produced
    outcome: Outcome | None = None  # what it did to the run's main product
    provides: frozenset[str] = frozenset()  # what later steps may count on (e.g. "cmake")

    def describe(self) -> list[str]:
        """The exact commands apply would run (for --dry-run)."""
        raise NotImplementedError

    def summary(self) -> str:
        """One line for the plan."""
        raise NotImplementedError

    def validate(self, ctx: StepContext) -> None:
        """Raise StepFailed when an input of the step is unusable (a missing model): asked of every
        step of the plan before the first one changes anything."""

    def check(self, ctx: StepContext) -> str | None:
        """Why nothing needs doing, or None when apply must run."""
        raise NotImplementedError

    def apply(self, ctx: StepContext) -> None:
        raise NotImplementedError

    def verify(self, ctx: StepContext) -> None:
        """Raise StepFailed when apply's result is not as it should be."""

    def rollback(self, ctx: StepContext) -> None:
        """Undo apply (steps that change the system)."""

    def results(self) -> dict[str, Any]:
        """What the step reports besides its status, for the host report's `results` (the engines it
        classified, the config it wrote): read after the run, also a dry or failed one."""
        return {}

    def serve(self, dependent: Step) -> None:
        """A step that provides something (`provides`) learns of a step that requires it (the plan's
        Planning.require)."""
        raise NotImplementedError(f"{self.name} provides nothing")


def q(value: object) -> str:
    """shlex.quote for any value that goes into a command."""
    return shlex.quote(str(value))


def list_command(folder: str, pattern: str) -> str:
    """The files in `folder` matching a glob `pattern`, one per line (a folder with a space in its
    name stays one path, where `ls ... | split()` made two); nothing when none matches (or the
    folder vanished), for the caller to say so."""
    return f"for f in {q(folder)}/{pattern}; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; true"


def folder_writable(ctx: StepContext, path: str) -> bool:
    """Whether the login user can create files beside `path` (creating its folder if need be)."""
    folder = q(posixpath.dirname(path))
    return ctx.runner.run(f"mkdir -p {folder} 2>/dev/null; [ -w {folder} ]").ok


def readlink_command(link: str) -> str:
    return f"readlink -f {q(link)}"


def remote_commit(ctx: StepContext, repo: str, ref: str) -> str:
    """The commit a branch or tag names in `repo` (an annotated tag peeled), asked from the host
    that will clone it: it decides a build key, so a moved branch means a new build."""
    result = ctx.sh(f"git ls-remote -- {q(repo)} {q(ref)} {q('refs/tags/' + ref + '^{}')}")
    lines = [line.split() for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise StepFailed(f"{ctx.runner.host}: {repo} has no ref {ref}")
    peeled = [words[0] for words in lines if words[1].endswith("^{}")]
    return peeled[0] if peeled else lines[0][0]
