# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Swap the system `libnvinfer_plugin.so.X.Y.Z` for the OSS build, so the original always comes back.

The file belongs to a Debian package, so the original is saved where package upgrades respect it:
copied to /var/lib/dsprov/orig (outside every library folder: ldconfig picks a SONAME's target by
comparing file names, so a saved copy beside the library could win) and registered there with
`dpkg-divert`. The state file records the swap before the diversion. The build is uploaded into
a private folder; the swap then checks the upload's size and SHA-256, checks that the library
is still the one checked before (else bytes written since would be lost), stages a verified copy
under a name ldconfig ignores (it reads only names starting with `lib`) and renames it over the
old one, so at every instant the path holds a whole library, never an unverified one. The actions
(save, record, divert, swap, record) run in that order in one sudo command (one round trip, one
password check); killing it between any two leaves a loadable library and a recoverable
original, and the next run finishes the job.

Rollback needs no readable state file: the diversion (`dpkg-divert --list`) names the saved
original, which is put back when the state file is unreadable, empty or not this tool's.

Before a swap the library at the path must be the saved original or the build this tool
installed. Anything else (someone else's library, put there by hand) is refused; with --force it
becomes the original that rollback restores, and the previous original is kept under
/var/lib/dsprov/orig/previous/. A package upgrade writes the diverted path, the saved copy: when
dpkg reports a new version of the plugin's package, that copy is the new original (and said so).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from provision.outcomes import Outcome
from provision.runners.base import FILE_FUNCTIONS, Result, file_digest, refusal
from provision.state import NOTHING_TO_ROLL_BACK, SAVED_DIR, STATE_FILE, State, write_state
from provision.core.capability import Capability, Planning
from provision.core.step import Step, StepContext, StepFailed, q, readlink_command
from provision.capabilities import plugin_files
from provision.capabilities.plugin_files import (
    KeptOriginals,
    PluginPaths,
    PluginRecord,
    file_sha256,
    installed_build,
    soname,
)
from provision.capabilities.prebuilt_plugin import FetchPrebuiltPlugin
from provision.capabilities.trt_oss import BuildPlugin
from provision.core.cached_build import CachedBuild

DIVERT_PACKAGE = "dsprov"
PREVIOUS_DIR = f"{SAVED_DIR}/previous"  # originals replaced by a forced swap, kept by SHA-256


@dataclass(frozen=True)
class Takeover:
    """What a swap must first record: a library it did not put there becomes the original."""

    sha256: str  # the library that becomes the original
    at: str  # where it is now: the library's path (someone else's), or the saved copy (a package upgrade)
    note: str


def package_version(ctx: StepContext, p: PluginPaths) -> str | None:
    """The dpkg version of the plugin library's package (libnvinfer-plugin<major>) on the host."""
    major = Path(p.soname_link).name.rsplit(".", 1)[-1]
    return plugin_files.package_version(ctx, f"libnvinfer-plugin{major}")


def takeover(ctx: StepContext, p: PluginPaths, force: bool) -> Takeover | None:
    """None when the host's library is the saved original or this tool's build (or nothing was
    swapped yet); else what to take over, or StepFailed without `force` (before any change)."""
    plugin = ctx.state.record_of(PluginRecord) or PluginRecord()
    original, installed = plugin.original_sha256, plugin.installed_sha256
    if not original or plugin.path != p.path:
        return None
    saved, current = file_sha256(ctx, p.saved), file_sha256(ctx, p.path)
    if current and current == plugin.installing_sha256:  # a swap stopped halfway: ours too
        installed = current
    was, now = plugin.package_version, package_version(ctx, p)
    if saved and saved != original and was and now and was != now:
        return Takeover(saved, p.saved, f"{p.name}: its package was upgraded ({was} -> {now}); dpkg wrote the"
                                        f" new library to {p.saved} (diverted): it is the new original")
    if current in (original, installed) and saved == original:
        return None
    where, sha = (p.path, current) if current not in (original, installed) else (p.saved, saved)
    what = (f"{where} (SHA-256 {str(sha)[:12]}) is neither the original dsprov saved ({original[:12]}) nor the"
            f" build it installed ({str(installed)[:12]}): changed by hand?")
    if not force:
        raise StepFailed(f"{ctx.runner.host}: {what} Nothing was changed; --force replaces it and keeps it"
                         " for rollback")
    if not sha:
        raise StepFailed(f"{ctx.runner.host}: {where} is missing; restore it (e.g. reinstall the package) first")
    return Takeover(sha, where, f"{what} kept as the original rollback restores (--force)")


def save_original_command(p: PluginPaths) -> str:
    """Copy the original out of the library folder once (never over an existing saved copy): a
    new file of root's, not `cp -p` (which would keep another owner's hand on the copy)."""
    return (
        f"mkdir -p {SAVED_DIR} && if [ ! -e {q(p.saved)} ]; then "
        f"cp {q(p.path)} {q(p.saved + '.partial')} && chmod 0644 {q(p.saved + '.partial')}"
        f" && mv -T {q(p.saved + '.partial')} {q(p.saved)}; fi"
    )


def divert_command(p: PluginPaths) -> str:
    """Tell dpkg that package upgrades write the original's path to the saved copy."""
    return (
        f"dpkg-divert --listpackage {q(p.path)} | grep -qx {DIVERT_PACKAGE} || "
        f"dpkg-divert --package {DIVERT_PACKAGE} --divert {q(p.saved)} --add {q(p.path)}"
    )


# Links the library's SONAME link to $1 (a file name in the folder of $2, the link), atomically.
RELINK = r"""
relink() {  # (after FILE_FUNCTIONS: parent)
    parent "$2"
    ln -sfn "$1" "$up_dir/.dsprov-link" && mv -fT "$up_dir/.dsprov-link" "$2"
}
"""

# $1 the upload, $2 its SHA-256, $3 its size, $4 the library, $5 its SONAME link, $6 the dev link,
# $7 the SHA-256s the library may have now (what the checks saw: the original or dsprov's build).
SWAP_SCRIPT = FILE_FUNCTIONS + RELINK + r"""
up=$1 sha=$2 size=$3 lib=$4
trap 'rm -f "$up"; rmdir "$(dirname "$up")" 2>/dev/null' EXIT
verified "$up" "$sha" "$size" || refuse "the library arrived incomplete ($(wc -c <"$up" 2>/dev/null || echo 0) of $size bytes, or another SHA-256; a full /tmp?): $lib was not replaced"
now=$(sha256sum <"$lib" | cut -d' ' -f1)
case " $7 " in
    *" $now "*) ;;
    *) refuse "$lib changed since it was checked (SHA-256 now ${now%"${now#????????????}"}): it was not replaced" ;;
esac
place "$up" "$lib" 0644 "$sha" "$size"
relink "${lib##*/}" "$5"
[ -e "$6" ] || ln -s "$(basename "$5")" "$6"
ldconfig
"""

# $1 the saved original, $2 the library, $3 its SONAME link, $4 the original's SHA-256 ("": the
# saved copy is taken as it is, as dpkg's diversion names it).
RESTORE_SCRIPT = FILE_FUNCTIONS + RELINK + r"""
saved=$1 lib=$2
[ -f "$saved" ] || refuse "the saved original $saved is missing: reinstall the library's package (sudo dpkg-divert --package dsprov --remove $lib; sudo apt-get install --reinstall <its package>)"
sha=$(sha256sum <"$saved" | cut -d' ' -f1) size=$(wc -c <"$saved")
[ -z "$4" ] || [ "$sha" = "$4" ] || refuse "the saved copy $saved is not the original (SHA-256 ${sha%"${sha#????????????}"}); nothing was restored"
place "$saved" "$lib" "" "$sha" "$size"
relink "${lib##*/}" "$3"
ldconfig
dpkg-divert --package dsprov --remove "$lib" >/dev/null
rm -f "$saved"
"""


def swap_command(p: PluginPaths, upload: str, sha256: str, size: int, accepted: tuple[str, ...]) -> str:
    """Check the upload and the library, then rename a verified copy over it (one command)."""
    return (f"sh -c {q(SWAP_SCRIPT)} swap {q(upload)} {sha256} {int(size)} {q(p.path)} {q(p.soname_link)}"
            f" {q(p.dev_link)} {q(' '.join(a for a in accepted if a))}")


def restore_command(p: PluginPaths, saved: str, original: str | None) -> str:
    """Put the saved original back (same bytes), point the link at it, drop the diversion."""
    return f"sh -c {q(RESTORE_SCRIPT)} restore {q(saved)} {q(p.path)} {q(p.soname_link)} {q(original or '')}"


def diversions_command() -> str:
    """The libraries dpkg diverts for this tool (`dpkg-divert --list`: readable without root)."""
    return f"dpkg-divert --list 2>/dev/null | grep ' by {DIVERT_PACKAGE}$' || true"


def parse_diversions(text: str) -> dict[str, str]:
    """`diversion of PATH to SAVED by dsprov` lines: {PATH: SAVED} for plugin libraries."""
    found = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 7 and words[:2] == ["diversion", "of"] and words[3] == "to" and \
                Path(words[2]).name.startswith("libnvinfer_plugin.so."):
            found[words[2]] = words[4]
    return found


@dataclass
class SwapPlugin(Step):
    """Install a built plugin library (a controller file) in place of the system one."""

    paths: PluginPaths
    build: CachedBuild  # gives the library (a controller file in the artifact cache) at run time
    required_plugins: tuple[str, ...]
    force: bool = False  # replace a library that is neither the original nor this tool's build
    taken: Takeover | None = field(default=None, init=False)
    name = "plugin-swap"

    @property
    def record(self) -> dict:
        """What the state file remembers about the installed build."""
        s = self.build.spec
        return {"key": self.build.key, "ref": s.ref, "commit": self.build.commit, "gpu_archs": s.gpu_archs}

    def summary(self) -> str:
        what = "the prebuilt library" if self.build.name == "prebuilt-plugin" else "the OSS build"
        return f"swap {self.paths.path} for {what} (original saved to {self.paths.saved}, dpkg-divert)"

    def describe(self) -> list[str]:
        p = self.paths
        return [
            f"read the SHA-256 of {p.path} and {p.saved} and its package's version (one command, no root)",
            "(controller) copy the built library into a private folder",
            f"one command (sudo): {save_original_command(p)}; check the copy; record the swap in the state file;"
            f" {divert_command(p)}; check the upload's size and SHA-256 and that {p.path} is still the library"
            f" checked; stage a verified copy beside it, rename it over {p.path}, link {p.soname_link} to it,"
            " ldconfig; record the build in the state file",
            verify_command(p, self.required_plugins),
        ]

    def check(self, ctx: StepContext) -> str | None:
        """Done when the build is installed; refused (before any change) when the build's SONAME
        is not the one the system's programs link to (an OSS ref of another TensorRT major)."""
        self.taken = takeover(ctx, self.paths, self.force)
        if self.taken:
            ctx.log(f"[{self.name}] {self.taken.note}")
            ctx.notes.append(self.taken.note)
        if installed_build(ctx, self.paths) == self.build.resolve_key(ctx):
            return None if self.taken else f"{self.paths.name} is already the OSS build {self.build.key}"
        wanted, built = Path(self.paths.soname_link).name, soname(self.build.artifact)
        if built != wanted:
            raise StepFailed(
                f"{ctx.runner.host}: the {self.build.spec.ref} build has SONAME {built}, but programs here load"
                f" {wanted}: use the OSS ref of the installed TensorRT {self.build.spec.tensorrt}, nothing was swapped"
            )
        return None

    def apply(self, ctx: StepContext) -> None:
        """One command reads what the swap depends on, one copies the build, one (sudo) does the
        rest in order (APPLY_SCRIPT): each action's effect is as it was with a command each."""
        p = self.paths
        if self.taken:
            self._take_over(ctx)
            if installed_build(ctx, p) == self.build.key:
                return  # only the original changed (a package upgrade): the build stays
        plugin = ctx.state.record_of(PluginRecord) or PluginRecord()
        save = "original_sha256" not in plugin.keys
        current, saved, version = read_before_swap(ctx, p, save)
        if save:
            if saved and saved != current:
                raise StepFailed(
                    f"{ctx.runner.host}: {p.saved} exists but is not {p.path} and the state file does not know it;"
                    " move it away by hand before provisioning"
                )
            if not current:
                raise StepFailed(f"{ctx.runner.host}: {p.path} is missing; restore it (e.g. reinstall the package) first")
            plugin = plugin.updated(original_sha256=current, saved=p.saved, path=p.path)
        plugin = plugin.updated(package_version=version, installing_sha256=self.build.sha256)
        sha, size = file_digest(self.build.artifact)
        recording = ctx.state.with_record(plugin)  # before the diversion: rollback always knows the original
        done = ctx.state.with_record(plugin.updated(installed_sha256=sha, **self.record))
        upload = ctx.runner.upload(self.build.artifact)
        accepted = (plugin.original_sha256, plugin.installed_sha256, sha)
        swapped = ctx.sh(apply_command(p, upload, sha, size, accepted, current if save else None,
                                       recording.to_json().encode(), done.to_json().encode()), sudo=True, check=False)
        written = re.findall(r"^dsprov-state (\d)\r?$", swapped.stdout, re.M)  # \r: a pty (Ansible's become)
        ctx.state = {"1": recording, "2": done}.get(written[-1] if written else "", ctx.state)
        if not swapped.ok:
            raise StepFailed(f"{ctx.runner.host}: {refusal(swapped)}")

    def _take_over(self, ctx: StepContext) -> None:
        """Keep the current original under PREVIOUS_DIR, then make the taken-over library the saved
        original (each a single command; the state file is written after each)."""
        p, t = self.paths, self.taken
        plugin = ctx.state.record_of(PluginRecord) or PluginRecord()
        old = ctx.runner.sha256(p.saved)
        if old and old != t.sha256:
            kept = f"{PREVIOUS_DIR}/{p.name}.{old[:12]}"
            ctx.sh(f"mkdir -p {PREVIOUS_DIR} && cp {q(p.saved)} {q(kept)} && chmod 0644 {q(kept)}", sudo=True)
            plugin = plugin.updated(previous_originals=[*(plugin.previous_originals or []), {"sha256": old, "path": kept}])
            write_state(ctx, ctx.state.with_record(plugin))
        if t.at != p.saved:
            partial = q(p.saved + ".partial")
            ctx.sh(f"cp {q(t.at)} {partial} && chmod 0644 {partial} && mv -fT {partial} {q(p.saved)}", sudo=True)
        if ctx.runner.sha256(p.saved) != t.sha256:
            raise StepFailed(f"{ctx.runner.host}: the saved copy of {p.name} does not match the library taken over")
        write_state(ctx, ctx.state.with_record(
            plugin.updated(original_sha256=t.sha256, package_version=package_version(ctx, p))))

    def verify(self, ctx: StepContext) -> None:
        """The link's target, the library's SHA-256, each required plugin's name in it and the loader
        binding every symbol, asked in one command (verify_command)."""
        p = self.paths
        result = logged_run(ctx, verify_command(p, self.required_plugins))
        head, _, loader = result.stdout.partition(f"{LOADER_MARK}\n")
        seen = dict(line.split("\t", 1) for line in head.splitlines() if "\t" in line)
        if seen.get("link") != p.path:
            raise StepFailed(f"{ctx.runner.host}: {p.soname_link} resolves to {seen.get('link') or None}, not {p.path}")
        if seen.get("sha") != (self.build.sha256 or (ctx.state.record_of(PluginRecord) or PluginRecord()).installed_sha256):
            raise StepFailed(f"{ctx.runner.host}: {p.path} is not the built library")
        for plugin in self.required_plugins:
            if f"has\t{plugin}" not in head.splitlines():
                raise StepFailed(f"{ctx.runner.host}: the installed library lacks {plugin}")
        check_loads(ctx, p.path, Result(result.command, result.exit_code, loader, result.stderr))

    def rollback(self, ctx: StepContext) -> None:
        restore(ctx, self.paths)


def loads_command(path: str) -> str:
    """The dynamic loader's trace of a library, every symbol bound (check_loads)."""
    return ("for ld in /lib/ld-linux-aarch64.so.1 /lib64/ld-linux-x86-64.so.2; do"
            f" [ -x $ld ] && LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes LD_BIND_NOW=yes exec $ld {q(path)}; done; exit 127")


def check_loads(ctx: StepContext, path: str, result: Result) -> None:
    """Raise StepFailed unless `result` (loads_command's) says the library loads: the dynamic loader
    finds every dependency and binds every symbol it imports, as dlopen(RTLD_NOW) would (`ldd -r`:
    the loader's trace with LD_BIND_NOW and LD_WARN, which reports `undefined symbol`)."""
    if not result.ok or "not found" in result.stdout or "undefined symbol" in result.stdout + result.stderr:
        raise StepFailed(f"{ctx.runner.host}: {path} does not load: {result.tail(2)}")


LOADER_MARK = "dsprov-loader"


def logged_run(ctx: StepContext, command: str) -> Result:
    """A read without root, logged as ctx.sh logs a command (its output is the caller's to judge)."""
    ctx.log(f"$ {command}")
    started = time.monotonic()
    result = ctx.runner.run(command)
    ctx.ended(result, started)
    return result


def verify_command(p: PluginPaths, required_plugins: tuple[str, ...]) -> str:
    """What verify runs (one command, no root): `link<TAB>target`, `sha<TAB>SHA-256`, `has<TAB>name`
    per required plugin found in the library, then LOADER_MARK and the loader's trace (its exit
    status is the command's)."""
    lib = q(p.path)
    return "; ".join([
        f"printf 'link\\t%s\\n' \"$({readlink_command(p.soname_link)})\"",
        f"printf 'sha\\t%s\\n' \"$(sha256sum < {lib} 2>/dev/null | cut -d' ' -f1)\"",
        *(f"if grep -q -a {q(plugin)} {lib}; then printf 'has\\t%s\\n' {q(plugin)}; fi" for plugin in required_plugins),
        f"echo {LOADER_MARK}",
        loads_command(p.path),
    ])


def read_before_swap(ctx: StepContext, p: PluginPaths, shas: bool) -> tuple[str | None, str | None, str | None]:
    """The library's and the saved copy's SHA-256 (with `shas`; None where absent) and the
    package's dpkg version, in one command without root."""
    major = Path(p.soname_link).name.rsplit(".", 1)[-1]
    package = f"libnvinfer-plugin{major}"
    ask = [f"printf '%s\\t%s\\n' {tag} \"$(sha256sum < {q(path)} 2>/dev/null | cut -d' ' -f1)\""
           for tag, path in (("lib", p.path), ("saved", p.saved)) if shas]
    observed = ctx.observed.facts.packages.get(package) if ctx.observed else None
    if not ctx.observed:
        ask.append(f"printf 'package\\t%s\\n' \"$(dpkg-query -W -f '${{Version}}' {q(package)} 2>/dev/null)\"")
    if not ask:
        return None, None, observed or None
    result = logged_run(ctx, "; ".join(ask))
    seen = {k: v for k, _, v in (line.partition("\t") for line in result.stdout.splitlines()) if v}
    return seen.get("lib"), seen.get("saved"), seen.get("package") if not ctx.observed else observed or None


# One command (sudo) for the whole swap, each action in the order it had as a command of its own:
# check the upload (before any change), save the original once and check the copy, write the state file recording the swap (before the
# diversion), divert, swap (SWAP_SCRIPT), write the state file recording the build. `dsprov-state N`
# says which state file is on the host (1: recording the swap, 2: the build); a refusal stops it.
APPLY_SCRIPT = FILE_FUNCTIONS + r"""
put_state() {  # staged beside the state file, not in /tmp (which may be full); place sets f, t, mode, sha, size, dir, new
    parent "$5"
    state=$(mktemp "$up_dir/.dsprov-state-XXXXXXXXXX") || refuse "cannot create a file beside $5 (disk full?)"
    printf '%s' "$2" | base64 -d > "$state" && place "$state" "$5" 0644 "$3" "$4" || { rm -f "$state"; refuse "cannot write $5"; }
    rm -f "$state"
    echo "dsprov-state $1"
}
"""


def apply_command(p: PluginPaths, upload: str, sha256: str, size: int, accepted: tuple[str | None, ...],
                  original: str | None, recording: bytes, done: bytes) -> str:
    """APPLY_SCRIPT for a swap: with `original` (the library's SHA-256 now), the original is saved
    first and its copy checked; `recording` and `done` are the state file's two versions."""
    def state(n: int, data: bytes) -> str:
        return f"put_state {n} {base64.b64encode(data).decode()} {hashlib.sha256(data).hexdigest()} {len(data)} {STATE_FILE}"

    lines = [f"verified {q(upload)} {sha256} {int(size)} || refuse {q('the library arrived incomplete (a full /tmp?): nothing was changed')}"]
    if original:  # the actions, one a line
        lines += [f"{{ {save_original_command(p)}; }} || refuse {q('cannot save the original ' + p.path)}",
                  f"[ \"$(sha256sum < {q(p.saved)} | cut -d' ' -f1)\" = {original} ] ||"
                  f" refuse {q('the saved copy of ' + p.name + ' does not match the original')}"]
    lines += [state(1, recording),
              f"{divert_command(p)} || refuse {q('dpkg-divert did not divert ' + p.path)}",
              f"{swap_command(p, upload, sha256, size, tuple(a for a in accepted if a))} || exit $?",
              state(2, done)]
    return f"sh -c {q(APPLY_SCRIPT + chr(10).join(lines))}"


def restore(ctx: StepContext, p: PluginPaths, saved: str | None = None) -> None:
    """Put the saved original back and forget the swap: checked against the state file's SHA-256
    when it records one, else the copy dpkg's diversion names (`saved`); a no-op when neither."""
    state = ctx.state
    plugin = state.record_of(PluginRecord) or PluginRecord()
    original = plugin.original_sha256
    if not original and not saved:
        return
    result = ctx.sh(restore_command(p, plugin.saved or saved or p.saved, original), sudo=True, check=False)
    if not result.ok:
        raise StepFailed(f"{ctx.runner.host}: {refusal(result)}")
    kept = state.without(PluginRecord)
    if plugin.previous_originals:  # still on the host: keep them on record
        before = state.record_of(KeptOriginals) or KeptOriginals()
        kept = kept.with_record(KeptOriginals((*before.originals, *plugin.previous_originals)))
    write_state(ctx, kept)




@dataclass
class RestorePlugin(Step):
    """`rollback`: put the original library back: the one the state file records (same SHA-256; a
    package upgrade's library, found at the saved path, is what comes back; someone else's library
    at the path is refused: takeover without force), or, when the state file records none (it is
    unreadable, empty or not this tool's), the saved copy dpkg's diversion names."""

    paths: PluginPaths
    diverted_to: str | None = None  # the saved copy per `dpkg-divert --list`
    outcome: Outcome | None = field(default=None, init=False)
    name = "restore"
    main_product = True

    def summary(self) -> str:
        return f"restore the original {self.paths.path}"

    def describe(self) -> list[str]:
        return [f"check {self.paths.saved} against the recorded SHA-256, rename a verified copy over {self.paths.path},"
                f" link {self.paths.soname_link} to it, ldconfig, dpkg-divert --remove (one command)"]

    def check(self, ctx: StepContext) -> str | None:
        plugin = ctx.state.record_of(PluginRecord) or PluginRecord()
        return None if plugin.original_sha256 or self.diverted_to else NOTHING_TO_ROLL_BACK

    def apply(self, ctx: StepContext) -> None:
        plugin = ctx.state.record_of(PluginRecord) or PluginRecord()
        if not plugin.original_sha256:
            note = (f"{self.paths.path}: the state file records no swap; restored the original dpkg's diversion"
                    f" names ({self.diverted_to})")
            ctx.log(note)
            restore(ctx, self.paths, self.diverted_to)
            self.outcome = Outcome.RESTORED
            ctx.notes.append(note)
            return
        taken = takeover(ctx, self.paths, force=False)  # refuses to overwrite someone else's library
        if taken:  # a package upgrade: its library is what rollback puts back
            ctx.log(taken.note)
            plugin = plugin.updated(original_sha256=taken.sha256)
            write_state(ctx, ctx.state.with_record(plugin))
        restore(ctx, self.paths)
        self.outcome = Outcome.RESTORED
        ctx.notes.append(f"{self.paths.path} restored (SHA-256 {str(plugin.original_sha256)[:12]}...)")


def rollback_plan_steps(state: State, diversions: dict[str, str]) -> list[Step]:
    """The rollback's steps for a host's state file and dsprov's diversions ({path: saved}): none
    when neither records a swap."""
    plugin = state.record_of(PluginRecord) or PluginRecord()
    if plugin.original_sha256:
        path = Path(str(plugin.path))
        return [RestorePlugin(PluginPaths(str(path.parent), path.name), diversions.get(str(plugin.path)))]
    return [RestorePlugin(PluginPaths(str(Path(path).parent), Path(path).name), saved)
            for path, saved in sorted(diversions.items())]


WHY = "programs load {link}: the new library takes the original's place (kept for rollback)"


def plan(p: Planning) -> None:
    """Swap in the new library of the plan's plugin capability (a build or NVIDIA's prebuilt one)."""
    source = p.plan.provider("plugin-library")
    if not isinstance(source, (BuildPlugin, FetchPrebuiltPlugin)):
        return
    installed = source.installed
    force = p.options.force and isinstance(source, BuildPlugin)  # a prebuilt library never takes over
    p.plan.add(WHY.format(link=installed.soname_link), SwapPlugin(installed, source, p.options.required_plugins, force))


CAPABILITY = Capability(
    "plugin_swap", plan=plan, probe=plugin_files.PROBE, observe=plugin_files.observe,
    rollback_survey=diversions_command(), records=(PluginRecord, KeptOriginals),
    rollback=lambda state, survey: rollback_plan_steps(state, parse_diversions(survey)),
)
