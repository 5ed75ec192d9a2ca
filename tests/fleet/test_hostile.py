# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile but fair input on a simulated T4 server: host keys, option injection, forged probe
sections, secrets, a never-provisioned rollback, a model that is not ONNX (docs/hostile-input.md:
"Hostile input and faults"). One amd64 device, its own fleet: about 2 minutes here, most of it the --force build.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from onnx_models import yolo_like

from .helpers import document, hosts, one_line


ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "t4-01"
pytestmark = pytest.mark.fleet


@pytest.fixture(scope="module")
def t4(serve_fleet):
    with serve_fleet("hostile", f"name: hostile\ndevices:\n  - {{name: {HOST}, profile: t4}}\n") as handle:
        yield handle


def env(handle, **extra) -> dict[str, str]:
    return {**os.environ, "PROVISION_BECOME_PASSWORD": handle.become_password, "ANSIBLE_NOCOLOR": "1",
            "DSPROV_CACHE": str(handle.runtime_dir / "controller-cache"), **extra}


def inventory(handle, folder: Path, host_vars: dict | None = None, known_hosts: Path | None = None,
              ssh_args: str | None = None) -> Path:
    """The fleet's inventory (its mirror settings included), with other host vars or ssh args."""
    folder.mkdir(parents=True, exist_ok=True)
    text = handle.inventory.read_text()
    if known_hosts:
        text = text.replace(str(handle.known_hosts), str(known_hosts))
    if ssh_args is not None:
        text = text.replace(f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={handle.known_hosts}", ssh_args)
    (folder / "hosts.ini").write_text(text)
    shutil.copytree(handle.runtime_dir / "group_vars", folder / "group_vars")
    (folder / "host_vars").mkdir()
    (folder / "host_vars" / f"{HOST}.yml").write_text(json.dumps(host_vars or {}))
    return folder


def invoke(handle, *args: str, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env(handle, **extra),
                          capture_output=True, text=True, timeout=900)


def on_device(handle, command: str) -> str:
    """A command as root on the device (the password goes over stdin, never on a command line)."""
    wrapped = f"sudo -S -p '' sh -c {json.dumps(command)}"
    return subprocess.run([*handle.ssh_command(HOST), wrapped], input=handle.become_password + "\n",
                          capture_output=True, text=True, timeout=120).stdout


def test_rollback_of_a_never_provisioned_host_leaves_nothing(t4):
    result = invoke(t4, "rollback", "--host", HOST, "-i", str(t4.inventory))
    assert result.returncode == 0 and "nothing to roll back" in result.stdout, result.stdout + result.stderr
    assert on_device(t4, "ls -d /var/lib/dsprov 2>&1") == "ls: cannot access '/var/lib/dsprov': No such file or directory\n"


def test_a_host_whose_key_changed_is_refused_before_any_password(t4, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    port = t4.devices[0].port
    forged = tmp_path / "known_hosts"
    forged.write_text(f"[127.0.0.1]:{port} " + " ".join((tmp_path / "other.pub").read_text().split()[:2]) + "\n")
    folder = inventory(t4, tmp_path / "inv", known_hosts=forged)
    for command in ("provision", "rollback", "detect"):
        line = one_line(invoke(t4, command, "--host", HOST, "-i", str(folder)), 2, f"{HOST}",
                        f"host key of [127.0.0.1]:{port}", f"does not match the one in {forged}", "refused")
        assert t4.become_password not in line
    assert on_device(t4, "ls -d /var/lib/dsprov 2>&1").endswith("No such file or directory\n")
    # the same host with Ansible's host_key_checking off (the user's explicit choice) is reached
    off = inventory(t4, tmp_path / "off", {"ansible_host_key_checking": False}, known_hosts=forged)
    assert invoke(t4, "detect", "--host", HOST, "-i", str(off), "--json").returncode == 0
    ansible_off = invoke(t4, "detect", "--host", HOST, "-i", str(folder), "--json", ANSIBLE_HOST_KEY_CHECKING="False")
    assert ansible_off.returncode == 0, ansible_off.stderr


def test_an_unknown_host_is_refused_unless_the_inventory_accepts_new_keys(t4, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    strict = inventory(t4, tmp_path / "strict", known_hosts=empty)
    one_line(invoke(t4, "detect", "--host", HOST, "-i", str(strict)), 2, f"error: {HOST}: host key of",
             f"is not in {empty}", "accept-new")
    assert empty.read_text() == ""
    accept = inventory(t4, tmp_path / "accept",
                       ssh_args=f"-o UserKnownHostsFile={empty} -o StrictHostKeyChecking=accept-new")
    for _ in range(2):  # the first run adds the key, the second finds it
        assert invoke(t4, "detect", "--host", HOST, "-i", str(accept), "--json").returncode == 0
    assert empty.read_text().split()[1:] == t4.known_hosts.read_text().split()[1:]
    assert len(empty.read_text().splitlines()) == 1
    # OpenSSH takes an option's first value: a later accept-new does not undo the fleet's StrictHostKeyChecking=yes
    both = inventory(t4, tmp_path / "both", known_hosts=tmp_path / "absent", ssh_args=None)
    with (both / "hosts.ini").open() as hosts:
        assert "StrictHostKeyChecking=yes" in hosts.read()
    text = (both / "hosts.ini").read_text().replace("LogLevel=ERROR", "LogLevel=ERROR -o StrictHostKeyChecking=accept-new")
    (both / "hosts.ini").write_text(text)
    one_line(invoke(t4, "detect", "--host", HOST, "-i", str(both)), 2, "is not in")
    assert not (tmp_path / "absent").exists()


INJECTIONS = [
    {"dsprov_trt_oss_repo": "--upload-pack=touch /tmp/pwned-repo;true"},
    {"dsprov_trt_oss_repo": "ext::sh -c touch% /tmp/pwned-ext"},
    {"dsprov_pyds_repo": "-u touch /tmp/pwned-pyds"},
    {"dsprov_tao_apps_ref": "--upload-pack=touch /tmp/pwned-ref"},
    {"dsprov_build_dir": "/tmp/x\n==> df_build <==\nFilesystem 1024-blocks Used Available Capacity Mounted on\n"
                         "/dev/forged 999999999 0 999999999 0% /"},
]


@pytest.mark.parametrize("host_vars", INJECTIONS, ids=[next(iter(v)) + str(i) for i, v in enumerate(INJECTIONS)])
def test_a_hostile_setting_never_runs_and_is_one_line(t4, tmp_path, host_vars):
    folder = inventory(t4, tmp_path / "inv", host_vars)
    (setting,) = host_vars
    one_line(invoke(t4, "provision", "--host", HOST, "-i", str(folder)), 2, f"error: {HOST}: {setting}:")
    check = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(folder), "playbooks/provision.yml", "--check",
                            "--limit", HOST], cwd=ROOT, env=env(t4), capture_output=True, text=True, timeout=600)
    assert check.returncode != 0 and f"{HOST}: {setting}:" in check.stdout, check.stdout
    assert on_device(t4, "ls /tmp | grep -c pwned; ls -d /var/lib/dsprov 2>/dev/null") == "0\n"


def test_a_build_dir_cannot_forge_probe_sections(t4, tmp_path):
    literal = "/tmp/x\\n==> df_build <==\\n/dev/forged 999999999 0 999999999 0% /"  # backslashes, no newline
    folder = inventory(t4, tmp_path / "inv", {"dsprov_build_dir": literal})
    result = invoke(t4, "detect", "--host", HOST, "-i", str(folder), "--json")
    assert result.returncode in (0, 1), result.stderr
    facts = document(result)["facts"]
    assert facts["build_dir"] == literal and facts["disk_mount"] != "/dev/forged"
    assert facts["disk_free_kib"] != 999999999


def test_a_model_that_is_not_onnx_writes_nothing(t4, tmp_path):
    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps({"categories": [{"id": 1, "name": "person"}]}))
    on_device(t4, "mkdir -p /home/ubuntu/m && printf '[property]\\n' > /home/ubuntu/m/text.onnx")
    for onnx, says in (("/home/ubuntu/m/absent.onnx", "no such file on the host"),
                       ("/home/ubuntu/m/text.onnx", "is not an ONNX model")):
        result = invoke(t4, "deepstream.config", "--host", HOST, "--kind", "dino", "--onnx", onnx, "--coco", str(coco),
                        "--out", "/home/ubuntu/m/config.txt", "-i", str(t4.inventory))
        one_line(result, 2, says)
    assert on_device(t4, "ls /home/ubuntu/m; ls -d /var/lib/dsprov 2>/dev/null") == "text.onnx\n"  # no lock taken either


def test_exit_codes_for_a_fleet_with_an_unreachable_host_and_a_wrong_password(t4, tmp_path):
    folder = inventory(t4, tmp_path / "inv")
    with (folder / "hosts.ini").open("a") as hosts:
        hosts.write("\n[ghosts]\nghost01 ansible_host=127.0.0.1 ansible_port=9 ansible_user=ubuntu\n")
    mixed = invoke(t4, "provision", "--hosts", f"{HOST},ghost01", "--dry-run", "-i", str(folder))
    assert mixed.returncode == 1 and mixed.stderr.startswith("error: ghost01: unreachable: cannot reach ubuntu@127.0.0.1:9")
    assert mixed.stderr.count("\n") == 1 and "planned" in mixed.stdout
    wrong = invoke(t4, "provision", "--host", HOST, "-i", str(folder), PROVISION_BECOME_PASSWORD="not-the-password")
    one_line(wrong, 2, f"error: {HOST}: unreachable: sudo refused the become password")
    assert on_device(t4, "ls -d /var/lib/dsprov 2>/dev/null") == ""


def test_the_sudo_password_is_in_no_log_output_state_or_process_list(t4, tmp_path):
    password = t4.become_password
    seen: list[str] = []
    done = threading.Event()

    passes: list[int] = []

    def watch() -> None:  # every process of this machine, the devices' included (their PID namespaces are below ours)
        while not done.is_set():
            # names listed, each read alone: a process that ends mid-pass is skipped (pathlib's glob
            # stats each match and raises ProcessLookupError for one that ended, killing this thread)
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if password.encode() in cmdline:
                    seen.append(cmdline.decode(errors="replace"))
            passes.append(1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        runs = [invoke(t4, "provision", "--host", HOST, "--force", "--json", "-i", str(t4.inventory)),
                subprocess.run([str(BIN / "ansible-playbook"), "-i", str(t4.inventory), "playbooks/provision.yml",
                                "--limit", HOST, "-e", "dsprov_force=true", "-v"], cwd=ROOT, env=env(t4),
                               capture_output=True, text=True, timeout=900),
                invoke(t4, "rollback", "--host", HOST, "-i", str(t4.inventory))]
    finally:
        alive = watcher.is_alive()  # it watched until the runs ended
        done.set()
        watcher.join()
    assert alive and len(passes) > 1
    assert hosts(runs[0])[0]["result"] == "ok", runs[0].stdout + runs[0].stderr
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stdout[-2000:] + r.stderr for r in runs]
    assert seen == []
    for run in runs:
        assert password not in run.stdout + run.stderr
    logs = t4.runtime_dir / "controller-cache" / "logs"
    assert list(logs.rglob("*.log")) and not [p for p in logs.rglob("*") if p.is_file() and password in p.read_text()]
    found = on_device(t4, f"grep -rl -F -- {json.dumps(password)} /var/lib/dsprov /tmp /home /var/log /root 2>/dev/null; true")
    assert found == ""


LIB = "/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8.0.1"
STATE = "/var/lib/dsprov/state.json"
OTHER = "mallory"  # a second local user on the device (issue 23: root must never act on what they control)


def as_other(handle, command: str) -> str:
    """`command` as the device's second local user (made on first use)."""
    made = f"id {OTHER} >/dev/null 2>&1 || useradd -m {OTHER}"
    return on_device(handle, f"{made}; su {OTHER} -s /bin/sh -c {json.dumps(command)} 2>&1")


def test_links_planted_at_old_staging_names_are_never_written_through(t4):
    """The swap and the state file stage in private folders (mktemp -d), so a link another user left
    at a fixed name (as older versions used) is neither written through nor in the way."""
    as_other(t4, "true")
    planted = ["/tmp/.dsprov-libnvinfer_plugin.so.8.0.1", "/tmp/.dsprov-upload-1-state.json"]
    for name in planted:
        as_other(t4, f"ln -sfn /etc/hostname {name}")
    before = on_device(t4, "sha256sum /etc/hostname")
    try:
        result = invoke(t4, "provision", "--host", HOST, "--force", "--skip-pyds", "-i", str(t4.inventory))
        assert result.returncode == 0, result.stdout + result.stderr
        assert on_device(t4, "sha256sum /etc/hostname") == before
        assert on_device(t4, f"stat -c '%U %a' /var/lib/dsprov/lock {STATE}") == "root 600\nroot 644\n"
        assert on_device(t4, "ls -d /tmp/.dsprov-up.* 2>/dev/null") == ""  # the private folders are gone
    finally:
        on_device(t4, "rm -f " + " ".join(planted))


def test_another_users_shared_lock_no_longer_blocks_a_run(t4):
    """An older version's lock file was 0644: any user's `flock -s` on it refused every run. A lock
    file that is not root's 0600 is replaced by a fresh one; the other user cannot open that."""
    on_device(t4, "chmod 0644 /var/lib/dsprov/lock")
    holder = subprocess.Popen([*t4.ssh_command(HOST), f"sudo -S -p '' su {OTHER} -s /bin/sh -c 'exec flock -s /var/lib/dsprov/lock sleep 60'"],
                              stdin=subprocess.PIPE, text=True)
    holder.stdin.write(t4.become_password + "\n")
    holder.stdin.flush()
    try:
        assert "flock -s" in on_device(t4, "sleep 2; ps -eo args | grep '^flock -s' || true")
        result = invoke(t4, "rollback", "--host", HOST, "-i", str(t4.inventory))
        assert result.returncode == 0 and "restored" in result.stdout, result.stdout + result.stderr
        assert "Permission denied" in as_other(t4, "flock -n -s /var/lib/dsprov/lock true")
    finally:
        holder.kill()


@pytest.mark.parametrize("spoil", ["chmod 600 /var/lib/dsprov/state.json", ": > /var/lib/dsprov/state.json",
                                   "echo '[1, 2]' > /var/lib/dsprov/state.json"])
def test_rollback_restores_from_the_diversion_when_the_state_file_cannot_say(t4, spoil):
    original = on_device(t4, f"sha256sum {LIB}")
    result = invoke(t4, "provision", "--host", HOST, "--skip-pyds", "-i", str(t4.inventory))
    assert result.returncode == 0, result.stdout + result.stderr
    assert on_device(t4, f"sha256sum {LIB}") != original
    on_device(t4, spoil)
    result = invoke(t4, "rollback", "--host", HOST, "-i", str(t4.inventory))
    assert result.returncode == 0 and "restored" in result.stdout, result.stdout + result.stderr
    assert on_device(t4, f"sha256sum {LIB}") == original
    assert on_device(t4, f"dpkg-divert --listpackage {LIB}; ls /var/lib/dsprov/orig") == ""
    assert on_device(t4, "readlink -f /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8") == LIB + "\n"


def test_a_diversion_without_its_saved_copy_is_refused_with_how_to_recover(t4):
    saved = "/var/lib/dsprov/orig/libnvinfer_plugin.so.8.0.1"
    on_device(t4, f"dpkg-divert --package dsprov --divert {saved} --add {LIB} >/dev/null")
    try:
        result = invoke(t4, "rollback", "--host", HOST, "-i", str(t4.inventory))
        one_line(result, 1, f"the saved original {saved} is missing", "apt-get install --reinstall")
    finally:
        on_device(t4, f"dpkg-divert --package dsprov --remove {LIB} >/dev/null")


def test_a_full_tmp_never_installs_a_short_library_or_state(t4):
    original = on_device(t4, f"sha256sum {LIB}")
    state = on_device(t4, f"cat {STATE}")
    # a small /tmp, filled: an upload's writes fail or are cut short (the simulated library is small)
    on_device(t4, "mount -t tmpfs -o size=64k,mode=1777 tmpfs /tmp && dd if=/dev/zero of=/tmp/fill bs=4k 2>/dev/null; true")
    assert "/tmp" in on_device(t4, "df -P /tmp | tail -n 1")
    try:
        result = invoke(t4, "provision", "--host", HOST, "--skip-pyds", "-i", str(t4.inventory))
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stdout + result.stderr
        assert any(why in result.stderr for why in ("incomplete", "cannot create", "No space")), result.stderr
    finally:
        on_device(t4, "umount /tmp")
    assert on_device(t4, f"sha256sum {LIB}") == original and on_device(t4, f"cat {STATE}") == state
    result = invoke(t4, "rollback", "--host", HOST, "-i", str(t4.inventory))  # whatever was recorded comes back
    assert result.returncode == 0 and on_device(t4, f"sha256sum {LIB}") == original, result.stdout + result.stderr


def test_root_never_writes_into_another_users_folder(t4, tmp_path):
    """`deepstream.config --out` into a folder of another user: the login user cannot write there,
    and root will not (the other user could swap any part of the path for a link): one line."""
    as_other(t4, "mkdir -p ~/cfg && ln -sfn /etc/passwd ~/cfg/.dsprov-tmp-config.txt"
                 " && ln -sfn /etc/passwd ~/cfg/.dsprov-new-config.txt")
    before = on_device(t4, "sha256sum /etc/passwd /etc/hostname")
    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps({"categories": [{"id": 1, "name": "person"}]}))
    onnx = yolo_like(tmp_path / "m.onnx")
    subprocess.run([*t4.ssh_command(HOST), "mkdir -p /home/ubuntu/models && cat > /home/ubuntu/models/m.onnx"],
                   input=onnx.read_bytes(), check=True)
    result = invoke(t4, "deepstream.config", "--host", HOST, "--kind", "dino", "--onnx", "/home/ubuntu/models/m.onnx",
                    "--coco", str(coco), "--out", f"/home/{OTHER}/cfg/config.txt", "-i", str(t4.inventory))
    # (deepstream.config's failure line is still wrapped by the console: the one-line form is issue 23's last part)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1 and f"/home/{OTHER}/cfg is owned by uid" in said, result.stderr
    assert on_device(t4, "sha256sum /etc/passwd /etc/hostname") == before
    assert on_device(t4, f"ls -A /home/{OTHER}/cfg") == ".dsprov-new-config.txt\n.dsprov-tmp-config.txt\n"


def test_root_never_writes_through_another_users_link(t4, tmp_path):
    """`deepstream.config --out` through a link another user owns in sticky /tmp, pointing at a
    root-owned folder (the login user cannot write there, so root would): that user can point the
    link anywhere, so root refuses with one line and writes nothing."""
    on_device(t4, "mkdir -p /srv/dsprov-victim && chmod 755 /srv/dsprov-victim")
    as_other(t4, "ln -sfn /srv/dsprov-victim /tmp/their-out")
    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps({"categories": [{"id": 1, "name": "person"}]}))
    onnx = yolo_like(tmp_path / "m.onnx")
    subprocess.run([*t4.ssh_command(HOST), "mkdir -p /home/ubuntu/models && cat > /home/ubuntu/models/m.onnx"],
                   input=onnx.read_bytes(), check=True)
    try:
        result = invoke(t4, "deepstream.config", "--host", HOST, "--kind", "dino", "--onnx",
                        "/home/ubuntu/models/m.onnx", "--coco", str(coco), "--out", "/tmp/their-out/config.txt",
                        "-i", str(t4.inventory))
        said = " ".join(result.stderr.split())
        assert result.returncode == 1 and "/tmp/their-out is a link owned by uid" in said, result.stderr
        assert on_device(t4, "ls -A /srv/dsprov-victim") == ""
    finally:
        on_device(t4, "rm -rf /tmp/their-out /srv/dsprov-victim")


def test_a_build_folder_another_user_prepared_is_refused(t4, tmp_path):
    as_other(t4, "mkdir -p /tmp/dsprov-shared && chmod 777 /tmp/dsprov-shared")
    folder = inventory(t4, tmp_path / "inv", {"dsprov_build_dir": "/tmp/dsprov-shared"})
    before = on_device(t4, f"sha256sum {LIB}; dpkg-divert --listpackage {LIB}")
    result = invoke(t4, "provision", "--host", HOST, "--force", "--skip-pyds", "-i",
                    str(folder), DSPROV_CACHE=str(tmp_path / "cold-cache"))
    one_line(result, 1, "build folder /tmp/dsprov-shared", "uid")
    assert on_device(t4, f"sha256sum {LIB}; dpkg-divert --listpackage {LIB}") == before
    assert on_device(t4, "ls -A /tmp/dsprov-shared") == ""
