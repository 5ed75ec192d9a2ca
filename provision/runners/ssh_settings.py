# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where an SSH connection goes and through which hops, decided as Ansible's ssh connection and
ssh(1) decide it.

Ansible's ssh plugin builds an ssh command line (ansible-core lib/ansible/plugins/connection/ssh.py,
`_build_command`): `ansible_ssh_args`, then `-o Port=` (ansible_port), `-o IdentityFile=`
(ansible_ssh_private_key_file), `-o User=` (ansible_user), then `ansible_ssh_common_args` and
`ansible_ssh_extra_args`. ssh(1) reads its command line before its config files and keeps each
option's first value (ssh_config(5)), so the inventory's settings win over ~/.ssh/config, which fills
in the rest: HostName, User, Port, IdentityFile, ProxyJump, ProxyCommand. Here that command line
becomes a `Host *` block read ahead of the config files by paramiko's SSHConfig, which keeps first
values the same way and expands %h, %p and %r. `-F file` replaces ~/.ssh/config and
/etc/ssh/ssh_config, as in ssh(1).

A `ProxyJump` hop ([user@]host[:port], comma-separated) is looked up in the config files by its own
name, as ssh(1) does for the `ssh -W` it runs to reach the hop (OpenSSH ssh.c); the first hop's own
ProxyJump or ProxyCommand is followed too. Of ProxyJump and ProxyCommand the first one given wins,
and `none` turns both off (ssh_config(5)).
"""

from __future__ import annotations

import functools
import getpass
import io
import os
import re
import shlex
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paramiko

from provision.errors import ProvisionError
from provision.inventory import HostSpec, connection_options

ARG_VARS = ("ssh_args", "ssh_common_args", "ssh_extra_args")  # Ansible's ssh plugin, in its order
VALUE_FLAGS = "BbcDEeFIiJLlmOopQRSWw"  # ssh(1) flags that take a value (OpenSSH ssh.c, its getopt string)
FLAG_OPTIONS = {"p": "Port", "l": "User", "i": "IdentityFile", "J": "ProxyJump"}
USER_CONFIG = "~/.ssh/config"
SYSTEM_CONFIG = "/etc/ssh/ssh_config"
_OPTION = re.compile(r"\s*([^\s=]+)\s*=?\s*(.*)", re.S)


def ssh_flags(args: str) -> list[tuple[str, str]]:
    """(flag, value) of each value-taking flag in an ssh argument string, read as ssh's getopt
    reads it: `-p 22`, `-p22`, `-Cp 22`, `-o Name=Value`."""
    return list(_flags(args or ""))


@functools.lru_cache(maxsize=256)
def _flags(args: str) -> tuple[tuple[str, str], ...]:
    """ssh_flags's, worked out once per string (a fleet's hosts share their ssh args)."""
    words, found, index = shlex.split(args), [], 0
    while index < len(words):
        word, index = words[index], index + 1
        if word == "--":
            break
        if not word.startswith("-") or word == "-":
            continue
        for position, flag in enumerate(word[1:], start=2):
            if flag in VALUE_FLAGS:
                value = word[position:]
                if not value and index < len(words):
                    value, index = words[index], index + 1
                found.append((flag, value))
                break
    return tuple(found)


def ssh_options(args: str) -> list[tuple[str, str]]:
    """(lower-cased name, value) of each `-o Name=Value` / `-o 'Name Value'` in an ssh argument string."""
    options = []
    for flag, value in ssh_flags(args):
        if flag == "o" and (match := _OPTION.match(value)):
            options.append((match.group(1).lower(), match.group(2).strip()))
    return options


def command_line(spec: HostSpec) -> tuple[list[tuple[str, str]], str | None]:
    """The options of the ssh command line Ansible would run for this host, in its order, as
    (name, value) with -p/-l/-i/-J spelled as the option they set; and the -F file, if any."""
    args = spec.ssh or connection_options(spec.vars, ARG_VARS)
    options: list[tuple[str, str]] = []
    config_file = None

    def add(text: str | None) -> None:
        nonlocal config_file
        for flag, value in ssh_flags(text or ""):
            if flag == "F":
                config_file = value  # ssh(1): the last -F counts
            elif flag == "o" and (match := _OPTION.match(value)):
                options.append((match.group(1), match.group(2).strip()))
            elif flag in FLAG_OPTIONS:
                options.append((FLAG_OPTIONS[flag], value))

    add(args["ssh_args"])
    options += [(name, str(value)) for name, value in
                (("Port", spec.port), ("IdentityFile", spec.key_file), ("User", spec.user)) if value]
    add(args["ssh_common_args"])
    add(args["ssh_extra_args"])
    return options, config_file


@dataclass(frozen=True)
class Endpoint:
    """One SSH server on the way: the target, or a jump host (`via` leads to it)."""

    host: str  # what to connect to (HostName)
    port: int
    user: str
    options: dict[str, Any]  # its ssh_config lookup (command-line options first for the target)
    via: Endpoint | str | None = None  # the hop before it, or a ProxyCommand, or nothing (direct)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.port}"

    @property
    def key_files(self) -> list[str]:
        return list(self.options.get("identityfile", []))


def _config(block: list[tuple[str, str]], config_file: str | None) -> paramiko.SSHConfig:
    """paramiko's SSHConfig of a leading `Host *` block (the command line) and the config files."""
    config = paramiko.SSHConfig()
    lines = []
    for name, value in block:
        if "\n" in value or "\r" in value:
            raise ProvisionError(f"ssh option {name}: a value may not span lines")
        if name.lower() not in ("host", "match", "include"):  # ssh(1) refuses these on a command line
            lines.append(f"  {name} {value}")
    if lines:
        config.parse(["Host *", *lines])
    # the files' blocks after the command line's, as parsing them into this config would append
    # them (SSHConfig.parse); looked up as before, never changed by a lookup
    config._config.extend(_files_config(config_file)._config)
    return config


_FILES: dict[tuple, paramiko.SSHConfig] = {}  # _files_config's, by the files' paths and texts
_FILES_LOCK = threading.Lock()


def _files_config(config_file: str | None) -> paramiko.SSHConfig:
    """The config files parsed (`-F`'s file, else ~/.ssh/config and /etc/ssh/ssh_config), once per
    text: a run's hosts share them, and a file read costs less than its parse."""
    texts: list[tuple[Path, str | None]] = []
    for path in (Path(os.path.expanduser(p)) for p in ([config_file] if config_file else [USER_CONFIG, SYSTEM_CONFIG])):
        if not path.is_file():
            if config_file:
                raise ProvisionError(f"ssh config file {path} (-F in the ssh args) does not exist")
            continue
        try:
            texts.append((path, path.read_text()))
        except (OSError, UnicodeDecodeError) as exc:
            raise ProvisionError(f"ssh config {path}: {exc}") from None
    key = tuple(texts)
    with _FILES_LOCK:
        if key in _FILES:
            return _FILES[key]
    config = paramiko.SSHConfig()
    for path, text in texts:
        try:
            config.parse(io.StringIO(text))  # line by line, as from the file
        except paramiko.ConfigParseError as exc:
            raise ProvisionError(f"ssh config {path}: {exc}") from None
    with _FILES_LOCK:
        if len(_FILES) >= 16:
            _FILES.clear()
        _FILES[key] = config
    return config


def _proxy(options: dict[str, Any], first: str | None) -> tuple[str, str] | None:
    """("proxyjump" or "proxycommand", value) for a lookup, None when direct. `first` is the one the
    command line gave first; else ProxyJump wins, as in Fabric (both in one file is ambiguous)."""
    for name in ([first] if first else []) + ["proxyjump", "proxycommand"]:
        value = options.get(name)
        if value:
            return None if value.lower() == "none" else (name, value)
        if name == first:
            return None  # ProxyCommand none (paramiko reads it as None)
    return None


def _hops(text: str) -> list[tuple[str | None, str, int | None]]:
    """(user, host, port) of each ProxyJump hop: `[user@]host[:port]` or `ssh://[user@]host[:port]`."""
    hops = []
    for part in (p.strip() for p in text.split(",")):
        try:
            url = urlsplit(part if part.startswith("ssh://") else f"ssh://{part}")
            hops.append((url.username, url.hostname, url.port))
        except ValueError as exc:
            raise ProvisionError(f"ProxyJump {text!r}: bad hop {part!r} ({exc})") from None
        if not url.hostname:
            raise ProvisionError(f"ProxyJump {text!r}: bad hop {part!r}")
    return hops


def _endpoint(name: str, options: dict[str, Any], via: Endpoint | str | None) -> Endpoint:
    try:
        port = int(options.get("port", 22))
    except ValueError:
        raise ProvisionError(f"{name}: ssh Port {options['port']!r} is not a number") from None
    return Endpoint(host=options.get("hostname", name), port=port, user=options.get("user") or getpass.getuser(),
                    options=dict(options), via=via)


def _route(config: paramiko.SSHConfig, options: dict[str, Any], first: str | None, seen: tuple[str, ...]) -> Endpoint | str | None:
    """What leads to a server whose lookup is `options`: its first hop's endpoint (and so on), a
    ProxyCommand, or None."""
    proxy = _proxy(options, first)
    if proxy is None:
        return None
    kind, value = proxy
    if kind == "proxycommand":
        return value
    hops = _hops(value)
    if any(host == seen[-1] for _, host, _ in hops):  # a `Host *` ProxyJump matches its jump host too: reached directly, as in Fabric
        return None
    via: Endpoint | str | None = None
    for index, (user, host, port) in enumerate(hops):
        if host in seen:
            raise ProvisionError(f"ProxyJump loop: {' -> '.join((*seen, host))}")
        hop = config.lookup(host)
        hop.update({k: str(v) for k, v in (("user", user), ("port", port)) if v})
        if index == 0:  # ssh -W for the first hop reads that hop's own ProxyJump/ProxyCommand
            via = _route(config, hop, None, (*seen, host))
        via = _endpoint(host, hop, via)
    return via


def resolve(spec: HostSpec) -> Endpoint:
    """The target of an inventory host and every hop leading to it."""
    block, config_file = command_line(spec)
    first = next((n.lower() for n, _ in block if n.lower() in ("proxyjump", "proxycommand")), None)
    options = _config(block, config_file).lookup(spec.address)
    if not _proxy(options, first):
        return _endpoint(spec.address, options, None)
    hops_config = _config([], config_file)  # a jump host gets no command-line options, as in ssh(1)
    return _endpoint(spec.address, options, _route(hops_config, options, first, (spec.address,)))
