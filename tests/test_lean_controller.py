# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a fleet run works out once and its hosts share: the key file, the ssh config files, the
known_hosts entries by name, the matrix's verdicts per stack, a capture's sections; each kept copy is
the same as what it replaces, and is read again when its file changes."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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


# -- the work a fleet's identical hosts share: once per distinct input, counted -------------------

def counted(monkeypatch, kept) -> list:
    """The calls that reach the function behind a PerInput `kept` (its store emptied first)."""
    calls: list = []
    function = kept.function
    kept.clear()
    monkeypatch.setattr(kept, "function", lambda *args: calls.append(args) or function(*args))
    return calls


def test_a_value_is_worked_out_once_while_concurrent_callers_wait_for_it():
    from provision.once import per_input

    calls, started = [], threading.Barrier(20)

    @per_input(kept=4)
    def slow(text: str) -> str:
        calls.append(text)
        time.sleep(0.05)
        return text.upper()

    def one(_):
        started.wait()
        return slow("a")

    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(one, range(20))) == {"A"}
    assert calls == ["a"]
    for text in "bcdef":  # past `kept` the store starts again
        slow(text)
    assert slow("a") == "A" and calls == ["a", *"bcdef", "a"]

    @per_input()
    def failing(text: str) -> str:
        calls.append(text)
        raise ValueError(text)

    for _ in range(2):  # an exception is not kept
        with pytest.raises(ValueError):
            failing("x")
    assert calls[-2:] == ["x", "x"]


def test_a_state_file_is_checked_against_its_schema_once_per_text(monkeypatch):
    from provision import state as state_module
    from provision.errors import StepFailed

    checks = counted(monkeypatch, state_module._schema_problem)
    text = json.dumps({"plugin": {"installed_sha256": "ab", "original_sha256": "cd"}, "pyds": None})
    states = [state_module.State.parse(f"h{i}", text) for i in range(50)]
    assert len(checks) == 1 and all(s["plugin"]["installed_sha256"] == "ab" for s in states)
    assert states[0]._values is not states[1]._values  # each host's own value
    bad = json.dumps({"plugin": {"installed_sha256": 7}})
    for host in ("h1", "h2"):  # refused on every host, naming it, with one check
        with pytest.raises(StepFailed, match=rf"^{host}: /var/lib/dsprov/state.json: \['plugin'\]\['installed_sha256'\]"
                                             " is a number, not what dsprov writes"):
            state_module.State.parse(host, bad)
        assert state_module.State.parse(host, bad, strict=False) == state_module.State()
    assert len(checks) == 2


def test_dpkgs_package_list_is_parsed_once_per_text_and_each_host_gets_its_own(monkeypatch):
    from provision.nvidia_stack import facts

    parses = counted(monkeypatch, facts._installed)
    facts.parse_holds.clear()
    text = "ii \tlibnvinfer10:amd64\t10.9.0.34-1\nhi \tcuda-drivers\t570\nrc \told\t1\nun \tnever\t\n"
    sections = {"nvidia_packages": text}
    first, second = facts.nvidia_facts(sections), facts.nvidia_facts(sections)
    assert first.packages == {"libnvinfer10": "10.9.0.34-1", "cuda-drivers": "570"} and first.held == {"cuda-drivers"}
    assert len(parses) == 1 and first.packages is not second.packages
    first.packages["libnvinfer10"] = "changed by one host"
    assert facts.nvidia_facts(sections).packages["libnvinfer10"] == "10.9.0.34-1" and len(parses) == 1


APP = "[primary-gie]\nenable=1\nconfig-file=pgie.txt\nbatch-size=2\n\n[secondary-gie0]\nenable=1\nconfig-file=sgie.txt\n"
NVINFER = "[property]\nonnx-file=model.onnx\nmodel-engine-file=model.onnx_b1_gpu0_fp16.engine\nnetwork-mode=2\n"


def test_the_engine_surveys_parses_are_done_once_per_config_text(monkeypatch):
    from provision.capabilities import engines

    apps, nvinfers = counted(monkeypatch, engines._app_config), counted(monkeypatch, engines._nvinfer_config)
    resolves, states = counted(monkeypatch, engines._resolved), counted(monkeypatch, engines._parsed_states)
    counted(monkeypatch, engines._is_app_config)
    texts = {"/c/pgie.txt": NVINFER, "/c/sgie.txt": NVINFER.replace("fp16", "fp32").replace("=2", "=0")}
    found = "file\t/c/model.onnx\t1\tabc\t\nengines\t/c\n"
    per_host = []
    for _ in range(50):
        assert engines._is_app_config(APP) and not engines._is_app_config(NVINFER)
        app = engines._app_config("/c/app.txt", APP)
        gies, unusable = engines._resolved_gies(app, dict(texts))
        config = engines._nvinfer_config("/c/pgie.txt", NVINFER)
        per_host.append((gies, unusable, engines._file_states(found)))
    assert (len(apps), len(resolves), len(nvinfers), len(states)) == (1, 1, 1, 1)
    gies, unusable, (known, folders) = per_host[0]
    assert [g.group for g in gies] == ["primary-gie", "secondary-gie0"] and gies[0].config.batch_size == 2
    assert config.model_engine_file == "/c/model.onnx_b1_gpu0_fp16.engine" and not unusable
    assert known["/c/model.onnx"].sha256 == "abc" and folders == {"/c"}
    gies.clear(), unusable.update(x="y"), known.clear(), folders.clear()  # one host's lists are its own
    again, still, (known, folders) = per_host[1]
    assert len(again) == 2 and not still and "/c/model.onnx" in known and folders == {"/c"}
    engines._resolved_gies(app, {**texts, "/c/sgie.txt": None})  # another input: worked out
    assert len(resolves) == 2


def test_fabrics_connection_and_config_keep_their_attributes_and_list_their_names_once(monkeypatch):
    import invoke.config

    listings = []
    monkeypatch.setattr(invoke.config, "dir", lambda *a: listings.append(a) or dir(*a), raising=False)
    made = [ssh_runner._Connection("h", user="u", port=2200 + i, gateway=False, connect_timeout=5,
                                   connect_kwargs={"look_for_keys": False},
                                   config=ssh_runner._Config(ssh_config=paramiko.SSHConfig())) for i in range(20)]
    assert not listings  # invoke's DataProxy: ~22 a connection
    connection = made[3]
    assert (connection.host, connection.user, connection.port, connection.connect_timeout) == ("h", "u", 2203, 5)
    connection.mine = 1  # not an attribute of a Connection: a config update, as in Fabric
    assert connection.config["mine"] == 1 and "mine" not in vars(connection)
    assert connection.config.run.warn is False and not hasattr(connection, "nothing")
    with pytest.raises(AttributeError, match="nothing"):
        connection.config.nothing  # noqa: B018 (the lookup is the test)


def test_the_matrix_works_out_its_known_sms_and_oss_refs_once(monkeypatch):
    matrix = Matrix.load()
    monkeypatch.delitem(vars(matrix), "_oss_ref_kept", raising=False)
    monkeypatch.delitem(vars(matrix), "_known_sms", raising=False)
    prefixes, rows = [], []
    prefix = matrix_module._prefix
    monkeypatch.setattr(matrix_module, "_prefix", lambda row, installed: prefixes.append(row) or prefix(row, installed))
    first = matrix.oss_ref(Version("10.3.0.26"), "x86")
    asked = len(prefixes)
    assert asked and all(matrix.oss_ref(Version("10.3.0.26"), "x86") == first for _ in range(50)) and len(prefixes) == asked
    matrix.oss_ref(Version("8.6.1.6"), "x86")  # another TensorRT: worked out
    assert len(prefixes) > asked
    monkeypatch.setattr(type(matrix), "device_rows", property(lambda self: rows.append(1) or vars(self)["device_rows"]),
                        raising=False)
    sms = matrix.known_sms()
    assert "75" in sms and all(matrix.known_sms() is sms for _ in range(50)) and len(rows) == 1
