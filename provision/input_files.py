# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files the controller reads: each kind has a size limit, and one that is larger (or endless, like
/dev/zero) is refused with one line once the limit is read, never read to a MemoryError.

The limits are far above what a real file of the kind holds: a probe capture is tens of kB, a
state file or controller meta.json a few hundred bytes, an nvinfer config a few kB; COCO's own
largest annotation file, instances_train2017.json of annotations_trainval2017.zip
(https://cocodataset.org/#download), is about 450 MB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from provision.errors import ProvisionError

CAPTURE = 64 << 20
COCO = 1 << 30
INVENTORY = 16 << 20
KNOWN_HOSTS = 16 << 20
STATE = 1 << 20  # a host's state.json, a controller meta.json
HOST_TEXT = 4 << 20  # a config or labels file read back from a host


class TooLarge(ProvisionError):
    """A file over its kind's size limit."""


def too_large(what: str, where: object, limit: int) -> TooLarge:
    return TooLarge(f"{what} {where} is larger than {limit} bytes: refused")


def read_bytes(path: Path, what: str, limit: int) -> bytes:
    """At most `limit` bytes of a file; TooLarge when there are more, one line when unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ProvisionError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise too_large(what, path, limit)
    return data


def parse_json(text: str | bytes, what: str) -> Any:
    """JSON, or one line saying why not (nesting too deep for Python's parser included)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ProvisionError(f"{what}: nested too deeply to read") from None
    except ValueError as exc:
        raise ProvisionError(f"{what}: not JSON ({' '.join(str(exc).split())})") from None


def read_json(path: Path, what: str, limit: int) -> Any:
    """A JSON file within its size limit."""
    return parse_json(read_bytes(path, what, limit), f"{what} {path}")
