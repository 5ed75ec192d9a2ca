# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Strict loading of matrix/*.yml: each file is checked against its schema (provision/matrix/schema.py),
then across rows; every error is one line that names the file, the row and the field."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from packaging.version import InvalidVersion, Version

from provision.matrix import nvidia
from provision.matrix.rows import (
    ArchExtra,
    CmakeArchive,
    CmakeBuild,
    CmakeClaim,
    CmakeInfo,
    DeepStreamRow,
    DeviceRow,
    Dispute,
    GpuArchRule,
    GpuRow,
    JetPackRow,
    L4tRow,
    MatrixError,
    OssGuide,
    OssRefRow,
    PluginRow,
    PrebuiltInfo,
    PrebuiltPlugin,
    PrecisionRow,
    PydsRow,
    TrtOssGuide,
    X86Requirements,
)
from provision.matrix.schema import DEFS, FILES

_FORMATS = FormatChecker(formats=())
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser where PyYAML was built with it
Texts = Mapping[str, str]  # each matrix file's name and text


@_FORMATS.checks("version", raises=InvalidVersion)
def _is_version(value: object) -> bool:
    if isinstance(value, str):
        Version(value)
    return True


def _without_nulls(value: Any) -> Any:
    """A field left empty counts as absent."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _where(filename: str, document: Any, path: Sequence[str | int]) -> str:
    """"l4t.yml: l4t row 7 (l4t: 32.7.1)", "cmake.yml: oss_build", "..., trt_oss, jetson"."""
    where, node, separator = filename, document, ": "
    for part in path:
        node = node[part]
        if isinstance(part, int):
            first = next(iter(node.items()), None) if isinstance(node, Mapping) else None
            where += f" row {part + 1}" + (f" ({first[0]}: {first[1]})" if first else "")
        else:
            where, separator = f"{where}{separator}{part}", ", "
    return where


def _message(error: ValidationError) -> str:
    """The line for one schema error, without its place."""
    path = list(error.absolute_path)
    name = path[-1] if path else ""
    value = error.instance
    template = error.schema.get("x-message", {}).get(error.validator) if isinstance(error.schema, Mapping) else None
    if template:
        return template.format(name=name, value=value, type=type(value).__name__)
    if error.validator == "required":
        return f"missing field {next(f for f in error.validator_value if f not in value)!r}"
    if error.validator == "additionalProperties":
        return f"unknown field(s) {', '.join(sorted(map(str, set(value) - set(error.schema.get('properties', {})))))}"
    if error.validator == "type" and error.validator_value == "object":
        return f"expected a mapping, got {type(value).__name__}"
    return f"{name}: {error.message}" if name != "" else error.message


def texts(root: Traversable) -> dict[str, str]:
    """The text of every matrix file under `root`."""
    read = {}
    for filename in FILES:
        try:
            read[filename] = (root / filename).read_text(encoding="utf-8")
        except OSError as e:
            raise MatrixError(f"{filename}: cannot read: {e.strerror or e}") from None
    return read


def digest(files: Texts) -> str:
    """The SHA-256 of the matrix files' names and texts: what a loaded matrix is cached by."""
    sha = hashlib.sha256()
    for filename in sorted(files):
        sha.update(b"%d:%s\0%d:" % (len(filename), filename.encode(), len(files[filename].encode())))
        sha.update(files[filename].encode())
    return sha.hexdigest()


def _document(root: Texts, filename: str) -> dict[str, Any]:
    """One file, checked against its schema."""
    try:
        document = _without_nulls(yaml.load(root[filename], Loader=_LOADER))
    except yaml.YAMLError as e:
        raise MatrixError(f"{filename}: not valid YAML: {e}") from None
    validator = Draft202012Validator({"$defs": DEFS} | FILES[filename], format_checker=_FORMATS)
    error = next(validator.iter_errors(document), None)
    if error is not None:
        # a field's own error is placed at its mapping; a row's (missing, unknown field) at the row
        path = list(error.absolute_path)
        place = path[:-1] if path and isinstance(path[-1], str) and error.validator not in ("required",
                                                                                              "additionalProperties") else path
        raise MatrixError(f"{_where(filename, document, place)}: {_message(error)}")
    return document


def _version(value: str | None) -> Version | None:
    return None if value is None else Version(value)


def _disputed(r: Mapping[str, Any]) -> tuple[Dispute, ...]:
    return tuple(Dispute(d["says"], d["source"]) for d in r.get("disputed", ()))


def _sourced(r: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every sourced row shares."""
    return {"source": r["source"], "secondary": r.get("secondary")}


def _unique(rows: Sequence[Any], key: Callable[[Any], Any], filename: str, what: str) -> None:
    seen: set[Any] = set()
    for row in rows:
        k = key(row)
        if k in seen:
            raise MatrixError(f"{filename}: duplicate {what} {k}")
        seen.add(k)


def _load_l4t(root: Texts) -> tuple[L4tRow, ...]:
    rows = [L4tRow(Version(r["l4t"]), Version(r["jetpack"]), r.get("preview", False), r["source"], r.get("caveat"),
                   r.get("secondary"), _disputed(r))
            for r in _document(root, "l4t.yml")["l4t"]]
    _unique(rows, lambda x: x.l4t, "l4t.yml", "L4T")
    return tuple(rows)


def _load_jetpack(root: Texts) -> tuple[JetPackRow, ...]:
    rows = [
        JetPackRow(
            version=Version(r["version"]), cuda=Version(r["cuda"]), cudnn=Version(r["cudnn"]),
            tensorrt=Version(r["tensorrt"]), ubuntu=Version(r["ubuntu"]), python=Version(r["python"]),
            l4t=_version(r.get("l4t")),
            preview=r.get("preview", False),
            caveat=r.get("caveat"),
            disputed=_disputed(r),
            tensorrt_also=tuple(Version(v) for v in r.get("tensorrt_also", {}).get("versions", ())),
            tensorrt_also_source=r.get("tensorrt_also", {}).get("source"),
            **_sourced(r),
        )
        for r in _document(root, "jetpack.yml")["jetpack"]
    ]
    _unique(rows, lambda x: x.version, "jetpack.yml", "JetPack")
    return tuple(rows)


def _deepstream_row(r: Mapping[str, Any]) -> DeepStreamRow:
    version, python = Version(r["version"]), Version(r["python"])
    x86 = r.get("x86")
    pyds = r.get("pyds")
    return DeepStreamRow(
        version=version,
        jetpacks=tuple(Version(v) for v in r.get("jetson", {}).get("jetpack", ())),
        x86=X86Requirements(**{k: Version(v) for k, v in x86.items()}) if x86 else None,
        python=python,
        pyds=PydsRow(version, pyds["tag"], python, **_sourced(pyds)) if pyds else None,
        trt_oss=tuple(TrtOssGuide(platform, OssGuide(g["guide"]), **_sourced(g))
                      for platform, g in r.get("trt_oss", {}).items()),
        caveat=r.get("caveat"),
        disputed=_disputed(r),
        **_sourced(r),
    )


def _load_deepstream(root: Texts) -> tuple[DeepStreamRow, ...]:
    rows = [_deepstream_row(r) for r in _document(root, "deepstream.yml")["deepstream"]]
    _unique(rows, lambda x: x.version, "deepstream.yml", "DeepStream")
    return tuple(rows)


def _check_ref(row: OssRefRow, rule_names: set[str]) -> str | None:
    """What is wrong with one ref row beyond its schema."""
    if len(row.tensorrt.release) not in (2, 3):
        return f"tensorrt must be major.minor (or major.minor.patch for an exact-match tag), got {row.tensorrt}"
    if row.exact_tag and len(row.tensorrt.release) != 3:
        return "an exact_tag row names the TensorRT patch it matches (major.minor.patch)"
    if len(row.tensorrt.release) == 3 and (row.ref is None or row.nvinfer_version is None
                                           or row.nvinfer_version.release[:3] != row.tensorrt.release):
        return f"an exact-match row for TensorRT {row.tensorrt} needs a ref whose NvInferVersion is {row.tensorrt}"
    if row.unsupported and row.ref is not None:
        return "an unsupported row has no ref"
    if row.gpu_arch_rule is not None and row.gpu_arch_rule not in rule_names:
        return f"gpu_arch_rule {row.gpu_arch_rule!r} is not defined under gpu_arch_rules"
    if row.arch_flag == "GPU_ARCHS" and not row.reads_gpu_archs:
        return "arch_flag GPU_ARCHS for a ref that does not read GPU_ARCHS"
    if row.reads_gpu_archs and row.arch_flag != "GPU_ARCHS" and row.arch_note is None:
        return "arch_note must say why a ref that reads GPU_ARCHS gets another flag"
    return None


def _load_oss(root: Texts) -> tuple[tuple[GpuArchRule, ...], tuple[OssRefRow, ...], tuple[PluginRow, ...]]:
    filename = "tensorrt_oss.yml"
    document = _document(root, filename)
    rules = [
        GpuArchRule(
            r["name"],
            tuple(r["base"]),
            tuple(ArchExtra(e["sm"], e.get("platform"), _version(e.get("cuda_min"))) for e in r.get("extra", ())),
            default_cuda=_version(r.get("default_cuda")),
            **_sourced(r),
        )
        for r in document["gpu_arch_rules"]
    ]
    _unique(rules, lambda x: x.name, filename, "gpu_arch_rule")
    rule_names = {rule.name for rule in rules}

    refs = []
    for index, r in enumerate(document["refs"]):
        reads = r.get("reads_gpu_archs", False)
        row = OssRefRow(
            tensorrt=Version(r["tensorrt"]),
            platforms=tuple(r["platforms"]),
            ref=r.get("ref"),
            nvinfer_version=_version(r.get("nvinfer_version")),
            gpu_arch_rule=r.get("gpu_arch_rule"),
            reads_gpu_archs=reads,
            reason=r.get("reason"),
            arch_flag=r.get("arch_flag", "GPU_ARCHS" if reads else "CMAKE_CUDA_ARCHITECTURES"),
            arch_note=r.get("arch_note"),
            cmake_minimum=_version(r.get("cmake_minimum")),
            caveat=r.get("caveat"),
            unsupported=r.get("unsupported", False),
            exact_tag=r.get("exact_tag", False),
            cmake_readme=(CmakeClaim(Version(r["cmake_readme"]["minimum"]), r["cmake_readme"]["source"])
                          if "cmake_readme" in r else None),
            cmake_builds=tuple(CmakeBuild(Version(b["cmake"]), b["ok"], b["date"], b["command"], b["log"])
                               for b in r.get("cmake_builds", ())),
            disputed=_disputed(r),
            **_sourced(r),
            build_target=r.get("build_target", "nvinfer_plugin"),
            library=r.get("library", "libnvinfer_plugin"),
        )
        if (problem := _check_ref(row, rule_names)) is not None:
            raise MatrixError(f"{_where(filename, document, ['refs', index])}: {problem}")
        refs.append(row)
    _unique([(row.tensorrt, p) for row in refs for p in row.platforms], lambda x: f"{x[0]} on {x[1]}",
            filename, "ref for TensorRT")

    plugins = [PluginRow(r["name"], Version(r["since"]), _version(r.get("removed_in")), **_sourced(r))
               for r in document["plugins"]]
    _unique(plugins, lambda x: x.name, filename, "plugin")
    return tuple(rules), tuple(refs), tuple(plugins)


def _load_prebuilt(root: Texts) -> PrebuiltInfo:
    filename = "prebuilt_plugins.yml"
    document = _document(root, filename)
    libraries = []
    for index, r in enumerate(document["libraries"]):
        tensorrt = Version(r["tensorrt"])
        if not r["path"].endswith(f"/libnvinfer_plugin.so.{tensorrt}"):
            raise MatrixError(f"{_where(filename, document, ['libraries', index])}: "
                              f"path {r['path']!r} does not end in libnvinfer_plugin.so.{tensorrt}")
        libraries.append(PrebuiltPlugin(r["platform"], tensorrt, r["path"], r.get("sha256"), r.get("size"),
                                        r.get("reason"), git_blob=r.get("git_blob"), **_sourced(r)))
    _unique(libraries, lambda x: (x.platform, x.tensorrt), filename, "library")
    return PrebuiltInfo(document["repo"], document["commit"], tuple(libraries), **_sourced(document))


def _load_devices(root: Texts) -> tuple[tuple[DeviceRow, ...], tuple[GpuRow, ...]]:
    document = _document(root, "devices.yml")
    devices = [DeviceRow(r["family"], r["name"], tuple(r["soc"]), tuple(r["model_substrings"]),
                         r["compute_capability"], **_sourced(r)) for r in document["jetson"]]
    _unique(devices, lambda x: x.family, "devices.yml", "family")
    gpus = [GpuRow(r["token"].upper(), r["compute_capability"], **_sourced(r)) for r in document["gpus"]]
    _unique(gpus, lambda x: x.token, "devices.yml", "GPU token")
    return tuple(devices), tuple(gpus)


def _load_precisions(root: Texts) -> tuple[PrecisionRow, ...]:
    rows = [PrecisionRow(r["name"], r.get("always", False), frozenset(r.get("capabilities", ())),
                         _version(r.get("from")), **_sourced(r))
            for r in _document(root, "precision.yml")["precisions"]]
    _unique(rows, lambda x: x.name, "precision.yml", "precision")
    return tuple(rows)


def _archive(r: Mapping[str, Any], arch: str) -> CmakeArchive:
    return CmakeArchive(arch, Version(r["version"]), r["url"], r["sha256"], r.get("size"))


def _load_cmake(root: Texts) -> CmakeInfo:
    document = _document(root, "cmake.yml")
    archives = [_archive(r, r["arch"]) for r in document["archives"]]
    sources = [_archive(r, "source") for r in document["source_archives"]]
    _unique(archives + sources, lambda x: x.filename, "cmake.yml", "archive")
    oss = document["oss_build"]
    return CmakeInfo(Version(oss["minimum"]), tuple(archives), oss["source"], tuple(sources), oss.get("secondary"))


def read(root: Texts) -> dict[str, Any]:
    """Every table of the matrix files `root` (texts()), as the keyword arguments of Matrix."""
    rules, refs, plugins = _load_oss(root)
    devices, gpus = _load_devices(root)
    return {
        "l4t_rows": _load_l4t(root),
        "jetpack_rows": _load_jetpack(root),
        "deepstream_rows": _load_deepstream(root),
        "gpu_arch_rules": rules,
        "oss_refs": refs,
        "plugin_rows": plugins,
        "device_rows": devices,
        "gpu_rows": gpus,
        "precision_rows": _load_precisions(root),
        "cmake": _load_cmake(root),
        "prebuilt": _load_prebuilt(root),
        "nvidia": nvidia.build(_document(root, nvidia.FILENAME), _disputed),
    }
