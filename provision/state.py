"""The host's record of what this tool changed: one small JSON file, written atomically.

check, rollback and later runs read facts from it, not guesses. Paths on the host are fixed so
that any controller (invoke or Ansible) finds the same record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import jsonschema

from provision import input_files
from provision.errors import StepFailed

if TYPE_CHECKING:
    from provision.runners.base import Runner

STATE_DIR = "/var/lib/dsprov"
STATE_FILE = f"{STATE_DIR}/state.json"
SAVED_DIR = f"{STATE_DIR}/orig"  # saved originals: outside every library folder
NOTHING_TO_ROLL_BACK = "nothing to roll back: the state file records no swap and dpkg diverts no library for dsprov"


_TEXT = {"type": ["string", "null"]}
_ORIGINALS = {"type": "array", "items": {"type": "object", "properties": {"sha256": _TEXT, "path": _TEXT}}}
# What the steps read back (plugin_swap, pyds, max_clocks): a record of the wrong type is refused
# here, in one line, rather than failing later in whichever step reads it.
SCHEMA = {
    "type": "object",
    "properties": {
        "plugin": {"type": ["object", "null"], "properties": {
            "previous_originals": _ORIGINALS, "original_sha256": _TEXT, "installed_sha256": _TEXT, "commit": _TEXT,
            "ref": _TEXT}},
        "pyds": {"type": ["object", "null"], "properties": {"version": _TEXT, "tag": _TEXT, "commit": _TEXT}},
        "max_clocks": {"type": ["object", "null"], "properties": {
            "previous_mode": {"type": "integer"}, "previous_name": {"type": "string"}, "stored": {"type": "string"}}},
        "nvidia_stack": {"type": ["object", "null"], "properties": {
            "deepstream": _TEXT, "installed": {"type": "array", "items": {"type": "string"}},
            "held": {"type": "array", "items": {"type": "string"}}, "driver": _TEXT, "driver_boot": _TEXT}},
        "previous_originals": _ORIGINALS,
    },
}


class State(Mapping[str, Any]):
    """The host's state file, parsed once: read-only records keyed by what wrote them ("plugin",
    "pyds", "max_clocks", ...), validated against SCHEMA. A change is a new State written whole
    (write_state); the file's format is the JSON object itself."""

    def __init__(self, records: Mapping[str, Any] | None = None) -> None:
        self._records = dict(records or {})

    def __getitem__(self, key: str) -> Any:
        return self._records[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"State({self._records!r})"

    def record(self, key: str) -> dict:
        """A capability's record, or {} when the file has none."""
        return dict(self._records.get(key) or {})

    def to_json(self) -> str:
        return json.dumps(self._records, indent=2, sort_keys=True) + "\n"

    @classmethod
    def parse(cls, host: str, text: str | None, *, strict: bool = True) -> State:
        """A state file's text (read now, or by the probe): empty when there is none. Strict (what the
        steps act on): StepFailed when it is not JSON or not what dsprov writes (SCHEMA). Not strict
        (the facts people read, a rollback that falls back on dpkg's diversions): what cannot be read
        is an empty State."""
        try:
            return cls(_parsed(host, text, strict))
        except StepFailed:
            if strict:
                raise
            return cls()


def _parsed(host: str, text: str | None, strict: bool) -> dict:
    if not text or not text.strip():
        return {}
    if len(text) > input_files.STATE:
        raise StepFailed(f"{host}: {STATE_FILE} is larger than {input_files.STATE} bytes; fix or remove it")
    try:
        state = json.loads(text)
    except (ValueError, RecursionError) as exc:
        why = " ".join(str(exc).split()) if isinstance(exc, ValueError) else "nested too deeply"
        raise StepFailed(f"{host}: {STATE_FILE} is not valid JSON ({why}); fix or remove it") from None
    problem = next(jsonschema.Draft202012Validator(SCHEMA).iter_errors(state), None)
    if problem is not None:
        where = "".join(f"[{p!r}]" for p in problem.absolute_path) or "the top level"
        raise StepFailed(f"{host}: {STATE_FILE}: {where} is {_kind(problem.instance)}, not what dsprov writes;"
                         " fix or remove it (`dpkg-divert --list` still shows a swap to restore)")
    return state


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


class Host(Protocol):
    """What reads and writes the state file: a step's context (provision/core/step.py)."""

    runner: Runner
    state: State

    def write(self, path: str, data: bytes, *, mode: str | None = None, sudo: bool = False) -> None: ...


def read_state(ctx: Host, *, sudo: bool = False, strict: bool = True) -> State:
    """The host's state file (empty when there is none yet). With `sudo` (under the host lock) it is
    read as root, so a file someone made unreadable is still read."""
    if sudo:
        # the base64 follows a marker, and the shell says nothing (its redirection errors are
        # silenced first): under Ansible's become (a pty) stderr arrives with stdout
        result = ctx.runner.run(f"printf 'state:'; base64 2>/dev/null < {STATE_FILE} | tr -d '\\n'", sudo=True)
        marked = [w for w in result.stdout.split() if w.startswith("state:")]
        try:
            text = base64.b64decode(marked[-1][6:], validate=True).decode() if result.ok and marked else None
        except (binascii.Error, UnicodeDecodeError):
            text = "not UTF-8"
    else:
        text = ctx.runner.read_text(STATE_FILE)
    return State.parse(ctx.runner.host, text, strict=strict)


def write_state(ctx: Host, state: Mapping[str, Any]) -> None:
    """Replace the host's state file with `state`."""
    written = State(state)
    ctx.write(STATE_FILE, written.to_json().encode(), mode="0644", sudo=True)
    ctx.state = written
