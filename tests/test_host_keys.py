# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host key policy from the inventory, as ansible-playbook's ssh connection would read it."""

from pathlib import Path

import paramiko
import pytest

from provision.runners.host_keys import HostKeyRefused, KnownHostsPolicy, apply_policy, host_key_policy, ssh_options


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


def _line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def test_revoked_key_is_refused_and_cert_authority_skipped(tmp_path):
    """OpenSSH's markers (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT): a key under `@revoked` is never
    accepted, even where a plain line lists it, and with accept-new it is not added; an
    `@cert-authority` line names a CA, not a host key; an unreadable line is skipped, not a traceback."""
    revoked, ca, good = (paramiko.ECDSAKey.generate() for _ in range(3))
    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked * {_line(revoked)}\n@cert-authority *.example {_line(ca)}\n"
                     f"[10.0.0.5]:2222 {_line(revoked)}\nnano02 {_line(good)}\nnano03 ssh-ed25519 not-base64!\n"
                     "@revoked\n@unknown-marker x y z\n")
    for strict in ("yes", "accept-new"):
        policy = host_key_policy({"ansible_ssh_common_args": f"-o StrictHostKeyChecking={strict} -o UserKnownHostsFile={known}"})
        client = paramiko.SSHClient()
        apply_policy(client, "nano01", policy)
        assert client.get_host_keys().lookup("[10.0.0.5]:2222") is None  # the plain line's key is revoked
        assert client.get_host_keys().lookup("nano02")[good.get_name()] == good
        assert client.get_host_keys().lookup("x.example") is None
        with pytest.raises(HostKeyRefused, match=r"^nano01: host key of \[10.0.0.5\]:2222 .* is marked @revoked in .*: refused"):
            client._policy.missing_host_key(client, "[10.0.0.5]:2222", revoked)
    assert known.read_text().count("\n") == 7  # accept-new added nothing


def test_known_hosts_over_its_limit_is_one_line(tmp_path, monkeypatch):
    from provision import input_files
    from provision.errors import ProvisionError

    monkeypatch.setattr(input_files, "KNOWN_HOSTS", 100)
    known = tmp_path / "known_hosts"
    known.write_text("# x\n" * 100)
    policy = host_key_policy({"ansible_ssh_common_args": f"-o UserKnownHostsFile={known}"})
    with pytest.raises(ProvisionError, match=r"^known_hosts file .* is larger than 100 bytes: refused$"):
        apply_policy(paramiko.SSHClient(), "nano01", policy)


def test_a_run_reads_the_known_hosts_once_and_gives_each_client_its_hosts_keys(tmp_path):
    """The hosts of a run share one read of the files while they do not change; a client gets the
    keys of the name paramiko looks up (plain or hashed), not the whole file."""
    from paramiko.hostkeys import HostKeyEntry, HostKeys

    from provision.runners.host_keys import read_known_hosts

    keys = {name: paramiko.ECDSAKey.generate() for name in ("[a]:2201", "[b]:2202", "c")}
    known = tmp_path / "known_hosts"
    known.write_text("".join(HostKeyEntry([name], key).to_line() for name, key in keys.items())
                     + HostKeyEntry([HostKeys.hash_host("d")], keys["c"]).to_line())
    policy = host_key_policy({"ansible_ssh_common_args": f"-o UserKnownHostsFile={known} -o GlobalKnownHostsFile=none"})
    assert read_known_hosts(policy.files) is read_known_hosts(policy.files)
    for name, wanted in (("[a]:2201", {"[a]:2201"}), ("d", {"d"}), ("e", set())):
        client = paramiko.SSHClient()
        apply_policy(client, "h", policy, name)
        got = {n for n in ("[a]:2201", "[b]:2202", "c", "d", "e") if client.get_host_keys().lookup(n)}
        assert got == wanted, name
    first = read_known_hosts(policy.files)
    known.write_text(known.read_text() + HostKeyEntry(["e"], keys["c"]).to_line())
    assert read_known_hosts(policy.files) is not first and len(read_known_hosts(policy.files).entries) == 5
