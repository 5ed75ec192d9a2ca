# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A model's nvinfer config and labels on the host: the steps a set of models gets (its parser
library, then its config), and the step that writes them (idempotent: same bytes, no write)."""

from __future__ import annotations

import posixpath
from typing import Any
from dataclasses import dataclass
from pathlib import Path

from provision.deepstream.engine_plan import effective_precision
from provision.deepstream.labels import Labels, coco_labels
from provision.deepstream.model_config import ModelSetup, render_config
from provision.deepstream.onnx_file import HEAD_BYTES, onnx_problem
from provision.capabilities.parser_lib import ParserLibrary, parser_library_step
from provision import input_files
from provision.errors import ProvisionError
from provision.options import Settings
from provision.core.capability import Capability, Planning
from provision.core.step import folder_writable, Step, StepContext, StepFailed, q
from provision.runners.base import refusal, writable_command


@dataclass
class WriteModelConfig(Step):
    setup: ModelSetup
    labels: Labels
    config_text: str
    name = "deepstream-config"

    @property
    def files(self) -> dict[str, str]:
        return {self.setup.labels: self.labels.text, self.setup.config: self.config_text}

    def summary(self) -> str:
        return (f"write the {self.setup.kind} nvinfer config {self.setup.config} and its labels"
                f" {self.setup.labels} ({len(self.labels.names)} classes)")

    def describe(self) -> list[str]:
        return [f"(controller) write {path} atomically ({len(text.splitlines())} lines)" for path, text in self.files.items()]

    def results(self) -> dict[str, Any]:
        """The config and labels written (or, on a dry run, to be written)."""
        return {"config": self.setup.config, "labels": self.setup.labels, "labels_text": self.labels.text,
                "config_text": self.config_text}

    def _differs(self, ctx: StepContext) -> list[str]:
        differ = []
        for path, text in self.files.items():
            if ctx.runner.read_text(path) != text:
                differ.append(path)
        return differ

    def validate(self, ctx: StepContext) -> None:
        check_onnx(ctx, self.setup.onnx, f"{self.setup.config}: onnx")
        writable = ctx.runner.run(writable_command(*self.files))
        if not writable.ok:
            raise StepFailed(f"{ctx.runner.host}: cannot write {self.setup.config}: {refusal(writable)}")

    def check(self, ctx: StepContext) -> str | None:
        return None if self._differs(ctx) else f"{self.setup.config} and {self.setup.labels} are up to date"

    def apply(self, ctx: StepContext) -> None:
        for path in self._differs(ctx):
            ctx.write(path, self.files[path].encode(), sudo=not folder_writable(ctx, path))

    def verify(self, ctx: StepContext) -> None:
        differ = self._differs(ctx)
        if differ:
            raise StepFailed(f"{ctx.runner.host}: {', '.join(differ)} not as written")


def model_setup_steps(detection, matrix, settings: Settings, setup: ModelSetup, coco: dict,
                      store=None) -> tuple[tuple[ParserLibrary, WriteModelConfig], list[str]]:
    """The custom library and config steps for one model on a detected host, and the warnings
    to show (duplicate category ids, a precision the GPU cannot run)."""
    f = detection.facts
    gpu = next((g for g in f.gpus if g.index == setup.gpu_id), None)
    if gpu is None or not gpu.compute_cap:
        raise StepFailed(f"{detection.host}: no GPU {setup.gpu_id} with a known compute capability")
    labels = coco_labels(coco, setup.model_kind.background_first)
    warnings = [note] if (note := labels.duplicate_note()) else []
    precision, warning = effective_precision(setup.precision, matrix.precisions(gpu.compute_cap))
    if warning:
        warnings.append(f"compute {gpu.compute_cap}: {warning}")
    kind = setup.model_kind
    parser = parser_library_step(f, settings, kind.library, setup.library_path, kind.functions, store)
    config = WriteModelConfig(setup, labels, render_config(setup, len(labels.names), precision))
    return (parser, config), warnings


def check_onnx(ctx: StepContext, path: str, what: str = "--onnx") -> None:
    """Refuse unless `path` on the host is a readable ONNX model."""
    result = ctx.runner.run(f"test -f {q(path)} && od -An -tx1 -v -N {HEAD_BYTES} -- {q(path)}")
    if not result.ok:
        raise StepFailed(f"{ctx.runner.host}: {what} {path}: no such file on the host")
    problem = onnx_problem(bytes.fromhex("".join(result.stdout.split())))
    if problem:
        raise StepFailed(f"{ctx.runner.host}: {what} {path} is not an ONNX model: {problem}")


MODELS_VAR = "dsprov_models"
MODEL_FIELDS = {"kind", "onnx", "coco", "config", "labels", "batch_size", "precision", "infer_dims", "gpu_id",
                "custom_lib_path", "int8_calib_file", "parser"}


def parse_models(models, origin: str = MODELS_VAR) -> list[tuple[ModelSetup, dict]]:
    """Validate model entries (dicts with kind, onnx, coco, config, ...) and read their COCO files
    (on the controller); errors name the entry (`dsprov_models[1]: ...`)."""
    parsed = []
    for index, model in enumerate(models):
        where = f"{origin}[{index}]: " if origin else ""
        required = {"kind", "onnx", "coco", "config"}
        if not isinstance(model, dict) or not required <= set(model):
            raise ProvisionError(f"{where}give kind, onnx, coco and config"
                                 f" (optional: {', '.join(sorted(MODEL_FIELDS - required))})")
        unknown = set(model) - MODEL_FIELDS
        if unknown:
            raise ProvisionError(f"{where}unknown key(s) {', '.join(sorted(unknown))}")
        try:
            coco = input_files.read_json(Path(str(model["coco"])), "COCO annotation", input_files.COCO)
        except ProvisionError as exc:
            raise ProvisionError(f"{where}{exc}") from None
        fields = {k: v for k, v in model.items() if k != "coco" and v is not None}
        fields.setdefault("labels", posixpath.join(posixpath.dirname(str(model["config"])), "labels.txt"))
        try:
            parsed.append((ModelSetup(**fields), coco))
        except ProvisionError as exc:
            raise ProvisionError(f"{where}{exc}") from None
    return parsed


@dataclass
class ModelSteps:
    """The steps for a set of models: one parser library per path, then one config per model."""

    libraries: list[Step]
    configs: list[WriteModelConfig]
    warnings: list[str]

    @property
    def steps(self) -> list[Step]:
        return [*self.libraries, *self.configs]


def model_steps(detection, matrix, settings: Settings, models: list[tuple[ModelSetup, dict]],
                store=None) -> ModelSteps:
    """Steps for parsed models: one parser library per path, then one config per model."""
    libraries: dict[str, ParserLibrary] = {}
    configs: list[WriteModelConfig] = []
    warnings: list[str] = []
    for setup, coco in models:
        (parser, config), notes = model_setup_steps(detection, matrix, settings, setup, coco, store)
        libraries.setdefault(parser.path, parser)
        configs.append(config)
        warnings += [f"{setup.config}: {n}" for n in notes]
    return ModelSteps(list(libraries.values()), configs, warnings)


def plan(p: Planning) -> None:
    """dsprov_models: each model's parser library and nvinfer config (the engines follow); a host
    without a GPU is noted by the engines."""
    options = p.options
    if not p.detection.facts.gpus:
        return
    if options.skip_models and options.settings.models:
        p.plan.notes.append("models: skipped (--skip-models)")
    elif options.models:
        models = model_steps(p.detection, p.matrix, options.settings, list(options.models), p.store)
        p.plan.add("dsprov_models asks for it", *models.steps)
        p.plan.notes += models.warnings


CAPABILITY = Capability("model_config", plan=plan)
