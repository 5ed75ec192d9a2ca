# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The custom library an nvinfer config names (bbox parser, engine-create function): keep it when
it is there and exports the functions, else build it on the host from its project's repository
(provision/deepstream/custom_lib.py: deepstream_tao_apps' post_processor, DeepStream-Yolo's or
yolo_deepstream's nvdsinfer_custom_impl_Yolo).

As the plugin is built (provision/capabilities/trt_oss.py): clone the source ref on the host (a branch or
tag, or a pinned commit), build with the host's compilers (`make -C <folder> CUDA_VER=<major.minor>`,
the Makefiles' own variable, from the facts), keep the result in the controller's artifact cache
under a key of what decides its bytes (architecture, DeepStream, CUDA, repository commit), so
identical hosts copy it, and install it with a copy beside the target and a rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provision.artifacts import ArtifactStore, build_key
from provision.deepstream.custom_lib import COMMIT, LibrarySource
from provision.options import DEFAULT_BUILD_DIR, Settings
from provision.runners.base import refusal, writable_command
from provision.core.step import folder_writable, StepContext, StepFailed, q
from provision.core.cached_build import CachedBuild


@dataclass(frozen=True)
class ParserSpec:
    """What decides the library's bytes, and where it is built on the host."""

    source: LibrarySource
    repo: str
    ref: str  # a branch or tag, or a commit (40 hex digits)
    cuda: str  # major.minor, from facts
    arch: str
    deepstream: str
    build_dir: str

    @property
    def pinned(self) -> bool:
        return bool(COMMIT.fullmatch(self.ref))

    @property
    def src(self) -> str:
        return f"{self.build_dir}/{self.source.name}-{self.ref[:12] if self.pinned else self.ref.replace('/', '-')}"

    @property
    def built(self) -> str:
        return f"{self.src}/{self.source.folder}/{self.source.library}"

    def commands(self) -> list[str]:
        src = q(self.src)
        if self.pinned:
            clone = (f"rm -rf {src} && git clone -q --no-checkout -- {q(self.repo)} {src}"
                     f" && git -C {src} checkout -q {q(self.ref)}")
        else:
            full = f"git clone --single-branch -b {q(self.ref)} -- {q(self.repo)} {src}"
            # a dumb-HTTP mirror cannot serve a shallow clone: then the same clone in full
            clone = (f"rm -rf {src} && {{ {full.replace('clone ', 'clone --depth 1 ', 1)}"
                     f" || {{ rm -rf {src} && {full}; }}; }}")
        return [clone, " ".join(q(arg) for arg in self.source.make_command(self.src, self.cuda))]

    def key_parts(self, commit: str | None) -> dict[str, str]:
        return {"what": self.source.name, "folder": self.source.folder, "arch": self.arch,
                "deepstream": self.deepstream, "cuda": self.cuda, "repo": self.repo, "commit": str(commit)}


@dataclass
class ParserLibrary(CachedBuild):
    """Make sure `path` exists on the host and exports `functions`: done when it does, else the
    cached or freshly built library is installed there (a copy beside it, then a rename)."""

    path: str
    functions: tuple[str, ...]
    name = "parser-library"
    what = "custom library"
    interruptible = False  # apply also installs the library

    @property
    def ref(self) -> str:
        return self.spec.ref

    def summary(self) -> str:
        s = self.spec
        return (f"{self.path} with {', '.join(self.functions)} (else build {s.source.folder} from {s.repo} {s.ref},"
                f" CUDA_VER={s.cuda})")

    def _present_command(self) -> str:
        return " && ".join([f"[ -f {q(self.path)} ]", *(f"grep -q -a {q(f)} {q(self.path)}" for f in self.functions)])

    def describe(self) -> list[str]:
        resolve = [] if self.spec.pinned else [f"git ls-remote -- {q(self.spec.repo)} {q(self.ref)}"]
        return [self._present_command(), *resolve, f"mkdir -p {q(self.spec.build_dir)}", *self.spec.commands(),
                f"(controller) cache the library; install it at {self.path}"]

    def resolve_key(self, ctx: StepContext) -> str:
        """A pinned commit needs no question to the repository."""
        if self.key is None and self.spec.pinned:
            self.commit = self.ref
            self.key = build_key(self.spec.key_parts(self.commit))
        return super().resolve_key(ctx)

    def _present(self, ctx: StepContext) -> bool:
        return ctx.runner.run(self._present_command()).ok

    def validate(self, ctx: StepContext) -> None:
        """Where the library goes must be writable (by root only where no other user controls the
        path): known before it is built."""
        writable = ctx.runner.run(writable_command(self.path))
        if not writable.ok:
            raise StepFailed(f"{ctx.runner.host}: cannot write {self.path}: {refusal(writable)}")

    def check(self, ctx: StepContext) -> str | None:
        return f"{self.path} exports {', '.join(self.functions)}" if self._present(ctx) else None

    def installed_key(self, ctx: StepContext) -> str | None:
        return None  # check looks at the library itself

    def cached(self, key: str) -> Path | None:
        return self.store.get(key, self.spec.source.library)

    def built_file(self, ctx: StepContext) -> tuple[str, str]:
        if not ctx.runner.run(f"[ -f {q(self.spec.built)} ]").ok:
            raise StepFailed(f"{ctx.runner.host}: the {self.spec.source.folder} build made no {self.spec.source.library}")
        return self.spec.built, self.spec.source.library

    def apply(self, ctx: StepContext) -> None:
        super().apply(ctx)
        ctx.write(self.path, self.artifact, mode="0644", sudo=not folder_writable(ctx, self.path))

    def verify(self, ctx: StepContext) -> None:
        if not self._present(ctx):
            raise StepFailed(f"{ctx.runner.host}: {self.path} does not export {', '.join(self.functions)}")
        if ctx.runner.sha256(self.path) != self.sha256:
            raise StepFailed(f"{ctx.runner.host}: {self.path} is not the built library")


def parser_library_step(facts, settings: Settings, source: LibrarySource, path: str, functions: tuple[str, ...],
                        store: ArtifactStore | None = None) -> ParserLibrary:
    """The step for a host's facts and inventory settings (dsprov_<source>_repo / _ref)."""
    if facts.cuda is None:
        raise StepFailed(f"no CUDA found on the host: CUDA_VER for the {source.name} build is unknown")
    spec = ParserSpec(
        source=source,
        repo=getattr(settings, f"{source.setting}_repo") or source.repo,
        ref=getattr(settings, f"{source.setting}_ref") or source.ref,
        cuda=f"{facts.cuda.major}.{facts.cuda.minor}",
        arch=facts.arch or "",
        deepstream=str(facts.deepstream or ""),
        build_dir=facts.build_dir or DEFAULT_BUILD_DIR,
    )
    return ParserLibrary(spec, store or ArtifactStore(), path, tuple(functions))
