# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""DeepStream configs (GLib key files) parsed once per text: a run reads the same sample configs on
every host of a fleet, and one engine check reads each config several times (app config, GIE,
nvinfer `[property]`). The parsers are shared, so callers only read them."""

from __future__ import annotations

import configparser

KEPT = 512  # distinct texts kept; past that the cache starts again
_PARSED: dict[str, configparser.ConfigParser] = {}


def parsed(path: str, text: str) -> configparser.ConfigParser:
    """`text` read as a GLib key file (`=` only, `#` comments, no interpolation), parsed on its
    first call only; configparser.Error, naming `path`, where it is no key file."""
    parser = _PARSED.get(text)
    if parser is None:
        parser = configparser.ConfigParser(interpolation=None, strict=False, inline_comment_prefixes=("#",),
                                           delimiters=("=",))
        parser.read_string(text, source=path)
        if len(_PARSED) >= KEPT:
            _PARSED.clear()
        _PARSED[text] = parser
    return parser
