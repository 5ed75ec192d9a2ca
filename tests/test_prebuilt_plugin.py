# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The prebuilt-plugin step against a real local git repository (LocalRunner: real git, real files).

The step checks the file out at the pinned commit, fetches it and keeps it only when its SHA-256
(or, for a plain git blob, its blob id) is the pinned one; a Git LFS pointer (a host without
git-lfs) is refused with that reason.
"""

import hashlib
import subprocess
from pathlib import Path

import pytest

from provision.artifacts import ArtifactStore, git_blob_id
from provision.runners.local import LocalRunner
from provision.core.step import StepContext, StepFailed
from provision.capabilities.plugin_files import PluginPaths
from provision.capabilities.prebuilt_plugin import FetchPrebuiltPlugin, PrebuiltSpec

PATH = "TRT-OSS/Jetson/TRT8.6/libnvinfer_plugin.so.8.6.2"
# The pointer Git LFS writes in place of NVIDIA's file (its oid is matrix/prebuilt_plugins.yml's).
POINTER = ("version https://git-lfs.github.com/spec/v1\n"
           "oid sha256:6ff83b551169c648d8708a4028e8416bbd4200e67d32106af177a78748d05ace\nsize 55114448\n")


def git(*args, cwd):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def repo_with(tmp_path: Path, content: bytes) -> tuple[str, str]:
    work = tmp_path / "tao"
    (work / PATH).parent.mkdir(parents=True)
    (work / PATH).write_bytes(content)
    git("init", "-q", "-b", "master", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "prebuilt", cwd=work)
    commit = git("rev-parse", "HEAD", cwd=work)
    (work / PATH).write_bytes(b"a later, different file")  # the pin must win over the branch tip
    git("commit", "-q", "-am", "later", cwd=work)
    return work.as_uri(), commit


def step(tmp_path: Path, repo: str, commit: str, sha256: str | None,
         git_blob: str | None = None) -> tuple[FetchPrebuiltPlugin, StepContext]:
    spec = PrebuiltSpec(repo=repo, commit=commit, path=PATH, sha256=sha256, tensorrt="8.6.2.3",
                        platform_id="aarch64", build_dir=str(tmp_path / "build"), git_blob=git_blob)
    fetch = FetchPrebuiltPlugin(spec, ArtifactStore(tmp_path / "cache"), PluginPaths("/nonexistent", "libnvinfer_plugin.so.8.6.2"))
    return fetch, StepContext(runner=LocalRunner(), facts=None)


def test_the_pinned_file_is_fetched_checked_and_cached(tmp_path):
    content = b"\x7fELF stand-in prebuilt library"
    repo, commit = repo_with(tmp_path, content)
    fetch, ctx = step(tmp_path, repo, commit, hashlib.sha256(content).hexdigest())
    assert fetch.check(ctx) is None  # nothing cached, nothing installed
    fetch.apply(ctx)
    fetch.verify(ctx)
    assert fetch.outcome == "fetched" and fetch.artifact.read_bytes() == content
    again, ctx = step(tmp_path, repo, commit, hashlib.sha256(content).hexdigest())
    assert again.check(ctx).startswith("cached prebuilt plugin library")  # same key: no second fetch


def test_an_lfs_pointer_is_refused_with_the_reason(tmp_path):
    repo, commit = repo_with(tmp_path, POINTER.encode())
    fetch, ctx = step(tmp_path, repo, commit, "6ff83b551169c648d8708a4028e8416bbd4200e67d32106af177a78748d05ace")
    with pytest.raises(StepFailed, match="a Git LFS pointer: install git-lfs on the host") as failed:
        fetch.apply(ctx)
    assert "nothing was installed" in str(failed.value)
    assert not list((tmp_path / "cache" / "artifacts").glob("*/libnvinfer_plugin.so"))


def test_a_plain_git_blob_is_checked_by_its_blob_id(tmp_path):
    """Where no SHA-256 exists the matrix pins the blob id of the commit's tree; the controller
    hashes the fetched bytes as `git hash-object` does (no git needed there)."""
    content = b"\x7fELF a library kept as a plain git blob"
    repo, commit = repo_with(tmp_path, content)
    blob = git("rev-parse", f"{commit}:{PATH}", cwd=tmp_path / "tao")  # the tree listing's id
    assert blob == git_blob_id_of(tmp_path, content)
    fetch, ctx = step(tmp_path, repo, commit, None, blob)
    fetch.apply(ctx)
    assert fetch.outcome == "fetched" and fetch.artifact.read_bytes() == content
    assert "git blob " + blob[:12] in fetch.summary()
    wrong, ctx = step(tmp_path / "other", repo, commit, None, "0" * 40)
    with pytest.raises(StepFailed, match=f"has git blob {blob[:12]}..., not 000000000000...; nothing was installed"):
        wrong.apply(ctx)


def git_blob_id_of(tmp_path: Path, content: bytes) -> str:
    """provision.artifacts.git_blob_id on a file with these bytes."""
    path = tmp_path / "blob"
    path.write_bytes(content)
    return git_blob_id(path)
