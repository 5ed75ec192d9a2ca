# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start and stop a simulated fleet from a fleet file; write its Ansible inventory.

Runtime state lives in one directory (default ``~/.cache/dsprov-fleet/<fleet>/``): the client
key, the sudo password, the inventory, known_hosts and one folder per device. ``fleet_down``
needs nothing but that directory, so it also cleans up after a crashed run.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from provision.errors import ProvisionError
from simfleet import roots
from simfleet.device import BEHIND_DOMAIN, Device, kill_all, processes_of
from simfleet.layers import LayerRecipe, build_layer
from simfleet.profiles import load_profile

DEFAULT_FLEET = Path(__file__).parent / "fleets" / "demo.yml"
MIRROR_PID_FILE = "mirror.pid"  # the fleet's mirror server (simfleet/mirror.py), stopped with the fleet
FAMILIES = ("nano", "tx2", "xavier", "orin", "thor", "x86")
SSH_OPTIONS = "-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts} -o LogLevel=ERROR"
# For the devices behind a jump device: ssh(1) gives a -J hop none of its -o options, only -F's file.
SSH_CONFIG = """\
# Written by fleet up: ssh settings for the devices behind a jump device and for the jump device
# (the inventory passes this file with -F in ansible_ssh_common_args).
Host *
    StrictHostKeyChecking yes
    UserKnownHostsFile {known_hosts}
    IdentityFile {key}
    LogLevel ERROR
"""


@dataclass
class FleetHandle:
    """A running fleet: where its files are and how to reach each device."""

    name: str
    runtime_dir: Path
    devices: list[Device]
    start_seconds: float = 0.0
    procs: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    @property
    def inventory(self) -> Path:
        return self.runtime_dir / "inventory.ini"

    @property
    def key(self) -> Path:
        return self.runtime_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.runtime_dir / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.runtime_dir / "ssh_config"

    @property
    def become_password(self) -> str:
        """The sudo password of every device's user (pass it on as PROVISION_BECOME_PASSWORD)."""
        return (self.runtime_dir / "become_password").read_text().strip()

    def inventory_with(self, folder: Path, host: str, host_vars: str) -> Path:
        """A copy of the fleet's inventory (with its mirror settings) in `folder`, plus host vars
        (YAML or JSON text) for `host`."""
        folder.mkdir()
        shutil.copy(self.inventory, folder / "hosts.ini")
        shutil.copytree(self.inventory.parent / "group_vars", folder / "group_vars")
        (folder / "host_vars").mkdir()
        (folder / "host_vars" / f"{host}.yml").write_text(host_vars)
        return folder

    def device(self, name: str) -> Device:
        return next(d for d in self.devices if d.name == name)

    def jump(self, dev: Device) -> str:
        """ProxyJump for a device behind a jump device: user@127.0.0.1:port of the jump device."""
        jump = self.device(dev.via)
        return f"{jump.profile.user}@127.0.0.1:{jump.port}"

    def ssh_args(self, dev: Device) -> str:
        """The inventory's ansible_ssh_common_args for a device."""
        if dev.via:
            return f"-F {self.ssh_config} -J {self.jump(dev)}"
        return SSH_OPTIONS.format(known_hosts=self.known_hosts)

    def ssh_command(self, name: str) -> list[str]:
        """argv prefix for a real ssh into device ``name`` (append the remote command), through its
        jump device if it has one."""
        dev = self.device(name)
        return ["ssh", "-i", str(self.key), "-p", str(dev.port), *self.ssh_args(dev).split(),
                "-o", "BatchMode=yes", f"{dev.profile.user}@{dev.address}"]

    def pids(self) -> list[int]:
        """Host PIDs of all the fleet's processes."""
        return processes_of(self.runtime_dir)

    def down(self) -> None:
        fleet_down(self.runtime_dir)


def default_runtime_dir(name: str) -> Path:
    if name == "roots" or name == "trt" or "/" in name:
        raise ProvisionError(f"invalid fleet name {name!r}")
    return roots.CACHE_DIR / name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_inventory(handle: FleetHandle) -> None:
    """The inventory (jump devices are left out: they are no fleet hosts), known_hosts (each device
    under the name the inventory reaches it by) and the ssh config of devices behind a jump device."""
    groups: dict[str, list[str]] = {f: [] for f in FAMILIES}
    for dev in handle.devices:
        if dev.jump_for:
            continue
        groups.setdefault(dev.family, []).append(
            f"{dev.name} ansible_host={dev.address} ansible_port={dev.port} "
            f"ansible_user={dev.profile.user} ansible_ssh_private_key_file={handle.key} "
            f"ansible_ssh_common_args='{handle.ssh_args(dev)}'")
    text = f"# Simulated fleet {handle.name!r}, written by fleet up; sudo password: " \
           f"{handle.runtime_dir / 'become_password'} (PROVISION_BECOME_PASSWORD)\n"
    for group, hosts in groups.items():
        if hosts:
            text += f"\n[{group}]\n" + "\n".join(hosts) + "\n"
    text += "\n[jetson:children]\n" + "\n".join(
        g for g in ("nano", "tx2", "xavier", "orin", "thor") if groups.get(g)) + "\n"
    handle.inventory.write_text(text)
    handle.known_hosts.write_text("".join(
        f"[{d.address}]:{d.port} {d.host_key()}\n" for d in handle.devices))
    if any(d.via for d in handle.devices):
        handle.ssh_config.write_text(SSH_CONFIG.format(known_hosts=handle.known_hosts, key=handle.key))


def fleet_up(fleet_file: Path = DEFAULT_FLEET, runtime_dir: Path | None = None) -> FleetHandle:
    """Start every device of ``fleet_file`` (YAML: name, devices: [{name, profile, port?,
    python3?, via?}]); ``python3: true`` stacks Debian's python3 layer (simfleet/layers.py) on that
    device; ``via: NAME`` puts the device behind the jump device NAME (profile ``bastion``): the
    inventory names it by a name only NAME resolves and reaches it with ProxyJump.

    A fleet already running in ``runtime_dir`` is stopped first. On failure everything started
    is stopped again before the error propagates.
    """
    started = time.monotonic()
    spec = yaml.safe_load(Path(fleet_file).read_text())
    name = spec["name"]
    runtime_dir = Path(runtime_dir or default_runtime_dir(name)).resolve()
    fleet_down(runtime_dir)
    runtime_dir.mkdir(parents=True, mode=0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"dsprov-fleet-{name}",
                    "-f", str(runtime_dir / "id_ed25519")], check=True)
    (runtime_dir / "become_password").write_text(secrets.token_urlsafe(12) + "\n")
    (runtime_dir / "become_password").chmod(0o600)
    profiles = {d["profile"]: load_profile(d["profile"]) for d in spec["devices"]}
    arches = sorted({p.arch for p in profiles.values()})
    with ThreadPoolExecutor(max_workers=2) as pool:
        lowers = dict(zip(arches, pool.map(lambda a: roots.build_root(roots.Recipe(a)), arches)))
    python3 = {arch: build_layer(LayerRecipe(lowers[arch].name, arch), lowers[arch])
               for arch in sorted({profiles[d["profile"]].arch for d in spec["devices"] if d.get("python3")})}
    jumps = {d["via"] for d in spec["devices"] if d.get("via")}
    names = {d["name"] for d in spec["devices"]}
    if jumps - names or any(d.get("via") for d in spec["devices"] if d["name"] in jumps):
        raise ProvisionError(f"{fleet_file}: `via:` must name a device of the fleet that has no `via:` itself")
    devices = [Device(name=d["name"], profile=profiles[d["profile"]],
                      port=int(d.get("port") or _free_port()),
                      dir=runtime_dir / "devices" / d["name"],
                      lower=lowers[profiles[d["profile"]].arch],
                      layers=(python3[profiles[d["profile"]].arch],) if d.get("python3") else (),
                      via=d.get("via"),
                      jump_for=tuple(f"{b['name']}.{BEHIND_DOMAIN}" for b in spec["devices"] if b.get("via") == d["name"]))
               for d in spec["devices"]]
    (runtime_dir / "fleet.json").write_text(json.dumps(
        {"name": name, "fleet_file": str(fleet_file),
         "devices": [{"name": d.name, "profile": d.profile.name, "port": d.port,
                      "python3": bool(d.layers), "via": d.via}
                     for d in devices]}, indent=1))
    handle = FleetHandle(name, runtime_dir, devices)
    try:
        with ThreadPoolExecutor(max_workers=len(devices)) as pool:
            list(pool.map(lambda d: d.prepare(roots.CACHE_DIR), devices))
            for dev in devices:
                handle.procs[dev.name] = dev.start()
            list(pool.map(lambda d: d.wait_ready(handle.procs[d.name]), devices))
        _write_inventory(handle)
    except BaseException:
        fleet_down(runtime_dir)
        raise
    handle.start_seconds = round(time.monotonic() - started, 2)
    return handle


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path) + "/"
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(prefix)]


def _mirror(runtime_dir: Path) -> list[int]:
    """The PID of the fleet's mirror server, if it still runs: the one its pid file names, when that
    process serves a folder of this runtime dir (a PID the system reused for another is left alone)."""
    try:
        pid = int((runtime_dir / MIRROR_PID_FILE).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return []
    return [pid] if any(arg.startswith(f"{runtime_dir}/".encode()) for arg in cmdline) else []


def fleet_down(name_or_runtime_dir: str | Path) -> None:
    """Stop a fleet given its name or runtime dir: kill its processes and its mirror server (which
    takes its mounts and namespaces with them), unmount anything left on the host, remove the
    runtime dir."""
    target = Path(name_or_runtime_dir)
    runtime_dir = (target if target.is_absolute() or target.exists()
                   else default_runtime_dir(str(name_or_runtime_dir))).resolve()
    kill_all(processes_of(runtime_dir) + _mirror(runtime_dir))
    for point in sorted(_mounts_under(runtime_dir), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
    if processes_of(runtime_dir) or _mounts_under(runtime_dir):
        raise ProvisionError(f"could not stop everything of the fleet in {runtime_dir}")
    if runtime_dir.is_dir() and any(runtime_dir.iterdir()) and not (
            (runtime_dir / "id_ed25519").exists() or (runtime_dir / "devices").exists()):
        raise ProvisionError(f"{runtime_dir} is not a fleet runtime dir; not removing it")
    shutil.rmtree(runtime_dir, ignore_errors=True)
