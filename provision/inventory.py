# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hosts from an Ansible inventory, read with ansible-core's own loader.

invoke and ansible-playbook share `inventory/` exactly: groups, host vars and group_vars. Secrets
never sit in plain files: the become password comes from `PROVISION_BECOME_PASSWORD` or from an
ansible-vault encrypted var (`ansible_become_password`) opened with the usual
`ANSIBLE_VAULT_PASSWORD_FILE`. The user, port and key file are the ones Ansible's ssh connection
would use (`connection_options`): host vars, then ANSIBLE_* variables, then ansible.cfg. A run over
an unchanged inventory reads all of this from the inventory cache (provision/inventory_cache.py)
and imports no ansible-core.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from provision import input_files, inventory_cache
from provision.errors import ProvisionError, UnknownHost
from provision.options import Settings
from provision.validators import whole_number

PORT_VARS = ("ansible_port", "ansible_ssh_port")  # the ssh connection plugin's names for its port
DEFAULT_INVENTORY = "inventory"  # in the current folder, as `ansible-playbook -i inventory/` reads it
INVENTORY_ENV = "ANSIBLE_INVENTORY"  # Ansible's own setting, when set, comes first
BECOME_PASSWORD_ENV = "PROVISION_BECOME_PASSWORD"
# the ssh connection plugin's options a run uses (inventory, ssh_settings, host_keys): resolved once per host
SSH_OPTIONS = ("port", "remote_user", "private_key_file", "host_key_checking", "ssh_args", "ssh_common_args",
               "ssh_extra_args")
# a var that is exactly one environment lookup (ansible-core plugins/lookup/env.py: '' when unset)
ENV_LOOKUP = re.compile(r"""\s*\{\{\s*lookup\(\s*(['"])env\1\s*,\s*(?P<q>['"])([A-Za-z_][A-Za-z0-9_]*)(?P=q)\s*\)\s*\}\}\s*""")
# Jinja filters and tests whose result depends on their arguments alone (Jinja's builtins and
# ansible-core's plugins/filter/core.py): a template that uses only these, names and constants has
# a value the cache key covers; anything else (a call: lookup(), now(); another filter) is not cached.
PURE_FILTERS = frozenset({
    "default", "d", "lower", "upper", "capitalize", "title", "trim", "replace", "join", "string", "int", "float",
    "bool", "list", "first", "last", "length", "count", "unique", "sort", "reverse", "regex_replace",
    "regex_search", "basename", "dirname", "quote", "to_json", "combine", "dict2items", "items2dict", "format",
    "mandatory", "ternary", "min", "max", "abs", "round", "split", "flatten", "zip", "b64encode", "b64decode", "hash", "checksum"})
PURE_TESTS = frozenset({"defined", "undefined", "none", "string", "number", "integer", "float", "boolean",
                        "mapping", "sequence", "iterable", "match", "search", "regex", "in", "eq", "ne", "lt", "le",
                        "gt", "ge", "equalto", "true", "false", "truthy", "falsy", "even", "odd"})
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
    ssh: dict[str, Any] = field(default_factory=dict, repr=False)  # SSH_OPTIONS as Ansible's ssh plugin resolves them

    @cached_property
    def settings(self) -> Settings:
        """The host's `dsprov_*` settings, checked and read once (a bad one is a one-line BadSetting)."""
        return Settings.resolve(self.vars, self.name)


class Inventory:
    """An Ansible inventory (file or folder) and its resolved host vars: parsed by ansible-core, or
    read from the cache of an unchanged one (provision/inventory_cache.py)."""

    def __init__(self, source: str | Path | None = None) -> None:
        from_env = not source and os.environ.get(INVENTORY_ENV)
        self.source = Path(source or from_env or DEFAULT_INVENTORY)
        if not self.source.exists():
            if source or from_env:
                raise ProvisionError(f"inventory {self.source} does not exist" + (f" ({INVENTORY_ENV})" if from_env else ""))
            raise ProvisionError(f"no inventory: give -i/--inventory, set {INVENTORY_ENV}, or run where an"
                                 f" {DEFAULT_INVENTORY}/ folder is")
        self._lock = threading.Lock()  # Ansible's templating is not thread-safe
        self._hosts: dict[str, HostSpec] = {}  # made once per run
        self._parsed: _Parsed | None = None
        cache_key = inventory_cache.key(self.source)
        self._table = inventory_cache.load(cache_key) if cache_key else None
        if self._table is None:
            self._parsed = _Parsed(self.source)
            if cache_key:  # a file inventory: every host now, to keep for the next run
                self._table = self._parsed.table()
                if all(entry.get("cacheable", True) for entry in self._table["hosts"].values()):
                    inventory_cache.save(cache_key, self._table)

    @property
    def cached(self) -> bool:
        """Whether this run's hosts come from the cache (ansible-core was not loaded for them)."""
        return self._parsed is None

    def _ansible(self) -> _Parsed:
        """The inventory as ansible-core parses it (for what the cache does not hold: an implicit
        localhost, an unknown name)."""
        if self._parsed is None:
            self._parsed = _Parsed(self.source)
        return self._parsed

    def resolve(self, pattern: str) -> list[str]:
        """Host names for a host, a group, or a comma-separated list of either."""
        names: list[str] = []
        for part in (p.strip() for p in pattern.split(",")):
            if not part:
                continue
            hosts = (self._table or {}).get("resolve", {}).get(part)
            if hosts is None:
                with self._lock:
                    hosts = self._ansible().resolve(part)
            if not hosts:
                raise UnknownHost(f"{part!r} is neither a host nor a group in {self.source}")
            names += [h for h in hosts if h not in names]
        if not names:
            raise UnknownHost(f"no hosts given (inventory {self.source})")
        return names

    def host(self, name: str) -> HostSpec:
        """The HostSpec of one inventory host (its vars templated as Ansible would)."""
        with self._lock:
            if name not in self._hosts:
                entry = (self._table or {}).get("hosts", {}).get(name)
                if entry is None:
                    entry = self._ansible().entry(name)
                self._hosts[name] = _spec(name, entry, self.source)
            return self._hosts[name]


def _spec(name: str, entry: dict[str, Any], source: Path) -> HostSpec:
    """A HostSpec from a host's entry: its templated vars and ssh connection options (or the one
    line its templating failed with)."""
    if "error" in entry:
        raise (UnknownHost if entry.get("unknown") else ProvisionError)(entry["error"])
    values = {**entry["vars"], **{var: os.environ.get(env, "") for var, env in entry.get("env", {}).items()}}
    ssh = entry["ssh"]
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
        ssh=ssh,
    )


class _Parsed:
    """An inventory as ansible-core's InventoryManager parses it (checked first: text files within
    their size limit), with its VariableManager to template host vars."""

    def __init__(self, source: Path) -> None:
        from ansible.errors import AnsibleError
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.vars.manager import VariableManager

        self.source = source
        self.loader = DataLoader()
        vault_file = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
        if vault_file:
            from ansible.cli import CLI

            self.loader.set_vault_secrets(
                CLI.setup_vault_secrets(self.loader, vault_ids=[], vault_password_files=[vault_file])
            )
        for path in _inventory_files(source):
            _check_text_file(path)
        _check_vars_files(source)
        with _ParseFailures() as failures:
            try:
                self.manager = InventoryManager(loader=self.loader, sources=[str(source)])
            except AnsibleError as exc:  # INVENTORY_ANY_UNPARSED_IS_FAILED or INVENTORY_UNPARSED_IS_FAILED on
                failures.raise_first(source)  # the plugin's own error, which Ansible's generic one drops
                raise ProvisionError(f"inventory {source}: {_one_line(exc)}") from None
        failures.raise_first(source)
        self.variables = VariableManager(loader=self.loader, inventory=self.manager)

    def resolve(self, part: str) -> list[str]:
        known = part in self.manager.groups or self.manager.get_host(part) is not None
        return [h.name for h in self.manager.get_hosts(pattern=part)] if known else []

    def entry(self, name: str) -> dict[str, Any]:
        """A host's templated vars and ssh options, JSON-shaped (as the cache keeps them), or its
        error. A var that is one environment lookup (`{{ lookup('env', 'NAME') }}`, the usual way to
        pass a password) is listed under `env` instead, read from the environment as the spec is
        made: its value never reaches the cache. `cacheable` is false where a template's value may
        change with no file changing (a call, a filter outside PURE_FILTERS, a var that refers to an
        environment lookup, a lookup that sets an ssh option)."""
        from ansible.errors import AnsibleError

        host = self.manager.get_host(name)
        if host is None:
            return {"error": f"host {name!r} is not in {self.source}", "unknown": True}
        try:
            raw = self.variables.get_vars(host=host)
            wanted = {k: v for k, v in raw.items() if not k.startswith(("groups", "hostvars", "omit"))}
            env = {k: found.group(3) for k, v in wanted.items() if isinstance(v, str) and (found := ENV_LOOKUP.fullmatch(v))}
            templates = [t for k, v in wanted.items() if k not in env for t in _strings(v)]
            pure = (all(_pure_template(t) for t in templates) and not env.keys() & self.ssh_vars
                    and not any(var in t for t in templates for var in env if "{" in t))
            values = self._templar(raw).template(wanted, fail_on_undefined=False)
            for var in PORT_VARS:  # before Ansible's config turns a bad one into its own long message
                if values.get(var) not in (None, ""):
                    _port(name, values[var], var)
            ssh = connection_options(values, SSH_OPTIONS)
            entry = {"vars": {k: v for k, v in values.items() if k not in env}, "env": env, "ssh": ssh}
        except AnsibleError as exc:  # a malformed group_vars / host_vars file, a bad template
            return {"error": f"inventory {self.source}: {name}: {_one_line(exc)}", "cacheable": False}
        except ProvisionError as exc:
            return {"error": str(exc), "cacheable": False}
        try:
            entry = json.loads(json.dumps(entry))  # the same types whether parsed or read back
        except (TypeError, ValueError):
            return {**entry, "cacheable": False}  # a date, a set: kept as Ansible made it, this run only
        return entry if pure else {**entry, "cacheable": False}

    @cached_property
    def ssh_vars(self) -> frozenset[str]:
        """The host vars that set SSH_OPTIONS (the ssh plugin's option definitions)."""
        from ansible import constants as C
        from ansible.plugins.loader import connection_loader

        with _ANSIBLE_CONFIG:
            connection_loader.get("ssh", class_only=True)
            options = C.config.get_configuration_definitions(plugin_type="connection", name="ssh")
        return frozenset(var["name"] for option in SSH_OPTIONS for var in options[option].get("vars", []))

    def _templar(self, variables: dict[str, Any]) -> Any:
        from ansible.template import Templar

        return Templar(loader=self.loader, variables=variables)

    def table(self) -> dict[str, Any]:
        """Every host's entry (`cacheable` false where its vars hold a template whose value may
        change with no file changing) and what each group and host name resolves to."""
        hosts = {host.name: self.entry(host.name) for host in self.manager.get_hosts(pattern="all")}
        names = [*self.manager.groups, *(h for h in hosts if h not in self.manager.groups)]
        plain = re.compile(r"[^~.?*\[:&!,]+")  # a name Ansible reads as itself, not as a pattern
        resolve = {n: [n] if n in hosts and n not in self.manager.groups and plain.fullmatch(n) else self.resolve(n)
                   for n in names}
        return {"hosts": hosts, "resolve": resolve}


def _strings(value: Any) -> list[str]:
    """The strings in a vars structure (keys and values)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, (list, tuple, set)):
        return [s for item in value for s in _strings(item)]
    return []


def _pure_template(text: str) -> bool:
    """Whether a var's text templates to a value that depends only on other vars: no template, or
    one of names, constants, operators and PURE_FILTERS/PURE_TESTS (no call, no include)."""
    if not any(mark in text for mark in ("{{", "{%", "{#")):
        return True
    from jinja2 import Environment, TemplateSyntaxError, nodes

    try:
        tree = Environment().parse(text)
    except TemplateSyntaxError:
        return False
    files = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)  # they read template files
    for node in tree.find_all((nodes.Call, nodes.Filter, nodes.Test, *files)):
        if not isinstance(node, (nodes.Filter, nodes.Test)) or node.name not in (PURE_FILTERS if isinstance(node, nodes.Filter) else PURE_TESTS):
            return False
    return True


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
