"""The host's record of what this tool changed: one small JSON file, written atomically.

check, rollback and later runs read facts from it, not guesses. Paths on the host are fixed so
that any controller (invoke or Ansible) finds the same record.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING

import jsonschema

from provision import input_files
from provision.errors import StepFailed

if TYPE_CHECKING:
    from provision.steps.base import StepContext

STATE_DIR = "/var/lib/dsprov"
STATE_FILE = f"{STATE_DIR}/state.json"
SAVED_DIR = f"{STATE_DIR}/orig"  # saved originals: outside every library folder


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
        "previous_originals": _ORIGINALS,
    },
}


def read_state(ctx: StepContext, *, sudo: bool = False, tolerant: bool = False) -> dict:
    """The host's state file, or {} when there is none yet. With `sudo` (under the host lock) it is
    read as root, so a file someone made unreadable is still read; `tolerant` (rollback, which
    falls back on dpkg's diversions) takes a file that is not a JSON object for {}."""
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
    try:
        return parse_state(ctx.runner.host, text)  # a JSON object, or StepFailed (SCHEMA)
    except StepFailed:
        if not tolerant:
            raise
        return {}


def parse_state(host: str, text: str | None) -> dict:
    """A state file's text (read now, or by the probe): {} when empty, StepFailed when not JSON."""
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


def write_state(ctx: StepContext, state: dict) -> None:
    """Replace the host's state file with `state`."""
    ctx.write(STATE_FILE, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode(), mode="0644", sudo=True)
    ctx.state = state
