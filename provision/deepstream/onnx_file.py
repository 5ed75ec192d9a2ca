# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Is a file an ONNX model? Its first bytes say (provision/capabilities/model_config.py reads them on the host with `od`).

An ONNX file is a serialized `ModelProto` (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto):
its required `int64 ir_version = 1` comes first, as protobuf writes fields in number order, so the
file starts with the tag 0x08 (field 1, varint) and a small IR version (1 to 10 so far, onnx's
`IR_VERSION` history in the same file).
"""

from __future__ import annotations

HEAD_BYTES = 16
MAX_IR_VERSION = 64  # room for future IR versions; a text file's second byte is far above it


def onnx_problem(head: bytes) -> str | None:
    """Why these first bytes are not those of an ONNX model, or None."""
    if not head:
        return "it is empty"
    if head[0] != 0x08 or len(head) < 2 or not 1 <= head[1] <= MAX_IR_VERSION:
        return "it does not start like an ONNX model (ModelProto with ir_version first)"
    return None
