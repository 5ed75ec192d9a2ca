# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host's record of what this tool changed: one small JSON file, written atomically.

check, rollback and later runs read facts from it, not guesses. Paths on the host are fixed so
that any controller (invoke or Ansible) finds the same record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar

import jsonschema

from provision import input_files
from provision.once import per_input
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


class StateRecord:
    """What one capability records in the state file, under its KEY: parsed from the file's JSON
    value (already checked against SCHEMA) and written back as the same JSON."""

    KEY: ClassVar[str]

    @classmethod
    def from_json(cls, value: Any) -> Self:
        raise NotImplementedError

    def to_json(self) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class ObjectRecord(StateRecord):
    """A record whose JSON is an object. The file stays byte-compatible: a key is written when the
    file had it or a change set it (null included), never because the record has a field for it,
    in the file's order (a new key last); keys this version does not know are kept as they are."""

    keys: tuple[str, ...] = field(default=(), kw_only=True)  # the keys written, in order
    extra: Mapping[str, Any] = field(default_factory=dict, kw_only=True)  # the unknown keys' values

    @classmethod
    def _names(cls) -> set[str]:
        return {f.name for f in fields(cls)} - {"keys", "extra"}

    @classmethod
    def from_json(cls, value: Any) -> Self:
        names = cls._names()
        return cls(**{k: v for k, v in value.items() if k in names}, keys=tuple(value),
                   extra={k: v for k, v in value.items() if k not in names})

    @classmethod
    def new(cls, **values: Any) -> Self:
        """A record with `values` written."""
        return cls().updated(**values)

    def updated(self, **changes: Any) -> Self:
        """This record with `changes` set (and written)."""
        return replace(self, **changes, keys=self.keys + tuple(k for k in changes if k not in self.keys))

    def to_json(self) -> dict[str, Any]:
        return {k: self.extra[k] if k in self.extra else getattr(self, k) for k in self.keys}


R = TypeVar("R", bound=StateRecord)


def record_types() -> dict[str, type[StateRecord]]:
    """KEY -> record type, as the registered capabilities declare them (provision/capabilities)."""
    from provision.capabilities import REGISTRY  # the capabilities import this module

    return {kind.KEY: kind for capability in REGISTRY for kind in capability.records}


class State(Mapping[str, Any]):
    """The host's state file, parsed once: each capability's typed record under its KEY (`record_of`),
    any other top-level value as it is, in the file's order; as a Mapping, the file's JSON object.
    A change is a new State written whole (write_state); the file's format is the JSON object itself."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        """`values`: the file's JSON object, or records in place of its values. A key a capability
        declares holds its record (a null is no record, kept as it is), any other its JSON value."""
        kinds = record_types()
        self._values = {k: kinds[k].from_json(v) if k in kinds and v is not None and not isinstance(v, StateRecord)
                        else v for k, v in (values or {}).items()}

    def record(self, key: str) -> dict:
        """A capability's record, or {} when the file has none."""
        return dict(self.get(key) or {})

    def record_of(self, kind: type[R]) -> R | None:
        """The record of type `kind`, or None when the file has none."""
        value = self._values.get(kind.KEY)
        return value if isinstance(value, kind) else None

    def with_record(self, record: StateRecord) -> State:
        return State({**self._values, type(record).KEY: record})

    def without(self, kind: type[StateRecord]) -> State:
        """This state with no `kind` record (nor a null in its place)."""
        return State({k: v for k, v in self._values.items() if k != kind.KEY})

    def __getitem__(self, key: str) -> Any:
        value = self._values[key]
        return value.to_json() if isinstance(value, StateRecord) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"State({dict(self)!r})"

    def to_json(self) -> str:
        return json.dumps(dict(self), indent=2, sort_keys=True) + "\n"

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
    problem = _schema_problem(text)
    if problem is not None:
        raise StepFailed(f"{host}: {STATE_FILE}: {problem}, not what dsprov writes;"
                         " fix or remove it (`dpkg-divert --list` still shows a swap to restore)")
    return state


@per_input()  # a fleet's identical hosts write identical state files
def _schema_problem(text: str) -> str | None:
    """Where the JSON of `text` (valid JSON) first breaks SCHEMA and what is there instead; None
    where it holds. A function of the text alone, so its verdict is kept per text (each caller
    still gets a value of its own from json.loads)."""
    problem = next(jsonschema.Draft202012Validator(SCHEMA).iter_errors(json.loads(text)), None)
    if problem is None:
        return None
    where = "".join(f"[{p!r}]" for p in problem.absolute_path) or "the top level"
    return f"{where} is {_kind(problem.instance)}"


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


class Host(Protocol):
    """What reads and writes the state file: a step's context (provision/core/step.py)."""

    runner: Runner
    state: State

    def write(self, path: str, data: bytes, *, mode: str | None = None, sudo: bool = False) -> None: ...


def state_read_command() -> str:
    """The state file read as root (under the host lock: read_state, the lock's own command): the
    base64 follows a marker, and the shell says nothing (its redirection errors are silenced first):
    under Ansible's become (a pty) stderr arrives with stdout."""
    return f"printf 'state:'; base64 2>/dev/null < {STATE_FILE} | tr -d '\\n'"


def marked_state(output: str) -> str | None:
    """The state file's text from state_read_command's output (None: no marker; "not UTF-8" for bytes that are not)."""
    marked = [w for w in output.split() if w.startswith("state:")]
    try:
        return base64.b64decode(marked[-1][6:], validate=True).decode() if marked else None
    except (binascii.Error, UnicodeDecodeError):
        return "not UTF-8"


def read_state(ctx: Host, *, sudo: bool = False, strict: bool = True) -> State:
    """The host's state file (empty when there is none yet). With `sudo` (under the host lock) it is
    read as root, so a file someone made unreadable is still read."""
    if sudo:
        result = ctx.runner.run(state_read_command(), sudo=True)
        text = marked_state(result.stdout) if result.ok else None
    else:
        text = ctx.runner.read_text(STATE_FILE)
    return State.parse(ctx.runner.host, text, strict=strict)


def write_state(ctx: Host, state: Mapping[str, Any]) -> None:
    """Replace the host's state file with `state` (a State, or the JSON object of one)."""
    written = state if isinstance(state, State) else State(state)
    ctx.write(STATE_FILE, written.to_json().encode(), mode="0644", sudo=True)
    ctx.state = written
