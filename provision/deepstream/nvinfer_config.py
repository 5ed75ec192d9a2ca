# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read, resolve and edit DeepStream nvinfer config files (pure: text in, text out).

An nvinfer config is a GLib key file whose `[property]` group names the model and the engine
(Gst-nvinfer docs: onnx-file, model-engine-file, tlt-encoded-model, int8-calib-file, network-mode
0=FP32 1=INT8 2=FP16, batch-size, infer-dims). Relative paths are relative to the config's own
folder, as nvinfer resolves them. Edits change one key's line and keep every other byte.
"""

from __future__ import annotations

import configparser
import posixpath
import re
from dataclasses import dataclass

from provision.deepstream import key_files
from provision.errors import ProvisionError

PRECISIONS = {0: "fp32", 1: "int8", 2: "fp16"}
PATH_KEYS = ("onnx-file", "model-engine-file", "tlt-encoded-model", "int8-calib-file", "labelfile-path",
             "custom-lib-path", "custom-network-config", "model-file")


class ConfigError(ProvisionError):
    """An nvinfer config that cannot be read or used."""


@dataclass(frozen=True)
class NvinferConfig:
    """The `[property]` values that decide an engine, paths resolved on the host."""

    path: str
    onnx_file: str | None
    model_engine_file: str | None
    tlt_encoded_model: str | None
    tlt_model_key: str | None
    int8_calib_file: str | None
    network_mode: int
    batch_size: int
    gpu_id: int
    infer_dims: tuple[int, ...]
    input_name: str | None  # uff-input-blob-name, the only input name a config carries
    labelfile_path: str | None
    custom_lib_path: str | None
    custom_network_config: str | None = None  # a Darknet .cfg (with model-file: its .weights)
    model_file: str | None = None
    engine_create_function: str | None = None  # engine-create-func-name: the custom library builds the engine

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path)

    @property
    def model(self) -> str | None:
        """The source model the engine is built from (ONNX first, as nvinfer does)."""
        return self.onnx_file or self.tlt_encoded_model

    @property
    def precision(self) -> str:
        return PRECISIONS[self.network_mode]


def resolve(folder: str, value: str) -> str:
    """A config path as nvinfer sees it: absolute, or relative to the config's folder."""
    return posixpath.normpath(value if value.startswith("/") else posixpath.join(folder, value))


def key_file(path: str, text: str) -> configparser.ConfigParser:
    """A DeepStream config (GLib key file) read with configparser: `=` only, `#` comments; parsed
    once per text (provision/deepstream/key_files.py), so read it, do not change it."""
    try:
        return key_files.parsed(path, text)
    except configparser.Error as exc:
        raise ConfigError(f"{path}: not a key file: {str(exc).splitlines()[0]}") from exc


def _properties(path: str, text: str) -> configparser.SectionProxy:
    parser = key_file(path, text)
    if not parser.has_section("property"):
        raise ConfigError(f"{path}: no [property] group: not an nvinfer config")
    return parser["property"]


def int_value(path: str, props: configparser.SectionProxy, key: str, default: int | None) -> int | None:
    value = props.get(key, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{path}: {key}={value!r} is not a whole number") from None


MAX_BATCH = 1024  # as dsprov's own --streams / batch_size allow (provision/validators.py)


def check_batch(where: str, batch: int) -> None:
    """A batch trtexec can be asked for: 1 to MAX_BATCH (99999999 would be a shape no GPU holds)."""
    if not 1 <= batch <= MAX_BATCH:
        raise ConfigError(f"{where}: batch-size={batch} is not between 1 and {MAX_BATCH}")


def _dims(path: str, value: str) -> tuple[int, ...]:
    """`3;544;960` -> (3, 544, 960); the legacy input-dims `3;544;960;0` carries an order last."""
    parts = [p.strip() for p in value.split(";") if p.strip()]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"{path}: dims {value!r} are not numbers separated by ';'") from None
    return dims[:3] if len(dims) == 4 else dims


def parse_config(path: str, text: str) -> NvinferConfig:
    """Parse an nvinfer config found at `path` on the host; ConfigError says what is wrong."""
    props = _properties(path, text)
    folder = posixpath.dirname(path)

    def file(key: str) -> str | None:
        value = props.get(key, "").strip()
        return resolve(folder, value) if value else None

    mode = int_value(path, props, "network-mode", 0)
    if mode not in PRECISIONS:
        raise ConfigError(f"{path}: network-mode={mode} is not 0 (FP32), 1 (INT8) or 2 (FP16)")
    batch = int_value(path, props, "batch-size", 1)
    check_batch(path, batch)
    dims = props.get("infer-dims", "").strip() or props.get("input-dims", "").strip()
    return NvinferConfig(
        path=path,
        onnx_file=file("onnx-file"),
        model_engine_file=file("model-engine-file"),
        tlt_encoded_model=file("tlt-encoded-model"),
        tlt_model_key=props.get("tlt-model-key", "").strip() or None,
        int8_calib_file=file("int8-calib-file"),
        network_mode=mode,
        batch_size=batch,
        gpu_id=int_value(path, props, "gpu-id", 0),
        infer_dims=_dims(path, dims) if dims else (),
        input_name=props.get("uff-input-blob-name", "").strip() or None,
        labelfile_path=file("labelfile-path"),
        custom_lib_path=file("custom-lib-path"),
        custom_network_config=file("custom-network-config"),
        model_file=file("model-file"),
        engine_create_function=props.get("engine-create-func-name", "").strip() or None,
    )


def is_nvinfer_config(text: str) -> bool:
    """A key file with a [property] group naming a model or an engine."""
    try:
        props = _properties("-", text)
    except ConfigError:
        return False
    return any(props.get(k, "").strip() for k in ("onnx-file", "model-engine-file", "tlt-encoded-model", "custom-network-config"))


_GROUP = re.compile(r"^\s*\[([^\]]+)\]\s*$")


def set_property(text: str, key: str, value: str, group_name: str = "property") -> str:
    """`text` with `key` in [group_name] set to `value`: only that line changes (or one line is
    added after the group's last key), line endings and every other byte kept."""
    lines = text.splitlines(keepends=True)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    group, last_key_line, header_line = None, None, None
    for index, line in enumerate(lines):
        match = _GROUP.match(line)
        if match:
            group = match.group(1).strip()
            if group == group_name:
                header_line = index
            continue
        if group != group_name or line.lstrip().startswith(("#", ";")) or "=" not in line:
            continue
        name = line.split("=", 1)[0].strip()
        if name == key:
            ending = line[len(line.rstrip("\r\n")):] or ""
            lines[index] = f"{key}={value}{ending}"
            return "".join(lines)
        last_key_line = index
    if header_line is None:
        raise ConfigError(f"no [{group_name}] group to set {key} in")
    at = (last_key_line if last_key_line is not None else header_line)
    if not lines[at].endswith(("\n", "\r")):
        lines[at] += eol
    lines.insert(at + 1, f"{key}={value}{eol}")
    return "".join(lines)


def engine_name(model: str, batch: int, gpu_id: int, precision: str) -> str:
    """DeepStream's own engine naming: `<model file>_b<batch>_gpu<id>_<precision>.engine`."""
    return f"{posixpath.basename(model)}_b{batch}_gpu{gpu_id}_{precision}.engine"
