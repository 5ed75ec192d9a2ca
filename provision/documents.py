# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `--json` documents: one per invocation, each headed by `schema_version` and `command`, each
command's shape a JSON Schema shipped in the package (provision/schemas/<command>.schema.json, with
the shared parts in common.schema.json). The Ansible actions return the same objects: the detect
document is `ansible_facts.dsprov`, a host entry is `dsprov_report`.

SCHEMA_VERSION is MAJOR.MINOR: a field added is a minor step, a field renamed, removed or given
another type a major one (CHANGELOG.md says which).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from provision.matrix import Status, Verdict

if TYPE_CHECKING:
    from provision.core.detection import Detection
    from provision.provisioner import HostReport

SCHEMA_VERSION = "1.0"
SCHEMA_ID = "urn:dsprov:schema:1:"  # each schema's $id is this and its file's stem: urn:dsprov:schema:1:detect
COMMANDS = ("detect", "matrix.check", "provision", "pyds", "rollback", "engines", "deepstream.config")


def document(command: str, **body: Any) -> dict[str, Any]:
    """A command's document: the version and the command first, then its fields."""
    return {"schema_version": SCHEMA_VERSION, "command": command, **body}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2)


def worst(verdicts: list[Verdict]) -> Status:
    """FAIL if any rule failed, else WARN if any warned, else OK."""
    statuses = {verdict.status for verdict in verdicts}
    return next((s for s in (Status.FAIL, Status.WARN) if s in statuses), Status.OK)


def verdicts(found: list[Verdict]) -> list[dict[str, Any]]:
    return [{"rule": v.rule, "status": v.status.value, "reason": v.reason, "fix": v.fix} for v in found]


def detection(d: Detection, build: dict[str, Any] | None = None) -> dict[str, Any]:
    """The detect document (also `ansible_facts.dsprov`): facts, GPU_ARCHS, verdicts and the worst of
    them; `build`, where the plugin would be built (trt_oss.BuildView), as `detect` adds it."""
    archs = d.gpu_archs
    return document("detect", host=d.host, facts=d.facts.to_json(),
                    gpu_archs={"archs": list(archs.archs), "source": archs.source, "notes": list(archs.notes)},
                    verdicts=verdicts(d.verdicts), matrix=worst(d.verdicts).value,
                    **({"build": build} if build is not None else {}))


def matrix_check(subject: dict[str, Any], found: list[Verdict]) -> dict[str, Any]:
    """`subject`: {"host": H}, {"capture": FILE} or {"what_if": {field: version}}."""
    return document("matrix.check", subject=subject, verdicts=verdicts(found), matrix=worst(found).value)


def device(d: Detection | None) -> dict[str, Any] | None:
    """What a summary line shows of a host: its model or GPU and its stack (None: never probed)."""
    if d is None:
        return None
    facts, jetson = d.facts, d.facts.jetson
    model = jetson.model if jetson and jetson.model else (facts.gpus[0].name if facts.gpus else None)
    text = lambda value: None if value is None else str(value)  # noqa: E731
    return {"platform": facts.platform, "model": model, "jetpack": text(jetson.jetpack) if jetson else None,
            "driver": facts.driver, "cuda": text(facts.cuda), "tensorrt": text(facts.tensorrt),
            "deepstream": text(facts.deepstream), "gpu_archs": list(d.gpu_archs.archs)}


def host_report(r: HostReport) -> dict[str, Any]:
    """A host's entry in provision, pyds and rollback (also the Ansible actions' `dsprov_report`)."""
    return {"host": r.host, "result": str(r.result), "outcome": str(r.outcome), "changed": r.changed,
            "key": r.key, "seconds": round(r.seconds, 1), "commands": r.commands, "message": r.message,
            "steps": [{"name": s.name, "status": str(s.status), "detail": s.detail} for s in r.steps],
            "plan": list(r.plan), "log": r.log, "device": device(r.detection)}


def fleet(command: str, reports: list[HostReport], dry_run: bool, cancelled: bool = False) -> dict[str, Any]:
    """provision, pyds and rollback: a run over hosts, one entry per host."""
    return document(command, dry_run=dry_run, cancelled=cancelled, hosts=[host_report(r) for r in reports])


@cache
def schema(name: str) -> dict[str, Any]:
    """A shipped schema by its file's stem: a command (`matrix.check`) or `common`."""
    return json.loads((files("provision") / "schemas" / f"{name}.schema.json").read_text())


def validate(doc: dict[str, Any], definition: str | None = None) -> None:
    """Check a document against its command's schema, or a part of one against a definition of
    common.schema.json (`host_report`); jsonschema.ValidationError says where it differs."""
    from jsonschema import Draft202012Validator, ValidationError
    from referencing import Registry, Resource

    names = ("common", *COMMANDS)
    registry = Registry().with_resources((SCHEMA_ID + n, Resource.from_contents(schema(n))) for n in names)
    if definition:
        target = {"$ref": f"{SCHEMA_ID}common#/$defs/{definition}"}
    elif doc.get("command") in COMMANDS:
        target = schema(doc["command"])
    else:
        raise ValidationError(f"command {doc.get('command')!r} is not one of {', '.join(COMMANDS)}")
    Draft202012Validator(target, registry=registry).validate(doc)
