# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every file the tool writes on a host goes through FileOps.write_atomic: a private upload folder,
then one command that checks the upload's size and SHA-256 and renames a verified copy over the
target (issue 23). Run for real with the local runner (these tests run as root in CI and here, so
the root-only checks are the ones exercised); the fleet tests (tests/fleet/test_hostile.py) do the
same over SSH with a second user on a device."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from provision import state
from provision.errors import StepFailed
from provision.runners import LocalRunner
from provision.runners.base import file_digest, install_command, refusal
from provision.core.step import StepContext
from provision.capabilities.plugin_files import PluginPaths
from provision.capabilities.plugin_swap import restore_command, swap_command

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the root-only folder checks need root")


def write(target: Path, data: bytes, mode: str | None = None):
    return LocalRunner().write_atomic(data, str(target), mode=mode)


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("victim\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f.txt").symlink_to(victim)
    assert write(tmp_path / "out" / "f.txt", b"new\n").ok
    assert victim.read_text() == "victim\n" and not (tmp_path / "out" / "f.txt").is_symlink()
    assert (tmp_path / "out" / "f.txt").read_text() == "new\n" and sorted(os.listdir(tmp_path / "out")) == ["f.txt"]


def test_mode_and_an_existing_files_mode_are_set_explicitly(tmp_path):
    target = tmp_path / "f"
    target.write_text("old")
    target.chmod(0o4755)  # set-id bits are never carried over
    assert write(target, b"x").ok and oct(target.stat().st_mode & 0o7777) == "0o755"
    assert write(target, b"y", mode="0640").ok and oct(target.stat().st_mode & 0o7777) == "0o640"


@root_only
@pytest.mark.parametrize("owner, mode, says", [(65534, 0o755, "is owned by uid 65534"),
                                                (0, 0o777, "is writable by other users (mode 777)"),
                                                (0, 0o775, "is writable by other users (mode 775)")])
def test_root_refuses_a_folder_another_user_controls(tmp_path, owner, mode, says):
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / ".dsprov-tmp-f").symlink_to("/etc/hostname")
    os.chown(folder, owner, 100 if mode == 0o775 else 0)
    folder.chmod(mode)
    before = Path("/etc/hostname").read_bytes()
    result = write(folder / "sub" / "f", b"x")
    assert result.exit_code == 3 and says in refusal(result), result.stderr
    assert Path("/etc/hostname").read_bytes() == before and sorted(os.listdir(folder)) == [".dsprov-tmp-f"]


@root_only
def test_root_refuses_a_path_through_another_users_link(tmp_path):
    """A link another user owns in a sticky folder (theirs to point anywhere, /etc included, unless
    fs.protected_symlinks is on) leads to a root-owned folder: root does not write through it."""
    sticky, system = tmp_path / "sticky", tmp_path / "system"
    sticky.mkdir()
    sticky.chmod(0o1777)
    system.mkdir()
    (sticky / "out").symlink_to(system)
    os.lchown(sticky / "out", 65534, 65534)
    result = write(sticky / "out" / "f", b"x")
    assert result.exit_code == 3, result.stderr
    assert refusal(result) == (f"{sticky}/out is a link owned by uid 65534: dsprov writes as root only where root or"
                               " the login user owns every part of the path")
    assert os.listdir(system) == []
    os.lchown(sticky / "out", 0, 0)  # the same link, root's: written through
    assert write(sticky / "out" / "f", b"x").ok and (system / "f").read_bytes() == b"x"


@root_only
def test_root_writes_under_a_sticky_folder(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert write(sticky / "mine" / "f", b"x").ok


def test_a_short_upload_is_refused_and_nothing_replaced(tmp_path):
    target, data = tmp_path / "lib.so", tmp_path / "up" / "lib.so"
    target.write_bytes(b"original")
    data.parent.mkdir()
    data.write_bytes(b"the whole library")
    sha, size = file_digest(data)
    data.write_bytes(b"the who")  # what a full /tmp leaves
    result = LocalRunner().run(install_command(str(data), str(target), sha, size))
    assert result.exit_code == 3 and "arrived incomplete (7 of 17 bytes" in refusal(result), result.stderr
    assert target.read_bytes() == b"original" and not data.parent.exists()  # the upload folder is removed


def test_uploads_go_to_a_fresh_private_folder(tmp_path):
    local = tmp_path / "f"
    local.write_text("x")
    runner = LocalRunner()
    first, second = runner.upload(local), runner.upload(local)
    try:
        assert first != second and oct(os.stat(Path(first).parent).st_mode & 0o777) == "0o700"
    finally:
        for path in (first, second):
            os.unlink(path)
            os.rmdir(Path(path).parent)


@pytest.fixture
def library(tmp_path):
    """A library folder with libnvinfer_plugin.so.8.0.1, its SONAME link, and a build uploaded
    into a private folder."""
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    (lib_dir / "libnvinfer_plugin.so.8.0.1").write_bytes(b"original library")
    (lib_dir / "libnvinfer_plugin.so.8").symlink_to("libnvinfer_plugin.so.8.0.1")
    build = tmp_path / "build.so"
    build.write_bytes(b"the new build")
    return PluginPaths(str(lib_dir), "libnvinfer_plugin.so.8.0.1"), build


def swap(p: PluginPaths, build: Path, accepted: tuple[str, ...]):
    runner = LocalRunner()
    sha, size = file_digest(build)
    return runner.run(swap_command(p, runner.upload(build), sha, size, accepted))


def sha_of(path: str) -> str:
    return file_digest(Path(path))[0]


def test_the_swap_checks_the_library_and_replaces_it_in_one_command(library):
    p, build = library
    assert swap(p, build, (sha_of(p.path),)).ok
    assert Path(p.path).read_bytes() == b"the new build" and os.readlink(p.soname_link) == p.name
    assert sorted(os.listdir(p.lib_dir)) == ["libnvinfer_plugin.so", "libnvinfer_plugin.so.8", p.name]


def test_a_library_changed_since_the_check_is_not_replaced(library):
    p, build = library
    checked = sha_of(p.path)
    Path(p.path).write_bytes(b"written after the check")  # bytes that a later rename would lose
    result = swap(p, build, (checked,))
    assert result.exit_code == 3 and "changed since it was checked" in refusal(result), result.stderr
    assert Path(p.path).read_bytes() == b"written after the check"


def test_restore_puts_back_only_the_recorded_original(library, tmp_path):
    p, build = library
    saved = tmp_path / "saved"
    saved.write_bytes(b"something else")
    result = LocalRunner().run(restore_command(p, str(saved), sha_of(p.path)))
    assert result.exit_code == 3 and "is not the original" in refusal(result), result.stderr
    assert saved.exists() and Path(p.path).read_bytes() == b"original library"


@pytest.mark.parametrize("content, tolerant, expected", [
    (None, False, {}), ("", False, {}), ('{"a": 1}', False, {"a": 1}), ("[1]", True, {}), ("garbage", True, {}),
    ("[1]", False, "the top level is a list"), ("garbage", False, "is not valid JSON")])
def test_the_state_file_read_as_root(tmp_path, monkeypatch, content, tolerant, expected):
    """Under the lock the state file is read as root (a `chmod 600` file is still read); rollback
    reads one that is not a JSON object as {} (the diversion stands in)."""
    path = tmp_path / "state.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setattr(state, "STATE_FILE", str(path))
    ctx = StepContext(LocalRunner(), None)
    if isinstance(expected, dict):
        assert state.read_state(ctx, sudo=True, strict=not tolerant) == expected
    else:
        with pytest.raises(StepFailed, match=expected):
            state.read_state(ctx, sudo=True, strict=not tolerant)
