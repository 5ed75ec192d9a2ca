# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read deepstream-app configs: which nvinfer config each GIE group runs and what the group
overrides (pure: text in, values out).

A deepstream-app config (`deepstream-app -c FILE`) is a GLib key file. Its `[primary-gie]` and
`[secondary-gie<N>]` groups (any N, gaps allowed) name an nvinfer config in `config-file`; NVIDIA's
sample app configs say "config-file property is mandatory for any gie section. Other properties are
optional and if set will override the properties set in the infer config file" (e.g.
samples/configs/deepstream-app/source4_1080p_dec_infer-resnet_tracker_sgie_tiled_display_int8.txt,
https://github.com/hiennguyen9874/deepstream-sources/blob/1321cadcbf351f1e4735d69a07e1893f7f5177a1/samples/configs/deepstream-app/source4_1080p_dec_infer-resnet_tracker_sgie_tiled_display_int8.txt).
deepstream-app's parser (`parse_gie()` in sources/apps/apps-common/src/deepstream_config_file_parser.c,
same repository and commit) makes `config-file`, `model-engine-file` and `labelfile-path`
absolute relative to the app config's own folder; the GIE bins (deepstream_primary_gie_bin.c,
deepstream_secondary_gie_bin.c) set nvinfer's `batch-size`, `interval`, `unique-id`
(gie-unique-id), `gpu-id`, `model-engine-file`, `infer-on-gie-id` (operate-on-gie-id) and
`infer-on-class-ids` (operate-on-class-ids) only when the group gives them. `enable` is false
unless set (the parser's config starts zeroed); `labelfile-path` and `bbox-*-color<N>` serve the
app's on-screen display, not nvinfer.
"""

from __future__ import annotations

import configparser
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from provision.deepstream.nvinfer_config import (
    ConfigError,
    NvinferConfig,
    check_batch,
    int_value,
    key_file,
    parse_config,
    resolve,
)

GIE_GROUP = re.compile(r"(primary-gie|secondary-gie\d+)")
TRUE = ("1", "true")


def _bool(section: configparser.SectionProxy, key: str) -> bool:
    return section.get(key, "").strip().lower() in TRUE


def _ids(path: str, where: str, value: str) -> tuple[int, ...]:
    """`0;2;` -> (0, 2): a GLib integer list, trailing separator allowed."""
    try:
        return tuple(int(p) for p in value.split(";") if p.strip())
    except ValueError:
        raise ConfigError(f"{path}: {where} operate-on-class-ids={value!r} is not whole numbers separated by ';'") from None


@dataclass(frozen=True)
class GieGroup:
    """One `[primary-gie]` / `[secondary-gie<N>]` group as written; None: the group does not set it."""

    group: str
    enabled: bool
    config_file: str | None  # absolute (resolved against the app config's folder)
    model_engine_file: str | None
    batch_size: int | None
    gpu_id: int | None
    gie_unique_id: int | None
    operate_on_gie_id: int | None
    operate_on_class_ids: tuple[int, ...] | None
    interval: int | None
    plugin_type: int  # 0 nvinfer, 1 nvinferserver (deepstream_gie.h)

    @property
    def primary(self) -> bool:
        return self.group == "primary-gie"


@dataclass(frozen=True)
class AppConfig:
    path: str
    gies: tuple[GieGroup, ...]  # in file order
    tracker_enabled: bool

    @property
    def enabled(self) -> tuple[GieGroup, ...]:
        return tuple(g for g in self.gies if g.enabled)


def is_app_config(text: str) -> bool:
    """A key file with a GIE group: what deepstream-app -c reads."""
    try:
        parser = key_file("-", text)
    except ConfigError:
        return False
    return any(GIE_GROUP.fullmatch(s) for s in parser.sections())


def parse_app_config(path: str, text: str) -> AppConfig:
    """The GIE groups of an app config at `path` on the host; ConfigError says what is wrong."""
    parser = key_file(path, text)
    folder = posixpath.dirname(path)
    gies = []
    for name in parser.sections():
        if not GIE_GROUP.fullmatch(name):
            continue
        section, where = parser[name], f"[{name}]"

        def file(key: str, section: configparser.SectionProxy = section) -> str | None:
            value = section.get(key, "").strip()
            return resolve(folder, value) if value else None

        def number(key: str, section: configparser.SectionProxy = section, where: str = where) -> int | None:
            return int_value(f"{path}: {where}", section, key, None)

        classes = section.get("operate-on-class-ids", "").strip()
        gies.append(GieGroup(
            group=name,
            enabled=_bool(section, "enable"),
            config_file=file("config-file"),
            model_engine_file=file("model-engine-file"),
            batch_size=number("batch-size"),
            gpu_id=number("gpu-id"),
            gie_unique_id=number("gie-unique-id"),
            operate_on_gie_id=number("operate-on-gie-id"),
            operate_on_class_ids=_ids(path, where, classes) if classes else None,
            interval=number("interval"),
            plugin_type=number("plugin-type") or 0,
        ))
    tracker = parser["tracker"] if parser.has_section("tracker") else None
    return AppConfig(path, tuple(gies), bool(tracker is not None and _bool(tracker, "enable")))


@dataclass(frozen=True)
class Gie:
    """An enabled GIE as deepstream-app runs it: its nvinfer config with the group's overrides."""

    app: str
    group: str
    config: NvinferConfig  # effective: the group's model-engine-file, batch-size and gpu-id win
    unique_id: int
    operate_on_gie_id: int | None  # None: every GIE's objects (secondaries only)
    operate_on_class_ids: tuple[int, ...] | None  # None: every class
    interval: int
    num_detected_classes: int | None
    is_classifier: bool
    engine_set_in_app: bool  # model-engine-file comes from the app config's group

    @property
    def primary(self) -> bool:
        return self.group == "primary-gie"


def resolve_gie(app: AppConfig, group: GieGroup, nvinfer_text: str) -> Gie:
    """The GIE `group` of `app` with its nvinfer config's text applied under the group's overrides.
    Defaults as the nvinfer config headers state them: gie-unique-id 0, interval 0."""
    config = parse_config(group.config_file, nvinfer_text)
    props = key_file(group.config_file, nvinfer_text)["property"]
    where = group.config_file

    def pick(override: int | None, key: str, default: int | None) -> int | None:
        return override if override is not None else int_value(where, props, key, default)

    batch = pick(group.batch_size, "batch-size", 1)
    check_batch(f"{app.path}: [{group.group}]", batch)
    effective = replace(config, batch_size=batch, gpu_id=pick(group.gpu_id, "gpu-id", 0),
                        model_engine_file=group.model_engine_file or config.model_engine_file)
    classes = props.get("operate-on-class-ids", "").strip()
    on_gie = pick(group.operate_on_gie_id, "operate-on-gie-id", None)  # -1: every GIE (Gst-nvinfer infer-on-gie-id)
    return Gie(
        app=app.path,
        group=group.group,
        config=effective,
        unique_id=pick(group.gie_unique_id, "gie-unique-id", 0),
        operate_on_gie_id=None if group.primary or on_gie is None or on_gie < 0 else on_gie,
        operate_on_class_ids=group.operate_on_class_ids if group.operate_on_class_ids is not None
        else (_ids(where, "[property]", classes) if classes else None),
        interval=pick(group.interval, "interval", 0),
        num_detected_classes=int_value(where, props, "num-detected-classes", None),
        is_classifier=_bool(props, "is-classifier") or int_value(where, props, "network-type", 0) == 1,
        engine_set_in_app=group.model_engine_file is not None,
    )


def resolve_gies(app: AppConfig, texts: Mapping[str, str | None]) -> tuple[list[Gie], dict[str, str]]:
    """`app`'s enabled nvinfer GIEs with their nvinfer configs (`texts`: path -> text, None or
    absent when the host has no readable file there), and group -> why a GIE's nvinfer config
    cannot be used. nvinferserver GIEs (plugin-type=1) are left out: Triton loads their models."""
    gies: list[Gie] = []
    unusable: dict[str, str] = {}
    for group in app.enabled:
        if group.plugin_type != 0:  # nvinferserver: Triton's model repository, no nvinfer config
            continue
        if group.config_file is None:
            unusable[group.group] = "has no config-file (deepstream-app: \"Config file not provided for group\")"
        elif texts.get(group.config_file) is None:
            unusable[group.group] = f"config-file={group.config_file}: no such readable file on the host"
        else:
            try:
                gies.append(resolve_gie(app, group, texts[group.config_file]))
            except ConfigError as exc:
                unusable[group.group] = f"config-file={group.config_file}: {exc}"
    return gies, unusable
