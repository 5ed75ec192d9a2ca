# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet page (provision/fleet_report/) read back as a DOM with the standard library's HTML parser:
what tests/test_fleet_report.py and tests/fleet/test_fleet_report_browser.py check."""

from __future__ import annotations

from html.parser import HTMLParser


class Dom(HTMLParser):
    """The parts of the page the tests read: per host row (data-host) its cells' text and titles and its class,
    every script element, every attribute that loads or links something."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, dict] = {}
        self.scripts, self.links, self.loads, self.handlers = 0, [], [], []
        self._row: dict | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.scripts += tag == "script"
        self.handlers += [k for k in attrs if k.startswith("on")]
        self.loads += [attrs[k] for k in ("src", "srcset", "data") if k in attrs] + ([attrs["href"]] if tag == "link" else [])
        if tag == "a":
            self.links.append(attrs.get("href"))
        if tag == "tr" and "data-host" in attrs:
            self._row = self.rows[attrs["data-host"]] = {"class": attrs.get("class", ""), "cells": [], "titles": [], **attrs}
        elif tag == "td" and self._row is not None:
            self._cell = []
            self._row["cells"].append(self._cell)
            self._row["titles"].append(attrs.get("title"))

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def cells(self, host: str) -> list[str]:
        return [" ".join(" ".join(c).split()) for c in self.rows[host]["cells"]]
