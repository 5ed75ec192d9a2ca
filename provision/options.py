# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every option in one place: a run's flags and a host's `dsprov_*` settings, each with its name,
type, help, default and check.

`Flags` are what one run asks for: invoke's `--flags` (provision/tasks.py), the Ansible actions'
arguments (`argument_spec`, provision/ansible_plugins.py) and, through the playbooks,
`-e dsprov_<flag>`. `Settings` are a host's inventory vars `dsprov_<name>`. Both are frozen
dataclasses whose fields carry their help and check (provision/validators.py); `Flags.parse` and
`check_settings` run the checks, so a bad value ends the run before any host is touched.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from provision import validators as checks
from provision.cross.choice import BUILD_ON
from provision.deepstream.model_config import ModelSetup
from provision.matrix import CmakeArchive, PrebuiltInfo
from provision.validators import BadSetting

Check = Callable[[str, Any], Any]
PLUGIN_SOURCES = ("auto", "prebuilt", "build")
PARSERS = ("cpu", "cuda")  # provision/deepstream/model_config.py's bbox parser choices
DEFAULT_TRT_OSS_REPO = "https://github.com/NVIDIA/TensorRT.git"
DEFAULT_PYDS_REPO = "https://github.com/NVIDIA-AI-IOT/deepstream_python_apps.git"
# Where a host builds unless dsprov_build_dir says: in the login user's home there (the probe
# expands `~`), never a shared folder such as /tmp that another local user could prepare.
DEFAULT_BUILD_DIR = "~/.cache/dsprov"
DEFAULT_STALL_TIMEOUT = 300  # seconds a clone, upload or download may stay under 1000 bytes/s
# Hosts worked on at once. Ansible's `forks` defaults to 5 processes ("very conservative",
# https://docs.ansible.com/ansible/latest/reference_appendices/config.html#default-forks); a dsprov
# host is a thread that mostly waits on its SSH connection, so the default is higher.
DEFAULT_FORKS = 20
DEFAULT_LOCK_LEASE = 120  # seconds the Ansible runner's host lock outlives a controller that died


def option(help: str, check: Check, default: Any = None, choices: tuple[str, ...] = ()) -> Any:
    """A dataclass field that is an option: its default, help, check and (for a word) its choices."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check, "choices": choices})


def _parse(field: dataclasses.Field, label: str, value: Any) -> Any:
    """A given value, checked (one-line BadSetting naming `label`)."""
    value = field.metadata["check"](label, value)
    choices = field.metadata["choices"]
    if choices and value not in choices:
        raise BadSetting(f"{label}: {value!r} is not one of {', '.join(choices)}")
    return value


def _gpu_archs(name: str, value: Any) -> str:
    """SM numbers, each the compute capability of a GPU in matrix/devices.yml."""
    from provision.gpu.archs import parse_override
    from provision.matrix import Matrix

    value = checks.text(name, value)
    parse_override(value, Matrix.load().known_sms())
    return value


def _pyds_ref(name: str, value: Any) -> str:
    """A deepstream_python_apps release tag (v1.1.1)."""
    value = checks.ref(name, value)
    try:
        Version(value.lstrip("v"))
    except InvalidVersion:
        raise BadSetting(f"{name}: {value!r} is not a deepstream_python_apps release tag (e.g. v1.1.1)") from None
    return value


def _deepstream(name: str, value: Any) -> str:
    """A DeepStream release the matrix has a package set for (matrix/nvidia_stack.yml)."""
    from provision.matrix import Matrix

    value = checks.text(name, value)
    nvidia = Matrix.load().nvidia
    known = sorted({str(s.deepstream) for s in nvidia.stacks} | {str(s.deepstream) for s in nvidia.jetson}, key=Version)
    if value not in known:
        raise BadSetting(f"{name}: DeepStream {value!r} has no package set in the matrix (known: {', '.join(known)})")
    return value


def _apt_repository(name: str, value: Any) -> str:
    """An apt repository's http(s) URL (a folder)."""
    from urllib.parse import urlsplit

    value = checks.no_option(name, value)
    if urlsplit(value).scheme.lower() not in ("http", "https") or any(c.isspace() for c in value):
        raise BadSetting(f"{name}: {value!r} is not an http(s) URL")
    return value


def _deepstream_debs(name: str, value: Any) -> dict:
    """{DeepStream release: URL of its .deb} (a mirror's)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise BadSetting(f"{name}: must map a DeepStream release to its .deb's URL")
    return {k: checks.url(f"{name}.{k}", v) for k, v in value.items()}


def _wheel(name: str, value: Any) -> str:
    """A pyds wheel file on the controller, as an absolute path (its tags are checked per host)."""
    value = checks.no_option(name, value)
    path = Path(value)
    if not path.is_file():
        raise BadSetting(f"{name}: {value} is not a file")
    try:
        project = parse_wheel_filename(path.name)[0]
    except InvalidWheelFilename as exc:
        raise BadSetting(f"{name}: {exc}") from None
    if project != "pyds":
        raise BadSetting(f"{name}: {path.name} is a {project} wheel, not pyds")
    return str(path.resolve())


@dataclass(frozen=True)
class Flags:
    """What one run asks for (invoke's flags, the Ansible actions' arguments)."""

    gpu_archs: str | None = option("override GPU_ARCHS (e.g. 53 or '75 86')", _gpu_archs)
    trt_oss_ref: str | None = option("override the TensorRT OSS branch/tag from the matrix", checks.ref)
    force: bool = option(
        "build even where the guides say the OSS build is not needed; replace a plugin library that is"
        " neither the original nor dsprov's build (kept for rollback); allow --gpu-archs the GPU cannot run",
        checks.boolean, False)
    cmake_from_source: bool = option(
        "build cmake from its source release on the host instead of pushing a binary archive", checks.boolean, False)
    skip_pyds: bool = option("leave the DeepStream Python bindings out (see `invoke pyds`)", checks.boolean, False)
    skip_engines: bool = option("do not rebuild stale TensorRT engines after the swap", checks.boolean, False)
    skip_models: bool = option(
        "do not write the dsprov_models nvinfer configs (nor build their parser library)", checks.boolean, False)
    plugin_source: str = option(
        "auto (default: NVIDIA's prebuilt library where the guide is binary-only), prebuilt or build",
        checks.word, "auto", PLUGIN_SOURCES)
    build_on: str = option(
        "where the plugin is built: auto (the controller for JetPack >= 7 when its cross toolchain works,"
        " else the host), controller or host", checks.build_on, "auto", BUILD_ON)
    max_clocks: bool = option(
        "Jetson: set the maximum power mode (nvpmodel, MAXN from /etc/nvpmodel.conf) and pin the clocks"
        " (jetson_clocks), also at every boot; rollback restores both", checks.boolean, False)
    deepstream: str | None = option(
        "install this DeepStream release's NVIDIA stack first (x86: driver, CUDA, cuDNN, TensorRT pinned and held,"
        " DeepStream; matrix/nvidia_stack.yml)", _deepstream)
    reboot: bool = option("--deepstream: reboot the host after a new driver and wait for it, then go on",
                          checks.boolean, False)
    replace_stack: bool = option(
        "--deepstream: remove another DeepStream or TensorRT found on the host (the plan lists them)",
        checks.boolean, False)
    pyds_ref: str | None = option("deepstream_python_apps tag over the matrix's (e.g. v1.1.1)", _pyds_ref)
    wheel: str | None = option(
        "install this pyds wheel file (checked against the host's tags) instead of building", _wheel)
    pyds_only: bool = option("nothing but the pyds steps (the `pyds` task)", checks.boolean, False)
    forks: int = option(
        f"how many hosts are worked on at once, like Ansible's forks (default {DEFAULT_FORKS}; a playbook run"
        " takes Ansible's own -f/forks, which dsprov_forks can only lower)", checks.FORKS, DEFAULT_FORKS)
    streams: int | None = option(
        "number of streams (cameras): the config's batch-size and the engine's batch (`_b<N>_`)", checks.batch_size)
    verbose: bool = option(
        "besides the line per host, print each host's facts, verdicts and steps (Ansible: in the task's output)",
        checks.boolean, False)
    parser: str | None = option(
        "where the YOLO bbox parser runs: cpu or cuda (default: the model project's own config's)",
        checks.word, None, PARSERS)

    @classmethod
    def parse(cls, given: Mapping[str, Any]) -> Flags:
        """Flags from invoke's options or an Ansible action's arguments: each given value checked
        (an empty one keeps the default); a bad value is a one-line BadSetting naming the flag."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for name, value in given.items():
            if value is None or value == "" or value is False:
                continue
            values[name] = _parse(fields[name], "--" + name.replace("_", "-"), value)
        return cls(**values)


# The flags each entry point offers (FLEET_FLAGS: invoke's own; in a playbook Ansible runs the hosts)
PROVISION_FLAGS = ("gpu_archs", "trt_oss_ref", "force", "cmake_from_source", "skip_engines", "skip_models",
                   "skip_pyds", "plugin_source", "build_on", "max_clocks", "deepstream", "reboot", "replace_stack",
                   "verbose")
PYDS_FLAGS = ("pyds_ref", "wheel", "verbose")
FLEET_FLAGS = ("forks",)
DETECT_FLAGS = ("gpu_archs",)
MODEL_FLAGS = ("streams", "parser")


def flag_fields(names: tuple[str, ...]) -> list[dataclasses.Field]:
    fields = {f.name: f for f in dataclasses.fields(Flags)}
    return [fields[name] for name in names]


def argument_spec(names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Ansible's argument_spec for these flags (type, default, choices, description)."""
    spec = {}
    for field in flag_fields(names):
        entry: dict[str, Any] = {"type": "bool" if isinstance(field.default, bool) else "str",
                                 "description": field.metadata["help"]}
        if field.default is not None:
            entry["default"] = field.default
        if field.metadata["choices"]:
            entry["choices"] = list(field.metadata["choices"])
        spec[field.name] = entry
    return spec


@dataclass(frozen=True)
class Settings:
    """A host's inventory vars, `dsprov_<name>` (inventory/group_vars/all.yml shows each)."""

    trt_oss_repo: str = option("the TensorRT OSS git repository (a mirror)", checks.repo, DEFAULT_TRT_OSS_REPO)
    pyds_repo: str = option("the deepstream_python_apps git repository", checks.repo, DEFAULT_PYDS_REPO)
    tao_apps_repo: str | None = option(
        "the deepstream_tao_apps git repository (prebuilt plugins, parser library sources)", checks.repo)
    tao_apps_ref: str | None = option("the deepstream_tao_apps branch or tag for the parser library", checks.ref)
    deepstream_yolo_repo: str | None = option(
        "the marcoslucianops/DeepStream-Yolo git repository (the yolo kind's custom library)", checks.repo)
    deepstream_yolo_ref: str | None = option(
        "the DeepStream-Yolo branch, tag or commit (default: the pinned commit)", checks.ref)
    yolo_deepstream_repo: str | None = option(
        "the NVIDIA-AI-IOT/yolo_deepstream git repository (the yolov7 kind's custom library)", checks.repo)
    yolo_deepstream_ref: str | None = option(
        "the yolo_deepstream branch, tag or commit (default: the pinned commit)", checks.ref)
    build_dir: str | None = option(f"where the host builds (default {DEFAULT_BUILD_DIR}, the login user's; it and"
                                   " the folders above it must be the login user's or root's)", checks.absolute_path)
    engine_roots: tuple[str, ...] | None = option(
        "folders searched for nvinfer configs", lambda n, v: tuple(checks.words(n, v, checks.path)))
    engine_search_max_files: int | None = option(
        "the most *.txt files the engine search takes from one root (default 20000): a root with more is not"
        " searched, and the engines step says so in a warning", checks.SEARCH_MAX_FILES)
    engine_cache: str = option(
        "auto: an engine built once is kept on the controller by what decides its bytes (device, L4T or"
        " driver, CUDA, TensorRT, plugin, model, flags, batch) and copied to identical hosts, each checking"
        " it loads; off: every host builds its own", checks.engine_cache, "auto", checks.ENGINE_CACHE)
    required_plugins: tuple[str, ...] = option(
        "plugin creators the swapped library must carry", lambda n, v: tuple(checks.words(n, v, checks.word)), ())
    cmake_archives: tuple[dict, ...] = option(
        "cmake release archives [{arch, version, url, sha256, size}] replacing matrix/cmake.yml's (size in bytes,"
        " optional: the download stops past it; unpinned, past 256 MiB)",
        lambda n, v: tuple(checks.words(n, v, checks.CMAKE_ARCHIVE)), ())
    cmake_source: dict | None = option("the cmake source release {version, url, sha256, size}", checks.CMAKE_SOURCE)
    models: tuple[dict, ...] = option(
        "models to set up [{kind, onnx, coco, config, ...}]", lambda n, v: tuple(checks.words(n, v, checks.MODEL_RECORD)),
        ())
    lock_lease: int = option("seconds the host lock outlives a controller that died (Ansible)", checks.seconds,
                             DEFAULT_LOCK_LEASE)
    stall_timeout: int = option("a clone, upload or download moving under 1000 bytes/s over this many seconds is abandoned",
                                checks.seconds,
                                DEFAULT_STALL_TIMEOUT)
    report_keep: int = option("run records kept per host for `dsprov report` (newest first)", checks.records_kept, 20)
    deepstream: str | None = option("the DeepStream release whose NVIDIA stack a bare host gets (like --deepstream)",
                                    _deepstream)
    cuda_repo: str | None = option("a mirror of NVIDIA's CUDA network repository (its URL, with its own cuda-keyring)",
                                   _apt_repository)
    cuda_keyring_sha256: str | None = option("the SHA-256 of that mirror's cuda-keyring package", checks.sha256)
    deepstream_debs: dict | None = option("a mirror's DeepStream .deb files {release: URL}", _deepstream_debs)
    l4t_repo: str | None = option("a mirror of NVIDIA's L4T apt repository (its URL, like https://repo.download.nvidia.com/jetson/)",
                                  _apt_repository)
    l4t_key_sha256: str | None = option("the SHA-256 of that mirror's jetson-ota-public.asc", checks.sha256)
    prebuilt_plugins: dict | None = option(
        "a mirror's prebuilt plugin pins {commit, libraries: [{platform, tensorrt, sha256, path}]}", checks.PREBUILT_PINS)

    @classmethod
    def read(cls, host_vars: Mapping[str, Any]) -> Settings:
        """A host's settings (checked by check_settings), defaults for those not given; a list
        may be given as a comma/space separated string."""
        values = {}
        for field in dataclasses.fields(cls):
            value = host_vars.get(f"dsprov_{field.name}")
            if value is None or value == "":
                continue
            if isinstance(field.default, tuple) or field.name == "engine_roots":
                value = tuple(value.replace(",", " ").split() if isinstance(value, str) else value)
            elif isinstance(field.default, int):
                value = field.metadata["check"](f"dsprov_{field.name}", value)
            values[field.name] = value
        return cls(**values)

    @classmethod
    def resolve(cls, host_vars: Mapping[str, Any], host: str | None = None) -> Settings:
        """A host's settings at the edge (once per host): checked (check_settings), then read."""
        check_settings(host_vars, host)
        return cls.read(host_vars)


def check_settings(host_vars: Mapping[str, Any], host: str | None = None) -> None:
    """Check a host's `dsprov_*` vars: the settings and the playbooks' `-e dsprov_<flag>` by their
    check, every other one for control characters; one-line BadSetting naming host and setting."""
    known = {f"dsprov_{f.name}": f for f in (*dataclasses.fields(Settings), *dataclasses.fields(Flags))}
    try:
        for key, value in host_vars.items():
            if not key.startswith("dsprov_") or value is None or value == "":
                continue
            if key in known:
                known[key].metadata["check"](key, value)
            else:
                checks.walk(key, value)
    except BadSetting as exc:
        raise BadSetting(f"{host}: {exc}" if host else str(exc)) from None


@dataclass(frozen=True)
class PydsOptions:
    """pyds settings (`dsprov_pyds_repo`) and flags (--pyds-ref, --wheel, --skip-pyds)."""

    repo: str = DEFAULT_PYDS_REPO
    ref: str | None = None  # a deepstream_python_apps tag over the matrix's
    wheel: str | None = None  # install this wheel file (controller path) instead of building
    skip: bool = False  # provision without pyds
    only: bool = False  # `invoke pyds`: nothing but the pyds steps


@dataclass(frozen=True)
class Options:
    """What the user asked for: CLI flags over inventory settings (`dsprov_*` vars)."""

    gpu_archs: str | None = None
    trt_oss_ref: str | None = None
    trt_oss_repo: str = DEFAULT_TRT_OSS_REPO
    required_plugins: tuple[str, ...] = ()
    cmake_archives: tuple[CmakeArchive, ...] = ()
    cmake_source: CmakeArchive | None = None
    cmake_from_source: bool = False
    force: bool = False
    # auto: the prebuilt library where the guide is binary-only or no OSS ref exists, else a build
    plugin_source: str = "auto"
    prebuilt: PrebuiltInfo | None = None  # dsprov_prebuilt_plugins: replaces the matrix's pin
    tao_apps_repo: str | None = None  # dsprov_tao_apps_repo
    # engines and DeepStream models
    skip_engines: bool = False
    engine_roots: tuple[str, ...] = ()  # from_settings: dsprov_engine_roots or the defaults; () searches none
    models: tuple[tuple[ModelSetup, dict], ...] = ()  # dsprov_models, checked and their COCO files read
    skip_models: bool = False
    settings: Settings = Settings()  # the host's dsprov_* vars (the parser library's repository)
    # the DeepStream Python bindings
    pyds: PydsOptions = PydsOptions()
    max_clocks: bool = False  # a Jetson's maximum power mode and pinned clocks
    # the run's flags as given: a capability reads its own flags here (and its settings in `settings`)
    flags: Flags = Flags()
