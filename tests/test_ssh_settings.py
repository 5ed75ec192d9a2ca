# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where an SSH connection goes: Ansible's precedence over ~/.ssh/config, ProxyJump/-J/ProxyCommand
from the inventory's ssh args or the config, as ssh(1) and Ansible's ssh connection read them."""

import getpass
from pathlib import Path

import pytest

from provision.errors import ProvisionError
from provision.inventory import Inventory
from provision.runners.ssh_settings import Endpoint, resolve, ssh_flags, ssh_options


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A HOME of the test's own (the real ~/.ssh is never read), with an empty ~/.ssh/config."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("ANSIBLE_REMOTE_USER", "ANSIBLE_REMOTE_PORT", "ANSIBLE_PRIVATE_KEY_FILE", "ANSIBLE_SSH_ARGS"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("")
    return tmp_path


def host(home: Path, line: str, config: str = "") -> Endpoint:
    (home / ".ssh" / "config").write_text(config)
    (home / "hosts.ini").write_text(f"[x86]\n{line}\n")
    return resolve(Inventory(home / "hosts.ini").host(line.split()[0]))


def test_ssh_flags_are_read_as_getopt_reads_them():
    assert ssh_flags("-C -p 2222 -Cl admin -i~/k -o 'ProxyCommand ssh -o A=B -W %h:%p b' -J j1,j2 -- -p 9") == [
        ("p", "2222"), ("l", "admin"), ("i", "~/k"), ("o", "ProxyCommand ssh -o A=B -W %h:%p b"), ("J", "j1,j2")]
    # a space before the first '=' ends the name: the value keeps its own '='
    assert ssh_options("-o 'ProxyCommand ssh -o A=B -W %h:%p b' -oPort=22 -o 'User = me'") == [
        ("proxycommand", "ssh -o A=B -W %h:%p b"), ("port", "22"), ("user", "me")]


def test_the_inventory_wins_over_ssh_config_which_fills_in_the_rest(home):
    config = ("Host board\n  HostName 10.1.2.3\n  Port 2200\n  User cfguser\n  IdentityFile ~/.ssh/cfgkey\n"
              "Host *\n  Port 2201\n")
    alias = host(home, "orin ansible_host=board", config)
    assert (alias.host, alias.port, alias.user, alias.key_files, alias.via) == (
        "10.1.2.3", 2200, "cfguser", [str(home / ".ssh/cfgkey")], None)
    ours = host(home, "orin ansible_host=board ansible_port=22 ansible_user=nvidia ansible_ssh_private_key_file=~/k",
                config)
    assert (ours.host, ours.port, ours.user) == ("10.1.2.3", 22, "nvidia")
    assert ours.key_files == [str(home / "k"), str(home / ".ssh/cfgkey")]  # ours first, then the config's
    bare = host(home, "10.9.9.9")
    assert (bare.host, bare.port, bare.user, bare.key_files) == ("10.9.9.9", 22, getpass.getuser(), [])


def test_ansible_aliases_and_environment_count(home, monkeypatch):
    monkeypatch.setenv("ANSIBLE_REMOTE_PORT", "2022")
    monkeypatch.setenv("ANSIBLE_REMOTE_USER", "fromenv")
    assert (host(home, "a ansible_host=10.0.0.1").port, host(home, "a ansible_host=10.0.0.1").user) == (2022, "fromenv")
    spec = host(home, "a ansible_host=10.0.0.1 ansible_ssh_port=2023 ansible_ssh_user=u ansible_private_key_file=/k")
    assert (spec.port, spec.user, spec.key_files) == (2023, "u", ["/k"])


def test_jump_hosts_from_the_ssh_args(home):
    config = "Host bastion\n  HostName 192.0.2.1\n  User jumper\n  IdentityFile ~/.ssh/jumpkey\n"
    spec = host(home, "orin ansible_host=10.0.0.5 ansible_user=nvidia "
                      "ansible_ssh_common_args='-o StrictHostKeyChecking=yes -J ops@gw1:2201,bastion'", config)
    assert str(spec) == "nvidia@10.0.0.5:22"
    last = spec.via
    assert str(last) == "jumper@192.0.2.1:22" and last.key_files == [str(home / ".ssh/jumpkey")]
    assert str(last.via) == "ops@gw1:2201" and last.via.via is None
    # the extra args count too, and ProxyJump in -o spelling
    extra = host(home, "orin ansible_host=10.0.0.5 ansible_ssh_extra_args='-oProxyJump=ssh://me@[2001:db8::1]:2'")
    assert str(extra.via) == "me@[2001:db8::1]:2"


def test_a_jump_host_from_an_ssh_config_alias_and_its_own_proxy(home):
    config = ("Host behind\n  HostName 10.0.0.7\n  ProxyJump bastion\n"
              "Host bastion\n  HostName 192.0.2.1\n  Port 2222\n  ProxyJump outer\n"
              "Host outer\n  User o\n")
    spec = host(home, "orin ansible_host=behind ansible_user=nvidia", config)
    assert [str(spec), str(spec.via), str(spec.via.via)] == [
        "nvidia@10.0.0.7:22", f"{getpass.getuser()}@192.0.2.1:2222", "o@outer:22"]
    loop = "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n"
    with pytest.raises(ProvisionError, match="ProxyJump loop: a -> b -> a"):
        host(home, "orin ansible_host=a", loop)


def test_proxy_command_tokens_use_the_inventory_port_and_the_first_proxy_wins(home):
    config = "Host behind\n  HostName 10.0.0.7\n  Port 2200\n  ProxyCommand nc -X connect -x proxy:3128 %h %p\n"
    spec = host(home, "orin ansible_host=behind ansible_port=2222", config)
    assert spec.via == "nc -X connect -x proxy:3128 10.0.0.7 2222"
    jump_first = host(home, "orin ansible_host=behind ansible_ssh_common_args='-J gw'", config)
    assert str(jump_first.via).endswith("@gw:22")
    command_first = host(home, "orin ansible_host=behind ansible_ssh_common_args="
                               "'-o \"ProxyCommand ssh -W %h:%p gw\" -J other'", config)
    assert command_first.via == "ssh -W 10.0.0.7:2200 gw"
    assert host(home, "orin ansible_host=behind ansible_ssh_common_args='-o ProxyJump=none'", config).via is None
    assert host(home, "orin ansible_host=behind ansible_ssh_common_args='-o ProxyCommand=none'", config).via is None


def test_dash_f_replaces_the_user_config(home, tmp_path):
    (tmp_path / "fleet.cfg").write_text("Host *\n  User fromfile\n  ProxyJump gw:2\n")
    spec = host(home, f"orin ansible_host=10.0.0.5 ansible_ssh_common_args='-F {tmp_path}/fleet.cfg'",
                "Host *\n  User fromhome\n")
    assert spec.user == "fromfile" and str(spec.via) == "fromfile@gw:2"
    with pytest.raises(ProvisionError, match="ssh config file .*absent.cfg .*does not exist"):
        host(home, f"orin ansible_host=10.0.0.5 ansible_ssh_common_args='-F {tmp_path}/absent.cfg'")
