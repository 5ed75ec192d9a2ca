# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's artifact cache: downloads and built files, keyed by what decides their bytes.

A fleet of identical devices builds once and copies to the rest: the key of a plugin build is
a hash of (architecture, TensorRT version, OSS ref and commit, GPU_ARCHS, compiler).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from provision import cancel, input_files
from provision.downloads import download
from provision.errors import ProvisionError
from provision.options import DEFAULT_STALL_TIMEOUT

CACHE_ENV = "DSPROV_CACHE"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dsprov")


def read_private(path: Path) -> bytes | None:
    """The bytes of a kept file that only this user (or root) could have written: the file and its
    folder are theirs and writable by no one else. None otherwise, or when it cannot be read. What
    the controller runs on (an unpickled matrix, an inventory's ssh options) must come from no one
    else, whatever folder `$DSPROV_CACHE` names."""
    try:
        with path.open("rb") as handle:
            for stat_result in (os.fstat(handle.fileno()), path.parent.stat()):
                if stat_result.st_uid not in (0, os.geteuid()) or stat_result.st_mode & 0o022:
                    return None
            return handle.read()
    except OSError:
        return None



def write_private(path: Path, data: bytes) -> None:
    """Write a kept file that `read_private` will read back: mode 0600 whatever the umask, in a
    folder made 0700, replaced whole (a reader never sees half of it). Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(data)
    temporary.replace(path)

def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def git_blob_id(path: Path) -> str:
    """What `git hash-object` prints for the file: the SHA-1 of b"blob <size>\\0" and its bytes
    (https://git-scm.com/book/en/v2/Git-Internals-Git-Objects); no git needed."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_key(parts: dict[str, str]) -> str:
    """A short stable key for a dict of what decides an artifact's bytes."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def fetch(url: str, sha256: str, name: str, stall_timeout: int = DEFAULT_STALL_TIMEOUT, size: int | None = None) -> Path:
    """Download `url` once into the cache, checking its SHA-256 (a mismatch is never kept); a stall,
    a cancel or more bytes than `size` (or downloads.DEFAULT_CAP when not pinned) abandons it."""
    target = cache_root() / "downloads" / sha256 / name
    if target.exists() and sha256_file(target) == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".partial-", delete=False) as tmp:
        with cancel.on_abort(lambda: _unlink(tmp.name)):
            try:
                download(url, tmp, stall_timeout, size)
            except BaseException:
                _unlink(tmp.name)
                raise
    got = sha256_file(Path(tmp.name))
    if got != sha256:
        os.unlink(tmp.name)
        raise ProvisionError(f"{url}: SHA-256 {got} does not match the expected {sha256}")
    os.replace(tmp.name, target)
    return target


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class ArtifactStore:
    """Built files under cache_root()/artifacts/<key>/, each with a meta.json of its key parts."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "artifacts"

    @contextlib.contextmanager
    def lock(self, key: str, claimed: IO | None = None) -> Iterator[None]:
        """Hold the key's build lock: one build per key at a time, across threads and processes
        (invoke's thread pool and Ansible's forks alike); the others wait, then copy. `claimed`:
        the lock taken before by `claim`, held now and released at the end."""
        if claimed is None:
            self.root.mkdir(parents=True, exist_ok=True)
            claimed = open(self.root / f".{key}.lock", "w")
            fcntl.flock(claimed, fcntl.LOCK_EX)
        with claimed:
            yield

    def claim(self, key: str) -> IO | None:
        """The key's build lock if nobody holds it now (the caller is to build the key, see lock),
        else None: another host builds it. The lock goes with the returned file."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / f".{key}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle

    def get(self, key: str, name: str) -> Path | None:
        """The cached file, when its meta.json is whole and names its SHA-256; a broken meta.json
        (a controller killed mid-write before writes were atomic, a full disk) is a cache miss."""
        path = self.root / key / name
        meta = self.root / key / "meta.json"
        if not (path.is_file() and meta.is_file()):
            return None
        try:
            recorded = input_files.read_json(meta, "cache record", input_files.STATE)
        except ProvisionError:
            return None
        if isinstance(recorded, dict) and recorded.get("sha256") == sha256_file(path):
            return path
        return None

    def put(self, key: str, name: str, source: Path, parts: dict[str, str]) -> Path:
        """Copy a built file in, then its meta.json: each replaced whole (written beside, renamed)."""
        folder = self.root / key
        folder.mkdir(parents=True, exist_ok=True)
        _replace(folder / name, source.read_bytes())
        meta = {"key": key, "parts": parts, "sha256": sha256_file(folder / name)}
        _replace(folder / "meta.json", json.dumps(meta, indent=2, sort_keys=True).encode())
        return folder / name


def _replace(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a private file beside it, flushed, renamed over it."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        try:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            _unlink(tmp.name)
            raise
    os.replace(tmp.name, path)
