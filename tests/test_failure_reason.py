# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A failed command's message carries the line that explains it, not only its last line.

The outputs are made here by the real tools (gcc, git), not recorded."""

import subprocess

from provision.runners.base import Result


def run(command: str, cwd) -> Result:
    done = subprocess.run(["sh", "-c", command], cwd=cwd, capture_output=True, text=True)
    return Result(command, done.returncode, done.stdout, done.stderr)


def test_the_compiler_error_line_is_the_reason(tmp_path):
    (tmp_path / "plugin.c").write_text("int f(void) { return undeclared_name; }\n")
    result = run("gcc -c plugin.c -o plugin.o; echo 'make[2]: *** [plugin.o] Error 1' >&2; exit 1", tmp_path)
    assert not result.ok
    assert result.tail(1) == "make[2]: *** [plugin.o] Error 1"
    assert result.reason().startswith("plugin.c:1:22: error: ") and "undeclared_name" in result.reason()


def test_a_full_disk_outranks_what_follows_from_it(tmp_path):
    """Writing to /dev/full fails with ENOSPC, as a full build folder does."""
    (tmp_path / "ok.c").write_text("int f(void) { return 0; }\n")
    result = run("cp ok.c /dev/full; gcc -c nothere.c; echo '  CMakeLists.txt:26 (project)' >&2; exit 1", tmp_path)
    assert "No space left on device" in result.reason()
    assert result.tail(1).strip() == "CMakeLists.txt:26 (project)"


def test_git_fatal_line_is_the_reason(tmp_path):
    result = run("git clone --quiet file:///nonexistent/repo.git x; echo done >&2", tmp_path)
    assert result.reason().startswith("fatal: ") and result.tail(1) == "done"


def test_without_an_explaining_line_the_last_line_is_kept(tmp_path):
    assert run("echo one; echo two; exit 3", tmp_path).reason() == "two"
