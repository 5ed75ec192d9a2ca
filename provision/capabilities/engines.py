"""Rebuild the TensorRT engines of a host's DeepStream nvinfer configs when they are stale.

Configs are found and read on the host with POSIX sh (`find`, `grep`, `base64`: the target has no
Python), parsed on the controller (provision/deepstream/nvinfer_config.py) and classified against
the build record beside each engine (provision/deepstream/engine_plan.py). A stale or missing
engine is built by the host's `trtexec` into a staging file beside the old one, checked, renamed
to its DeepStream-style name, recorded, and only then is the config's `model-engine-file` line
rewritten (atomically). A failure on the way removes the staging file: the old engine and the
config stay as they were. Rebuilds run one after the other (a Nano has no memory for two).

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
import shlex
import time
from importlib.resources import files
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable
from typing import Any

from provision import cancel
from provision.deepstream.engine_plan import (
    BuildEnv,
    EngineRecord,
    EngineTarget,
    built_by_deepstream,
    classify,
    record_path,
    target_for,
)
from provision.deepstream.app_config import is_app_config, parse_app_config, resolve_gies
from provision.deepstream.gie_graph import Graph, check_graph
from provision.deepstream.nvinfer_config import ConfigError, NvinferConfig, key_file, parse_config, set_property
from provision.options import Settings
from provision.outcomes import EngineOutcome, EngineStatus
from provision.runners.base import FILE_FUNCTIONS, WrongSudoPassword, refusal
from provision.capabilities.model_config import WriteModelConfig
from provision.core.capability import Capability, Planning
from provision.core.step import Step, StepContext, StepFailed, folder_writable, q
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
        }


def _decode(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise StepFailed(f"unreadable bytes from the host ({exc})") from exc


def _file_states(text: str) -> tuple[dict[str, FileState], set[str]]:
    """STAT_FILE's `file` lines by (normalised) path, and the folders whose engines were all listed."""
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
    return states, folders


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


def trtexec_command(target: EngineTarget, staged: str, calib_exists: bool) -> str:
    """trtexec for an ONNX model: precision flags, INT8 calibration cache, batch shapes."""
    c = target.config
    args = [f"--onnx={q(c.onnx_file)}", f"--saveEngine={q(staged)}"]
    if target.precision == "fp16":
        args.append("--fp16")
    elif target.precision == "int8":
        args.append("--int8")
        if c.int8_calib_file and calib_exists:
            args.append(f"--calib={q(c.int8_calib_file)}")
    if c.batch_size > 1:
        dims = "x".join(str(d) for d in c.infer_dims)
        name = c.input_name
        args += [f"--minShapes={q(f'{name}:1x{dims}')}", f"--optShapes={q(f'{name}:{c.batch_size}x{dims}')}",
                 f"--maxShapes={q(f'{name}:{c.batch_size}x{dims}')}"]
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
        for e in self._todo():
            staged = _staged(e.target.path)
            calib = self.states.get(e.target.config.int8_calib_file or "")
            lines.append(trtexec_command(e.target, staged, bool(calib and calib.exists)))
            lines.insert(-1, private_folder_command(posixpath.dirname(e.target.path)))
            lines.append(f"mv -fT {q(staged)} {q(e.target.path)}  # then write {record_path(e.target.path)}")
            if e.target.config.model_engine_file != e.target.path:
                file, group = e.pointer
                lines.append(f"(controller) set model-engine-file in {file} [{group}] to {e.target.path} (atomic)")
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
        apps = [e for e in engines.values() if e.status is None and is_app_config(e.config_text)]
        gies = self._gie_engines(ctx, apps, engines)  # StepFailed for a broken graph: nothing is built
        for e in [*apps, *gies]:  # an app config is no engine; a GIE's nvinfer config is built as the GIE needs
            engines.pop(e.config_path, None)
        found = [*engines.values(), *(e for e in apps if e.status is not None), *gies]
        for e in found:
            if e.status is not None:
                continue
            try:
                config = e.config or parse_config(e.config_path, e.config_text)
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
                app = parse_app_config(a.config_path, a.config_text)
            except ConfigError as exc:
                a.status, a.outcome, a.message = EngineStatus.REFUSED, EngineOutcome.REFUSED, str(exc)
                continue
            texts = {}
            for path in {g.config_file for g in app.enabled if g.config_file}:
                known = found.get(path)
                texts[path] = known.config_text if known and known.config_text else ctx.runner.read_text(path)
            resolved, unusable = resolve_gies(app, texts)
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

    def apply(self, ctx: StepContext) -> None:
        todo = self._todo()
        states = self._stat(ctx, todo)
        built: dict[str, EngineOutcome] = {}  # engine path -> outcome: configs sharing an engine build it once
        for number, e in enumerate(todo, 1):
            if cancel.requested():  # a build is not stopped halfway: the cancel is seen between two
                rebuilt = sum(o is EngineOutcome.REBUILT for o in built.values())
                raise cancel.StoppedBetween(
                    f"{ctx.runner.host}: cancelled after {number - 1} of {len(todo)} engine rebuild(s)"
                    f" ({rebuilt} rebuilt); the others keep their old engines")
            line = f"rebuilding {number}/{len(todo)}: {e.target.path} ({e.status}: {e.reason})"
            ctx.log(line)
            if self.progress:
                self.progress(line)
            for warning in e.warnings:
                ctx.log(f"warning: {e.config_path}: {warning}")
            try:
                if e.target.path not in built:
                    built[e.target.path] = EngineOutcome.FAILED
                    self._build(ctx, e, states)
                    built[e.target.path] = EngineOutcome.REBUILT
                elif built[e.target.path] is EngineOutcome.FAILED:
                    raise StepFailed(f"{ctx.runner.host}: {e.target.path} failed to build for another config")
                self._point_config(ctx, e)
                e.outcome, e.message = EngineOutcome.REBUILT, f"{e.target.path} ({e.target.precision})"
            except StepFailed as exc:
                e.outcome, e.message = EngineOutcome.FAILED, str(exc)
                ctx.log(f"failed: {exc}")
        fresh = [e for e in todo if e.outcome is EngineOutcome.REBUILT]
        if fresh:  # the next probe reads these hashes instead of computing them
            refresh_sha_cache(ctx, [self.plugin_link, *(p for e in fresh for p in (e.target.path, e.target.config.model))])

    def verify(self, ctx: StepContext) -> None:
        failed = [e for e in self.engines if e.outcome is EngineOutcome.FAILED]
        if failed:
            raise StepFailed(f"{ctx.runner.host}: {len(failed)} engine rebuild(s) failed, old engines kept: "
                             + "; ".join(e.message for e in failed))

    # -- one rebuild ----------------------------------------------------------------------

    def _build(self, ctx: StepContext, e: Engine, states: dict[str, FileState]) -> None:
        t, c = e.target, e.target.config
        folder = posixpath.dirname(t.path)
        sudo = not folder_writable(ctx, t.path)
        calib = states.get(c.int8_calib_file) if c.int8_calib_file else None
        if t.precision == "int8" and not (calib and calib.exists):
            e.warnings.append("INT8 without a calibration cache: TensorRT uses placeholder scales (accuracy suffers)")
        made = ctx.sh(private_folder_command(folder), sudo=sudo, check=False)
        private = made.stdout.strip()
        if not made.ok or not private.startswith(folder.rstrip("/") + "/.dsprov-new."):
            raise StepFailed(f"{ctx.runner.host}: cannot build an engine in {folder}: {refusal(made)}")
        staged = f"{private}/{posixpath.basename(t.path)}"
        result = ctx.sh(trtexec_command(t, staged, bool(calib and calib.exists)), sudo=sudo, check=False,
                        stream=True, timeout=6 * 3600)
        built = ctx.runner.run(f"[ -s {q(staged)} ]", sudo=sudo).ok
        if not result.ok or "&&&& PASSED" not in result.stdout or not built:
            ctx.sh(f"rm -rf {q(private)}", sudo=sudo, check=False)
            errors = [line for line in (result.stdout + result.stderr).splitlines() if "[E]" in line or "FAILED" in line]
            hint = "" if (states.get(c.onnx_file) and states[c.onnx_file].exists) else f" ({c.onnx_file} is missing)"
            raise StepFailed(f"{ctx.runner.host}: trtexec failed for {c.path}{hint}: "
                             f"{(errors[0] if errors else result.tail(1)).strip()}")
        ctx.sh(f"mv -fT {q(staged)} {q(t.path)} && rmdir {q(private)}", sudo=sudo)
        model = states.get(c.onnx_file)
        record = EngineRecord(self.env.tensorrt, self.env.cuda, self.env.gpu_archs, self.env.plugin_sha256,
                              t.precision, c.batch_size, model.sha256 if model and model.sha256 else "")
        ctx.write(record_path(t.path), (json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n").encode(), sudo=sudo)

    def _point_config(self, ctx: StepContext, e: Engine) -> None:
        """Set the model-engine-file DeepStream reads (the app config group's, else the nvinfer
        config's) to the new engine (re-read first, written atomically)."""
        t, c = e.target, e.target.config
        if c.model_engine_file != t.path:
            path, group = e.pointer
            text = ctx.runner.read_text(path)
            if text is None:
                raise StepFailed(f"{ctx.runner.host}: cannot read {path} again")
            value = _engine_value(path, group, t.path, text)
            ctx.write(path, set_property(text, "model-engine-file", value, group).encode(),
                      sudo=not folder_writable(ctx, path))


def _staged(path: str) -> str:
    """Where describe says trtexec writes: a private folder beside the final file (its real name
    comes from mktemp), under a name DeepStream never looks for."""
    return posixpath.join(posixpath.dirname(path), ".dsprov-new.XXXXXXXXXX", posixpath.basename(path))


def private_folder_command(folder: str) -> str:
    """Make a fresh folder (mktemp -d, mode 0700) in `folder` for trtexec's output; as root, only
    where no other user can change the path (FILE_FUNCTIONS' safe_folder). Prints its path."""
    script = FILE_FUNCTIONS + 'safe_folder "$1"; mkdir -p "$1" && mktemp -d "$1/.dsprov-new.XXXXXXXXXX"'
    return f"sh -c {q(script)} engine {q(folder)}"


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
                         progress: Callable[[str], None] | None = None, bound: tuple[str, ...] = ()) -> RebuildEngines:
    """The engines step for a detected host (`detection`: provision.detect.Detection)."""
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
        p.plan.add(WHY, rebuild_engines_step(p.detection, p.matrix, configs, p.options.engine_roots,
                                             bound=search_bound(p.options.settings)))


CAPABILITY = Capability("engines", plan=plan, probe=PROBE, observe=lambda sections: sections["nvinfer_configs"])
