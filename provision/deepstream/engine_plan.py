# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which engine an nvinfer config needs on this host, and whether the one there will do (pure).

What an engine was built with is recorded in a small JSON beside it (`<engine>.dsprov.json`):
TensorRT, CUDA, GPU_ARCHS, the plugin library's SHA-256, precision, batch and the model's SHA-256.
An engine is `current` when that record matches the host now, `stale` when anything differs (a
plugin swap changes the SHA-256, so every engine on the host goes stale), `missing` when there is
no engine file.
"""

from __future__ import annotations

import posixpath
from dataclasses import asdict, dataclass

from provision.deepstream.nvinfer_config import NvinferConfig, engine_name
from provision.outcomes import EngineStatus

RECORD_SUFFIX = ".dsprov.json"
FALLBACK = {"int8": ("fp16", "fp32"), "fp16": ("fp32",), "fp32": ()}


@dataclass(frozen=True)
class BuildEnv:
    """What decides an engine's validity on a host now."""

    tensorrt: str
    cuda: str
    gpu_archs: str
    plugin_sha256: str


@dataclass(frozen=True)
class EngineRecord:
    tensorrt: str
    cuda: str
    gpu_archs: str
    plugin_sha256: str
    precision: str
    batch: int
    model_sha256: str

    @classmethod
    def from_json(cls, data: dict) -> EngineRecord | None:
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (KeyError, TypeError):
            return None

    def to_json(self) -> dict:
        return asdict(self)


def record_path(engine: str) -> str:
    return engine + RECORD_SUFFIX


def effective_precision(wanted: str, supported: frozenset[str]) -> tuple[str, str | None]:
    """The precision to build and a warning when the GPU cannot run the one asked for."""
    if wanted in supported:
        return wanted, None
    for lower in FALLBACK[wanted]:
        if lower in supported:
            return lower, f"{wanted.upper()} is not supported on this GPU: building {lower.upper()} instead"
    return "fp32", f"{wanted.upper()} is not supported on this GPU: building FP32 instead"


@dataclass(frozen=True)
class EngineTarget:
    """The engine a config should point at on this host."""

    config: NvinferConfig
    precision: str
    path: str  # where the (new) engine goes
    warning: str | None

    @property
    def model(self) -> str | None:
        return self.config.model


def target_for(config: NvinferConfig, supported: frozenset[str]) -> EngineTarget:
    """Precision after downgrade; the engine beside the configured one (else beside the model)."""
    precision, warning = effective_precision(config.precision, supported)
    model = config.model or config.model_engine_file or config.path
    folder = posixpath.dirname(config.model_engine_file or model)
    return EngineTarget(config, precision, posixpath.join(folder, engine_name(model, config.batch_size,
                                                                               config.gpu_id, precision)), warning)


def built_by_deepstream(config: NvinferConfig) -> str | None:
    """Why DeepStream, not trtexec, builds this config's engine, or None. A Darknet model
    (custom-network-config + model-file, no onnx-file) is built by the custom library's
    engine-create function inside nvinfer on the pipeline's first start (DeepStream-Yolo's
    config_infer_primary.txt and docs/customModels.md); trtexec cannot read a Darknet model."""
    if config.onnx_file or not config.custom_network_config:
        return None
    builder = config.engine_create_function or "the engine-create function"
    library = posixpath.basename(config.custom_lib_path) if config.custom_lib_path else "its custom library"
    return (f"Darknet model {posixpath.basename(config.custom_network_config)}"
            f" + {posixpath.basename(config.model_file or '(no model-file)')}: DeepStream builds the engine itself"
            f" with {library}'s {builder} on the pipeline's first start (not trtexec)")


def classify(target: EngineTarget, engine_exists: bool, record: EngineRecord | None, env: BuildEnv,
             model_sha256: str | None) -> tuple[EngineStatus, str]:
    """(missing | stale | current, why) for the engine the config names now."""
    configured = target.config.model_engine_file
    if not configured or not engine_exists:
        return EngineStatus.MISSING, f"no engine at {configured}" if configured else "the config names no model-engine-file"
    if record is None:
        return EngineStatus.STALE, "no build record beside the engine (built elsewhere or by hand)"
    changed = [
        f"{name} {was} -> {now}"
        for name, was, now in (
            ("TensorRT", record.tensorrt, env.tensorrt),
            ("CUDA", record.cuda, env.cuda),
            ("GPU_ARCHS", record.gpu_archs, env.gpu_archs),
            ("plugin SHA-256", record.plugin_sha256[:12], env.plugin_sha256[:12]),
            ("precision", record.precision, target.precision),
            ("batch", record.batch, target.config.batch_size),
        )
        if was != now
    ]
    if model_sha256 and record.model_sha256 != model_sha256:
        changed.append("the model file")
    if changed:
        return EngineStatus.STALE, "changed since the build: " + ", ".join(changed)
    return EngineStatus.CURRENT, f"built for TensorRT {env.tensorrt}, GPU_ARCHS {env.gpu_archs}, {target.precision}"
