# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Device profiles: YAML data under ``profiles/`` that says which files a device has.

A profile lays its files into a device's overlay upper layer. Text comes either inline
(``text:``), from a published real-device output under ``simfleet/published/``
(``published:``, with authored lines after it as ``append:``) or from a file beside the profiles
(``file:``). Stand-ins exist only for what needs a GPU or a Jetson's hardware (nvcc/deviceQuery,
nvidia-smi, trtexec, nvpmodel, jetson_clocks); they print recorded outputs.

``binds`` mounts folders of this machine read-only into the device (``x86-real``: the real CUDA
toolkit at /usr/local/cuda); ``tensorrt_debs`` puts the stub TensorRT .deb files of
``upstreams/trt_debs.py`` into the device, which installs them with ``dpkg -i`` at first boot.
``reboot: true`` makes a device that reboots when its reboot stand-in runs (device.py).
``deepstream: {sample_app: true}`` adds NVIDIA's four-model deepstream-app sample
(``deepstream_app.py``) to the DeepStream install.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from provision.errors import ProvisionError
from simfleet.deepstream_app import sample_files
from simfleet.upstreams import trt_debs, trtlibs

PROFILE_DIR = Path(__file__).parent / "profiles"
PUBLISHED_DIR = Path(__file__).parent / "published"
DEBS_DIR = "/var/cache/dsprov-debs"  # on the device
TRTEXEC_RUNS = "/var/log/trtexec-standin.log"  # on the device: the trtexec stand-in's builds and loads
TRIPLETS = {"arm64": "aarch64-linux-gnu", "amd64": "x86_64-linux-gnu"}


@dataclass
class Profile:
    """One device kind: architecture, login user, facts and the files that carry them."""

    name: str
    family: str
    arch: str
    user: str
    cpus: int
    meminfo: dict[str, int]
    files: dict[str, dict]
    links: dict[str, str] = field(default_factory=dict)
    dpkg: list[list[str]] = field(default_factory=list)
    device_tree: dict | None = None
    tensorrt: dict | None = None
    deepstream: dict | None = None
    standins: dict[str, dict] = field(default_factory=dict)
    binds: dict[str, str] = field(default_factory=dict)  # device path -> folder here, read-only
    tensorrt_debs: str | None = None  # "10.16.0.72", "11.1.0.106": the stub packages of trt_debs.py
    reboot: bool = False  # the device reboots (simfleet/device.py: sshd restarts, a new boot id)

    @property
    def triplet(self) -> str:
        return TRIPLETS[self.arch]


def load_profile(name: str) -> Profile:
    """Read ``profiles/<name>.yml``."""
    path = PROFILE_DIR / f"{name}.yml"
    if not path.exists():
        known = sorted(p.stem for p in PROFILE_DIR.glob("*.yml"))
        raise ProvisionError(f"no device profile {name!r}; known: {', '.join(known)}")
    data = yaml.safe_load(path.read_text())
    return Profile(name=name, **data)


def content(spec: dict) -> str:
    """The text a file spec stands for."""
    if "text" in spec:
        return spec["text"]
    if "published" in spec:
        src = PUBLISHED_DIR / spec["published"]
    elif "file" in spec:
        src = PROFILE_DIR / "files" / spec["file"]
    else:
        raise ProvisionError(f"file spec needs text, published or file: {spec}")
    if not src.exists():
        raise ProvisionError(f"recorded output missing: {src}")
    return src.read_text() + spec.get("append", "")  # append: authored lines after a published text


def _write(upper: Path, dev_path: str, data: str | bytes, mode: int = 0o644) -> Path:
    dest = upper / dev_path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    dest.write_bytes(data)
    dest.chmod(mode)
    return dest


def _link(upper: Path, dev_path: str, target: str) -> None:
    dest = upper / dev_path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    os.symlink(target, dest)


def meminfo_text(profile: Profile) -> str:
    """A /proc/meminfo in the kernel's layout holding the profile's memory figures."""
    return "".join(f"{key + ':':<16}{value:>8} kB\n" for key, value in profile.meminfo.items())


def cpu_online(profile: Profile) -> str:
    return f"0-{profile.cpus - 1}\n" if profile.cpus > 1 else "0\n"


def _dpkg_stanza(name: str, version: str, arch: str, section: str = "libs") -> str:
    return (f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"Section: {section}\nInstalled-Size: 1\nMaintainer: NVIDIA Corporation\n"
            f"Architecture: {arch}\nVersion: {version}\n"
            f"Description: {name} (simulated fleet: status entry only)\n\n")


def _standin(name: str, spec: dict) -> str:
    """A stand-in script from ``profiles/standins/<name>.sh`` with recorded outputs filled in."""
    script = (PROFILE_DIR / "standins" / f"{name}.sh").read_text()
    wanted = set(re.findall(r"@([A-Z_]+)@", script))
    given = {key.upper(): value for key, value in spec.items()}
    if wanted - given.keys():
        raise ProvisionError(f"stand-in {name} needs {sorted(wanted - given.keys())}")
    return re.sub(r"@([A-Z_]+)@", lambda m: _text(given[m.group(1)]).rstrip("\n"), script)


def _text(value: str | int | dict) -> str:
    return content(value) if isinstance(value, dict) else str(value)


def lay_down(profile: Profile, upper: Path, lower: Path, cache_dir: Path) -> None:
    """Write everything the profile puts on a device into its overlay ``upper`` dir."""
    for dev_path, spec in profile.files.items():
        _write(upper, dev_path, content(spec), int(str(spec.get("mode", "644")), 8))
    _write(upper, "/sys/devices/system/cpu/online", cpu_online(profile))
    if profile.device_tree:
        base = "/sys/firmware/devicetree/base"
        _write(upper, f"{base}/model", profile.device_tree["model"] + "\0")
        _write(upper, f"{base}/compatible",
               "".join(c + "\0" for c in profile.device_tree["compatible"]))
    status = (lower / "var/lib/dpkg/status").read_text()
    extra = "".join(_dpkg_stanza(n, v, a if a != "native" else profile.arch)
                    for n, v, a in (row + ["native"] if len(row) == 2 else row
                                    for row in profile.dpkg))
    _write(upper, "/var/lib/dpkg/status", status.rstrip("\n") + "\n\n" + extra)
    if profile.tensorrt:
        _lay_down_tensorrt(profile, upper, cache_dir)
    if profile.tensorrt_debs:
        _lay_down_debs(profile, upper, cache_dir)
    if profile.deepstream:
        ds = profile.deepstream
        _write(upper, f"/opt/nvidia/deepstream/{ds['dir']}/version", content(ds["version_file"]))
        _link(upper, "/opt/nvidia/deepstream/deepstream", ds["dir"])
        if ds.get("sample_app"):  # NVIDIA's four-model deepstream-app sample (simfleet/deepstream_app.py)
            for path, data in sample_files().items():
                _write(upper, f"/opt/nvidia/deepstream/{ds['dir']}/{path}", data)
    for dev_path, target in profile.links.items():
        _link(upper, dev_path, target)
    for name, spec in profile.standins.items():
        subs = {k: v for k, v in spec.items() if k != "at"}
        _write(upper, spec["at"], _standin(name, subs), 0o755)
        if name == "trtexec":  # the runs it records, appended to by whichever user runs it
            _write(upper, TRTEXEC_RUNS, "", 0o666)


def _lay_down_tensorrt(profile: Profile, upper: Path, cache_dir: Path) -> None:
    """Stand-in libnvinfer/libnvinfer_plugin (+ links, NvInferVersion.h) from the fixture
    upstreams' builder, compiled once per (arch, version, C source) and copied into ``upper``."""
    version = profile.tensorrt["version"]
    built = cache_dir / "trt" / f"{profile.arch}-{version}-{trtlibs.source_digest()[:12]}"
    built.parent.mkdir(parents=True, exist_ok=True)
    if not (built / ".complete").exists():
        tmp = Path(tempfile.mkdtemp(dir=cache_dir / "trt", prefix=".tmp-"))
        trtlibs.build_trt_libs(profile.arch, version, tmp)
        (tmp / ".complete").write_text(version + "\n")
        try:
            tmp.rename(built)
        except OSError:  # built concurrently by another device of the same profile
            shutil.rmtree(tmp)
    shutil.copytree(built / "usr", upper / "usr", symlinks=True, dirs_exist_ok=True)


def _lay_down_debs(profile: Profile, upper: Path, cache_dir: Path) -> None:
    """The stub TensorRT .deb files (built once per bundle and sources) into ``DEBS_DIR``."""
    tree = trt_debs.TREES.get(profile.tensorrt_debs)
    if tree is None:
        raise ProvisionError(f"profile {profile.name}: no stub packages for TensorRT {profile.tensorrt_debs}")
    bundle = tree.bundle_path()
    if not bundle.is_file():
        raise ProvisionError(f"profile {profile.name} needs the TensorRT {tree.ref} bundle: none at {bundle}"
                             f" (set {tree.env})")
    built = cache_dir / "trt-debs" / f"{profile.arch}-{trt_debs.recipe_digest(tree, bundle)[:12]}"
    built.parent.mkdir(parents=True, exist_ok=True)
    if not (built / ".complete").exists():
        tmp = Path(tempfile.mkdtemp(dir=built.parent, prefix=".tmp-"))
        trt_debs.build_debs(tree, bundle, tmp, profile.arch)
        (tmp / ".complete").write_text(tree.deb_version + "\n")
        try:
            tmp.rename(built)
        except OSError:  # built concurrently by another device of the same profile
            shutil.rmtree(tmp)
    dest = upper / DEBS_DIR.lstrip("/")
    dest.mkdir(parents=True, exist_ok=True)
    for deb in built.glob("*.deb"):
        shutil.copyfile(deb, dest / deb.name)
