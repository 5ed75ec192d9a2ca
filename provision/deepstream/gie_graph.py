# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the model graph of a deepstream-app config before any engine is built (pure).

Refused (a problem names the group, e.g. `[secondary-gie1] operate-on-gie-id=7: no enabled GIE
has gie-unique-id 7`): an enabled GIE whose nvinfer config cannot be used, a gie-unique-id used
twice (nvinfer tags each object with its GIE's unique id, so two GIEs with one id cannot be told
apart), an operate-on-gie-id that names no enabled GIE, an operate-on-class-ids outside the class
count (num-detected-classes, else the labels file's lines) of the GIE operated on.
Warned: an nvinferserver GIE (plugin-type=1: Triton loads its model; ids operated on there are
not checked), interval > 0 with an enabled [tracker] (the primary skips inference on those frames and the
tracker carries its objects over), a secondary operating on a classifier (classifiers add labels
to objects and make none), a class count that cannot be read.
Secondary batch sizes are reported, not judged: a secondary's batch is objects (Gst-nvinfer
batch-size: "Number of frames or objects to be inferred together in a batch",
https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_plugin_gst-nvinfer.html), so it
is rightly larger than the primary's frame batch (NVIDIA's sample: primary 4, secondaries 16) and
a smaller one only splits the objects into more batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provision.deepstream.app_config import AppConfig, Gie


@dataclass
class Graph:
    """Which GIE feeds which in one app config, and what is wrong with it."""

    app: str
    gies: list[Gie]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def source(self, gie: Gie) -> Gie | None:
        return next((g for g in self.gies if g.unique_id == gie.operate_on_gie_id), None)

    def to_json(self) -> dict:
        return {
            "app_config": self.app,
            "gies": [{
                "group": g.group,
                "config_file": g.config.path,
                "gie_unique_id": g.unique_id,
                "operates_on": "frames" if g.primary else (
                    f"[{self.source(g).group}]" if self.source(g) else "objects of every GIE"
                    if g.operate_on_gie_id is None else f"gie-unique-id {g.operate_on_gie_id}"),
                "operate_on_class_ids": list(g.operate_on_class_ids) if g.operate_on_class_ids is not None else None,
                "feeds": [f"[{s.group}]" for s in self.gies if s is not g and self.source(s) is g],
                "batch_size": g.config.batch_size,
                "interval": g.interval,
                "classifier": g.is_classifier,
            } for g in self.gies],
            "problems": self.problems,
            "warnings": self.warnings,
        }

    def lines(self) -> list[str]:
        """One line per GIE, for people: `[secondary-gie0] id 4 (batch 16) <- [primary-gie] classes 0`."""
        out = [f"{self.app}:"]
        for g in self.gies:
            what = "classifier" if g.is_classifier else "detector"
            if g.primary:
                feed = "<- frames"
            else:
                source = self.source(g)
                feed = f"<- [{source.group}]" if source else "<- every GIE"
                if g.operate_on_class_ids is not None:
                    feed += " classes " + ",".join(str(c) for c in g.operate_on_class_ids)
            out.append(f"  [{g.group}] gie-unique-id {g.unique_id}, {what}, batch {g.config.batch_size} {feed}")
        return out


def check_graph(app: AppConfig, gies: list[Gie], unusable: dict[str, str], label_counts: dict[str, int]) -> Graph:
    """The graph of `app`'s enabled GIEs. `gies`: those resolved; `unusable`: group -> why its
    nvinfer config cannot be used; `label_counts`: group -> lines of its labels file."""
    graph = Graph(app.path, gies)
    by_group = {g.group: g for g in gies}
    servers = [g for g in app.enabled if g.plugin_type != 0]
    for group in app.enabled:
        name = f"[{group.group}]"
        if group in servers:
            graph.warnings.append(f"{name} plugin-type={group.plugin_type} (nvinferserver): Triton loads its model,"
                                  " no engine is built for it here")
            continue
        if group.group in unusable:
            graph.problems.append(f"{name} {unusable[group.group]}")
            continue
        gie = by_group[group.group]
        twin = next((g for g in gies if g is not gie and g.unique_id == gie.unique_id), None)
        if twin and gies.index(twin) < gies.index(gie):
            graph.problems.append(f"{name} gie-unique-id={gie.unique_id}: [{twin.group}] has it too")
        if gie.interval > 0 and app.tracker_enabled:
            graph.warnings.append(f"{name} interval={gie.interval} with the tracker enabled: inference skips"
                                  f" {gie.interval} of every {gie.interval + 1} batches, the tracker carries objects over")
        if gie.primary or gie.operate_on_gie_id is None:
            continue
        source = graph.source(gie)
        if source is None and any(g.gie_unique_id in (gie.operate_on_gie_id, None) for g in servers):
            graph.warnings.append(f"{name} operate-on-gie-id={gie.operate_on_gie_id}: an nvinferserver GIE's,"
                                  " not checked")
            continue
        if source is None:
            graph.problems.append(f"{name} operate-on-gie-id={gie.operate_on_gie_id}: no enabled GIE has"
                                  f" gie-unique-id {gie.operate_on_gie_id}")
            continue
        if source is gie:
            graph.problems.append(f"{name} operate-on-gie-id={gie.operate_on_gie_id}: the GIE operates on itself")
            continue
        if source.is_classifier:
            graph.warnings.append(f"{name} operate-on-gie-id={gie.operate_on_gie_id}: [{source.group}] is a classifier"
                                  " and makes no objects to operate on")
            continue
        if gie.operate_on_class_ids is None:
            continue
        classes = source.num_detected_classes or label_counts.get(source.group)
        if not classes:
            graph.warnings.append(f"{name} operate-on-class-ids not checked: [{source.group}] has no"
                                  " num-detected-classes or readable labels file")
            continue
        outside = [c for c in gie.operate_on_class_ids if not 0 <= c < classes]
        if outside:
            graph.problems.append(
                f"{name} operate-on-class-ids={';'.join(str(c) for c in gie.operate_on_class_ids)}: [{source.group}]"
                f" (gie-unique-id {source.unique_id}) has {classes} classes (0-{classes - 1}), not "
                + ", ".join(str(c) for c in outside))
    return graph
