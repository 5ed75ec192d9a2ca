# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""How a task's parameters become its command-line options, for `dsprov` and `invoke` alike:
invoke's Task, with `-h` left to help (`--host` is `-H`) and a value of the wrong type a parse
error, not a traceback."""

from __future__ import annotations

import functools
from typing import Any

import invoke
from invoke.exceptions import ParseError
from invoke.parser import Argument

# Short flags chosen here, not by invoke (which takes an option's first free letter).
SHORT_FLAGS = {"host": "H"}
HELP_LETTER = "h"
KIND_WORDS = {int: "a whole number", float: "a number"}


class Flag(Argument):
    """An option whose value is converted to its kind; a value that does not convert is a ParseError."""

    @classmethod
    def like(cls, arg: Argument) -> Flag:
        return cls(names=arg.names, kind=arg.kind, default=arg.default, help=arg.help, positional=arg.positional,
                   optional=arg.optional, incrementable=arg.incrementable, attr_name=arg.attr_name)

    def set_value(self, value: Any, cast: bool = True) -> None:
        try:
            super().set_value(value, cast)
        except (TypeError, ValueError):
            what = KIND_WORDS.get(self.kind, self.kind.__name__)
            raise ParseError(f"--{self.names[0]}: {value!r} is not {what}") from None


class Task(invoke.Task):
    """invoke's Task whose options are Flags, with `-h` never taken by an option."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names | {HELP_LETTER})
        if name in SHORT_FLAGS:
            opts["names"] = [opts["names"][0], SHORT_FLAGS[name]]
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        return [Flag.like(arg) for arg in super().get_arguments(ignore_unknown_help)]


task = functools.partial(invoke.task, klass=Task)
