"""Swap the system `libnvinfer_plugin.so.X.Y.Z` for the OSS build, so the original always comes back.

The file belongs to a Debian package, so the original is saved where package upgrades respect it:
copied to /var/lib/dsprov/orig (outside every library folder: ldconfig picks a SONAME's target by
comparing file names, so a saved copy beside the library could win) and registered there with
`dpkg-divert`. The new file is staged under a name ldconfig ignores (it reads only names starting
with `lib`) and renamed over the old one, so at every instant the path holds a whole library.
Each action is one command; killing the run between any two leaves a loadable library and a
recoverable original, and the next run finishes the job.

Before a swap the library at the path must be the saved original or the build this tool
installed. Anything else (someone else's library, put there by hand) is refused; with --force it
becomes the original that rollback restores, and the previous original is kept under
/var/lib/dsprov/orig/previous/. A package upgrade writes the diverted path, the saved copy: when
dpkg reports a new version of the plugin's package, that copy is the new original (and said so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from provision.outcomes import Outcome
from provision.state import SAVED_DIR, read_state, write_state
from provision.steps.base import Step, StepContext, StepFailed, q, readlink_command
from provision.runners.base import sha256_command
from provision.steps.plugin_files import PluginPaths, installed_build, soname
from provision.steps.trt_oss import BuildPlugin

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
    return ctx.package_version(f"libnvinfer-plugin{major}")


def takeover(ctx: StepContext, p: PluginPaths, force: bool) -> Takeover | None:
    """None when the host's library is the saved original or this tool's build (or nothing was
    swapped yet); else what to take over, or StepFailed without `force` (before any change)."""
    plugin = ctx.state.get("plugin") or {}
    original, installed = plugin.get("original_sha256"), plugin.get("installed_sha256")
    if not original or plugin.get("path") != p.path:
        return None
    saved, current = ctx.sha256(p.saved), ctx.sha256(p.path)
    if current and current == plugin.get("installing_sha256"):  # a swap stopped halfway: ours too
        installed = current
    was, now = plugin.get("package_version"), package_version(ctx, p)
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
    """Copy the original out of the library folder once (never over an existing saved copy)."""
    return (
        f"mkdir -p {SAVED_DIR} && if [ ! -e {q(p.saved)} ]; then "
        f"cp -p {q(p.path)} {q(p.saved + '.partial')} && mv {q(p.saved + '.partial')} {q(p.saved)}; fi"
    )


def divert_command(p: PluginPaths) -> str:
    """Tell dpkg that package upgrades write the original's path to the saved copy."""
    return (
        f"dpkg-divert --listpackage {q(p.path)} | grep -qx {DIVERT_PACKAGE} || "
        f"dpkg-divert --package {DIVERT_PACKAGE} --divert {q(p.saved)} --add {q(p.path)}"
    )


def install_commands(p: PluginPaths, staged_from: str) -> list[str]:
    """Rename the staged file over the library, point the links at it, refresh the cache."""
    return [
        f"cp {q(staged_from)} {q(p.staged)} && chmod 0644 {q(p.staged)}",
        f"mv -f {q(p.staged)} {q(p.path)}",
        f"ln -sfn {q(p.name)} {q(p.lib_dir + '/.dsprov-link')} && mv -fT {q(p.lib_dir + '/.dsprov-link')} {q(p.soname_link)}",
        f"[ -e {q(p.dev_link)} ] || ln -s {q(Path(p.soname_link).name)} {q(p.dev_link)}",
        "ldconfig",
    ]


def restore_commands(p: PluginPaths) -> list[str]:
    """Put the saved original back (same bytes) and drop the diversion."""
    return [
        f"cp -p {q(p.saved)} {q(p.staged)} && mv -f {q(p.staged)} {q(p.path)}",
        f"ln -sfn {q(p.name)} {q(p.lib_dir + '/.dsprov-link')} && mv -fT {q(p.lib_dir + '/.dsprov-link')} {q(p.soname_link)}",
        "ldconfig",
        f"dpkg-divert --package {DIVERT_PACKAGE} --remove {q(p.path)} >/dev/null",
    ]


@dataclass
class SwapPlugin(Step):
    """Install a built plugin library (a controller file) in place of the system one."""

    paths: PluginPaths
    build: BuildPlugin  # gives the library (a controller file in the artifact cache) at run time
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
        staging = f"/tmp/.dsprov-{self.paths.name}"
        return [
            save_original_command(self.paths),
            divert_command(self.paths),
            f"(controller) copy the built library to {staging}",
            *install_commands(self.paths, staging),
            *self.verify_commands(),
        ]

    def verify_commands(self) -> list[str]:
        """What verify runs: the link's target, the library's SHA-256, each required plugin's name in
        it, and the loader binding every symbol."""
        p = self.paths
        return [readlink_command(p.soname_link), sha256_command(p.path),
                *(f"grep -q -a {q(plugin)} {q(p.path)}" for plugin in self.required_plugins), loads_command(p.path)]

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
        p = self.paths
        state = dict(ctx.state)
        plugin = dict(state.get("plugin") or {})
        if self.taken:
            self._take_over(ctx, plugin)
            if installed_build(ctx, p) == self.build.key:
                return  # only the original changed (a package upgrade): the build stays
        if "original_sha256" not in plugin:
            current = ctx.runner.sha256(p.path)
            saved = ctx.runner.sha256(p.saved)
            if saved and saved != current:
                raise StepFailed(
                    f"{ctx.runner.host}: {p.saved} exists but is not {p.path} and the state file does not know it;"
                    " move it away by hand before provisioning"
                )
            ctx.sh(save_original_command(p), sudo=True)
            if ctx.runner.sha256(p.saved) != current:
                raise StepFailed(f"{ctx.runner.host}: the saved copy of {p.name} does not match the original")
            plugin.update(original_sha256=current, saved=p.saved, path=p.path)
        plugin.update(package_version=package_version(ctx, p), installing_sha256=self.build.sha256)
        ctx.sh(divert_command(p), sudo=True)
        state["plugin"] = plugin
        write_state(ctx, state)

        staging = f"/tmp/.dsprov-{p.name}"
        ctx.runner.put(self.build.artifact, staging)
        for command in install_commands(p, staging):
            ctx.sh(command, sudo=True)
        ctx.sh(f"rm -f {q(staging)}", check=False)
        plugin.update(installed_sha256=self.build.sha256, **self.record)
        state["plugin"] = plugin
        write_state(ctx, state)

    def _take_over(self, ctx: StepContext, plugin: dict) -> None:
        """Keep the current original under PREVIOUS_DIR, then make the taken-over library the saved
        original (each a single command; the state file is written after each)."""
        p, t = self.paths, self.taken
        old = ctx.runner.sha256(p.saved)
        if old and old != t.sha256:
            kept = f"{PREVIOUS_DIR}/{p.name}.{old[:12]}"
            ctx.sh(f"mkdir -p {PREVIOUS_DIR} && cp -p {q(p.saved)} {q(kept)}", sudo=True)
            plugin["previous_originals"] = [*plugin.get("previous_originals", []), {"sha256": old, "path": kept}]
            write_state(ctx, {**ctx.state, "plugin": plugin})
        if t.at != p.saved:
            ctx.sh(f"cp -p {q(t.at)} {q(p.saved + '.partial')} && mv -f {q(p.saved + '.partial')} {q(p.saved)}", sudo=True)
        if ctx.runner.sha256(p.saved) != t.sha256:
            raise StepFailed(f"{ctx.runner.host}: the saved copy of {p.name} does not match the library taken over")
        plugin.update(original_sha256=t.sha256, package_version=package_version(ctx, p))
        write_state(ctx, {**ctx.state, "plugin": plugin})

    def verify(self, ctx: StepContext) -> None:
        p = self.paths
        target = ctx.resolved(p.soname_link)
        if target != p.path:
            raise StepFailed(f"{ctx.runner.host}: {p.soname_link} resolves to {target}, not {p.path}")
        if ctx.runner.sha256(p.path) != (self.build.sha256 or (ctx.state.get("plugin") or {}).get("installed_sha256")):
            raise StepFailed(f"{ctx.runner.host}: {p.path} is not the built library")
        for plugin, command in zip(self.required_plugins, self.verify_commands()[2:]):
            if not ctx.runner.run(command).ok:
                raise StepFailed(f"{ctx.runner.host}: the installed library lacks {plugin}")
        verify_loads(ctx, p.path)

    def rollback(self, ctx: StepContext) -> None:
        restore(ctx, self.paths)


def loads_command(path: str) -> str:
    """The dynamic loader's trace of a library, every symbol bound (verify_loads)."""
    return ("for ld in /lib/ld-linux-aarch64.so.1 /lib64/ld-linux-x86-64.so.2; do"
            f" [ -x $ld ] && LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes LD_BIND_NOW=yes exec $ld {q(path)}; done; exit 127")


def verify_loads(ctx: StepContext, path: str) -> None:
    """The dynamic loader finds every dependency of the library and binds every symbol it
    imports, as dlopen(RTLD_NOW) would (`ldd -r`: the loader's trace with LD_BIND_NOW and
    LD_WARN, which reports `undefined symbol`)."""
    result = ctx.runner.run(loads_command(path))
    if not result.ok or "not found" in result.stdout or "undefined symbol" in result.stdout + result.stderr:
        raise StepFailed(f"{ctx.runner.host}: {path} does not load: {result.tail(2)}")


def restore(ctx: StepContext, p: PluginPaths) -> None:
    """Put the saved original back and forget the swap; a no-op when nothing was swapped."""
    state = read_state(ctx)
    plugin = state.get("plugin") or {}
    if not plugin.get("original_sha256"):
        return
    for command in restore_commands(p):
        ctx.sh(command, sudo=True)
    if ctx.runner.sha256(p.path) != plugin["original_sha256"]:
        raise StepFailed(f"{ctx.runner.host}: restored {p.path} does not match the original's SHA-256")
    ctx.sh(f"rm -f {q(p.saved)}", sudo=True)
    state.pop("plugin")
    if plugin.get("previous_originals"):  # still on the host: keep them on record
        state["previous_originals"] = [*state.get("previous_originals", []), *plugin["previous_originals"]]
    write_state(ctx, state)


NOTHING_TO_ROLL_BACK = "nothing to roll back: the state file records no swap"


@dataclass
class RestorePlugin(Step):
    """`rollback`: put the original library the state file records back (same SHA-256). A package
    upgrade's library, found at the saved path, is what comes back; someone else's library at the
    path is refused (takeover without force)."""

    paths: PluginPaths
    outcome: Outcome | None = field(default=None, init=False)
    name = "restore"
    main_product = True

    def summary(self) -> str:
        return f"restore the original {self.paths.path}"

    def describe(self) -> list[str]:
        return restore_commands(self.paths)

    def check(self, ctx: StepContext) -> str | None:
        plugin = ctx.state.get("plugin") or {}
        return None if plugin.get("original_sha256") else NOTHING_TO_ROLL_BACK

    def apply(self, ctx: StepContext) -> None:
        plugin = ctx.state["plugin"]
        taken = takeover(ctx, self.paths, force=False)  # refuses to overwrite someone else's library
        if taken:  # a package upgrade: its library is what rollback puts back
            ctx.log(taken.note)
            write_state(ctx, {**ctx.state, "plugin": {**plugin, "original_sha256": taken.sha256}})
        restore(ctx, self.paths)
        self.outcome = Outcome.RESTORED
        ctx.notes.append(f"{self.paths.path} restored (SHA-256 {plugin['original_sha256'][:12]}...)")


def rollback_plan_steps(state: dict) -> list[Step]:
    """The rollback's steps for a host's state file: none when it records no swap."""
    plugin = state.get("plugin") or {}
    if not plugin.get("original_sha256"):
        return []
    path = Path(plugin["path"])
    return [RestorePlugin(PluginPaths(str(path.parent), path.name))]
