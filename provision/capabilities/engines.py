# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rebuild the TensorRT engines of a host's DeepStream nvinfer configs when they are stale.

Configs are found and read on the host with POSIX sh (`find`, `grep`, `base64`: the target has no
Python), parsed on the controller (provision/deepstream/nvinfer_config.py) and classified against
the build record beside each engine (provision/deepstream/engine_plan.py). A stale or missing
engine is copied from the controller's engine cache and checked to load (provision/deepstream/
engine_key.py), else built by the host's `trtexec` as the login user, in a private folder; then
each is installed under its DeepStream-style name, recorded, and only then is the config's
`model-engine-file` line rewritten (provision/capabilities/engine_install.py). A failed build
changes nothing: the old engine and the config stay as they were. Builds run one after the other
(a Nano has no memory for two).

deepstream-app configs found the same way are followed through their enabled GIE groups
(provision/deepstream/app_config.py): each GIE's engine is the one its nvinfer config names under
the group's overrides (model-engine-file, batch-size, gpu-id), and the model-engine-file line that
wins (the group's, else the nvinfer config's) is the one rewritten. An nvinfer config that an
enabled GIE runs is built only as the GIE needs it. The graph of each app config is checked first
(provision/deepstream/gie_graph.py): a broken one fails the step before anything is built.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
import shlex
import tempfile
import time
from importlib.resources import files
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from provision import cancel
from provision.artifacts import ArtifactStore, sha256_file
from provision.deepstream.engine_plan import (
    BuildEnv,
    EngineRecord,
    EngineTarget,
    built_by_deepstream,
    classify,
    record_path,
    target_for,
)
from provision.deepstream.engine_key import Device, EngineKey, device_of
from provision.deepstream.app_config import AppConfig, Gie, is_app_config, parse_app_config, resolve_gies
from provision.deepstream.gie_graph import Graph, check_graph
from provision.deepstream.nvinfer_config import ConfigError, NvinferConfig, key_file, parse_config, set_property
from provision.once import per_input
from provision.options import Settings
from provision.outcomes import EngineOutcome, EngineStatus
from provision.runners.base import WrongSudoPassword, refusal, script_command
from provision.capabilities.engine_install import (
    DEFERRED,
    INSTALL_ENGINES_SCRIPT,
    WORK_TEMPLATE,
    InstallItem,
    Product,
    WorkFolder,
    digest,
    install_status,
)
from provision.capabilities.model_config import WriteModelConfig
from provision.core.capability import Capability, Planning
from provision.core.step import Step, StepContext, StepFailed, q
from provision.state import STATE_DIR

# Searched where dsprov_engine_roots is not set: DeepStream's samples, not the home folder (a home of
# many files made every run, a no-op rerun included, walk it: bench/engine_search.py). `~` is a root
# like any other when configured.
DEFAULT_ROOTS = ("/opt/nvidia/deepstream/deepstream/samples",)
TRTEXEC_PATH = "PATH=/usr/src/tensorrt/bin:$PATH"

# The SHA-256 cache that the steps running with sudo write (refresh_sha_cache) and the search reads:
# root's, in root's folder, so that no other user can make root trust a hash it did not compute.
SHA_CACHE = f"{STATE_DIR}/sha256"

# The search (engine_search.sh: what it prints, what it caches where): `config<TAB>path<TAB>base64
# text` per config found (or `skip<TAB>path<TAB>why`), `warning<TAB>text`, the plugin's SHA-256, and
# the files those configs name (so that a check needs no second round trip): STAT_FILE's line for
# each model, calibration file and model-engine-file, and for every `*.engine` in their folders,
# each folder listed in an `engines<TAB>folder` line (an engine there that has no line does not exist).
def search_script(sha_cache: str = SHA_CACHE) -> str:
    """engine_search.sh reading root's SHA-256 cache at `sha_cache`."""
    return f"SHA_CACHE={q(sha_cache)}\n" + files("provision.capabilities").joinpath("engine_search.sh").read_text()


FIND_SCRIPT = search_script()

# `file<TAB>path<TAB>exists (1|0)<TAB>sha256 (models)<TAB>the engine's record on one line (engines)`
STAT_FILE = r"""
stat_file() {
    e=0; [ -e "$2" ] && e=1
    s=; [ "$1" = m ] && [ -f "$2" ] && s=$(sha256sum "$2" 2>/dev/null | cut -d' ' -f1)
    r=; [ "$1" = e ] && [ -f "$2.dsprov.json" ] && r=$(tr '\n\t' '  ' < "$2.dsprov.json")
    printf 'file\t%s\t%s\t%s\t%s\n' "$2" "$e" "$s" "$r"
}
"""

# Given items (`n:MAX`, `f:CONFIG`, `r:ROOT`) after the build folder, the probe runs FIND_SCRIPT for
# the plugin's SONAME link, headed by the arguments it ran with, so that the step knows which
# question it answers (RebuildEngines._find).
PROBE = f"""
section nvinfer_configs
if [ $# -gt 1 ]; then
    shift
    lib=/usr/lib/$(triplet)
    link=
    for f in "$lib"/libnvinfer_plugin.so.*; do
        case ${{f##*/libnvinfer_plugin.so.}} in *.*) ;; *) link=$f ;; esac
    done
    printf 'args\\t%s' "$link"; printf '\\t%s' "$@"; echo
    sh -c {shlex.quote(FIND_SCRIPT)} survey "$link" "$@" < /dev/null
fi
"""

# Run as root (refresh_sha_cache: `sh -c REFRESH_SCRIPT refresh CACHE FILE...`): the SHA-256 of each
# FILE, from CACHE where its (inode, size, mtime, ctime, path) still match, else hashed here; CACHE is
# rewritten (atomically, mode 0644) with those and the entries whose files did not change. Only files
# that every user may read are cached (the cache is world-readable), none changed within the last
# second (the times are whole seconds). Prints `sha<TAB>path<TAB>sha256` per FILE cached.
REFRESH_SCRIPT = r"""
c=$1; shift
now=$(date +%s)
mkdir -p "${c%/*}" && { [ -f "$c" ] || : > "$c"; } && w=$(mktemp "$c.XXXXXXXXXX") || exit 1
trap 'rm -f "$w" "$w.want" "$w.todo"' EXIT
for f; do printf '%s\n' "$f"; done > "$w.want"
set --
while IFS= read -r f; do set -- "$@" "$f"; done <<EOF
$(cut -f3 "$c"; cat "$w.want")
EOF
stat -L -c '%i %s %Y %Z %a %n' "$@" 2>/dev/null | awk -v now="$now" -v todo="$w.todo" '
    FILENAME == ARGV[1] { split($0, a, "\t"); sha[a[1] "\t" a[3]] = a[2]; next }
    { f = $0; sub(/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* /, "", f); k = $1 " " $2 " " $3 " " $4
      if (f in done) next
      done[f] = 1
      if ((k "\t" f) in sha) print k "\t" sha[k "\t" f] "\t" f
      else if ($5 ~ /[4567]$/ && $3 < now - 1 && $4 < now - 1) print k "\t" f > todo }' "$c" - > "$w"
[ -f "$w.todo" ] && while IFS='	' read -r k f; do
    s=$(sha256sum < "$f" | cut -d' ' -f1) && [ ${#s} -eq 64 ] && printf '%s\t%s\t%s\n' "$k" "$s" "$f" >> "$w"
done < "$w.todo"
chmod 0644 "$w" && mv -f "$w" "$c"
awk -F '\t' 'FILENAME == ARGV[1] { want[$0] = 1; next } $3 in want { print "sha\t" $3 "\t" $2 }' "$w.want" "$c"
"""

STAT_SCRIPT = STAT_FILE + r"""
for arg in "$@"; do stat_file "${arg%%:*}" "${arg#*:}"; done
"""


@dataclass(frozen=True)
class FileState:
    exists: bool
    sha256: str | None
    record: EngineRecord | None


@dataclass
class Engine:
    """One config's engine on the host (or one GIE's of an app config): what it is, what it should
    be, what happened."""

    config_path: str
    config_text: str = ""
    app: str | None = None  # the deepstream-app config whose GIE runs it
    group: str | None = None  # that GIE's group
    pointer: tuple[str, str] | None = None  # (file, group) whose model-engine-file DeepStream reads
    config: NvinferConfig | None = None  # a GIE's nvinfer config under its group's overrides
    target: EngineTarget | None = None
    status: EngineStatus | None = None  # None: not classified yet
    reason: str = ""
    outcome: EngineOutcome = EngineOutcome.PENDING
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    key: str | None = None  # the engine cache key of the new engine
    copied: bool = False  # it came from the engine cache (and loaded here), not from a build here

    def to_json(self) -> dict:
        t = self.target
        return {
            "config": self.config_path,
            "app_config": self.app,
            "group": self.group,
            "engine": t.config.model_engine_file if t else None,
            "new_engine": t.path if t and self.outcome is EngineOutcome.REBUILT else None,
            "precision": t.precision if t else None,
            "status": self.status,
            "reason": self.reason,
            "outcome": self.outcome,
            "message": self.message,
            "warnings": self.warnings,
            "key": self.key,
            "copied": self.copied,
        }


def _decode(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise StepFailed(f"unreadable bytes from the host ({exc})") from exc


def _file_states(text: str) -> tuple[dict[str, FileState], set[str]]:
    """STAT_FILE's `file` lines by (normalised) path, and the folders whose engines were all listed
    (parsed once per text: identical hosts' searches say the same; the dict and set are the caller's)."""
    states, folders = _parsed_states(text)
    return dict(states), set(folders)


@per_input()
def _parsed_states(text: str) -> tuple[tuple[tuple[str, FileState], ...], frozenset[str]]:
    states: dict[str, FileState] = {}
    folders: set[str] = set()
    for line in text.splitlines():
        parts = line.split("\t")
        if parts[0] == "engines" and len(parts) == 2:
            folders.add(posixpath.normpath(parts[1]))
        if len(parts) != 5 or parts[0] != "file":
            continue
        record = None
        if parts[4].strip():
            try:
                record = EngineRecord.from_json(json.loads(parts[4]))
            except ValueError:
                record = None
        states[posixpath.normpath(parts[1])] = FileState(parts[2] == "1", parts[3] or None, record)
    return tuple(states.items()), frozenset(folders)


def refresh_sha_cache(ctx: StepContext, paths: Iterable[str]) -> dict[str, str]:
    """Hash `paths` as root into SHA_CACHE, which the probe's search reads instead of hashing them
    again (it keeps what is unchanged): path -> SHA-256 as root computed or confirmed it. For the
    steps that run with sudo, after they wrote a model, an engine or the plugin; a failure is logged
    (the cache only saves work)."""
    wanted = sorted({p for p in paths if p})
    if not wanted:
        return {}
    try:
        result = ctx.sh(f"sh -c {q(REFRESH_SCRIPT)} refresh {q(SHA_CACHE)} " + " ".join(q(p) for p in wanted),
                        sudo=True, check=False)
    except WrongSudoPassword as exc:
        ctx.log(f"{SHA_CACHE} not refreshed: {exc}")
        return {}
    return {parts[1]: parts[2] for parts in (line.split("\t") for line in result.stdout.splitlines())
            if len(parts) == 3 and parts[0] == "sha"}


def build_flags(target: EngineTarget, calib_exists: bool) -> list[tuple[str, str | None]]:
    """trtexec's flags that shape the engine, as (flag, value): precision, the INT8 calibration cache
    (its path is the value), batch shapes."""
    c = target.config
    flags: list[tuple[str, str | None]] = []
    if target.precision == "fp16":
        flags.append(("--fp16", None))
    elif target.precision == "int8":
        flags.append(("--int8", None))
        if c.int8_calib_file and calib_exists:
            flags.append(("--calib", c.int8_calib_file))
    if c.batch_size > 1:
        dims = "x".join(str(d) for d in c.infer_dims)
        name = c.input_name
        flags += [("--minShapes", f"{name}:1x{dims}"), ("--optShapes", f"{name}:{c.batch_size}x{dims}"),
                  ("--maxShapes", f"{name}:{c.batch_size}x{dims}")]
    return flags


def trtexec_command(target: EngineTarget, staged: str, calib_exists: bool) -> str:
    """trtexec for an ONNX model: precision flags, INT8 calibration cache, batch shapes."""
    args = [f"--onnx={q(target.config.onnx_file)}", f"--saveEngine={q(staged)}"]
    args += [flag if value is None else f"{flag}={q(value)}" for flag, value in build_flags(target, calib_exists)]
    return f"{TRTEXEC_PATH}; trtexec " + " ".join(args)


def rebuild_refusal(c: NvinferConfig) -> str | None:
    """Why this config's engine cannot be built here, or None."""
    if c.onnx_file is None and c.tlt_encoded_model:
        return (f"{posixpath.basename(c.tlt_encoded_model)} is an encrypted TAO model (.etlt): the matrix names no"
                " converter (tao-converter) for it; export the model to ONNX with TAO and set onnx-file")
    if c.onnx_file is None:
        return "no onnx-file to build from (only ONNX models are rebuilt; Caffe/UFF left as they are)"
    if c.batch_size > 1 and not (c.input_name and c.infer_dims):
        return (f"batch-size {c.batch_size} needs the input name and infer-dims for trtexec's shapes;"
                " the config has no uff-input-blob-name/infer-dims")
    return None


@dataclass
class RebuildEngines(Step):
    """Classify every engine of the host's nvinfer configs and rebuild those that are not current."""

    configs: tuple[str, ...]  # config paths on the host
    roots: tuple[str, ...]  # folders to search for more
    gpu_archs: str
    supported: dict[int, frozenset[str]]  # gpu-id -> precisions its GPU runs (matrix/precision.yml)
    plugin_link: str  # the SONAME link of libnvinfer_plugin
    engines: list[Engine] = field(default_factory=list)
    graphs: list[Graph] = field(default_factory=list)  # one per app config found
    env: BuildEnv | None = None
    states: dict[str, FileState] = field(default_factory=dict)  # what the survey saw
    progress: Callable[[str], None] | None = None  # "rebuilding 1/3 ..." lines
    bound: tuple[str, ...] = ()  # search_bound's item
    cache: ArtifactStore | None = None  # the controller's engine cache (None: dsprov_engine_cache off)
    texts: dict[str, str] = field(default_factory=dict)  # config path -> its text as the survey read it
    devices: dict[int, Device | None] = field(default_factory=dict)  # gpu-id -> its part of the cache key
    name = "engines"

    def results(self) -> dict[str, Any]:
        """The engines classified (and what became of each), the app configs' GIE graphs, and the
        commands (a dry run's survey lists each rebuild)."""
        return {"engines": [e.to_json() for e in self.engines], "graphs": list(self.graphs),
                "commands": self.describe()}

    def summary(self) -> str:
        where = ", ".join([*self.configs, *(f"configs under {r}" for r in self.roots)])
        return f"rebuild stale or missing TensorRT engines of {where} with trtexec, one at a time"

    def describe(self) -> list[str]:
        lines = [self._find_command() + "  # find and read nvinfer configs, plugin SHA-256"]
        lines += [f"# {e.config_path}: {e.message}" for e in self.engines if e.outcome is EngineOutcome.DEEPSTREAM]
        todo = self._groups()
        if todo:
            lines.append(f"mktemp -d {WORK_TEMPLATE}  # the login user's private folder for the new engines"
                         " (made by the transfer of the cached ones when none is built first)")
        for number, engines in enumerate(todo.values(), 1):
            e = engines[0]
            staged = f"{WORK_TEMPLATE}/{_work_name(number, e.target.path)}"
            key = self._key(e, self.states)
            if key:
                lines.append(f"(controller) engine cache {key.key}: when cached, copy it to {staged} (one transfer for all"
                             " the cached ones) and check it loads (one command for all): "
                             + load_command(staged, e.target) + "; else build it and keep it:")
            lines.append(build_command(e.target, staged, self._calibrated(e, self.states)))
        if todo:
            lines.append("install each new engine, then its record, then the model-engine-file lines that name it"
                         " (a config changed since it was read is left as it is): as the login user where it may"
                         " write, else with sudo (which also refreshes the SHA-256 cache); remove the private folder")
        return lines

    # -- survey ---------------------------------------------------------------------------

    def survey(self, ctx: StepContext) -> list[Engine]:
        """Find, parse and classify (reads only)."""
        f = ctx.facts
        self.graphs = []
        result = self._find(ctx)
        engines: dict[str, Engine] = {}  # by path: overlapping roots list a config once
        plugin_sha = ""
        for line in result.splitlines():
            kind, *rest = line.split("\t")
            if kind == "config" and len(rest) == 2:
                try:
                    engines.setdefault(rest[0], Engine(rest[0], _decode(rest[1])))
                except StepFailed as exc:
                    engines[rest[0]] = Engine(rest[0], status=EngineStatus.REFUSED, outcome=EngineOutcome.REFUSED,
                                              message=str(exc))
            elif kind == "skip" and len(rest) == 2:
                engines[rest[0]] = Engine(rest[0], status=EngineStatus.REFUSED, outcome=EngineOutcome.REFUSED,
                                          message=rest[1])
            elif kind == "plugin" and rest:
                plugin_sha = rest[0]
            elif kind == "warning" and rest:
                ctx.log(f"warning: {rest[0]}")
        if not plugin_sha:
            raise StepFailed(f"{ctx.runner.host}: cannot read {self.plugin_link}: is TensorRT installed?")
        self.env = BuildEnv(str(f.tensorrt), str(f.cuda), self.gpu_archs, plugin_sha)
        self.devices = {i: device_of(f, i) for i in self.supported}
        self.texts = {e.config_path: e.config_text for e in engines.values() if e.config_text}
        apps = [e for e in engines.values() if e.status is None and _is_app_config(e.config_text)]
        gies = self._gie_engines(ctx, apps, engines)  # StepFailed for a broken graph: nothing is built
        for e in [*apps, *gies]:  # an app config is no engine; a GIE's nvinfer config is built as the GIE needs
            engines.pop(e.config_path, None)
        found = [*engines.values(), *(e for e in apps if e.status is not None), *gies]
        for e in found:
            if e.status is not None:
                continue
            try:
                config = e.config or _nvinfer_config(e.config_path, e.config_text)
            except ConfigError as exc:
                e.status, e.outcome, e.message = EngineStatus.REFUSED, EngineOutcome.REFUSED, str(exc)
                continue
            if config.gpu_id not in self.supported:
                e.status, e.outcome, e.message = EngineStatus.REFUSED, EngineOutcome.REFUSED, f"gpu-id {config.gpu_id}: the host has no such GPU"
                continue
            e.target = target_for(config, self.supported[config.gpu_id])
            e.pointer = e.pointer or (e.config_path, "property")
            if e.target.warning:
                e.warnings.append(e.target.warning)
        _refuse_conflicts(gies)
        states = self.states = self._stat(ctx, found, result)
        for e in found:
            if e.status is not None:
                continue
            c = e.target.config
            engine = states.get(c.model_engine_file) if c.model_engine_file else None
            model = states.get(c.model) if c.model else None
            e.status, e.reason = classify(e.target, bool(engine and engine.exists), engine.record if engine else None,
                                          self.env, model.sha256 if model else None)
            refusal = rebuild_refusal(c) if e.status is not EngineStatus.CURRENT else None
            deepstream = built_by_deepstream(c)
            if deepstream:
                e.outcome, e.message = EngineOutcome.DEEPSTREAM, deepstream
            elif refusal:
                e.outcome, e.message = EngineOutcome.REFUSED, refusal
            elif e.status is EngineStatus.CURRENT:
                e.outcome = EngineOutcome.CURRENT
        self.engines = found
        return self.engines

    def search_items(self) -> tuple[str, ...]:
        """FIND_SCRIPT's arguments after the plugin link (the probe runs the same search)."""
        return (*self.bound, *(f"f:{c}" for c in self.configs), *(f"r:{r}" for r in self.roots))

    def _gie_engines(self, ctx: StepContext, apps: list[Engine], found: dict[str, Engine]) -> list[Engine]:
        """One engine per enabled GIE of each app config (targets set to the effective nvinfer
        config); the graphs are kept in `graphs`. An app config that cannot be read is refused;
        a graph with a problem raises StepFailed naming the group."""
        engines: list[Engine] = []
        for a in apps:
            try:
                app = _app_config(a.config_path, a.config_text)
            except ConfigError as exc:
                a.status, a.outcome, a.message = EngineStatus.REFUSED, EngineOutcome.REFUSED, str(exc)
                continue
            texts = {}
            for path in {g.config_file for g in app.enabled if g.config_file}:
                known = found.get(path)
                texts[path] = known.config_text if known and known.config_text else ctx.runner.read_text(path)
            self.texts.update((path, text) for path, text in texts.items() if text is not None)
            resolved, unusable = _resolved_gies(app, texts)
            graph = check_graph(app, resolved, unusable, self._label_counts(ctx, resolved))
            self.graphs.append(graph)
            if graph.problems:
                more = len(graph.problems) - 1
                raise StepFailed(f"{ctx.runner.host}: {app.path}: {graph.problems[0]}"
                                 + (f" (and {more} more problem(s))" if more else ""))
            for gie in resolved:
                engines.append(Engine(
                    gie.config.path, app=app.path, group=gie.group, config=gie.config,
                    pointer=(app.path, gie.group) if gie.engine_set_in_app else (gie.config.path, "property"),
                    warnings=[w for w in graph.warnings if w.startswith(f"[{gie.group}]")]))
        return engines

    def _label_counts(self, ctx: StepContext, gies) -> dict[str, int]:
        """Lines of the labels file of each detector that a GIE's operate-on-class-ids points at
        and that gives no num-detected-classes."""
        sources = {g.operate_on_gie_id for g in gies if g.operate_on_class_ids is not None}
        counts = {}
        for g in gies:
            if g.unique_id in sources and g.num_detected_classes is None and g.config.labelfile_path:
                text = ctx.runner.read_text(g.config.labelfile_path)
                if text is not None:
                    counts[g.group] = sum(1 for line in text.splitlines() if line.strip())
        return counts

    def _find_command(self) -> str:
        return f"sh -s -- {q(self.plugin_link)} " + " ".join(q(i) for i in self.search_items())

    def _find(self, ctx: StepContext) -> str:
        seen = ctx.observed.view("engines") if ctx.observed else None
        head, _, found = (seen or "").partition("\n")
        if head == "\t".join(("args", self.plugin_link, *self.search_items())):
            ctx.log(f"(the probe ran) {self._find_command()}")
            return found
        ctx.log(f"$ {self._find_command()}")
        started = time.monotonic()
        result = ctx.runner.run(self._find_command(), stdin=FIND_SCRIPT, timeout=600)
        ctx.ended(result, started)
        if not result.ok:
            raise StepFailed(f"{ctx.runner.host}: finding nvinfer configs failed: {result.tail(2)}")
        return result.stdout

    def _stat(self, ctx: StepContext, engines: list[Engine], searched: str = "") -> dict[str, FileState]:
        """The engine, model and calibration files of `engines`: from the search's own lines
        (`searched`) where they cover a file, the rest asked from the host in one command."""
        known, folders = _file_states(searched)
        wanted: dict[str, str] = {}  # path -> e (engine) | m (model)
        for e in engines:
            if e.target is None:
                continue
            c = e.target.config
            wanted.update((posixpath.normpath(p), "e") for p in (c.model_engine_file, e.target.path) if p)
            wanted.update((posixpath.normpath(p), "m") for p in (c.model, c.int8_calib_file) if p)
        states = {}
        for path, kind in wanted.items():
            if path in known:
                states[path] = known[path]
            elif kind == "e" and path.endswith(".engine") and posixpath.dirname(path) in folders:
                states[path] = FileState(False, None, None)  # its folder's engines were all listed
        ask = [f"{kind}:{path}" for path, kind in wanted.items() if path not in states]
        if ask:
            result = ctx.runner.run("sh -s -- " + " ".join(q(w) for w in ask), stdin=STAT_SCRIPT)
            states.update(_file_states(result.stdout)[0])
        return states

    # -- the step contract ----------------------------------------------------------------

    def check(self, ctx: StepContext) -> str | None:
        engines = self.survey(ctx)
        if not engines:
            return "no nvinfer configs found in " + ", ".join([*self.configs, *self.roots])
        if self._todo():
            return None
        current = sum(e.outcome is EngineOutcome.CURRENT for e in engines)
        refused = sum(e.outcome is EngineOutcome.REFUSED for e in engines)
        deepstream = sum(e.outcome is EngineOutcome.DEEPSTREAM for e in engines)
        return (f"{current} engine(s) current" + (f", {refused} refused" if refused else "")
                + (f", {deepstream} built by DeepStream" if deepstream else "") + f" of {len(engines)} config(s)")

    def _todo(self) -> list[Engine]:
        return [e for e in self.engines if e.status in (EngineStatus.MISSING, EngineStatus.STALE) and e.outcome is EngineOutcome.PENDING]

    def _groups(self) -> dict[str, list[Engine]]:
        """The engines to make, by target path: configs sharing an engine get it once."""
        groups: dict[str, list[Engine]] = {}
        for e in self._todo():
            groups.setdefault(e.target.path, []).append(e)
        return groups

    def apply(self, ctx: StepContext) -> None:
        """Make each engine in the login user's private folder, one after the other (copied from the
        controller's cache and checked to load, else built by trtexec), then install them all at once."""
        groups = self._groups()
        work = WorkFolder()
        ready: list[tuple[Product, list[Engine]]] = []
        try:
            for number, (path, engines) in enumerate(groups.items(), 1):
                if cancel.requested():  # a build is not stopped halfway: the cancel is seen between two
                    installed = self._install(ctx, work, self._check_loads(ctx, work, ready, build=False))[0]
                    raise cancel.StoppedBetween(
                        f"{ctx.runner.host}: cancelled after {number - 1} of {len(groups)} engine rebuild(s)"
                        f" ({installed} rebuilt); the others keep their old engines")
                e = engines[0]
                line = f"rebuilding {number}/{len(groups)}: {path} ({e.status}: {e.reason})"
                ctx.log(line)
                if self.progress:
                    self.progress(line)
                for warning in (w for x in engines for w in x.warnings):
                    ctx.log(f"warning: {e.config_path}: {warning}")
                try:
                    ready.append((self._produce(ctx, work, e, number), engines))
                except StepFailed as exc:
                    for x in engines:
                        x.outcome, x.message = EngineOutcome.FAILED, str(exc)
                    ctx.log(f"failed: {exc}")
            hashed = self._install(ctx, work, self._check_loads(ctx, work, ready))[1]
            fresh = [e for e in self.engines if e.outcome is EngineOutcome.REBUILT]
            if fresh and not hashed:  # the next probe reads these hashes instead of computing them
                refresh_sha_cache(ctx, self._to_hash(e for _, group in ready for e in group))
        finally:
            if work.path:
                ctx.runner.run(f"rm -rf {q(work.path)}")

    def verify(self, ctx: StepContext) -> None:
        failed = [e for e in self.engines if e.outcome is EngineOutcome.FAILED]
        if failed:
            raise StepFailed(f"{ctx.runner.host}: {len(failed)} engine rebuild(s) failed, old engines kept: "
                             + "; ".join(e.message for e in failed))

    # -- one engine -----------------------------------------------------------------------

    def _calibrated(self, e: Engine, states: dict[str, FileState]) -> bool:
        """Whether the engine is built with its INT8 calibration cache (the file exists)."""
        calib = states.get(e.target.config.int8_calib_file) if e.target.config.int8_calib_file else None
        return bool(calib and calib.exists)

    def _key(self, e: Engine, states: dict[str, FileState]) -> EngineKey | None:
        """The engine's cache key, or None: the cache is off, or a part of the key is unknown."""
        t, c = e.target, e.target.config
        device = self.devices.get(c.gpu_id)
        model = states.get(c.onnx_file) if c.onnx_file else None
        calibrated = t.precision == "int8" and self._calibrated(e, states)
        calib = states.get(c.int8_calib_file) if calibrated else None
        if self.cache is None or device is None or self.env is None or not (model and model.sha256):
            return None
        if calibrated and not (calib and calib.sha256):
            return None
        flags = " ".join(f if v is None or f == "--calib" else f"{f}={v}" for f, v in build_flags(t, calibrated))
        return EngineKey(device.name, device.compute_cap, device.platform, self.env.cuda, self.env.tensorrt,
                         self.env.plugin_sha256, model.sha256, calib.sha256 if calib else "", flags, c.batch_size)

    def _produce(self, ctx: StepContext, work: WorkFolder, e: Engine, number: int) -> Product:
        """The engine in the private folder: the cached one (its load is checked after the loop,
        _check_loads), else built here and cached when it has a key. The key's lock makes one host of
        a fleet build it while the others wait, then copy (ArtifactStore.lock, as CachedBuild does)."""
        name = _work_name(number, e.target.path)
        key = self._key(e, self.states)
        if key is None:
            return self._build(ctx, work, e, name, None)
        with self.cache.lock(key.key):
            cached = self.cache.get(key.key, CACHED_ENGINE)
            if cached is None:
                return self._build(ctx, work, e, name, key)
        work.copy(cached, name, key.key)
        return Product(e.target.path, name, sha256_file(cached), cached.stat().st_size, key.key, copied=True)

    def _build(self, ctx: StepContext, work: WorkFolder, e: Engine, name: str, key: EngineKey | None) -> Product:
        """trtexec as the login user into the private folder; with a key, the engine goes into the cache."""
        t, c = e.target, e.target.config
        calibrated = self._calibrated(e, self.states)
        if t.precision == "int8" and not calibrated:
            e.warnings.append("INT8 without a calibration cache: TensorRT uses placeholder scales (accuracy suffers)")
        staged = f"{work.make(ctx)}/{name}"
        result = ctx.sh(build_command(t, staged, calibrated), check=False, stream=True, timeout=6 * 3600)
        made = BUILT.search(result.stdout)
        if not result.ok or "&&&& PASSED" not in result.stdout or not made:
            errors = [line for line in (result.stdout + result.stderr).splitlines() if "[E]" in line or "FAILED" in line]
            model = self.states.get(c.onnx_file)
            hint = "" if (model and model.exists) else f" ({c.onnx_file} is missing)"
            raise StepFailed(f"{ctx.runner.host}: trtexec failed for {c.path}{hint}: "
                             f"{(errors[0] if errors else result.tail(1)).strip()}")
        product = Product(t.path, name, made.group(1), int(made.group(2)))
        if key is not None:
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / CACHED_ENGINE
                ctx.log(f"$ (controller) fetch {staged} into the engine cache ({key.key})")
                ctx.runner.get(staged, local)
                if sha256_file(local) != product.sha256:
                    raise StepFailed(f"{ctx.runner.host}: {staged} changed while it was fetched: not cached")
                self.cache.put(key.key, CACHED_ENGINE, local, key.parts())
            product.key = key.key
        return product

    def _check_loads(self, ctx: StepContext, work: WorkFolder, ready: list[tuple[Product, list[Engine]]],
                     build: bool = True) -> list[tuple[Product, list[Engine]]]:
        """The copied engines, each checked to load here (`trtexec --loadEngine`, one command for all).
        One that does not is built here instead (not cached: the cached engine stays for the hosts
        it loads on), or fails when `build` is off (a cancel)."""
        work.flush(ctx)
        copied = [(i, p) for i, (p, _) in enumerate(ready) if p.copied and not p.loaded]
        if not copied:
            return ready
        engines = {i: ready[i][1] for i, _ in copied}
        checks = "; ".join(  # trtexec's line `&&&& PASSED ...` is matched by the shell (a case pattern: no grep)
            f"if out=$({load_command(f'{work.path}/{p.file}', engines[i][0].target)} 2>&1)"
            f" && case \"$out\" in '&&&& PASSED'*|*'\n&&&& PASSED'*) ;; *) false ;; esac; then printf 'loaded\\t{i}\\n'; else"
            f" printf 'unloaded\\t{i}\\t%s\\n' \"$(printf '%s\\n' \"$out\" | grep -m 1 '\\[E\\]' || printf '%s\\n' \"$out\" | tail -n 1)\"; fi"
            for i, p in copied)
        result = ctx.sh(checks, check=False)
        loaded = {int(m.group(1)) for m in re.finditer(r"^loaded\t(\d+)$", result.stdout, re.M)}
        why = {int(m.group(1)): m.group(2) for m in re.finditer(r"^unloaded\t(\d+)\t(.*)$", result.stdout, re.M)}
        kept = []
        for i, (product, group) in enumerate(ready):
            if i not in engines or i in loaded:
                product.loaded = product.loaded or i in loaded
                kept.append((product, group))
                continue
            e = group[0]
            e.warnings.append(f"the cached engine {product.key} does not load here ({why.get(i, result.reason()).strip()})"
                              + (": built here instead" if build else ""))
            ctx.log(f"warning: {e.config_path}: {e.warnings[-1]}")
            try:
                if not build:
                    raise StepFailed(f"{ctx.runner.host}: {e.target.path}: {e.warnings[-1]}; cancelled before building it here")
                kept.append((self._build(ctx, work, e, product.file, None), group))
            except StepFailed as exc:
                for x in group:
                    x.outcome, x.message = EngineOutcome.FAILED, str(exc)
                ctx.log(f"failed: {exc}")
        return kept

    # -- installing -----------------------------------------------------------------------

    def _to_hash(self, engines: Iterable[Engine]) -> list[str]:
        """What refresh_sha_cache hashes after `engines` are installed: them, their models, the plugin."""
        return [self.plugin_link, *(p for e in engines for p in (e.target.path, e.target.config.model))]

    def _install(self, ctx: StepContext, work: WorkFolder, ready: list[tuple[Product, list[Engine]]]) -> tuple[int, bool]:
        """Install the products: each engine, then its record, then the configs whose model-engine-file
        names it (edited from the text the survey read; a config changed since is not rewritten).
        One command as the login user writes what it may, one with sudo the rest (and refreshes the
        SHA-256 cache, refresh_sha_cache). Returns how many engines were installed and whether the
        cache was refreshed; each engine's outcome says how it went."""
        if not ready:
            return 0, False
        items, small, pointers = self._items(ready)
        status, hashed = self._run_install(ctx, work, items, small, self._to_hash(e for _, group in ready for e in group))

        def why(tag: str) -> str | None:
            done, reason = status.get(tag, (False, "not installed"))
            return None if done else reason

        installed = 0
        for i, (product, engines) in enumerate(ready):
            failed = [w for w in (why(f"e{i}"), why(f"r{i}")) if w]
            installed += not failed
            for e in engines:
                whys = list(failed)
                if e.target.config.model_engine_file != e.target.path:
                    tag = pointers.get(e.pointer[0])
                    reason = why(tag) if tag else f"{e.pointer[0]} could not be read: model-engine-file not set"
                    whys += [reason] if reason else []
                e.key, e.copied = product.key, product.copied
                if whys:
                    e.outcome, e.message = EngineOutcome.FAILED, f"{ctx.runner.host}: {e.target.path}: {whys[0]}"
                else:
                    e.outcome = EngineOutcome.REBUILT
                    e.message = f"{e.target.path} ({e.target.precision}" + (
                        f", copied from the engine cache {product.key})" if product.copied else ")")
        return installed, hashed

    def _items(self, ready: list[tuple[Product, list[Engine]]]
               ) -> tuple[dict[str, InstallItem], dict[str, bytes], dict[str, str]]:
        """What to install (by tag, in order), the small files (records, configs) to send first, and
        the tag of each config rewritten (by path)."""
        items: dict[str, InstallItem] = {}
        small: dict[str, bytes] = {}
        edits: dict[str, tuple[str, list[str]]] = {}  # config path -> (its new text, the records it waits on)
        for i, (product, engines) in enumerate(ready):
            t, c = engines[0].target, engines[0].target.config
            model = self.states.get(c.onnx_file)
            record = EngineRecord(self.env.tensorrt, self.env.cuda, self.env.gpu_archs, self.env.plugin_sha256,
                                  t.precision, c.batch_size, model.sha256 if model and model.sha256 else "")
            small[f"r{i}"] = (json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n").encode()
            items[f"e{i}"] = InstallItem(product.file, t.path, product.sha256, product.size)
            items[f"r{i}"] = InstallItem(f"r{i}", record_path(t.path), *digest(small[f"r{i}"]), deps=(f"e{i}",))
            for e in engines:
                if e.target.config.model_engine_file == t.path:
                    continue
                path, group = e.pointer
                text, deps = edits.get(path, (self.texts.get(path), []))
                if text is None:
                    continue  # never read: _install says so
                edits[path] = (set_property(text, "model-engine-file", _engine_value(path, group, t.path, text), group),
                               [*deps, f"r{i}"])
        pointers = {}
        for j, (path, (text, deps)) in enumerate(edits.items()):
            small[f"c{j}"] = text.encode()
            items[f"c{j}"] = InstallItem(f"c{j}", path, *digest(small[f"c{j}"]),
                                         expect=digest(self.texts[path].encode())[0], deps=tuple(deps))
            pointers[path] = f"c{j}"
        return items, small, pointers

    def _run_install(self, ctx: StepContext, work: WorkFolder, items: dict[str, InstallItem],
                     small: dict[str, bytes], to_hash: list[str]) -> tuple[dict[str, tuple[bool, str]], bool]:
        """INSTALL_ENGINES_SCRIPT as the login user (what it may write), then with sudo the rest and,
        in the same command, REFRESH_SCRIPT for `to_hash` (whether that ran is returned too)."""
        folder = work.make(ctx)
        writes = 'dir=$2\n' + "".join(f"printf '%s' '{base64.b64encode(data).decode()}' | base64 -d > \"$dir\"/{name} || exit 1\n"
                         for name, data in small.items())
        args = [a for tag, item in items.items() for a in item.args(tag)]
        ctx.log(f"$ sh -s -- user {folder} ...  # write {len(small)} record(s) and config(s), install what the login user may")
        started = time.monotonic()
        result = ctx.runner.run(script_command("user", folder, *args), stdin=writes + INSTALL_ENGINES_SCRIPT)
        ctx.ended(result, started)
        status = install_status(result.stdout)
        deferred = {tag: item for tag, item in items.items() if status.get(tag) == (False, DEFERRED)}
        if not result.ok and not status:
            return {tag: (False, refusal(result)) for tag in items}, False
        if not deferred:
            work.path = None  # the script removed it
            return status, False
        for tag in deferred:
            del status[tag]
        args = [a for tag, item in deferred.items()
                for a in item.args(tag, [d for d in item.deps if d in deferred])]
        refresh = f"sh -c {q(REFRESH_SCRIPT)} refresh {q(SHA_CACHE)} " + " ".join(q(p) for p in sorted({p for p in to_hash if p}))
        root = ctx.sh(f"sh -c {q(INSTALL_ENGINES_SCRIPT)} install root {q(folder)} " + " ".join(q(a) for a in args)
                      + f"; rc=$?; {refresh} >/dev/null 2>&1; exit $rc", sudo=True, check=False)
        status.update(install_status(root.stdout))
        if not root.ok and not install_status(root.stdout):
            status.update((tag, (False, refusal(root))) for tag in deferred)
        else:
            work.path = None  # the script removed it
        return status, True


CACHED_ENGINE = "model.engine"  # the engine's name in the cache (a key names one engine, wherever it goes)
BUILT = re.compile(r"^dsprov-engine\t([0-9a-f]{64})\t(\d+)$", re.M)


# The survey's parses, once per distinct input (a fleet's identical hosts hold identical configs):
# their values are frozen dataclasses, and the lists and dicts a caller gets are its own.
_is_app_config = per_input(512)(is_app_config)
_nvinfer_config = per_input(512)(parse_config)
_app_config = per_input(512)(parse_app_config)


def _resolved_gies(app: AppConfig, texts: dict[str, str | None]) -> tuple[list[Gie], dict[str, str]]:
    """resolve_gies, worked out once per app config and nvinfer texts."""
    gies, unusable = _resolved(app, tuple(sorted(texts.items())))
    return list(gies), dict(unusable)


@per_input(512)
def _resolved(app: AppConfig, texts: tuple[tuple[str, str | None], ...]) -> tuple[tuple[Gie, ...], tuple[tuple[str, str], ...]]:
    gies, unusable = resolve_gies(app, dict(texts))
    return tuple(gies), tuple(unusable.items())


def _work_name(number: int, path: str) -> str:
    return f"{number}-{posixpath.basename(path)}"


def build_command(target: EngineTarget, staged: str, calib_exists: bool) -> str:
    """trtexec as the login user (the model must be readable to it), then the engine's SHA-256 and size."""
    model = q(target.config.onnx_file)
    return (f"{{ [ -r {model} ] || [ ! -e {model} ]; }} || {{ echo \"[E] $(id -un) cannot read {model}\"; exit 1; }}; "
            f"{trtexec_command(target, staged, calib_exists)} && [ -s {q(staged)} ] && "
            f"printf 'dsprov-engine\\t%s\\t%s\\n' \"$(sha256sum < {q(staged)} | cut -d' ' -f1)\" \"$(wc -c < {q(staged)})\"")


def load_command(engine: str, target: EngineTarget) -> str:
    """trtexec deserializes the engine and runs one inference (TensorRT's samples/common/sampleOptions.cpp:
    --iterations, --warmUp in ms, --duration in s), with the batch's shapes."""
    c = target.config
    shapes = (f" --shapes={q(f'{c.input_name}:{c.batch_size}x' + 'x'.join(str(d) for d in c.infer_dims))}"
              if c.batch_size > 1 and c.input_name and c.infer_dims else "")
    return f"{TRTEXEC_PATH}; trtexec --loadEngine={q(engine)}{shapes} --iterations=1 --warmUp=0 --duration=0"


def _engine_value(path: str, group: str, engine: str, text: str) -> str:
    """The file's style kept: a relative model-engine-file stays relative to the file's folder
    (nvinfer and deepstream-app both resolve it from there)."""
    try:
        value = key_file(path, text)[group].get("model-engine-file", "").strip()
    except (ConfigError, KeyError):
        value = ""
    if not value or value.startswith("/"):
        return engine
    return posixpath.relpath(engine, posixpath.dirname(path))


def _refuse_conflicts(gies: list[Engine]) -> None:
    """GIEs of several app configs sharing an nvinfer config whose model-engine-file none of
    them overrides cannot each get their own engine written there: refuse them."""
    by_pointer: dict[tuple[str, str], list[Engine]] = {}
    for e in gies:
        if e.target and e.status is None:
            by_pointer.setdefault(e.pointer, []).append(e)
    for (path, _), users in by_pointer.items():
        if len({e.target.path for e in users}) > 1:
            for e in users:
                e.status, e.outcome = EngineStatus.REFUSED, EngineOutcome.REFUSED
                e.message = (f"{path} serves GIEs that need different engines ("
                             + ", ".join(f"{u.app} [{u.group}]" for u in users)
                             + "): set model-engine-file in each app config's group")


def search_bound(settings: Settings) -> tuple[str, ...]:
    """The search's `n:MAX` item where dsprov_engine_search_max_files is set (else engine_search.sh's default)."""
    return (f"n:{settings.engine_search_max_files}",) if settings.engine_search_max_files else ()


def engine_roots(settings: Settings) -> tuple[str, ...]:
    """`dsprov_engine_roots`, else the defaults."""
    return tuple(str(v) for v in settings.engine_roots) if settings.engine_roots else DEFAULT_ROOTS


def rebuild_engines_step(detection, matrix, configs: tuple[str, ...] = (), roots: tuple[str, ...] = DEFAULT_ROOTS,
                         progress: Callable[[str], None] | None = None, bound: tuple[str, ...] = (),
                         cache: ArtifactStore | None = None) -> RebuildEngines:
    """The engines step for a detected host (`detection`: provision.detect.Detection); `cache`: the
    controller's engine cache (None: every engine is built on the host)."""
    f = detection.facts
    if f.tensorrt is None or f.lib_dir is None:
        raise StepFailed(f"{detection.host}: no TensorRT found: no engines can be built")
    if not f.gpus:
        raise StepFailed(f"{detection.host}: no GPU found: no engines can be built")
    caps = {g.index: g.compute_cap or "" for g in f.gpus}
    return RebuildEngines(
        configs=tuple(configs),
        roots=tuple(roots),
        gpu_archs=detection.gpu_archs.cmake_value,
        supported={i: matrix.precisions(cap) for i, cap in caps.items()},
        plugin_link=f"{f.lib_dir}/libnvinfer_plugin.so.{f.tensorrt.major}",
        progress=progress,
        bound=bound,
        cache=cache,
    )


WHY = "an engine is built against one plugin library: a swap or a new model config makes it stale or missing"


def plan(p: Planning) -> None:
    """Rebuild every stale engine of the configs the plan writes and of the searched roots (after
    the swap, which makes all of them stale); a host without a GPU gets a note."""
    if not p.detection.facts.gpus:
        p.plan.notes.append("engines and models: no GPU found, skipped")
        return
    if p.options.skip_engines:
        p.plan.notes.append("engines: skipped (--skip-engines)")
        return
    configs = tuple(s.setup.config for s in p.plan.steps if isinstance(s, WriteModelConfig))
    if configs or p.options.engine_roots:
        cache = p.store if p.options.settings.engine_cache == "auto" else None
        p.plan.add(WHY, rebuild_engines_step(p.detection, p.matrix, configs, p.options.engine_roots,
                                             bound=search_bound(p.options.settings), cache=cache))


CAPABILITY = Capability("engines", plan=plan, probe=PROBE, observe=lambda sections: sections["nvinfer_configs"])
