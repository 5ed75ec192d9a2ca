# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""One simulated device: an overlay over a base root, run in its own mount, PID and UTS
namespaces, with the root's own sshd (under qemu for arm64) on a loopback port.

Mounts live only in the device's private mount namespace and every process in its PID
namespace dies with its init (sshd), so stopping a device is killing its ``unshare`` process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from provision.errors import ProvisionError
from simfleet.layers import Layer
from simfleet.profiles import DEBS_DIR, Profile, lay_down, meminfo_text

SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
PrintLastLog no
UseDNS no
AcceptEnv LANG LC_*
MaxStartups 64:30:128
MaxSessions 64
Subsystem sftp internal-sftp
"""
# A jump device's sshd logs each login with the fingerprint of its key.
JUMP_SSHD_CONFIG = "LogLevel VERBOSE\n"
BEHIND_DOMAIN = "invalid"  # RFC 6761: never resolves, except in a jump device's /etc/hosts

# Runs on the host inside the new namespaces (sh -s), then becomes the device's sshd.
BOOT_SCRIPT = r"""
set -eu
M=$DEV_DIR/merged
mount -t overlay overlay -o "lowerdir=$DEV_LOWER,upperdir=$DEV_DIR/upper,workdir=$DEV_DIR/work" "$M"
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
mount --bind "$DEV_DIR/meminfo" "$M/proc/meminfo"
mount -t tmpfs -o mode=755,nosuid dev "$M/dev"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r node major minor <<EOF_NODE
$n
EOF_NODE
    mknod -m 666 "$M/dev/$node" c "$major" "$minor"
done
mkdir -m 755 "$M/dev/pts"; mkdir -m 1777 "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"; ln -s /proc/self/fd "$M/dev/fd"
ln -s /proc/self/fd/0 "$M/dev/stdin"; ln -s /proc/self/fd/1 "$M/dev/stdout"
ln -s /proc/self/fd/2 "$M/dev/stderr"
mount -t tmpfs -o mode=755,nosuid,nodev run "$M/run"
mkdir -m 755 "$M/run/sshd"; mkdir -m 1777 "$M/run/lock"
hostname "$DEV_NAME"
for bind in $DEV_BINDS; do  # DEVICE_PATH=HOST_PATH, read-only
    mkdir -p "$M${bind%%=*}"
    mount --bind "${bind#*=}" "$M${bind%%=*}"
    mount -o remount,bind,ro "$M${bind%%=*}"
done
if [ -n "$DEV_DEBS" ] && [ ! -e "$DEV_DIR/debs-installed" ]; then
    chroot "$M" /bin/sh -c "dpkg -i $DEV_DEBS/*.deb" > "$DEV_DIR/dpkg.log" 2>&1
    : > "$DEV_DIR/debs-installed"
fi
if [ ! -e "$DEV_DIR/user-ready" ]; then
    chroot "$M" /usr/sbin/useradd -m -s /bin/bash -G sudo "$DEV_USER"
    printf '%s:%s\n' "$DEV_USER" "$(cat "$DEV_DIR/../../become_password")" \
        | chroot "$M" /usr/sbin/chpasswd
    h=$M/home/$DEV_USER
    mkdir -m 700 "$h/.ssh"
    cp "$DEV_DIR/../../id_ed25519.pub" "$h/.ssh/authorized_keys"
    chroot "$M" /bin/chown -R "$DEV_USER:$DEV_USER" "/home/$DEV_USER/.ssh"
    : > "$DEV_DIR/user-ready"
fi
if [ -z "$DEV_REBOOT" ]; then
    echo ready
    exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$M" /usr/sbin/sshd -D -e \
        -f /etc/ssh/sshd_config_fleet
fi
# A device that reboots (profile `reboot: true`): this shell stays PID 1 of the device. Its boot id,
# what the kernel's /proc/sys/kernel/random/boot_id says, is a file of its own bound over that one.
# The reboot stand-in (profiles/standins/reboot.sh) marks /run/dsprov-reboot and stops sshd: then
# every process of the device ends, /run is emptied, the boot id changes and sshd starts again.
cat /proc/sys/kernel/random/uuid > "$DEV_DIR/boot_id"
mount --bind "$DEV_DIR/boot_id" "$M/proc/sys/kernel/random/boot_id"
echo ready
while :; do
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$M" /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config_fleet &
    echo $! > "$M/run/dsprov-sshd.pid"
    wait $! || true
    [ -e "$M/run/dsprov-reboot" ] || exit 0
    kill -KILL -1 2>/dev/null || true
    sleep 1
    find "$M/run" -mindepth 1 -delete
    mkdir -m 755 "$M/run/sshd"; mkdir -m 1777 "$M/run/lock"
    cat /proc/sys/kernel/random/uuid > "$DEV_DIR/boot_id"  # the same file: the bind mount shows it
    echo "rebooted: $(cat "$DEV_DIR/boot_id")"
done
"""


@dataclass
class Device:
    """A device of a fleet, as recorded in the fleet's runtime dir."""

    name: str
    profile: Profile
    port: int
    dir: Path  # <runtime>/devices/<name>
    lower: Path  # base root
    layers: tuple[Layer, ...] = ()  # extra cached layers over the base root (e.g. python3)
    via: str | None = None  # the jump device this one is reached through
    jump_for: tuple[str, ...] = ()  # names that only this (jump) device resolves, to 127.0.0.1

    @property
    def address(self) -> str:
        """How the inventory names the device: a name only its jump device resolves, or 127.0.0.1."""
        return f"{self.name}.{BEHIND_DOMAIN}" if self.via else "127.0.0.1"

    @property
    def family(self) -> str:
        return self.profile.family

    def prepare(self, cache_dir: Path) -> None:
        """Create the overlay dirs and write the profile, host key and sshd config into upper."""
        for sub in ("upper", "work", "merged"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        upper = self.dir / "upper"
        lay_down(self.profile, upper, self.lower, cache_dir)
        if self.layers:  # dpkg knows what the layers hold
            with (upper / "var/lib/dpkg/status").open("a") as status:
                for layer in self.layers:
                    status.write(layer.status.read_text())
        (self.dir / "meminfo").write_text(meminfo_text(self.profile))
        ssh = upper / "etc/ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        (ssh / "sshd_config_fleet").write_text(SSHD_CONFIG.format(port=self.port)
                                               + (JUMP_SSHD_CONFIG if self.jump_for else ""))
        (upper / "etc/hostname").write_text(self.name + "\n")
        (upper / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{self.name}\n"
                                        "::1\tip6-localhost ip6-loopback\n"
                                        + "".join(f"127.0.0.1\t{name}\n" for name in self.jump_for))
        key = ssh / "ssh_host_ed25519_key"
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            f"root@{self.name}", "-f", str(key)], check=True)

    def host_key(self) -> str:
        """The public host key as ``type base64``."""
        pub = (self.dir / "upper/etc/ssh/ssh_host_ed25519_key.pub").read_text()
        return " ".join(pub.split()[:2])

    def start(self) -> subprocess.Popen:
        """Boot the device's namespaces and sshd; returns the ``unshare`` process."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEV_DIR": str(self.dir),
               "DEV_LOWER": ":".join([*(str(layer.root) for layer in self.layers), str(self.lower)]),
               "DEV_NAME": self.name,
               "DEV_BINDS": " ".join(f"{dev}={here}" for dev, here in self.profile.binds.items()),
               "DEV_DEBS": DEBS_DIR if self.profile.tensorrt_debs else "",
               "DEV_USER": self.profile.user, "DEV_REBOOT": "1" if self.profile.reboot else ""}
        log = open(self.dir / "sshd.log", "ab")
        proc = subprocess.Popen(
            ["unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child",
             "--propagation", "private", "--", "sh", "-c", BOOT_SCRIPT, f"dsprov-device:{self.dir}"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        (self.dir / "pid").write_text(f"{proc.pid}\n")
        return proc

    def wait_ready(self, proc: subprocess.Popen, timeout: float = 120.0) -> None:
        """Wait until sshd answers with its banner on the device's port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (self.dir / "sshd.log").read_text(errors="replace")[-2000:]
                raise ProvisionError(f"device {self.name} failed to start:\n{tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.settimeout(5)
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.2)
        raise ProvisionError(f"device {self.name}: no sshd on port {self.port} after {timeout}s")


def processes_of(runtime_dir: Path) -> list[int]:
    """Host PIDs of every process that belongs to a fleet's devices (found from /proc alone):
    the ``unshare`` and boot processes name their device dir in their argv, and every other
    process shares a PID namespace with one of those."""
    marker = f"dsprov-device:{runtime_dir.resolve()}/devices/".encode()
    owners, namespaces = [], set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                owners.append(int(entry.name))
                for child in (entry / "task" / entry.name / "children").read_text().split():
                    namespaces.add(os.readlink(f"/proc/{child}/ns/pid"))
        except OSError:
            continue
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "pid") in namespaces:
                    members.append(int(entry.name))
            except OSError:
                continue
    return sorted(set(owners) | set(members))


def kill_all(pids: list[int], timeout: float = 10.0) -> None:
    """SIGKILL the given processes and wait for them to go (reaping our own children)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                except OSError:
                    break
                if stat.rsplit(")", 1)[1].split()[0] == "Z":  # another's zombie: as good as gone
                    break
            time.sleep(0.05)
