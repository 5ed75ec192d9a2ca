"""Host key policy from the inventory, as ansible-playbook's ssh connection would read it."""

from pathlib import Path

import paramiko
import pytest

from provision.runners.host_keys import HostKeyRefused, KnownHostsPolicy, host_key_policy, ssh_options


def test_ssh_options_in_every_spelling():
    args = "-C -o StrictHostKeyChecking=accept-new -oUserKnownHostsFile=/k1 -o 'GlobalKnownHostsFile /g' -p 22"
    assert ssh_options(args) == [("stricthostkeychecking", "accept-new"), ("userknownhostsfile", "/k1"),
                                 ("globalknownhostsfile", "/g")]


def test_first_value_wins_and_ssh_args_come_first(tmp_path):
    policy = host_key_policy({
        "ansible_ssh_common_args": f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile='{tmp_path}/a {tmp_path}/b'",
        "ansible_ssh_extra_args": "-o StrictHostKeyChecking=no",
    })
    assert (policy.check, policy.strict) == (True, "yes")
    assert policy.user_files == (tmp_path / "a", tmp_path / "b")
    assert policy.global_files == (Path("/etc/ssh/ssh_known_hosts"), Path("/etc/ssh/ssh_known_hosts2"))


def test_defaults_are_openssh_ask_which_refuses(monkeypatch):
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    policy = host_key_policy({}, {"stricthostkeychecking": "ask"})
    assert (policy.check, policy.strict) == (True, "yes")
    assert policy.user_files[0] == Path("~/.ssh/known_hosts").expanduser()


@pytest.mark.parametrize("variables, environment", [({"ansible_host_key_checking": False}, None),
                                                    ({"ansible_ssh_host_key_checking": "no"}, None),
                                                    ({}, "False")])
def test_ansible_host_key_checking_off(monkeypatch, variables, environment):
    if environment:
        monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", environment)
    assert host_key_policy(variables).check is False


def test_ssh_config_counts_after_the_command_line():
    policy = host_key_policy({"ansible_ssh_common_args": "-o StrictHostKeyChecking=accept-new"},
                             {"stricthostkeychecking": "yes", "userknownhostsfile": "/from/ssh_config"})
    assert policy.strict == "accept-new" and policy.user_files == (Path("/from/ssh_config"),)


def test_accept_new_appends_one_line_and_yes_refuses(tmp_path):
    key = paramiko.ECDSAKey.generate()
    known = tmp_path / "ssh" / "known_hosts"
    policy = host_key_policy({"ansible_ssh_common_args": f"-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={known}"})
    KnownHostsPolicy("nano01", policy).missing_host_key(None, "[10.0.0.5]:2222", key)
    assert paramiko.HostKeys(str(known)).lookup("[10.0.0.5]:2222")[key.get_name()] == key
    assert known.stat().st_mode & 0o777 == 0o600
    strict = host_key_policy({"ansible_ssh_common_args": f"-o UserKnownHostsFile={known}"})
    with pytest.raises(HostKeyRefused, match=r"^nano01: host key of \[10.0.0.9\]:22 \(ecdsa-sha2-nistp256 SHA256:.* is not in"):
        KnownHostsPolicy("nano01", strict).missing_host_key(None, "[10.0.0.9]:22", key)
