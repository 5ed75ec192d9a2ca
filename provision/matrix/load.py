"""Strict loading of matrix/*.yml: every error names the file and the row."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from provision.matrix.rows import (
    PLATFORMS,
    ArchExtra,
    CmakeArchive,
    CmakeInfo,
    DeepStreamRow,
    DeviceRow,
    GpuArchRule,
    GpuRow,
    JetPackRow,
    L4tRow,
    MatrixError,
    OssGuide,
    OssRefRow,
    ARCH_FLAGS,
    PluginRow,
    PrebuiltInfo,
    PrebuiltPlugin,
    PrecisionRow,
    PydsRow,
    TrtOssGuide,
    X86Requirements,
)

CAPABILITY = re.compile(r"^\d{1,2}\.\d$")
_SM = re.compile(r"^\d{2,3}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Row:
    """Typed, checked access to one YAML mapping; every error names the file and the row."""

    def __init__(self, where: str, data: Any) -> None:
        self.where = where
        if not isinstance(data, Mapping):
            raise MatrixError(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data = data
        self.used: set[str] = set()

    def error(self, message: str) -> MatrixError:
        return MatrixError(f"{self.where}: {message}")

    def raw(self, name: str, required: bool = True) -> Any:
        self.used.add(name)
        value = self.data.get(name)
        if value is None and required:
            raise self.error(f"missing field {name!r}")
        return value

    def text(self, name: str, required: bool = True) -> str | None:
        value = self.raw(name, required)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(f"{name} must be a non-empty string, got {value!r}")
        return value

    def version(self, name: str, required: bool = True) -> Version | None:
        return self._to_version(name, self.raw(name, required))

    def versions(self, name: str) -> tuple[Version, ...]:
        values = self.raw(name)
        if not isinstance(values, list) or not values:
            raise self.error(f"{name} must be a non-empty list of versions")
        return tuple(self._to_version(name, v) for v in values)

    def texts(self, name: str) -> tuple[str, ...]:
        values = self.raw(name)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise self.error(f"{name} must be a non-empty list of strings")
        return tuple(values)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"{name} must be true or false, got {value!r}")
        return value

    def capability(self, name: str) -> str:
        value = self.text(name)
        if not CAPABILITY.match(value):
            raise self.error(f"{name} {value!r} is not a compute capability like '8.7'")
        return value

    def sm(self, value: Any) -> str:
        if not isinstance(value, str) or not _SM.match(value):
            raise self.error(f"{value!r} is not a quoted two- or three-digit SM number")
        return value

    def platform(self, value: Any) -> str:
        if value not in PLATFORMS:
            raise self.error(f"platform {value!r} is not one of {', '.join(PLATFORMS)}")
        return value

    def source(self, name: str = "source") -> str:
        value = self.text(name)
        if not value.startswith("https://"):
            raise self.error(f"{name} must be an https:// URL, got {value!r}")
        return value

    def child(self, name: str, required: bool = True) -> _Row | None:
        value = self.raw(name, required)
        return None if value is None else _Row(f"{self.where}, {name}", value)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(f"unknown field(s) {', '.join(map(str, unknown))}")

    def _to_version(self, name: str, value: Any) -> Version | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"{name} must be a quoted version string, got {value!r} ({type(value).__name__})")
        try:
            return Version(value)
        except InvalidVersion:
            raise self.error(f"{name} {value!r} is not a version") from None


def _document(root: Traversable, filename: str) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load((root / filename).read_text(encoding="utf-8"))
    except OSError as e:
        raise MatrixError(f"{filename}: cannot read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise MatrixError(f"{filename}: not valid YAML: {e}") from None
    if not isinstance(document, Mapping):
        raise MatrixError(f"{filename}: expected a mapping at the top level")
    return document


def _rows(root: Traversable, filename: str, key: str) -> Iterator[_Row]:
    """The rows of the list under `key` in one matrix file."""
    document = _document(root, filename)
    if key not in document:
        raise MatrixError(f"{filename}: expected a top-level {key!r} list")
    items = document[key]
    if not isinstance(items, list):
        raise MatrixError(f"{filename}: {key!r} must be a list")
    for index, item in enumerate(items, start=1):
        label = ""
        if isinstance(item, Mapping):
            first = next(iter(item.items()), None)
            label = f" ({first[0]}: {first[1]})" if first else ""
        yield _Row(f"{filename}: {key} row {index}{label}", item)


def _unique(rows: Sequence[Any], key: Callable[[Any], Any], filename: str, what: str) -> None:
    seen: set[Any] = set()
    for row in rows:
        k = key(row)
        if k in seen:
            raise MatrixError(f"{filename}: duplicate {what} {k}")
        seen.add(k)


def _load_l4t(root: Traversable) -> tuple[L4tRow, ...]:
    rows = []
    for r in _rows(root, "l4t.yml", "l4t"):
        rows.append(L4tRow(r.version("l4t"), r.version("jetpack"), r.flag("preview", False), r.source(),
                           r.text("caveat", required=False)))
        r.done()
    _unique(rows, lambda x: x.l4t, "l4t.yml", "L4T")
    return tuple(rows)


def _load_jetpack(root: Traversable) -> tuple[JetPackRow, ...]:
    rows = []
    for r in _rows(root, "jetpack.yml", "jetpack"):
        rows.append(
            JetPackRow(
                version=r.version("version"),
                l4t=r.version("l4t"),
                cuda=r.version("cuda"),
                cudnn=r.version("cudnn"),
                tensorrt=r.version("tensorrt"),
                ubuntu=r.version("ubuntu"),
                python=r.version("python"),
                preview=r.flag("preview", False),
                source=r.source(),
                caveat=r.text("caveat", required=False),
            )
        )
        r.done()
    _unique(rows, lambda x: x.version, "jetpack.yml", "JetPack")
    return tuple(rows)


def _load_deepstream(root: Traversable) -> tuple[DeepStreamRow, ...]:
    rows = []
    for r in _rows(root, "deepstream.yml", "deepstream"):
        version = r.version("version")
        python = r.version("python")
        jetson = r.child("jetson", required=False)
        jetpacks = jetson.versions("jetpack") if jetson else ()
        if jetson:
            jetson.done()
        x86 = None
        if (x := r.child("x86", required=False)) is not None:
            x86 = X86Requirements(x.version("tensorrt"), x.version("cuda"), x.version("driver_min"), x.version("ubuntu"))
            x.done()
        pyds = None
        if (p := r.child("pyds", required=False)) is not None:
            tag = p.text("tag")
            if not re.fullmatch(r"v\d+(\.\d+)+", tag):
                raise p.error(f"tag {tag!r} is not like 'v1.1.1'")
            pyds = PydsRow(version, tag, python, p.source())
            p.done()
        guides = []
        if (t := r.child("trt_oss", required=False)) is not None:
            for platform in list(t.data):
                g = t.child(t.platform(platform))
                try:
                    guide = OssGuide(g.text("guide"))
                except ValueError:
                    raise g.error(f"guide must be one of {', '.join(o.value for o in OssGuide)}") from None
                guides.append(TrtOssGuide(platform, guide, g.source()))
                g.done()
            t.done()
        if not jetpacks and x86 is None:
            raise r.error("needs a jetson or an x86 entry")
        rows.append(DeepStreamRow(version, jetpacks, x86, python, pyds, tuple(guides), r.source(),
                                  r.text("caveat", required=False)))
        r.done()
    _unique(rows, lambda x: x.version, "deepstream.yml", "DeepStream")
    return tuple(rows)


def _load_oss(root: Traversable) -> tuple[tuple[GpuArchRule, ...], tuple[OssRefRow, ...], tuple[PluginRow, ...]]:
    rules = []
    for r in _rows(root, "tensorrt_oss.yml", "gpu_arch_rules"):
        base = r.raw("base")
        if not isinstance(base, list) or not base:
            raise r.error("base must be a non-empty list of SM numbers")
        extras = []
        for item in r.raw("extra", required=False) or []:
            e = _Row(f"{r.where}, extra", item)
            platform = e.raw("platform", required=False)
            extras.append(
                ArchExtra(
                    e.sm(e.raw("sm")),
                    e.platform(platform) if platform is not None else None,
                    e.version("cuda_min", required=False),
                )
            )
            e.done()
        rules.append(GpuArchRule(r.text("name"), tuple(r.sm(s) for s in base), tuple(extras), r.source(),
                                 r.version("default_cuda", required=False)))
        r.done()
    _unique(rules, lambda x: x.name, "tensorrt_oss.yml", "gpu_arch_rule")
    rule_names = {rule.name for rule in rules}

    refs = []
    for r in _rows(root, "tensorrt_oss.yml", "refs"):
        tensorrt = r.version("tensorrt")
        if len(tensorrt.release) != 2:
            raise r.error(f"tensorrt must be major.minor, got {tensorrt}")
        platforms = tuple(r.platform(p) for p in r.texts("platforms"))
        ref = r.text("ref", required=False)
        reads = r.flag("reads_gpu_archs", False)
        flag = r.text("arch_flag", required=False) or ("GPU_ARCHS" if reads else "CMAKE_CUDA_ARCHITECTURES")
        row = OssRefRow(
            tensorrt=tensorrt,
            platforms=platforms,
            ref=ref,
            nvinfer_version=r.version("nvinfer_version", required=False),
            gpu_arch_rule=r.text("gpu_arch_rule", required=False),
            reads_gpu_archs=reads,
            reason=r.text("reason", required=ref is None),
            source=r.source(),
            arch_flag=flag,
            arch_note=r.text("arch_note", required=False),
            cmake_minimum=r.version("cmake_minimum", required=False),
            caveat=r.text("caveat", required=False),
        )
        if row.gpu_arch_rule is not None and row.gpu_arch_rule not in rule_names:
            raise r.error(f"gpu_arch_rule {row.gpu_arch_rule!r} is not defined under gpu_arch_rules")
        if flag not in ARCH_FLAGS:
            raise r.error(f"arch_flag {flag!r} is not one of {', '.join(ARCH_FLAGS)}")
        if flag == "GPU_ARCHS" and not reads:
            raise r.error("arch_flag GPU_ARCHS for a ref that does not read GPU_ARCHS")
        if reads and flag != "GPU_ARCHS" and row.arch_note is None:
            raise r.error("arch_note must say why a ref that reads GPU_ARCHS gets another flag")
        refs.append(row)
        r.done()
    _unique(
        [(row.tensorrt, p) for row in refs for p in row.platforms],
        lambda x: f"{x[0]} on {x[1]}",
        "tensorrt_oss.yml",
        "ref for TensorRT",
    )

    plugins = []
    for r in _rows(root, "tensorrt_oss.yml", "plugins"):
        plugins.append(
            PluginRow(r.text("name"), r.version("since"), r.version("removed_in", required=False), r.source())
        )
        r.done()
    _unique(plugins, lambda x: x.name, "tensorrt_oss.yml", "plugin")
    return tuple(rules), tuple(refs), tuple(plugins)


def _load_prebuilt(root: Traversable) -> PrebuiltInfo:
    top = _Row("prebuilt_plugins.yml", _document(root, "prebuilt_plugins.yml"))
    repo, commit, source = top.text("repo"), top.text("commit"), top.source()
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise top.error("commit must be 40 lower-case hex digits")
    top.raw("libraries")
    top.done()
    libraries = []
    for r in _rows(root, "prebuilt_plugins.yml", "libraries"):
        sha256 = r.text("sha256", required=False)
        if sha256 is not None and not _SHA256.match(sha256):
            raise r.error("sha256 must be 64 lower-case hex digits")
        path = r.text("path")
        tensorrt = r.version("tensorrt")
        if not path.endswith(f"/libnvinfer_plugin.so.{tensorrt}"):
            raise r.error(f"path {path!r} does not end in libnvinfer_plugin.so.{tensorrt}")
        size = r.raw("size", required=False)
        if size is not None and (not isinstance(size, int) or size <= 0):
            raise r.error(f"size must be a positive integer, got {size!r}")
        libraries.append(PrebuiltPlugin(r.platform(r.raw("platform")), tensorrt, path, sha256, size,
                                        r.text("reason", required=sha256 is None), r.source()))
        r.done()
    _unique(libraries, lambda x: (x.platform, x.tensorrt), "prebuilt_plugins.yml", "library")
    return PrebuiltInfo(repo, commit, tuple(libraries), source)


def _load_devices(root: Traversable) -> tuple[tuple[DeviceRow, ...], tuple[GpuRow, ...]]:
    devices = []
    for r in _rows(root, "devices.yml", "jetson"):
        devices.append(
            DeviceRow(
                family=r.text("family"),
                name=r.text("name"),
                soc=r.texts("soc"),
                model_substrings=r.texts("model_substrings"),
                compute_capability=r.capability("compute_capability"),
                source=r.source(),
            )
        )
        r.done()
    _unique(devices, lambda x: x.family, "devices.yml", "family")
    gpus = []
    for r in _rows(root, "devices.yml", "gpus"):
        token = r.text("token")
        if not re.fullmatch(r"[A-Za-z0-9]+( [A-Za-z0-9]+)*", token):
            raise r.error(f"token {token!r} must be words of letters and digits, one space apart")
        gpus.append(GpuRow(token.upper(), r.capability("compute_capability"), r.source()))
        r.done()
    _unique(gpus, lambda x: x.token, "devices.yml", "GPU token")
    return tuple(devices), tuple(gpus)


def _load_precisions(root: Traversable) -> tuple[PrecisionRow, ...]:
    rows = []
    for r in _rows(root, "precision.yml", "precisions"):
        listed = r.raw("capabilities", required=False) or []
        capabilities = []
        for value in listed:
            if not isinstance(value, str) or not CAPABILITY.match(value):
                raise r.error(f"{value!r} is not a quoted compute capability like '6.1'")
            capabilities.append(value)
        row = PrecisionRow(
            r.text("name"), r.flag("always", False), frozenset(capabilities), r.version("from", required=False), r.source()
        )
        if not (row.always or row.capabilities or row.minimum):
            raise r.error("needs always, capabilities or from")
        rows.append(row)
        r.done()
    _unique(rows, lambda x: x.name, "precision.yml", "precision")
    return tuple(rows)


def _load_cmake(root: Traversable) -> CmakeInfo:
    oss = _cmake_section(root, "oss_build")
    minimum, source = oss.version("minimum"), oss.source()
    oss.done()
    archives = [_cmake_archive(r, r.text("arch")) for r in _rows(root, "cmake.yml", "archives")]
    for a in archives:
        if a.arch not in ("x86_64", "aarch64"):
            raise MatrixError(f"cmake.yml: archive {a.filename}: arch {a.arch!r} is not x86_64 or aarch64")
    sources = [_cmake_archive(r, "source") for r in _rows(root, "cmake.yml", "source_archives")]
    _unique(archives + sources, lambda x: x.filename, "cmake.yml", "archive")
    return CmakeInfo(minimum, tuple(archives), source, tuple(sources))


def _cmake_archive(r: _Row, arch: str) -> CmakeArchive:
    sha256 = r.text("sha256")
    if not _SHA256.match(sha256):
        raise r.error("sha256 must be 64 lower-case hex digits")
    url = r.source("url")
    archive = CmakeArchive(arch, r.version("version"), r.text("filename"), sha256, url, url)
    r.done()
    return archive


def _cmake_section(root: Traversable, key: str) -> _Row:
    document = _document(root, "cmake.yml")
    if key not in document:
        raise MatrixError(f"cmake.yml: expected a top-level {key!r} mapping")
    return _Row(f"cmake.yml: {key}", document[key])


def read(root: Traversable) -> dict[str, Any]:
    """Every table under `root`, as the keyword arguments of Matrix."""
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
    }
