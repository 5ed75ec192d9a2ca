# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host key checking for the SSH runner, the way ansible-playbook's ssh connection does it.

Ansible's `host_key_checking` (ansible.cfg, ANSIBLE_HOST_KEY_CHECKING, `ansible_host_key_checking`;
read through ansible-core's own config manager) set to false turns checking off, as Ansible's ssh
plugin then passes `-o StrictHostKeyChecking=no` first. Otherwise OpenSSH's options decide, first
value wins as in ssh(1): the `-o` options of `ansible_ssh_args`, `ansible_ssh_common_args` and
`ansible_ssh_extra_args` in that order, then ~/.ssh/config (ssh_settings.py reads it). `StrictHostKeyChecking`
`yes` (and `ask`: nobody to ask) refuses an unknown host, `accept-new` and `no` add its key to the
first `UserKnownHostsFile`; a key that differs from the one on file is always refused, before any
password is sent. Keys are looked up in `UserKnownHostsFile` (default ~/.ssh/known_hosts and
~/.ssh/known_hosts2) and `GlobalKnownHostsFile` (default /etc/ssh/ssh_known_hosts and
/etc/ssh/ssh_known_hosts2), with paramiko's own known_hosts line reader (hashed names,
`[host]:port`); `@revoked` keys are refused and `@cert-authority` lines skipped, as OpenSSH does.
"""

from __future__ import annotations

import binascii
import fnmatch
import functools
import os
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import paramiko
from paramiko.hostkeys import HostKeyEntry, HostKeys, InvalidHostKey

from provision import input_files
from provision.errors import HostUnreachable
from provision.inventory import connection_options
from provision.runners.ssh_settings import ARG_VARS, ssh_options

USER_FILES = "~/.ssh/known_hosts ~/.ssh/known_hosts2"
GLOBAL_FILES = "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"


class HostKeyRefused(HostUnreachable):
    """The host's key is unknown (and may not be added) or differs from the one on file."""


@dataclass(frozen=True)
class HostKeyPolicy:
    check: bool  # Ansible's host_key_checking
    strict: str  # OpenSSH's StrictHostKeyChecking: yes, accept-new or no
    user_files: tuple[Path, ...]  # the first one gets new keys
    global_files: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        return self.user_files + self.global_files


def host_key_policy(variables: Mapping[str, Any], ssh_config: Mapping[str, Any] | None = None,
                    resolved: Mapping[str, Any] | None = None) -> HostKeyPolicy:
    """The policy for one inventory host: its vars, Ansible's config and the ~/.ssh/config lookup.
    `resolved`: the host's ssh options as resolved already (HostSpec.ssh)."""
    ansible = resolved if resolved is not None else connection_options(variables, ("host_key_checking", *ARG_VARS))
    chosen: dict[str, str] = {}
    for name, value in [o for var in ARG_VARS for o in ssh_options(ansible[var] or "")]:
        chosen.setdefault(name, value)
    for name, value in (ssh_config or {}).items():
        chosen.setdefault(name.lower(), " ".join(value) if isinstance(value, list) else str(value))
    strict = chosen.get("stricthostkeychecking", "ask").lower()
    strict = {"ask": "yes", "true": "yes", "off": "no", "false": "no"}.get(strict, strict)

    def files(option: str, default: str) -> tuple[Path, ...]:
        return tuple(Path(os.path.expanduser(n)) for n in _names(chosen.get(option, default)) if n.lower() != "none")

    return HostKeyPolicy(
        check=bool(ansible["host_key_checking"]),
        strict=strict if strict in ("yes", "accept-new", "no") else "yes",
        user_files=files("userknownhostsfile", USER_FILES),
        global_files=files("globalknownhostsfile", GLOBAL_FILES),
    )


@functools.lru_cache(maxsize=64)
def _names(option: str) -> tuple[str, ...]:
    """The words of a `UserKnownHostsFile` / `GlobalKnownHostsFile` value, split once per value (`~`
    is expanded by the caller, for the HOME of the moment)."""
    return tuple(shlex.split(option))


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko for a host none of the loaded files knows: refuse, or add it (accept-new)."""

    def __init__(self, host: str, policy: HostKeyPolicy, known: KnownHosts | None = None) -> None:
        self.host, self.policy, self.known = host, policy, known or KnownHosts()

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        revoked = self.known.revocation(hostname, key)
        if revoked:
            raise HostKeyRefused(f"{self.host}: host key of {hostname} ({_fingerprint(key)}) is marked @revoked"
                                 f" in {revoked.path}: refused, nothing sent")
        where = ", ".join(str(f) for f in self.policy.files) or "no known_hosts file"
        if self.policy.strict == "yes":
            raise HostKeyRefused(
                f"{self.host}: host key of {hostname} ({_fingerprint(key)}) is not in {where}: refused"
                " (add it with ssh-keyscan, or set StrictHostKeyChecking=accept-new in ansible_ssh_common_args)")
        if not self.policy.user_files:
            return
        target = self.policy.user_files[0]
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a") as handle:
            handle.write(HostKeyEntry([hostname], key).to_line())


@dataclass(frozen=True)
class Revoked:
    """An `@revoked` line: its key is never accepted for the hosts its patterns match."""

    patterns: tuple[str, ...]
    key: paramiko.PKey
    path: Path

    def matches(self, hostname: str, key: paramiko.PKey) -> bool:
        if key.asbytes() != self.key.asbytes():
            return False
        return _host_matches(hostname, self.patterns)


def _host_matches(hostname: str, patterns: tuple[str, ...]) -> bool:
    """OpenSSH's host patterns: `*` and `?`, `!` negates (a negated match wins), hashed `|1|` names."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern[1:] if negated else pattern
        if pattern.startswith("|1|"):
            hit = HostKeys.hash_host(hostname, pattern) == pattern
        else:
            hit = fnmatch.fnmatchcase(hostname.lower(), pattern.lower())
        if hit and negated:
            return False
        matched = matched or hit
    return matched


@dataclass
class KnownHosts:
    """What known_hosts files say: the keys for plain lines, the `@revoked` lines apart.

    As OpenSSH reads them (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT): `@cert-authority` lines name a CA
    for host certificates, which paramiko does not check, so they are skipped; `@revoked` keys
    are refused even where a plain line lists them; a line paramiko cannot read is skipped."""

    entries: list[HostKeyEntry] = field(default_factory=list)
    revoked: list[Revoked] = field(default_factory=list)
    _index: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def read(self, path: Path) -> KnownHosts:
        text = input_files.read_bytes(path, "known_hosts file", input_files.KNOWN_HOSTS).decode(errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            marker = None
            if line.startswith("@"):
                marker, _, line = line.partition(" ")
                line = line.strip()
            entry = _entry(line, number)
            if entry is None or marker == "@cert-authority":
                continue
            if marker == "@revoked":
                self.revoked.append(Revoked(tuple(entry.hostnames), entry.key, path))
            elif marker is None:
                self.entries.append(entry)
        return self

    def lookup(self, hostname: str) -> bool:
        keys = HostKeys()
        self.copy_to(keys)
        return keys.lookup(hostname) is not None

    def revocation(self, hostname: str, key: paramiko.PKey) -> Revoked | None:
        return next((r for r in self.revoked if r.matches(hostname, key)), None)

    def copy_to(self, client_keys: HostKeys, only: str | None = None) -> None:
        """Copy the keys into a client's, leaving out every revoked key (so paramiko asks the policy);
        `only`: those of the one name paramiko will look up (`host`, or `[host]:port`), as its
        lookup matches it (the name itself, or a hashed `|1|` name of it)."""
        plain, hashed = self._usable()
        if only is None:
            found = [*(e for entries in plain.values() for e in entries), *hashed]
        else:
            found = [(at, only, e) for at, _, e in plain.get(only, ())]
            found += [(at, n, e) for at, n, e in hashed if HostKeys.hash_host(only, n) == n]
        for _, name, entry in sorted(found, key=lambda item: item[0]):  # the files' order: a later line wins
            client_keys.add(name, entry.key.get_name(), entry.key)

    def _usable(self) -> tuple[dict[str, list[_Named]], list[_Named]]:
        """The (position, name, entry) of each name of an entry whose key is not revoked, by plain
        name, and the hashed names apart; worked out once (a run's hosts share one KnownHosts:
        read_known_hosts)."""
        if self._index is None or self._index[0] != (len(self.entries), len(self.revoked)):
            blobs = {r.key.asbytes() for r in self.revoked}
            plain: dict[str, list[_Named]] = {}
            hashed: list[_Named] = []
            for number, entry in enumerate(self.entries):
                if entry.key.asbytes() not in blobs:
                    for position, name in enumerate(entry.hostnames):
                        named = ((number, position), name, entry)
                        if name.startswith("|1|"):
                            hashed.append(named)
                        else:
                            plain.setdefault(name, []).append(named)
            self._index = ((len(self.entries), len(self.revoked)), plain, hashed)
        return self._index[1], self._index[2]


_Named = tuple[tuple[int, int], str, HostKeyEntry]  # ((entry, name's place in it), name, entry)


def _entry(line: str, number: int) -> HostKeyEntry | None:
    """A line's entry, None when paramiko cannot read it (or a hashed name in it: paramiko's
    lookup would fail on it at connect time, for every host)."""
    try:
        entry = HostKeyEntry.from_line(line, number)
        for name in entry.hostnames if entry else ():
            if name.lstrip("!").startswith("|1|"):
                HostKeys.hash_host("", name.lstrip("!"))
    except (paramiko.SSHException, InvalidHostKey, ValueError, TypeError, binascii.Error):
        return None
    return entry


_READ: dict[tuple, KnownHosts] = {}  # read_known_hosts's, by the files' identity and change times
_READ_LOCK = threading.Lock()


def read_known_hosts(paths: tuple[Path, ...]) -> KnownHosts:
    """The files' keys, read once while none of them changes (a run's hosts share them)."""
    stats = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        if path.is_file():
            stats.append((path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    key = tuple(stats)
    with _READ_LOCK:
        if key not in _READ:
            known = KnownHosts()
            for path, *_ in stats:
                known.read(path)
            _READ.clear()  # only the newest read is kept
            _READ[key] = known
        return _READ[key]


def apply_policy(client: paramiko.SSHClient, host: str, policy: HostKeyPolicy, name: str | None = None) -> None:
    """Load the known keys into a paramiko client (those of `name` alone where given: the name
    paramiko looks up, `host` or `[host]:port`) and set what happens for an unknown host."""
    if not policy.check:
        client.set_missing_host_key_policy(paramiko.MissingHostKeyPolicy())  # Ansible: checking is off
        return
    known = read_known_hosts(policy.files)
    known.copy_to(client.get_host_keys(), name)  # (only paramiko's AutoAddPolicy would ever save them)
    client.set_missing_host_key_policy(KnownHostsPolicy(host, policy, known))


def mismatch(host: str, policy: HostKeyPolicy, exc: paramiko.BadHostKeyException, port: int | None) -> HostKeyRefused:
    """One line naming the host and the file whose key differs."""
    hostname = exc.hostname if port in (None, 22) else f"[{exc.hostname}]:{port}"  # known_hosts' spelling
    on_file = next((p for p in policy.files if p.is_file() and KnownHosts().read(p).lookup(hostname)), None)
    return HostKeyRefused(
        f"{host}: host key of {hostname} ({_fingerprint(exc.key)}) does not match the one in {on_file}"
        f" ({_fingerprint(exc.expected_key)}): refused, nothing sent (if the host was reinstalled:"
        f" ssh-keygen -R '{hostname}' -f {on_file})")
