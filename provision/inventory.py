"""Hosts from an Ansible inventory, read with ansible-core's own loader.

invoke and ansible-playbook share `inventory/` exactly: groups, host vars and group_vars. Secrets
never sit in plain files: the become password comes from `PROVISION_BECOME_PASSWORD` or from an
ansible-vault encrypted var (`ansible_become_password`) opened with the usual
`ANSIBLE_VAULT_PASSWORD_FILE`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provision import REPO_ROOT
from provision.errors import ProvisionError, UnknownHost

DEFAULT_INVENTORY = REPO_ROOT / "inventory"
BECOME_PASSWORD_ENV = "PROVISION_BECOME_PASSWORD"


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


class Inventory:
    """An Ansible inventory (file or folder) and its resolved host vars."""

    def __init__(self, source: str | Path | None = None) -> None:
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.vars.manager import VariableManager

        self.source = Path(source or DEFAULT_INVENTORY)
        if not self.source.exists():
            raise ProvisionError(f"inventory {self.source} does not exist")
        self.loader = DataLoader()
        vault_file = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
        if vault_file:
            from ansible.cli import CLI

            self.loader.set_vault_secrets(
                CLI.setup_vault_secrets(self.loader, vault_ids=[], vault_password_files=[vault_file])
            )
        self.manager = InventoryManager(loader=self.loader, sources=[str(self.source)])
        self.variables = VariableManager(loader=self.loader, inventory=self.manager)
        self._lock = threading.Lock()  # Ansible's templating is not thread-safe

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
        with self._lock:
            return self._host(name)

    def _host(self, name: str) -> HostSpec:
        from ansible.template import Templar

        host = self.manager.get_host(name)
        if host is None:
            raise UnknownHost(f"host {name!r} is not in {self.source}")
        raw = self.variables.get_vars(host=host)
        templar = Templar(loader=self.loader, variables=raw)
        wanted = {k: v for k, v in raw.items() if not k.startswith(("groups", "hostvars", "omit"))}
        values = templar.template(wanted, fail_on_undefined=False)
        port = values.get("ansible_port") or values.get("ansible_ssh_port")
        become = os.environ.get(BECOME_PASSWORD_ENV) or values.get("ansible_become_password")
        return HostSpec(
            name=name,
            address=str(values.get("ansible_host") or name),
            port=int(port) if port else None,
            user=values.get("ansible_user"),
            connection=_connection(name, values),
            key_file=values.get("ansible_ssh_private_key_file"),
            password=values.get("ansible_password"),
            become_password=str(become) if become else None,
            vars=values,
        )


def _connection(name: str, values: dict[str, Any]) -> str:
    connection = values.get("ansible_connection")
    if connection in ("local", "ssh", "paramiko", "smart"):
        return "local" if connection == "local" else "ssh"
    if connection is None:
        return "local" if name in ("localhost", "127.0.0.1") else "ssh"
    raise ProvisionError(f"{name}: ansible_connection={connection!r} is not supported (local or ssh)")

