# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `dsprov` console command: invoke's Program over the task collection of provision/tasks.py,
so `dsprov provision ...` and `invoke provision ...` (in a checkout) take the same tasks and flags.

It behaves like the command-line tools operators know (ssh, ansible): it offers only its own
options (`--help`, `--list`, `--version`, `--print-completion-script`); `-h`/`--help` after a task
is that task's help, never parsed as a value and never needing an inventory; every parse error is
one `error:` line on stderr, a usage hint under it, and exit code 2; a closed stdout pipe
(`dsprov detect --json | head -1`) ends the program quietly with exit code 141
(provision/closed_pipe.py).
"""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import version

import provision.invoke_import  # noqa: F401  (first: invoke without unittest.mock)
from invoke import Exit, ParseError, Program
from invoke.parser import Argument, Parser, ParserContext
from invoke.terminals import pty_size
from invoke.util import Lexicon

from provision.closed_pipe import exit_closed_pipe
from provision.library_warnings import silence_library_warnings
from provision.startup_gc import loading

DISTRIBUTION = "deepstream-provision"
EXIT_USAGE = 2

# invoke's core options that dsprov offers, with their help; `--complete` is what the completion
# scripts call, so it stays, unlisted.
OFFERED = {
    "help": "show this help; `dsprov TASK --help` shows a task's",
    "list": "list the tasks",
    "version": "show the version",
    "print-completion-script": "print the shell completion script for bash, zsh or fish (docs/install.md)",
    "complete": None,
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _required(task: str, names: str) -> str:
    return f"{task} needs " + " and ".join(_flag(n.strip("'")) for n in names.split(", "))


# invoke 2's parse errors (invoke/parser/parser.py), in dsprov's words.
PARSE_ERRORS = (
    (re.compile(r"No idea what '(-.*)' is!"), lambda token: f"unknown option {token}"),
    (re.compile(r"No idea what '(.*)' is!"), lambda token: f"unknown task or extra argument {token!r}"),
    (re.compile(r"Flag <\w+: ([\w-]+).*> needed value and was not given one!"), lambda name: f"{_flag(name)} needs a value"),
    (re.compile(r"Flag <\w+: ([\w-]+).*> doesn't take any value!"), lambda name: f"{_flag(name)} takes no value"),
    (re.compile(r"'(.*)' did not receive required positional arguments: (.*)"), _required),
)


def _error_line(error: ParseError) -> str:
    text = str(error)
    for pattern, say in PARSE_ERRORS:
        found = pattern.fullmatch(text)
        if found:
            return say(*found.groups())
    return text


class TaskContext(ParserContext):
    """A task's options, and `-h`/`--help`: seen anywhere after the task, it is the task's help
    (so a positional argument never takes it as its value, and none is then required)."""

    @classmethod
    def of(cls, context: ParserContext) -> TaskContext:
        help_flag = Argument(names=("help", "h"), kind=bool, default=False, help="show this help")
        return cls(context.name, context.aliases, [*context.args.values(), help_flag])

    @property
    def wants_help(self) -> bool:
        return bool(self.args["help"].value)

    @property
    def missing_positional_args(self) -> list[Argument]:
        return [] if self.wants_help else super().missing_positional_args

    def help_for(self, flag: str) -> tuple[str, str]:
        """invoke's, with a repeatable option's value shown (invoke shows it as a switch)."""
        names, text = super().help_for(flag)
        if self.flags[flag].kind is list:
            names = ", ".join(f"{n} STRING" if len(n) == 2 else f"{n}=STRING" for n in names.split(", "))
        return names, text

    @property
    def as_kwargs(self) -> dict:
        return {name: value for name, value in super().as_kwargs.items() if name != "help"}


class DsprovProgram(Program):
    """invoke's Program with dsprov's options, help and parse errors."""

    def core_args(self) -> list[Argument]:
        offered = [arg for arg in super().core_args() if arg.name in OFFERED]
        for arg in offered:
            arg.help = OFFERED[arg.name]
        return offered

    @property
    def args(self) -> Lexicon:
        """The parsed options, and invoke's others at their defaults (invoke's own steps read them)."""
        return Lexicon({**{arg.name: arg for arg in super().core_args()}, **self.core[0].args})

    def _make_parser(self) -> Parser:
        contexts = self.collection.to_contexts(ignore_unknown_help=self.config.tasks.ignore_unknown_help)
        return Parser(initial=self.initial_context, contexts=[TaskContext.of(c) for c in contexts])

    @contextlib.contextmanager
    def _usage_errors(self) -> Iterator[None]:
        """A ParseError becomes `error: ...` and a usage hint on stderr, exit code 2."""
        try:
            yield
        except ParseError as exc:
            task = exc.context.name if exc.context is not None else None
            hint = (f"usage: {self.binary} {task} [options]; `{self.binary} {task} --help` lists them" if task else
                    f"usage: {self.binary} TASK [options]; `{self.binary} --list` lists the tasks,"
                    f" `{self.binary} TASK --help` a task's options")
            raise Exit(f"error: {_error_line(exc)}\n{hint}", code=EXIT_USAGE) from None

    def parse_core(self, argv: list[str] | None) -> None:
        with self._usage_errors():
            super().parse_core(argv)

    def parse_tasks(self) -> None:
        with self._usage_errors():
            super().parse_tasks()

    def parse_cleanup(self) -> None:
        asked = next((t.name for t in self.tasks if getattr(t, "wants_help", False)), None)
        if asked:
            self.print_task_help(asked)
            raise Exit
        with self._usage_errors():
            listed = self.args.list.value
            if isinstance(listed, str) and listed not in self.collection.collections:
                raise ParseError(f"--list {listed}: no such group of tasks (groups: {', '.join(self.collection.collections)})")
            super().parse_cleanup()

    def task_list_opener(self, extra: str = "") -> str:
        return "Tasks"

    def print_help(self) -> None:
        print(f"Usage: {self.binary} [--help] [--list] [--version] TASK [options]")
        print(f"       {self.binary} TASK --help")
        print("")
        print("Options:")
        self.print_columns([t for t in self.initial_context.help_tuples() if t[1]])
        self.list_tasks()

    def print_task_help(self, name: str) -> None:
        context = self.parser.contexts[name]
        required = "".join(f" {_flag(a.name)} {a.name.upper()}" for a in context.positional_args)
        print(f"Usage: {self.binary} {name}{required} [options]")
        print("")
        doc = inspect.cleandoc(self.collection[name].__doc__ or "")
        for paragraph in doc.split("\n\n"):
            print(textwrap.fill(" ".join(paragraph.split()), width=pty_size()[0] - 1))
            print("")
        print("Options:")
        self.print_columns(context.help_tuples())


def main() -> None:
    silence_library_warnings()  # before the task collection imports ansible-core and paramiko
    with loading():  # its modules, frozen out of the garbage collector's passes
        from provision.tasks import OneDocument, ns

    try:
        try:
            DsprovProgram(namespace=ns, name="dsprov", binary="dsprov", binary_names=["dsprov"],
                          version=version(DISTRIBUTION), executor_class=OneDocument).run()
        finally:
            sys.stdout.flush()  # here, not at exit: the program exits by SystemExit, output still buffered
    except BrokenPipeError:
        exit_closed_pipe()
