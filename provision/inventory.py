"""Hosts from an Ansible inventory, read with ansible-core's own loader.

invoke and ansible-playbook share `inventory/` exactly: groups, host vars and group_vars. Secrets
never sit in plain files: the become password comes from `PROVISION_BECOME_PASSWORD` or from an
ansible-vault encrypted var (`ansible_become_password`) opened with the usual
`ANSIBLE_VAULT_PASSWORD_FILE`. The user, port and key file are the ones Ansible's ssh connection
would use (`connection_options`): host vars, then ANSIBLE_* variables, then ansible.cfg.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from provision import input_files
from provision.errors import ProvisionError, UnknownHost
from provision.options import Settings
from provision.validators import whole_number

PORT_VARS = ("ansible_port", "ansible_ssh_port")  # the ssh connection plugin's names for its port
DEFAULT_INVENTORY = "inventory"  # in the current folder, as `ansible-playbook -i inventory/` reads it
INVENTORY_ENV = "ANSIBLE_INVENTORY"  # Ansible's own setting, when set, comes first
BECOME_PASSWORD_ENV = "PROVISION_BECOME_PASSWORD"
_ANSIBLE_CONFIG = threading.Lock()  # runners are made in parallel; Ansible's plugin loader is not thread-safe


@dataclass(frozen=True)
class HostSpec:
    """How to reach one host, and its settings (inventory vars)."""

    name: str
    address: str
    port: int | None = None
    user: str | None = None
    connection: str = "ssh"
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    become_password: str | None = field(default=None, repr=False)
    vars: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def settings(self) -> Settings:
        """The host's `dsprov_*` settings, checked and read once (a bad one is a one-line BadSetting)."""
        return Settings.resolve(self.vars, self.name)


class Inventory:
    """An Ansible inventory (file or folder) and its resolved host vars."""

    def __init__(self, source: str | Path | None = None) -> None:
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.vars.manager import VariableManager

        from_env = not source and os.environ.get(INVENTORY_ENV)
        self.source = Path(source or from_env or DEFAULT_INVENTORY)
        if not self.source.exists():
            if source or from_env:
                raise ProvisionError(f"inventory {self.source} does not exist" + (f" ({INVENTORY_ENV})" if from_env else ""))
            raise ProvisionError(f"no inventory: give -i/--inventory, set {INVENTORY_ENV}, or run where an"
                                 f" {DEFAULT_INVENTORY}/ folder is")
        self.loader = DataLoader()
        vault_file = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
        if vault_file:
            from ansible.cli import CLI

            self.loader.set_vault_secrets(
                CLI.setup_vault_secrets(self.loader, vault_ids=[], vault_password_files=[vault_file])
            )
        for path in _inventory_files(self.source):
            _check_text_file(path)
        _check_vars_files(self.source)
        with _ParseFailures() as failures:
            self.manager = InventoryManager(loader=self.loader, sources=[str(self.source)])
        failures.raise_first(self.source)
        self.variables = VariableManager(loader=self.loader, inventory=self.manager)
        self._lock = threading.Lock()  # Ansible's templating is not thread-safe
        self._hosts: dict[str, HostSpec] = {}  # templated once per run

    def resolve(self, pattern: str) -> list[str]:
        """Host names for a host, a group, or a comma-separated list of either."""
        names: list[str] = []
        for part in (p.strip() for p in pattern.split(",")):
            if not part:
                continue
            known = part in self.manager.groups or self.manager.get_host(part) is not None
            hosts = self.manager.get_hosts(pattern=part) if known else []
            if not hosts:
                raise UnknownHost(f"{part!r} is neither a host nor a group in {self.source}")
            names += [h.name for h in hosts if h.name not in names]
        if not names:
            raise UnknownHost(f"no hosts given (inventory {self.source})")
        return names

    def host(self, name: str) -> HostSpec:
        """The HostSpec of one inventory host (its vars templated as Ansible would)."""
        from ansible.errors import AnsibleError

        with self._lock:
            try:
                if name not in self._hosts:
                    self._hosts[name] = self._host(name)
                return self._hosts[name]
            except AnsibleError as exc:  # a malformed group_vars / host_vars file, a bad template
                raise ProvisionError(f"inventory {self.source}: {name}: {_one_line(exc)}") from None

    def _host(self, name: str) -> HostSpec:
        from ansible.template import Templar

        host = self.manager.get_host(name)
        if host is None:
            raise UnknownHost(f"host {name!r} is not in {self.source}")
        raw = self.variables.get_vars(host=host)
        templar = Templar(loader=self.loader, variables=raw)
        wanted = {k: v for k, v in raw.items() if not k.startswith(("groups", "hostvars", "omit"))}
        values = templar.template(wanted, fail_on_undefined=False)
        for var in PORT_VARS:  # checked before Ansible's config turns a bad one into its own long message
            if values.get(var) not in (None, ""):
                _port(name, values[var], var)
        ssh = connection_options(values, ("port", "remote_user", "private_key_file"))
        port, key_file = ssh["port"], ssh["private_key_file"]
        become = os.environ.get(BECOME_PASSWORD_ENV) or values.get("ansible_become_password")
        return HostSpec(
            name=name,
            address=str(values.get("ansible_host") or name),
            port=_port(name, port) if port else None,
            user=ssh["remote_user"] or None,
            connection=_connection(name, values),
            key_file=os.path.expanduser(key_file) if key_file else None,
            password=values.get("ansible_password"),
            become_password=str(become) if become else None,
            vars=values,
        )


def connection_options(variables: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Options of Ansible's ssh connection plugin as it resolves them: host vars (and their aliases,
    e.g. ansible_ssh_user), then ANSIBLE_* environment variables, then ansible.cfg (ansible-core
    lib/ansible/plugins/connection/ssh.py, DOCUMENTATION)."""
    from ansible import constants as C
    from ansible.plugins.loader import connection_loader

    with _ANSIBLE_CONFIG:
        connection_loader.get("ssh", class_only=True)  # registers the ssh plugin's option definitions
        return {name: C.config.get_config_value(name, plugin_type="connection", plugin_name="ssh",
                                                variables=dict(variables)) for name in names}


def _port(name: str, value: Any, var: str = "ansible_port") -> int:
    """A port var as a TCP port: 1-65535 in ASCII digits (99999 would wrap, `22; rm -rf /` is no port)."""
    number = whole_number(value)
    if number is None or not 1 <= number <= 65535:
        raise ProvisionError(f"{name}: {var} {str(value)[:80]!r} is not a port number (1-65535)")
    return number


def _connection(name: str, values: dict[str, Any]) -> str:
    connection = values.get("ansible_connection")
    if connection in ("local", "ssh", "paramiko", "smart"):
        return "local" if connection == "local" else "ssh"
    if connection is None:
        return "local" if name in ("localhost", "127.0.0.1") else "ssh"
    raise ProvisionError(f"{name}: ansible_connection={connection!r} is not supported (local or ssh)")



def _one_line(exc: BaseException) -> str:
    """An Ansible error as one printable line, with its file:line where Ansible knows it."""
    message = str(getattr(exc, "message", None) or exc).strip()
    origin = getattr(exc, "obj", None)
    where = getattr(origin, "path", None)
    if where and getattr(origin, "line_num", None):
        where += f":{origin.line_num}"
    text = " ".join(message.encode("utf-8", "backslashreplace").decode().split())
    return f"{where}: {text}" if where and where not in text else text


def _inventory_files(source: Path) -> list[Path]:
    """The files Ansible reads as inventory sources: the file, or a folder's files (not hidden,
    not group_vars/host_vars, not an ignored extension; folders inside are read too)."""
    from ansible.inventory.manager import IGNORED

    if source.is_file():
        return [source]
    if source.exists() and not source.is_dir():
        raise ProvisionError(f"inventory {source}: not a file or folder")
    found: list[Path] = []
    for entry in sorted(source.iterdir()) if source.is_dir() else []:
        if not IGNORED.search(entry.name.encode()):
            found += _inventory_files(entry)
    return found


def _check_vars_files(source: Path) -> None:
    """The group_vars/host_vars files Ansible reads beside the inventory: regular files within the
    inventory limit (a link to /dev/zero there would have Ansible read forever)."""
    folder = source if source.is_dir() else source.parent
    for path in (p for name in ("group_vars", "host_vars") for p in sorted((folder / name).rglob("*"))):
        if path.is_dir():
            continue
        if not path.is_file():
            raise ProvisionError(f"inventory {path}: not a file")
        if path.stat().st_size > input_files.INVENTORY:
            raise input_files.too_large("inventory", path, input_files.INVENTORY)


def _check_text_file(path: Path) -> None:
    """An inventory file must be UTF-8 text with something in it, within its size limit."""
    data = input_files.read_bytes(path, "inventory", input_files.INVENTORY)
    nul = data.find(b"\0")
    if nul >= 0:
        raise ProvisionError(f"inventory {path}: not a text file (a NUL byte at offset {nul})")
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ProvisionError(f"inventory {path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x})") from None
    if not any(line.strip() and not line.lstrip().startswith(("#", ";")) for line in text.splitlines()):
        raise ProvisionError(f"inventory {path}: empty (no hosts)")


class _ParseFailures:
    """While Ansible loads an inventory, keep its parse failures instead of letting it print them
    (a dozen lines per source, then an empty inventory); raise_first() turns one into a line."""

    PREFERRED = {".yml": ("yaml", "auto"), ".yaml": ("yaml", "auto"), ".json": ("yaml", "auto")}

    def __enter__(self) -> _ParseFailures:
        import ansible.inventory.manager as manager

        self.module, self.display = manager, manager.display
        self.failures: list[tuple[str, BaseException]] = []
        manager.display = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.module.display = self.display

    def __getattr__(self, name: str) -> Any:
        return getattr(self.display, name)

    def error_as_warning(self, msg: str, exception: BaseException, **kwargs: Any) -> None:
        self.failures.append((msg, exception))

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if not msg.startswith(("Unable to parse", "No inventory was parsed")):
            self.display.warning(msg, *args, **kwargs)

    def raise_first(self, source: Path) -> None:
        if not self.failures:
            return
        sources = {str(getattr(getattr(e, "obj", None), "path", "") or "") for _, e in self.failures}
        suffix = Path(next(iter(sources - {""}), "")).suffix
        preferred = self.PREFERRED.get(suffix, ("ini",))
        chosen = next((e for m, e in self.failures if any(f"'{p}'" in m for p in preferred)), self.failures[0][1])
        message = _one_line(chosen)
        raise ProvisionError(f"inventory {message}" if message.startswith("/") else f"inventory {source}: {message}")
