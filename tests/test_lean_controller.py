# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a fleet run works out once and its hosts share: the key file, the ssh config files, the
known_hosts entries by name, the matrix's verdicts per stack, a capture's sections; each kept copy is
the same as what it replaces, and is read again when its file changes."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import random
import subprocess
from pathlib import Path

import paramiko
import pytest
from packaging.version import Version
from paramiko.hostkeys import HostKeyEntry, HostKeys

from provision.facts.parsers import OTHER_LINE_BREAKS, _split_lines, _split_text, split_sections
from provision.inventory import Inventory
import provision.matrix as matrix_module
from provision.matrix import Matrix
from provision.matrix import check as matrix_check
from provision.matrix.rows import Stack
from provision.runners import ssh as ssh_runner
from provision.runners.host_keys import KnownHosts
from provision.runners.ssh_settings import resolve


def keygen(path: Path, passphrase: str = "") -> None:
    path.unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)], check=True,
                   capture_output=True)


def test_a_key_file_is_read_once_while_it_and_its_certificate_do_not_change(tmp_path, monkeypatch):
    reads = []
    from_path = paramiko.PKey.from_path
    monkeypatch.setattr(paramiko.PKey, "from_path", staticmethod(lambda path: reads.append(path) or from_path(path)))
    key = tmp_path / "id_ed25519"
    keygen(key)
    first = ssh_runner.loaded_key(str(key))
    assert isinstance(first, paramiko.Ed25519Key) and ssh_runner.loaded_key(str(key)) is first and len(reads) == 1
    keygen(key)  # a new key at the same path
    second = ssh_runner.loaded_key(str(key))
    assert second is not None and second.asbytes() != first.asbytes() and len(reads) == 2
    (tmp_path / "id_ed25519-cert.pub").write_text("not read yet\n")  # a certificate beside it: read again
    assert ssh_runner.loaded_key(str(key)) is None and len(reads) == 3  # (paramiko's own loop then says why)


def test_a_key_that_needs_its_passphrase_is_left_to_paramiko_and_the_agent(tmp_path):
    key = tmp_path / "id_ed25519"
    keygen(key, passphrase="secret")
    assert ssh_runner.loaded_key(str(key)) is None
    assert ssh_runner.loaded_key(str(tmp_path / "missing")) is None


def test_each_hosts_connection_is_given_the_shared_key_first_and_the_other_files_after(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("")
    keygen(tmp_path / "a")
    keygen(tmp_path / "b", passphrase="secret")
    args = f"-o IdentityFile={tmp_path / 'b'} -o StrictHostKeyChecking=no"
    (tmp_path / "hosts.ini").write_text(
        "[x86]\n" + "".join(f"h{i} ansible_host=127.0.0.1 ansible_port={2200 + i} ansible_ssh_private_key_file="
                            f"{tmp_path / 'a'} ansible_ssh_common_args='{args}'\n" for i in range(3)))
    inventory = Inventory(str(tmp_path / "hosts.ini"))
    connections = [ssh_runner.SSHRunner(inventory.host(f"h{i}")).connection for i in range(3)]
    assert len({id(c.connect_kwargs["pkey"]) for c in connections}) == 1  # one key object for the run
    assert [c.connect_kwargs["key_filename"] for c in connections] == [[str(tmp_path / "b")]] * 3
    assert [(c.port, c.jump, c.connect_kwargs["look_for_keys"]) for c in connections] == [
        (2200, False, False), (2201, False, False), (2202, False, False)]


def test_ssh_config_files_are_parsed_once_per_text(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    config = tmp_path / ".ssh" / "config"
    config.write_text("Host h*\n  User alice\n  ConnectTimeout 7\n")
    (tmp_path / "hosts.ini").write_text("[x86]\nh1 ansible_port=2201\nh2 ansible_port=2202\n")
    inventory = Inventory(str(tmp_path / "hosts.ini"))
    parses = []
    parse = paramiko.SSHConfig.parse
    monkeypatch.setattr(paramiko.SSHConfig, "parse", lambda self, lines: parses.append(1) or parse(self, lines))
    one, two = resolve(inventory.host("h1")), resolve(inventory.host("h2"))
    assert (one.port, one.user, two.port, two.user) == (2201, "alice", 2202, "alice")
    files = len(parses) - 2  # each host's own command-line block, then the files once
    assert files in (1, 2)  # ~/.ssh/config, and /etc/ssh/ssh_config where there is one
    config.write_text("Host h*\n  User bob__\n  ConnectTimeout 7\n")  # the same size, at once
    assert resolve(inventory.host("h1")).user == "bob__" and len(parses) == 2 + files + 1 + files


def test_known_hosts_by_name_keep_the_files_order_and_leave_revoked_keys_out(tmp_path):
    old, new, revoked = (paramiko.ECDSAKey.generate() for _ in range(3))
    known = tmp_path / "known_hosts"
    known.write_text(HostKeyEntry(["[a]:2201"], old).to_line() + HostKeyEntry(["[a]:2201", "b"], new).to_line()
                     + HostKeyEntry([HostKeys.hash_host("[a]:2201")], revoked).to_line()
                     + HostKeyEntry(["c"], revoked).to_line()
                     + f"@revoked * {revoked.get_name()} {revoked.get_base64()}\n")
    hosts = KnownHosts().read(known)
    for only in ("[a]:2201", None):
        keys = HostKeys()
        hosts.copy_to(keys, only)
        assert keys.lookup("[a]:2201")[new.get_name()].asbytes() == new.asbytes()  # the later line wins
        assert not keys.lookup("c")
    keys = HostKeys()
    hosts.copy_to(keys, "b")
    assert list(keys.keys()) == ["b"]
    assert hosts.lookup("b") and not hosts.lookup("c")


def test_paramikos_packet_mac_and_debug_escape_give_the_same_bytes():
    data = bytes(range(256)) * 3
    for digest in (hashlib.sha256, hashlib.sha512, hashlib.sha1, hashlib.md5):
        assert paramiko.packet.compute_hmac(b"k" * 32, data, digest) == hmac.new(b"k" * 32, data, digest).digest()
    escaped = b"".join(bytes([c]) if 32 <= c <= 127 else b"%%%02X" % c for c in data)
    assert paramiko.util.safe_string(data) == escaped


def test_a_capture_split_whole_is_split_as_line_by_line():
    pieces = ["==> a <==", "==> b_1 <==", "==> a <== ", " ==> a <==", "x", "", "==> A <==", "y y", "==>  <=="]
    rng = random.Random(7)
    for _ in range(3000):
        text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 9))) + rng.choice(["", "\n", "\n\n"])
        assert _split_text(text) == _split_lines(text), text
    crlf = "==> a <==\r\none\r\n==> b <==\r\ntwo\r\n"
    assert OTHER_LINE_BREAKS.search(crlf) and split_sections(crlf).texts == {"a": "one", "b": "two"}


def test_a_capture_is_split_once_per_thread_and_each_caller_gets_its_own_sections():
    text = "==> a <==\none\n==> b <==\ntwo\n"
    first, second = split_sections(text), split_sections(text)
    assert first.texts == second.texts == {"a": "one", "b": "two"} and first.texts is not second.texts


def test_the_matrix_checks_each_stack_once(monkeypatch):
    monkeypatch.setattr(matrix_module, "_CHECKS", {})
    runs = []
    run = matrix_check.run
    monkeypatch.setattr(matrix_check, "run", lambda matrix, stack: runs.append(stack) or run(matrix, stack))
    matrix = Matrix.load()
    stack = Stack(platform="x86", deepstream=Version("7.1"))
    first = matrix.check(stack)
    assert matrix.check(dataclasses.replace(stack)) == first and len(runs) == 1
    first.clear()  # a caller's list is its own
    assert matrix.check(stack) and len(runs) == 1
    matrix.check(Stack(platform="jetson"))
    assert len(runs) == 2


@pytest.mark.parametrize("line", ["plain", "x" * 200])
def test_the_host_log_keeps_its_format(tmp_path, line):
    from provision.provisioner import HostLog

    log = HostLog("h", tmp_path)
    log(f"{line}\nsecond")
    log.close()
    text = log.path.read_text()
    assert [row.split(" ", 1)[1] for row in text.splitlines()] == [line, "second"]
    assert (tmp_path / "h.log").resolve() == log.path.resolve() and log.lines == [line, "second"]
