# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory cache (provision/inventory_cache.py): an unchanged inventory's hosts are read back
without ansible-core, the same as a parse gives them; any change to what the parse read (an
inventory file, a group_vars/host_vars file, the ANSIBLE_* environment, ansible.cfg) parses anew;
what cannot be keyed (a template that calls something, a vault, a script) is never kept; a broken
inventory is still one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from provision.errors import ProvisionError
from provision.inventory import Inventory

ROOT = Path(__file__).resolve().parents[1]
HOSTS = "[x86]\nt4-01 ansible_host=10.0.0.1 ansible_port=2201 ansible_user=ubuntu\nt4-02 ansible_host=10.0.0.2\n"


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """An inventory folder, a cache of its own, and no ANSIBLE_* setting from outside."""
    for name in [n for n in os.environ if n.startswith("ANSIBLE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DSPROV_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.ini").write_text(HOSTS)
    return inventory


def in_a_new_run(source: Path) -> tuple[bool, str | None]:
    """(whether the hosts came from the cache, t4-02's user) in a new process, as a new run reads
    them (ansible-core keeps its config and vars folder listings per process)."""
    code = ("import sys; from provision.inventory import Inventory; i = Inventory(sys.argv[1]);"
            " print(i.cached, i.host('t4-02').user)")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(source)], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    return out[0] == "True", None if out[1] == "None" else out[1]


def twice(source: Path) -> tuple[Inventory, Inventory]:
    return Inventory(source), Inventory(source)


def kept(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "inventory").glob("*.json"))


def test_an_unchanged_inventory_is_read_back_as_parsed(folder, tmp_path):
    (folder / "group_vars").mkdir()
    (folder / "group_vars" / "x86.yml").write_text("dsprov_build_dir: /opt/build\nsuffix: lan\n")
    (folder / "host_vars").mkdir()
    (folder / "host_vars" / "t4-02.yml").write_text("ansible_host: \"{{ inventory_hostname }}.{{ suffix | upper }}\"\n")
    parsed, read = twice(folder)
    assert not parsed.cached and read.cached and len(kept(tmp_path)) == 1
    for name in ("t4-01", "t4-02"):
        assert read.host(name) == parsed.host(name) and read.host(name).vars == parsed.host(name).vars
        assert read.host(name).ssh == parsed.host(name).ssh
    assert read.host("t4-02").address == "t4-02.LAN" and read.host("t4-01").port == 2201
    assert read.host("t4-01").settings.build_dir == "/opt/build"
    assert read.resolve("x86") == read.resolve("all") == ["t4-01", "t4-02"] == parsed.resolve("x86")
    assert read.resolve("t4-02,t4-01") == ["t4-02", "t4-01"]


@pytest.mark.parametrize("change", ["inventory file", "group_vars", "new host_vars", "env", "ansible.cfg"])
def test_a_change_to_what_the_parse_read_parses_anew(folder, tmp_path, monkeypatch, change):
    first = Inventory(folder)
    assert first.host("t4-02").user is None
    if change == "inventory file":
        (folder / "hosts.ini").write_text(HOSTS.replace("10.0.0.2", "10.0.0.2 ansible_user=alice"))
    elif change == "group_vars":
        (folder / "group_vars").mkdir()
        (folder / "group_vars" / "all.yml").write_text("ansible_user: alice\n")
    elif change == "new host_vars":
        (folder / "host_vars").mkdir()
        (folder / "host_vars" / "t4-02.yml").write_text("ansible_user: alice\n")
    elif change == "env":
        monkeypatch.setenv("ANSIBLE_REMOTE_USER", "alice")
    else:
        (tmp_path / "ansible.cfg").write_text("[defaults]\nremote_user = alice\n")
    assert in_a_new_run(folder) == (False, "alice")
    assert in_a_new_run(folder) == (True, "alice")


def test_a_file_inventory_is_keyed_by_the_vars_beside_it(folder, tmp_path):
    source = folder / "hosts.ini"
    assert twice(source)[1].cached
    (folder / "host_vars").mkdir()
    (folder / "host_vars" / "t4-02.yml").write_text("ansible_user: alice\n")
    assert in_a_new_run(source) == (False, "alice")


def test_an_environment_lookup_is_read_each_run_and_never_kept(folder, tmp_path, monkeypatch):
    (folder / "group_vars").mkdir()
    (folder / "group_vars" / "all.yml").write_text("ansible_become_password: \"{{ lookup('env', 'SECRET_OF_TEST') }}\"\n")
    monkeypatch.delenv("PROVISION_BECOME_PASSWORD", raising=False)
    monkeypatch.setenv("SECRET_OF_TEST", "first-s3cret")
    assert Inventory(folder).host("t4-01").become_password == "first-s3cret"
    monkeypatch.setenv("SECRET_OF_TEST", "second-s3cret")
    read = Inventory(folder)
    assert read.cached and read.host("t4-01").become_password == "second-s3cret"
    assert read.host("t4-01").vars["ansible_become_password"] == "second-s3cret"
    assert "s3cret" not in kept(tmp_path)[0].read_text()
    assert kept(tmp_path)[0].stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("value", [
    "{{ lookup('pipe', 'date +%N') }}",  # runs a command
    "{{ now() }}",  # a call
    "{{ 'a,b' | random }}",  # a filter outside the pure set
    "{% include 'other.j2' %}",  # reads a file
    "{{ lookup('env', 'HOME') }}-x",  # more than the one lookup
])
def test_a_template_whose_value_may_change_with_no_file_changing_is_not_kept(folder, tmp_path, value):
    (folder / "host_vars").mkdir()
    (folder / "host_vars" / "t4-01.yml").write_text(f"note: {value!r}\n")
    parsed, again = twice(folder)
    assert not parsed.cached and not again.cached and not kept(tmp_path)
    assert again.host("t4-02").address == "10.0.0.2"


def test_an_ssh_option_from_an_environment_lookup_is_not_kept(folder, tmp_path):
    (folder / "group_vars").mkdir()
    (folder / "group_vars" / "all.yml").write_text("ansible_user: \"{{ lookup('env', 'USER_OF_TEST') }}\"\n")
    assert not twice(folder)[1].cached and not kept(tmp_path)


def test_what_may_run_or_decrypt_is_not_kept(folder, tmp_path):
    (folder / "group_vars").mkdir()
    vault = folder / "group_vars" / "all.yml"
    vault.write_text("secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n")
    assert Inventory(folder / "hosts.ini") and not kept(tmp_path)
    vault.unlink()
    script = folder / "more.sh"
    script.write_text("#!/bin/sh\necho '{\"more\": {\"hosts\": [\"t4-03\"]}, \"_meta\": {\"hostvars\": {}}}'\n")
    script.chmod(0o755)
    parsed, again = twice(folder)
    assert not again.cached and not kept(tmp_path) and "t4-03" in again.resolve("all")


@pytest.mark.parametrize("spelling", ["plugin: constructed", '"plugin": constructed', "{plugin: constructed}",
                                      "\ufeffplugin: constructed"])
def test_an_inventory_plugin_file_is_not_kept_however_yaml_spells_it(folder, tmp_path, spelling):
    """The `auto` plugin takes any YAML mapping with a `plugin` key: what it makes (a cloud's hosts,
    constructed groups) may change with no file changing."""
    (folder / "more.yml").write_text(spelling + "\n")
    assert not twice(folder)[1].cached and not kept(tmp_path)


def test_vars_behind_a_linked_folder_are_not_kept(folder, tmp_path):
    """Ansible reads group_vars through a link to a folder; the key could not see an edit there."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "x86.yml").write_text("ansible_user: first\n")
    (folder / "group_vars").mkdir()
    (folder / "group_vars" / "x86").symlink_to(shared)
    parsed, again = twice(folder)
    assert parsed.host("t4-02").user == "first" and not again.cached and not kept(tmp_path)


def test_an_implicit_localhost_and_an_unknown_name_still_go_to_ansible(folder):
    read = twice(folder)[1]
    assert read.cached and read.resolve("localhost") == ["localhost"]
    assert read.host("localhost").connection == "local"
    with pytest.raises(ProvisionError, match="'t4-99' is neither a host nor a group"):
        read.resolve("t4-99")


def test_a_broken_inventory_after_a_kept_one_is_one_line_and_exit_2(folder, tmp_path):
    assert twice(folder)[1].cached
    (folder / "hosts.ini").write_text("[x86\nt4-01 ansible_host=10.0.0.1\n")
    env = {**os.environ, "DSPROV_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "invoke", "provision", "--host", "t4-01", "-i", str(folder)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: inventory {folder}")
    assert "Failed to parse" in result.stderr and "Traceback" not in result.stderr


def test_only_the_newest_entries_are_kept(folder, tmp_path, monkeypatch):
    from provision import inventory_cache

    monkeypatch.setattr(inventory_cache, "KEPT", 2)
    for port in (2201, 2202, 2203):
        (folder / "hosts.ini").write_text(HOSTS.replace("2201", str(port)))
        Inventory(folder)
    assert len(kept(tmp_path)) == 2 and Inventory(folder).cached


def test_a_dangling_link_is_not_kept_and_the_parse_tells(folder, tmp_path):
    (folder / "host_vars").mkdir()
    (folder / "host_vars" / "t4-01.yml").symlink_to(tmp_path / "nowhere.yml")
    with pytest.raises(ProvisionError, match="not a file"):
        Inventory(folder)
    assert not kept(tmp_path)


@pytest.mark.parametrize("whose", ["folder writable by others", "file writable by the group", "another user's file"])
def test_an_entry_someone_else_could_have_written_is_not_read(folder, tmp_path, whose):
    """A kept entry's ssh options become commands (ProxyCommand): one that another user could have
    written, in a shared $DSPROV_CACHE say, is parsed anew instead (provision/artifacts.py read_private)."""
    assert not Inventory(folder).cached
    entry, = kept(tmp_path)
    if whose == "folder writable by others":
        entry.parent.chmod(0o777)
    elif whose == "file writable by the group":
        entry.chmod(0o620)
    else:
        os.chown(entry, 12345, 12345)
    assert not Inventory(folder).cached
