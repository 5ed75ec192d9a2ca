# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A closed stdout pipe (`dsprov detect --json | head -1`) ends the program quietly, with the exit
code a shell reports for a writer that SIGPIPE ended (`yes | head -1`): 128 + 13 = 141.

Python ignores SIGPIPE and raises BrokenPipeError instead; its advice
(https://docs.python.org/3/library/signal.html#note-on-sigpipe) is to point stdout at /dev/null, so
that the flush at exit does not fail again, and exit. SIGPIPE itself stays ignored: a closed SSH
connection must be an error the runner reports, not the end of the program.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

import rich.console

EXIT_CLOSED_PIPE = 128 + signal.SIGPIPE


def exit_closed_pipe() -> NoReturn:
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(EXIT_CLOSED_PIPE)


class Console(rich.console.Console):
    """rich's Console, ending on a closed pipe as above (rich's own exits 1, a failed host's code)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        exit_closed_pipe()
