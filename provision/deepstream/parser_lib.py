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
import tempfile
from dataclasses import dataclass
from pathlib import Path

from provision.artifacts import ArtifactStore, build_key, sha256_file
from provision.options import Settings
from provision.steps.base import Step, StepContext, StepFailed, q, remote_commit

DEFAULT_REPO = "https://github.com/NVIDIA-AI-IOT/deepstream_tao_apps.git"
DEFAULT_REF = "master"
DEEPSTREAM_DIR = "/opt/nvidia/deepstream/deepstream"


@dataclass
class ParserLibrary(Step):
    """Make sure `path` exists on the host and exports `function`."""

    path: str
    function: str
    repo: str
    ref: str
    cuda: str  # major.minor, from facts
    arch: str
    deepstream: str
    build_dir: str
    store: ArtifactStore
    artifact: Path | None = None
    outcome: str = ""  # present | built | copied
    name = "parser-library"

    @property
    def src(self) -> str:
        return f"{self.build_dir}/deepstream_tao_apps-{self.ref.replace('/', '-')}"

    def commands(self) -> list[str]:
        src = q(self.src)
        return [
            f"rm -rf {src} && git clone --depth 1 --single-branch -b {q(self.ref)} -- {q(self.repo)} {src}",
            f"CUDA_VER={q(self.cuda)} make -C {src}/post_processor DS_SRC_PATH={q(DEEPSTREAM_DIR)}",
        ]

    def summary(self) -> str:
        return f"{self.path} with {self.function} (else build post_processor from {self.repo} {self.ref}, CUDA_VER={self.cuda})"

    def describe(self) -> list[str]:
        return [f"grep -q -a {q(self.function)} {q(self.path)}", f"git ls-remote -- {q(self.repo)} {q(self.ref)}",
                *self.commands(), f"(controller) cache the library; install it at {self.path}"]

    def _present(self, ctx: StepContext) -> bool:
        return ctx.runner.run(f"[ -f {q(self.path)} ] && grep -q -a {q(self.function)} {q(self.path)}").ok

    def check(self, ctx: StepContext) -> str | None:
        if self._present(ctx):
            self.outcome = "present"
            return f"{self.path} carries {self.function}"
        return None

    def _key(self, ctx: StepContext) -> tuple[str, dict[str, str]]:
        parts = {"what": "tao-post-processor", "arch": self.arch, "deepstream": self.deepstream, "cuda": self.cuda,
                 "repo": self.repo, "commit": remote_commit(ctx, self.repo, self.ref)}
        return build_key(parts), parts

    def apply(self, ctx: StepContext) -> None:
        key, parts = self._key(ctx)
        name = posixpath.basename(self.path)
        with self.store.lock(key):
            self.artifact = self.store.get(key, name)
            self.outcome = "copied"
            if self.artifact is None:
                self._build(ctx, key, parts, name)
        ctx.write(self.path, self.artifact, mode="0644", sudo=True)

    def _build(self, ctx: StepContext, key: str, parts: dict[str, str], name: str) -> None:
        ctx.sh(f"mkdir -p {q(self.build_dir)}")
        for command in self.commands():
            ctx.sh(command, stream=True, timeout=3600)
        built = f"{self.src}/post_processor/{name}"
        if not ctx.runner.run(f"[ -f {q(built)} ]").ok:
            raise StepFailed(f"{ctx.runner.host}: the post_processor build made no {name}")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / name
            ctx.runner.get(built, local)
            self.artifact = self.store.put(key, name, local, parts)
        self.outcome = "built"

    def verify(self, ctx: StepContext) -> None:
        if not self._present(ctx):
            raise StepFailed(f"{ctx.runner.host}: {self.path} does not carry {self.function}")
        if self.artifact and ctx.runner.sha256(self.path) != sha256_file(self.artifact):
            raise StepFailed(f"{ctx.runner.host}: {self.path} is not the built library")


def parser_library_step(facts, settings: Settings, path: str, function: str, store: ArtifactStore | None = None) -> ParserLibrary:
    """The step for a host's facts and inventory settings."""
    if facts.cuda is None:
        raise StepFailed("no CUDA found on the host: CUDA_VER for the parser build is unknown")
    return ParserLibrary(
        path=path,
        function=function,
        repo=settings.tao_apps_repo or DEFAULT_REPO,
        ref=settings.tao_apps_ref or DEFAULT_REF,
        cuda=f"{facts.cuda.major}.{facts.cuda.minor}",
        arch=facts.arch or "",
        deepstream=str(facts.deepstream or ""),
        build_dir=facts.build_dir or "/tmp/dsprov",
        store=store or ArtifactStore(),
    )
