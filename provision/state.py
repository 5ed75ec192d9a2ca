"""The host's record of what this tool changed: one small JSON file, written atomically.

check, rollback and later runs read facts from it, not guesses. Paths on the host are fixed so
that any controller (invoke or Ansible) finds the same record.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from provision.steps.base import StepContext, StepFailed, q

STATE_DIR = "/var/lib/dsprov"
STATE_FILE = f"{STATE_DIR}/state.json"
SAVED_DIR = f"{STATE_DIR}/orig"  # saved originals: outside every library folder


def read_state(ctx: StepContext) -> dict:
    """The host's state file, or {} when there is none yet."""
    result = ctx.runner.run(f"cat {STATE_FILE} 2>/dev/null")
    if not result.ok or not result.stdout.strip():
        return {}
    try:
        return json.loads(result.stdout)
    except ValueError as exc:
        raise StepFailed(f"{ctx.runner.host}: {STATE_FILE} is not valid JSON ({exc}); fix or remove it") from exc


def upload(ctx: StepContext, local: Path, remote: str, mode: str = "0644") -> None:
    """Put a controller file at `remote` (root-owned) atomically: copy beside it, then rename."""
    staging = f"/tmp/.dsprov-upload-{os.getpid()}-{Path(remote).name}"
    ctx.runner.put(local, staging)
    tmp = f"{Path(remote).parent}/.dsprov-tmp-{Path(remote).name}"
    ctx.sh(
        f"mkdir -p {q(Path(remote).parent)} && cp {q(staging)} {q(tmp)} && chmod {mode} {q(tmp)}"
        f" && mv -f {q(tmp)} {q(remote)}; rc=$?; rm -f {q(staging)}; exit $rc",
        sudo=True,
    )


def write_state(ctx: StepContext, state: dict) -> None:
    """Replace the host's state file with `state`."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
        json.dump(state, tmp, indent=2, sort_keys=True)
        tmp.write("\n")
    try:
        upload(ctx, Path(tmp.name), STATE_FILE)
    finally:
        os.unlink(tmp.name)
    ctx.state = state
