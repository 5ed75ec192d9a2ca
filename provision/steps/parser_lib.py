"""The custom bbox parser library an nvinfer config names: keep it when it is there and carries
the parse function, else build it from deepstream_tao_apps' `post_processor` on the host.

As the plugin is built (provision/steps/trt_oss.py): clone the source ref on the host, build with
the host's compilers (`CUDA_VER=<major.minor> make`, the post_processor Makefile's own variable;
DS_SRC_PATH set to the installed DeepStream), keep the result in the controller's artifact cache
under a key of what decides its bytes (architecture, DeepStream, CUDA, repository commit), so
identical hosts copy it, and install it with a copy beside the target and a rename.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from provision.artifacts import ArtifactStore
from provision.options import Settings
from provision.steps.base import StepContext, StepFailed, q
from provision.steps.cached_build import CachedBuild

DEFAULT_REPO = "https://github.com/NVIDIA-AI-IOT/deepstream_tao_apps.git"
DEFAULT_REF = "master"
DEEPSTREAM_DIR = "/opt/nvidia/deepstream/deepstream"


@dataclass(frozen=True)
class ParserSpec:
    """What decides the parser library's bytes, and where it is built on the host."""

    repo: str
    ref: str
    cuda: str  # major.minor, from facts
    arch: str
    deepstream: str
    build_dir: str

    @property
    def src(self) -> str:
        return f"{self.build_dir}/deepstream_tao_apps-{self.ref.replace('/', '-')}"

    def commands(self) -> list[str]:
        src = q(self.src)
        return [
            f"rm -rf {src} && git clone --depth 1 --single-branch -b {q(self.ref)} -- {q(self.repo)} {src}",
            f"CUDA_VER={q(self.cuda)} make -C {src}/post_processor DS_SRC_PATH={q(DEEPSTREAM_DIR)}",
        ]

    def key_parts(self, commit: str | None) -> dict[str, str]:
        return {"what": "tao-post-processor", "arch": self.arch, "deepstream": self.deepstream, "cuda": self.cuda,
                "repo": self.repo, "commit": str(commit)}


@dataclass
class ParserLibrary(CachedBuild):
    """Make sure `path` exists on the host and exports `function`: done when it does, else the
    cached or freshly built library is installed there (a copy beside it, then a rename)."""

    path: str
    function: str
    name = "parser-library"
    what = "parser library"
    interruptible = False  # apply also installs the library

    @property
    def ref(self) -> str:
        return self.spec.ref

    def summary(self) -> str:
        s = self.spec
        return f"{self.path} with {self.function} (else build post_processor from {s.repo} {s.ref}, CUDA_VER={s.cuda})"

    def _present_command(self) -> str:
        return f"[ -f {q(self.path)} ] && grep -q -a {q(self.function)} {q(self.path)}"

    def describe(self) -> list[str]:
        return [self._present_command(), f"git ls-remote -- {q(self.spec.repo)} {q(self.ref)}",
                f"mkdir -p {q(self.spec.build_dir)}", *self.spec.commands(),
                f"(controller) cache the library; install it at {self.path}"]

    def _present(self, ctx: StepContext) -> bool:
        return ctx.runner.run(self._present_command()).ok

    def check(self, ctx: StepContext) -> str | None:
        return f"{self.path} carries {self.function}" if self._present(ctx) else None

    def installed_key(self, ctx: StepContext) -> str | None:
        return None  # check looks at the library itself

    def cached(self, key: str) -> Path | None:
        return self.store.get(key, posixpath.basename(self.path))

    def built_file(self, ctx: StepContext) -> tuple[str, str]:
        name = posixpath.basename(self.path)
        built = f"{self.spec.src}/post_processor/{name}"
        if not ctx.runner.run(f"[ -f {q(built)} ]").ok:
            raise StepFailed(f"{ctx.runner.host}: the post_processor build made no {name}")
        return built, name

    def apply(self, ctx: StepContext) -> None:
        super().apply(ctx)
        ctx.write(self.path, self.artifact, mode="0644", sudo=True)

    def verify(self, ctx: StepContext) -> None:
        if not self._present(ctx):
            raise StepFailed(f"{ctx.runner.host}: {self.path} does not carry {self.function}")
        if ctx.runner.sha256(self.path) != self.sha256:
            raise StepFailed(f"{ctx.runner.host}: {self.path} is not the built library")


def parser_library_step(facts, settings: Settings, path: str, function: str, store: ArtifactStore | None = None) -> ParserLibrary:
    """The step for a host's facts and inventory settings."""
    if facts.cuda is None:
        raise StepFailed("no CUDA found on the host: CUDA_VER for the parser build is unknown")
    spec = ParserSpec(
        repo=settings.tao_apps_repo or DEFAULT_REPO,
        ref=settings.tao_apps_ref or DEFAULT_REF,
        cuda=f"{facts.cuda.major}.{facts.cuda.minor}",
        arch=facts.arch or "",
        deepstream=str(facts.deepstream or ""),
        build_dir=facts.build_dir or "/tmp/dsprov",
    )
    return ParserLibrary(spec, store or ArtifactStore(), path, function)
