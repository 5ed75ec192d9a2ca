# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""SSH through a jump host on the simulated fleet, as OpenSSH and Ansible do it: ProxyJump from the
inventory's ssh args and from a ~/.ssh/config alias, the jump host's key checked, an unreachable
jump host named, a passphrase-protected key held only by a real ssh-agent, and ansible-playbook over
the same inventory. A bastion and a T4 server behind it (both amd64): the inventory names the server
`t4-01.invalid`, which only the bastion resolves (its /etc/hosts), so every login that works went
through the bastion; the bastion's sshd log (LogLevel VERBOSE) shows each login and its key.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simfleet.fleet import SSH_CONFIG, _free_port
from tests.fleet.helpers import fleet_env, invoke, on_device, one_line

ROOT = Path(__file__).resolve().parents[2]
HOST, JUMP = "t4-01", "bastion01"
pytestmark = pytest.mark.fleet


@pytest.fixture(scope="module")
def jumped(serve_fleet):
    fleet_file = f"name: jump\ndevices:\n  - {{name: {JUMP}, profile: bastion}}\n" \
                 f"  - {{name: {HOST}, profile: t4, via: {JUMP}}}\n"
    with serve_fleet("jump", fleet_file) as handle:
        yield handle


@pytest.fixture
def home(tmp_path) -> Path:
    """A HOME of the test's own: no ~/.ssh keys or config but what the test puts there."""
    (tmp_path / "home" / ".ssh").mkdir(parents=True, mode=0o700)
    return tmp_path / "home"


def env(handle, home: Path, **extra: str) -> dict[str, str]:
    environment = fleet_env(handle, HOME=str(home), ANSIBLE_NOCOLOR="1", **extra)
    if "SSH_AUTH_SOCK" not in extra:
        environment.pop("SSH_AUTH_SOCK", None)
    return environment


def logins(handle) -> list[str]:
    """The key fingerprint of each login the bastion's sshd accepted, in order."""
    log = (handle.device(JUMP).dir / "sshd.log").read_text(errors="replace")
    return re.findall(r"Accepted publickey for jump from 127\.0\.0\.1 port \d+ ssh2: \S+ (SHA256:\S+)", log)


def fingerprint(public_key: Path) -> str:
    return subprocess.run(["ssh-keygen", "-lf", str(public_key)], capture_output=True, text=True,
                          check=True).stdout.split()[1]


def inventory(handle, folder: Path, line: str) -> Path:
    """An inventory of the one host `line`, with the fleet's mirror settings."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts.ini").write_text(f"[x86]\n{line}\n")
    shutil.copytree(handle.runtime_dir / "group_vars", folder / "group_vars")
    return folder


def jump_line(handle, ssh_config: Path, jump_port: int | None = None, extra: str = "") -> str:
    """The fleet inventory's line for the host, with another ssh config file (-F) or jump port."""
    dev, bastion = handle.device(HOST), handle.device(JUMP)
    return (f"{HOST} ansible_host={dev.address} ansible_port={dev.port} ansible_user=ubuntu {extra}"
            f"ansible_ssh_common_args='-F {ssh_config} -J jump@127.0.0.1:{jump_port or bastion.port}'")


def test_the_device_is_reached_only_through_the_bastion(jumped, home):
    with pytest.raises(socket.gaierror):  # the inventory's name for it means nothing here
        socket.getaddrinfo(jumped.device(HOST).address, jumped.device(HOST).port)
    assert f"ansible_host={HOST}.invalid" in jumped.inventory.read_text() and JUMP not in jumped.inventory.read_text()
    before = logins(jumped)
    detect = invoke(jumped, "detect", "--host", HOST, "--json", env=env(jumped, home))
    assert detect.returncode == 0 and "8.0.1" in detect.stdout, detect.stdout + detect.stderr
    assert logins(jumped)[len(before):] == [fingerprint(jumped.key.with_suffix(".pub"))]
    dry = invoke(jumped, "provision", "--host", HOST, "--dry-run", env=env(jumped, home))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert len(logins(jumped)) == len(before) + 2


def test_an_ssh_config_alias_and_its_proxyjump_with_the_inventory_port_first(jumped, home, tmp_path):
    dev, bastion = jumped.device(HOST), jumped.device(JUMP)
    common = f"    IdentityFile {jumped.key}\n    UserKnownHostsFile {jumped.known_hosts}\n    StrictHostKeyChecking yes\n"
    (home / ".ssh" / "config").write_text(
        f"Host edge-t4\n    HostName {dev.address}\n    Port 9\n    User ubuntu\n    ProxyJump bastion\n{common}"
        f"Host bastion\n    HostName 127.0.0.1\n    Port {bastion.port}\n    User jump\n{common}")
    folder = inventory(jumped, tmp_path / "inv", f"{HOST} ansible_host=edge-t4 ansible_port={dev.port}")
    before = len(logins(jumped))
    detect = invoke(jumped, "detect", "--host", HOST, "--json", inventory=folder, env=env(jumped, home))
    assert detect.returncode == 0 and "8.0.1" in detect.stdout, detect.stdout + detect.stderr
    assert len(logins(jumped)) == before + 1
    # without the inventory's port, the alias's Port 9 is tried: through the bastion, which names it
    bare = inventory(jumped, tmp_path / "bare", f"{HOST} ansible_host=edge-t4")
    one_line(invoke(jumped, "detect", "--host", HOST, inventory=bare, env=env(jumped, home)), 2,
             f"{HOST}: jump host jump@127.0.0.1:{bastion.port} cannot reach ubuntu@{dev.address}:9")


def test_a_jump_host_whose_key_changed_or_is_unknown_is_refused_naming_it(jumped, home, tmp_path):
    bastion = jumped.device(JUMP)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    entries = jumped.known_hosts.read_text().splitlines()
    jump_entry = f"[127.0.0.1]:{bastion.port} "
    forged, unknown = tmp_path / "forged_known_hosts", tmp_path / "unknown_known_hosts"
    forged.write_text("".join(f"{jump_entry}{other}\n" if e.startswith(jump_entry) else e + "\n" for e in entries))
    unknown.write_text("".join(e + "\n" for e in entries if not e.startswith(jump_entry)))
    before = len(logins(jumped))
    for known_hosts, says in ((forged, f"does not match the one in {forged}"), (unknown, f"is not in {unknown}")):
        config = tmp_path / f"{known_hosts.name}.cfg"
        config.write_text(SSH_CONFIG.format(known_hosts=known_hosts, key=jumped.key))
        folder = inventory(jumped, tmp_path / f"{known_hosts.name}.inv", jump_line(jumped, config))
        for command in ("detect", "provision"):
            one_line(invoke(jumped, command, "--host", HOST, inventory=folder, env=env(jumped, home)), 2,
                     f"error: {HOST}: ", f"jump host jump@127.0.0.1:{bastion.port}: host key of [127.0.0.1]:{bastion.port}",
                     says, "refused")
    assert len(logins(jumped)) == before


def test_an_unreachable_jump_host_is_one_line_naming_it(jumped, home, tmp_path):
    port = _free_port()  # nobody listens there
    folder = inventory(jumped, tmp_path / "inv", jump_line(jumped, jumped.ssh_config, port))
    for command in ("detect", "provision"):
        one_line(invoke(jumped, command, "--host", HOST, inventory=folder, env=env(jumped, home)), 2,
                 f"error: {HOST}: ", f"cannot reach jump host jump@127.0.0.1:{port}: ", "Connection refused")


def test_a_proxy_command_from_the_ssh_args_and_one_that_fails(jumped, home, tmp_path):
    dev, bastion = jumped.device(HOST), jumped.device(JUMP)

    def line(port: int) -> str:
        command = f"ssh -F {jumped.ssh_config} -W %h:%p -p {port} jump@127.0.0.1"
        return (f"{HOST} ansible_host={dev.address} ansible_port={dev.port} ansible_user=ubuntu "
                f"ansible_ssh_private_key_file={jumped.key} ansible_ssh_common_args='-F {jumped.ssh_config} "
                f"-o \"ProxyCommand {command}\"'")

    before = len(logins(jumped))
    folder = inventory(jumped, tmp_path / "inv", line(bastion.port))
    detect = invoke(jumped, "detect", "--host", HOST, "--json", inventory=folder, env=env(jumped, home))
    assert detect.returncode == 0 and "8.0.1" in detect.stdout, detect.stdout + detect.stderr
    assert len(logins(jumped)) == before + 1
    port = _free_port()
    failing = inventory(jumped, tmp_path / "failing", line(port))
    one_line(invoke(jumped, "detect", "--host", HOST, inventory=failing, env=env(jumped, home)), 2,
             f"error: {HOST}: cannot reach ubuntu@{dev.address}:{dev.port} through ProxyCommand `ssh -F",
             f"-W {dev.address}:{dev.port} -p {port} jump@127.0.0.1`: ", "Connection refused")


@pytest.fixture
def agent(tmp_path):
    """A real ssh-agent of the test's own: its socket (stopped at the end)."""
    socket_path = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if socket_path.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert socket_path.exists(), "ssh-agent did not start"
        yield socket_path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_passphrase_key_held_only_by_ssh_agent_logs_in(jumped, home, tmp_path, agent):
    key = tmp_path / "locked_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a long passphrase", "-f", str(key)], check=True)
    for device in (JUMP, HOST):
        added = on_device(jumped, device, "cat >> ~/.ssh/authorized_keys", stdin=key.with_suffix(".pub").read_text())
        assert added.returncode == 0, added.stderr
    config = tmp_path / "no_identity.cfg"  # the fleet's settings less its IdentityFile: the locked key is the only one
    config.write_text("\n".join(line for line in SSH_CONFIG.format(known_hosts=jumped.known_hosts, key="").splitlines()
                                if "IdentityFile" not in line) + "\n")
    folder = inventory(jumped, tmp_path / "inv", jump_line(jumped, config, extra=f"ansible_ssh_private_key_file={key} "))
    locked = invoke(jumped, "detect", "--host", HOST, inventory=folder, env=env(jumped, home))
    one_line(locked, 2, f"{HOST}: cannot reach jump host jump@127.0.0.1:{jumped.device(JUMP).port}")
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho 'a long passphrase'\n")
    askpass.chmod(0o700)
    subprocess.run(["ssh-add", str(key)], env={**os.environ, "SSH_AUTH_SOCK": str(agent), "SSH_ASKPASS": str(askpass),
                                               "SSH_ASKPASS_REQUIRE": "force"},
                   stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=30)
    before = len(logins(jumped))
    detect = invoke(jumped, "detect", "--host", HOST, "--json", inventory=folder,
                    env=env(jumped, home, SSH_AUTH_SOCK=str(agent)))
    assert detect.returncode == 0 and "8.0.1" in detect.stdout, detect.stdout + detect.stderr
    assert logins(jumped)[before:] == [fingerprint(key.with_suffix(".pub"))]


def test_ansible_playbook_reaches_the_device_through_the_bastion(jumped, home):
    before = len(logins(jumped))
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(jumped.inventory),
                             "playbooks/detect.yml"], cwd=ROOT, env=env(jumped, home), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"^{HOST}\s+:\s+ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", result.stdout, re.M), result.stdout
    assert "8.0.1" in result.stdout
    assert len(logins(jumped)) > before
