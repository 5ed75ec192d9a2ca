# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""An inventory's resolved hosts, kept between runs: a run over an unchanged inventory reads one
JSON file instead of importing ansible-core and parsing (about 0.3 CPU s of every run).

An entry is kept under the SHA-256 of everything its result depends on: every file under the
inventory folder (or the inventory file and the group_vars/host_vars beside it), the ansible.cfg
files Ansible may read, the ANSIBLE_* environment, the working folder, the Python that runs
(`ansible_playbook_python`) and ansible-core's version. What cannot be keyed is never kept: an
inventory that may run something (an executable file: the script plugin; a `plugin:` file: an
inventory plugin), a vault-encrypted file (its plain text would land on disk), and vars whose
templates call anything or use a filter outside a small pure set (provision/inventory.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from provision import input_files
from provision.artifacts import cache_root, read_private, write_private

FORMAT = 1  # the entry's layout; a change makes old entries unused
CONFIG_FILES = ("/etc/ansible/ansible.cfg", "~/.ansible.cfg", "ansible.cfg")  # ansible-core config/manager.py
VARS_FOLDERS = ("group_vars", "host_vars")
VAULT = b"$ANSIBLE_VAULT"
KEPT = 16  # entries kept (the newest): one per inventory and setting in use


def key(source: Path) -> str | None:
    """The cache key of an inventory file or folder, or None when it is not to be cached (or
    cannot be read: a dangling link, a file without read permission; the parse tells)."""
    try:
        return _key(source)
    except OSError:
        return None


def _key(source: Path) -> str | None:
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogateescape")
            digest.update(len(data).to_bytes(8, "big") + data)

    add(FORMAT, version("ansible-core"), sys.executable, os.getcwd(), source.resolve())
    for name, value in sorted(os.environ.items()):
        if name.startswith("ANSIBLE_"):
            add(name, value)
    for name in (os.environ.get("ANSIBLE_CONFIG", ""), *CONFIG_FILES):
        config = Path(os.path.expanduser(name)) if name else None
        if config and config.is_dir():  # ANSIBLE_CONFIG may name the folder that holds it
            config /= "ansible.cfg"
        add(name, config.read_bytes() if config and config.is_file() else b"-")
    roots = [(source, True)] if source.is_dir() else [(source, True), *((source.parent / v, False) for v in VARS_FOLDERS)]
    for root, inventory in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []:
            mode = path.stat().st_mode
            if stat.S_ISDIR(mode):
                if path.is_symlink():
                    return None  # Ansible reads through it; rglob does not go in
                add(path)
                continue
            if not stat.S_ISREG(mode) or path.stat().st_size > input_files.INVENTORY:
                return None  # the parse refuses it, in its own words
            in_vars = not inventory or any(part in VARS_FOLDERS for part in path.relative_to(root).parts)
            if not in_vars and mode & 0o111:
                return None  # Ansible's script plugin would run it
            data = path.read_bytes()
            if VAULT in data or (not in_vars and _plugin_config(path, data)):
                return None
            add(path, data)
    return digest.hexdigest()


def _plugin_config(path: Path, data: bytes) -> bool:
    """Whether the `auto` inventory plugin would take the file: YAML (.yml/.yaml) whose top level
    names a `plugin` (ansible-core plugins/inventory/auto.py), in any of YAML's spellings. A file
    that is no YAML is left to the parse to refuse."""
    if path.suffix not in (".yml", ".yaml"):
        return False
    try:
        document = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return True  # not keyed: the parse tells what is wrong
    return isinstance(document, dict) and "plugin" in document


def _path(cache_key: str) -> Path:
    return cache_root() / "inventory" / f"{cache_key}.json"


def load(cache_key: str) -> dict[str, Any] | None:
    """The entry kept under `cache_key`, or None (also when someone else could have written it: its
    hosts' ssh options are commands)."""
    kept = read_private(_path(cache_key))
    try:
        entry = json.loads(kept) if kept is not None else None
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        return None
    with contextlib.suppress(OSError):
        os.utime(_path(cache_key))  # the newest used, not the newest written, are kept
    return entry


def save(cache_key: str, entry: dict[str, Any]) -> None:
    """Keep an entry (readable by its owner only: host vars may hold a password); a cache that
    cannot be written only costs the next run its parse."""
    path = _path(cache_key)
    try:
        write_private(path, json.dumps({**entry, "format": FORMAT}).encode())
        for old in sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
