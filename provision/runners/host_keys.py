"""Host key checking for the SSH runner, the way ansible-playbook's ssh connection does it.

Ansible's `host_key_checking` (ansible.cfg, ANSIBLE_HOST_KEY_CHECKING, `ansible_host_key_checking`;
read through ansible-core's own config manager) set to false turns checking off, as Ansible's ssh
plugin then passes `-o StrictHostKeyChecking=no` first. Otherwise OpenSSH's options decide, first
value wins as in ssh(1): the `-o` options of `ansible_ssh_args`, `ansible_ssh_common_args` and
`ansible_ssh_extra_args` in that order, then ~/.ssh/config (Fabric reads it). `StrictHostKeyChecking`
`yes` (and `ask`: nobody to ask) refuses an unknown host, `accept-new` and `no` add its key to the
first `UserKnownHostsFile`; a key that differs from the one on file is always refused, before any
password is sent. Keys are looked up in `UserKnownHostsFile` (default ~/.ssh/known_hosts and
~/.ssh/known_hosts2) and `GlobalKnownHostsFile` (default /etc/ssh/ssh_known_hosts and
/etc/ssh/ssh_known_hosts2), with paramiko's own known_hosts reader (hashed names, `[host]:port`).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import paramiko
from paramiko.hostkeys import HostKeyEntry, HostKeys

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


def host_key_policy(variables: Mapping[str, Any], ssh_config: Mapping[str, Any] | None = None) -> HostKeyPolicy:
    """The policy for one inventory host: its vars, Ansible's config and the ~/.ssh/config lookup."""
    ansible = connection_options(variables, ("host_key_checking", *ARG_VARS))
    chosen: dict[str, str] = {}
    for name, value in [o for var in ARG_VARS for o in ssh_options(ansible[var] or "")]:
        chosen.setdefault(name, value)
    for name, value in (ssh_config or {}).items():
        chosen.setdefault(name.lower(), " ".join(value) if isinstance(value, list) else str(value))
    strict = chosen.get("stricthostkeychecking", "ask").lower()
    strict = {"ask": "yes", "true": "yes", "off": "no", "false": "no"}.get(strict, strict)

    def files(option: str, default: str) -> tuple[Path, ...]:
        names = shlex.split(chosen.get(option, default))
        return tuple(Path(os.path.expanduser(n)) for n in names if n.lower() != "none")

    return HostKeyPolicy(
        check=bool(ansible["host_key_checking"]),
        strict=strict if strict in ("yes", "accept-new", "no") else "yes",
        user_files=files("userknownhostsfile", USER_FILES),
        global_files=files("globalknownhostsfile", GLOBAL_FILES),
    )


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko for a host none of the loaded files knows: refuse, or add it (accept-new)."""

    def __init__(self, host: str, policy: HostKeyPolicy) -> None:
        self.host, self.policy = host, policy

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
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


def apply_policy(client: paramiko.SSHClient, host: str, policy: HostKeyPolicy) -> None:
    """Load the known keys into a paramiko client and set what happens for an unknown host."""
    if not policy.check:
        client.set_missing_host_key_policy(paramiko.MissingHostKeyPolicy())  # Ansible: checking is off
        return
    for path in policy.files:
        if path.is_file():
            client.load_host_keys(str(path))  # (only paramiko's AutoAddPolicy would ever save them)
    client.set_missing_host_key_policy(KnownHostsPolicy(host, policy))


def mismatch(host: str, policy: HostKeyPolicy, exc: paramiko.BadHostKeyException, port: int | None) -> HostKeyRefused:
    """One line naming the host and the file whose key differs."""
    hostname = exc.hostname if port in (None, 22) else f"[{exc.hostname}]:{port}"  # known_hosts' spelling
    on_file = next((p for p in policy.files if p.is_file() and HostKeys(str(p)).lookup(hostname)), None)
    return HostKeyRefused(
        f"{host}: host key of {hostname} ({_fingerprint(exc.key)}) does not match the one in {on_file}"
        f" ({_fingerprint(exc.expected_key)}): refused, nothing sent (if the host was reinstalled:"
        f" ssh-keygen -R '{hostname}' -f {on_file})")
