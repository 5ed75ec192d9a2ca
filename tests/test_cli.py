# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The installed `dsprov` command as an operator meets it (the wheel in a fresh venv: test_install.py's
`installed`): its own options only, help for every task with no inventory anywhere, `-h` is help,
every parse error one `error:` line and exit 2, a closed pipe ends quietly (exit 141), the
development tasks only in the checkout's `invoke`, and shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import zipfile

import pytest

from test_install import BIN, CAPTURE, ROOT, installed, run  # noqa: F401  (installed: the fixture)

# invoke's core options (but --config, an option of `engines`)
INVOKE_CORE = ("--hide", "--pty", "--warn-only", "--dry", "--echo", "--debug", "--command-timeout",
               "--prompt-for-sudo-password", "--write-pyc", "--list-format", "--list-depth", "--collection")
OWN = {"-h", "--help", "-l", "--list", "-V", "--version", "--print-completion-script"}
DEV_TASKS = ("demo", "fleet.up", "fleet.down")


def dsprov(installed, *args: str, cwd=None) -> subprocess.CompletedProcess:
    """`dsprov ARGS` in `cwd` (default: the folder with an inventory)."""
    return run([installed.venv / "bin" / "dsprov", *args], cwd=cwd or installed.work, env=installed.env)


def tasks(installed) -> list[str]:
    listing = dsprov(installed, "--list").stdout
    return re.findall(r"^  (\S+)", listing, re.M)


def flags(help_text: str) -> set[str]:
    """The option names in a help text's "Options:" section."""
    section = help_text.split("Options:", 1)[1].split("\nTasks:", 1)[0]
    return set(re.findall(r"(?:^ +|, )(--?[\w-]+)", section, re.M))


def test_dsprov_offers_its_own_options_only(installed):
    for asked in ("-h", "--help"):
        shown = dsprov(installed, asked)
        assert shown.returncode == 0 and shown.stderr == "", shown.stderr
        assert shown.stdout.startswith("Usage: dsprov ") and flags(shown.stdout) == OWN, shown.stdout
        assert not flags(shown.stdout) & set(INVOKE_CORE)
    for core in INVOKE_CORE:
        refused = dsprov(installed, core, "detect")
        assert refused.returncode == 2 and refused.stderr.splitlines()[0] == f"error: unknown option {core}"


def test_every_task_has_help_with_no_inventory_and_h_is_help(installed, tmp_path):
    """In a folder with no inventory and none in the environment: `TASK --help` and `TASK -h`."""
    names = tasks(installed)
    assert {"detect", "capture", "provision", "rollback", "engines", "pyds", "matrix.check", "deepstream.config"} <= set(names)
    for name in names:
        for asked in ("--help", "-h"):
            shown = dsprov(installed, name, asked, cwd=tmp_path)
            assert (shown.returncode, shown.stderr) == (0, ""), (name, shown.stderr)
            assert shown.stdout.startswith(f"Usage: dsprov {name}"), shown.stdout
            assert "Docstring:" not in shown.stdout and "--core-opts" not in shown.stdout
            shown_flags = flags(shown.stdout)
            assert {"-h", "--help", "-i", "--inventory"} <= shown_flags and not shown_flags & set(INVOKE_CORE), shown_flags
    assert dsprov(installed, "--help", "capture", cwd=tmp_path).stdout == dsprov(installed, "capture", "-h", cwd=tmp_path).stdout
    # after a positional value, with other flags: still help, nothing run
    late = dsprov(installed, "deepstream.config", "--kind", "dino", "nano01", "-h", cwd=tmp_path)
    assert late.returncode == 0 and late.stdout.startswith("Usage: dsprov deepstream.config --host HOST --kind KIND")


def test_the_host_flag_is_capital_h_and_a_repeatable_option_shows_its_value(installed):
    shown = dsprov(installed, "provision", "-h").stdout
    assert "-H STRING, --host=STRING" in shown
    assert "-r STRING, --root=STRING" in dsprov(installed, "engines", "-h").stdout
    unknown = dsprov(installed, "capture", "-H", "nosuch")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: host 'nosuch' is not in"), unknown.stderr


@pytest.mark.parametrize("args, line", [
    (("detect", "--bogus"), "error: unknown option --bogus"),
    (("--bogus",), "error: unknown option --bogus"),
    (("provision", "--forks", "abc"), "error: --forks: 'abc' is not a whole number"),
    (("provision", "--hosts", "a,b", "--forks"), "error: --forks needs a value"),
    (("detect", "--host"), "error: --host needs a value"),
    (("capture",), "error: capture needs --host"),
    (("deepstream.config", "--host", "x"), "error: deepstream.config needs --kind and --onnx and --coco and --out"),
    (("nosuch",), "error: unknown task or extra argument 'nosuch'"),
    (("detect", "nano01"), "error: unknown task or extra argument 'nano01'"),
    (("--list", "nosuch"), "error: --list nosuch: no such group of tasks (groups: matrix, deepstream)"),
])
def test_a_parse_error_is_one_error_line_a_usage_hint_and_exit_2(installed, args, line):
    result = dsprov(installed, *args)
    assert (result.returncode, result.stdout) == (2, ""), result.stdout + result.stderr
    first, hint = result.stderr.splitlines()
    assert first == line and hint.startswith("usage: dsprov "), result.stderr


@pytest.mark.parametrize("args", [("detect", "--capture", str(CAPTURE), "--json"), ("detect", "--capture", str(CAPTURE)),
                                  ("--list",), ("provision", "--help")])
def test_a_closed_pipe_ends_quietly_with_141(installed, args):
    """stdout is a pipe whose reader has gone before the first write (so the write fails, always)."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([installed.venv / "bin" / "dsprov", *args], stdout=write, stderr=subprocess.PIPE,
                                text=True, cwd=installed.work, env=installed.env, timeout=120)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (141, "")


def test_head_takes_the_first_line_and_nothing_else_is_printed(installed):
    script = f"dsprov detect --capture {CAPTURE} --json | head -1; echo \"${{PIPESTATUS[0]}}\""
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=installed.work,
                            env=installed.env, timeout=120)
    first, status = result.stdout.splitlines()
    assert (first, result.stderr) == ("{", "") and status in ("0", "141")


def test_development_tasks_are_the_checkouts_only(installed):
    listed = tasks(installed)
    assert not [name for name in DEV_TASKS if name in listed]
    refused = dsprov(installed, "fleet.up")
    assert refused.returncode == 2 and refused.stderr.splitlines()[0] == "error: unknown task or extra argument 'fleet.up'"
    checkout = run([BIN / "invoke", "--list"], cwd=ROOT)
    assert checkout.returncode == 0 and all(name in checkout.stdout.split() for name in (*DEV_TASKS, "provision"))
    wheel = zipfile.ZipFile(installed.wheel)
    importing = [n for n in wheel.namelist() if n.endswith(".py")
                 and re.search(rb"^\s*(from|import) simfleet\b", wheel.read(n), re.M)]
    assert importing == []


def test_shell_completion(installed):
    script = dsprov(installed, "--print-completion-script", "bash")
    assert script.returncode == 0 and "complete -F" in script.stdout and "dsprov --complete" in script.stdout
    candidates = dsprov(installed, "--complete", "--", "dsprov").stdout.split()
    assert "provision" in candidates and "demo" not in candidates
    options = dsprov(installed, "--complete", "--", "dsprov", "provision", "--").stdout.split()
    assert {"--host", "--hosts", "--forks", "--help"} <= set(options)
