"""The version matrix: sourced YAML under matrix/, lookups over it, and a compatibility checker.

Every row carries the public page it comes from (`source`). Loading is strict: a malformed file,
a missing or misspelt field, an unquoted version (YAML reads 4.6 as a float) or a duplicate row
raises MatrixError naming the file and the row. The checker never raises on a host's facts:
what it cannot judge it skips or reports as WARN.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

import provision
from provision.errors import ProvisionError

PLATFORMS = ("jetson", "x86")
_CAPABILITY = re.compile(r"^\d{1,2}\.\d$")
_SM = re.compile(r"^\d{2,3}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MatrixError(ProvisionError):
    """The matrix data is malformed: the message names the file and the row."""


class Status(enum.Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Verdict:
    rule: str
    status: Status
    reason: str
    fix: str | None = None


@dataclass(frozen=True)
class Stack:
    """What is (or would be) on a host; every field optional."""

    platform: str | None = None  # "jetson" | "x86"
    family: str | None = None  # Jetson family id from devices.yml
    l4t: Version | None = None
    jetpack: Version | None = None
    cuda: Version | None = None
    tensorrt: Version | None = None
    deepstream: Version | None = None
    python: Version | None = None
    ubuntu: Version | None = None
    driver: Version | None = None
    compute_caps: tuple[str, ...] = ()  # e.g. ("5.3",)


class OssGuide(enum.Enum):
    """What the DeepStream/TAO guides say about building the TensorRT OSS plugin library."""

    BUILD = "build"
    NOT_NEEDED = "not-needed"
    BINARY_ONLY = "binary-only"


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class L4tRow:
    l4t: Version
    jetpack: Version
    preview: bool
    source: str


@dataclass(frozen=True)
class JetPackRow:
    version: Version
    l4t: Version
    cuda: Version
    cudnn: Version
    tensorrt: Version
    ubuntu: Version
    python: Version
    preview: bool
    source: str


@dataclass(frozen=True)
class X86Requirements:
    tensorrt: Version
    cuda: Version
    driver_min: Version
    ubuntu: Version


@dataclass(frozen=True)
class PydsRow:
    deepstream: Version
    tag: str  # deepstream_python_apps tag, e.g. "v1.1.1"
    python: Version
    source: str

    @property
    def version(self) -> Version:
        return Version(self.tag.lstrip("v"))

    @property
    def build_style(self) -> str:
        """"cmake" (cmake + make, up to 1.1.x) or "build" (python3 -m build, 1.2 and later)."""
        return "build" if self.version >= Version("1.2") else "cmake"


@dataclass(frozen=True)
class TrtOssGuide:
    platform: str
    guide: OssGuide
    source: str


@dataclass(frozen=True)
class DeepStreamRow:
    version: Version
    jetpacks: tuple[Version, ...]  # empty: no Jetson release
    x86: X86Requirements | None
    python: Version
    pyds: PydsRow | None
    trt_oss: tuple[TrtOssGuide, ...]
    source: str

    def trt_oss_guide(self, platform: str) -> TrtOssGuide | None:
        return next((g for g in self.trt_oss if g.platform == platform), None)


@dataclass(frozen=True)
class ArchExtra:
    """An SM the CMakeLists appends to the default list when its condition holds."""

    sm: str
    platform: str | None = None  # only for this platform (jetson = TRT_PLATFORM_ID aarch64)
    cuda_min: Version | None = None  # only when CUDA_VERSION >= this


@dataclass(frozen=True)
class GpuArchRule:
    name: str
    base: tuple[str, ...]
    extra: tuple[ArchExtra, ...]
    source: str


@dataclass(frozen=True)
class OssRefRow:
    tensorrt: Version  # installed TensorRT major.minor this row applies to
    platforms: tuple[str, ...]
    ref: str | None  # branch or tag; None: no usable ref, see reason
    nvinfer_version: Version | None
    gpu_arch_rule: str | None
    reads_gpu_archs: bool
    reason: str | None
    source: str


@dataclass(frozen=True)
class PluginRow:
    name: str  # plugin creator name
    since: Version  # first TensorRT major.minor whose ref carries it
    removed_in: Version | None
    source: str


@dataclass(frozen=True)
class DeviceRow:
    family: str
    name: str
    soc: tuple[str, ...]
    model_substrings: tuple[str, ...]
    compute_capability: str
    source: str


@dataclass(frozen=True)
class GpuRow:
    token: str
    compute_capability: str
    source: str


@dataclass(frozen=True)
class PrecisionRow:
    name: str
    always: bool
    capabilities: frozenset[str]
    minimum: Version | None
    source: str

    def applies_to(self, capability: Version) -> bool:
        return (
            self.always
            or str(capability) in self.capabilities
            or (self.minimum is not None and capability >= self.minimum)
        )


@dataclass(frozen=True)
class CmakeArchive:
    arch: str  # x86_64 | aarch64
    version: Version
    filename: str
    sha256: str
    url: str
    source: str


@dataclass(frozen=True)
class CmakeInfo:
    minimum: Version
    archives: tuple[CmakeArchive, ...]
    source: str


# ---------------------------------------------------------------------------------------------
# Loading


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
        if not _CAPABILITY.match(value):
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


def _rows(root: Path, filename: str, key: str) -> Iterator[_Row]:
    """The rows of the list under `key` in one matrix file."""
    path = root / filename
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MatrixError(f"{filename}: cannot read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise MatrixError(f"{filename}: not valid YAML: {e}") from None
    if not isinstance(document, Mapping) or key not in document:
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


def _load_l4t(root: Path) -> tuple[L4tRow, ...]:
    rows = []
    for r in _rows(root, "l4t.yml", "l4t"):
        rows.append(L4tRow(r.version("l4t"), r.version("jetpack"), r.flag("preview", False), r.source()))
        r.done()
    _unique(rows, lambda x: x.l4t, "l4t.yml", "L4T")
    return tuple(rows)


def _load_jetpack(root: Path) -> tuple[JetPackRow, ...]:
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
            )
        )
        r.done()
    _unique(rows, lambda x: x.version, "jetpack.yml", "JetPack")
    return tuple(rows)


def _load_deepstream(root: Path) -> tuple[DeepStreamRow, ...]:
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
        rows.append(DeepStreamRow(version, jetpacks, x86, python, pyds, tuple(guides), r.source()))
        r.done()
    _unique(rows, lambda x: x.version, "deepstream.yml", "DeepStream")
    return tuple(rows)


def _load_oss(root: Path) -> tuple[tuple[GpuArchRule, ...], tuple[OssRefRow, ...], tuple[PluginRow, ...]]:
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
        rules.append(GpuArchRule(r.text("name"), tuple(r.sm(s) for s in base), tuple(extras), r.source()))
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
        row = OssRefRow(
            tensorrt=tensorrt,
            platforms=platforms,
            ref=ref,
            nvinfer_version=r.version("nvinfer_version", required=False),
            gpu_arch_rule=r.text("gpu_arch_rule", required=False),
            reads_gpu_archs=r.flag("reads_gpu_archs", False),
            reason=r.text("reason", required=ref is None),
            source=r.source(),
        )
        if row.gpu_arch_rule is not None and row.gpu_arch_rule not in rule_names:
            raise r.error(f"gpu_arch_rule {row.gpu_arch_rule!r} is not defined under gpu_arch_rules")
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


def _load_devices(root: Path) -> tuple[tuple[DeviceRow, ...], tuple[GpuRow, ...]]:
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
        if not re.fullmatch(r"[A-Za-z0-9]+", token):
            raise r.error(f"token {token!r} must be letters and digits only")
        gpus.append(GpuRow(token.upper(), r.capability("compute_capability"), r.source()))
        r.done()
    _unique(gpus, lambda x: x.token, "devices.yml", "GPU token")
    return tuple(devices), tuple(gpus)


def _load_precisions(root: Path) -> tuple[PrecisionRow, ...]:
    rows = []
    for r in _rows(root, "precision.yml", "precisions"):
        listed = r.raw("capabilities", required=False) or []
        capabilities = []
        for value in listed:
            if not isinstance(value, str) or not _CAPABILITY.match(value):
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


def _load_cmake(root: Path) -> CmakeInfo:
    oss = _cmake_section(root, "oss_build")
    minimum, source = oss.version("minimum"), oss.source()
    oss.done()
    archives = []
    for r in _rows(root, "cmake.yml", "archives"):
        arch = r.text("arch")
        if arch not in ("x86_64", "aarch64"):
            raise r.error(f"arch {arch!r} is not x86_64 or aarch64")
        sha256 = r.text("sha256")
        if not _SHA256.match(sha256):
            raise r.error("sha256 must be 64 lower-case hex digits")
        url = r.source("url")
        archives.append(CmakeArchive(arch, r.version("version"), r.text("filename"), sha256, url, url))
        r.done()
    _unique(archives, lambda x: x.filename, "cmake.yml", "archive")
    return CmakeInfo(minimum, tuple(archives), source)


def _cmake_section(root: Path, key: str) -> _Row:
    path = root / "cmake.yml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise MatrixError(f"cmake.yml: cannot load: {e}") from None
    if not isinstance(document, Mapping) or key not in document:
        raise MatrixError(f"cmake.yml: expected a top-level {key!r} mapping")
    return _Row(f"cmake.yml: {key}", document[key])


# ---------------------------------------------------------------------------------------------
# The matrix


def _mm(v: Version) -> tuple[int, int]:
    return (v.major, v.minor)


def _mmp(v: Version) -> tuple[int, ...]:
    return (v.release + (0, 0))[:3]


def _sm(capability: str) -> str:
    return capability.replace(".", "")


def _names(versions: Sequence[Version]) -> str:
    return ", ".join(str(v) for v in versions)


def _ubuntu(v: Version) -> str:
    """Ubuntu as written ("18.04"): packaging normalises 18.04 to 18.4."""
    return f"{v.major}.{v.minor:02d}"


def _driver(v: Version) -> str:
    """An NVIDIA driver version as written ("460.32.03")."""
    return ".".join([str(v.major)] + [f"{n:02d}" for n in v.release[1:]])


@dataclass(frozen=True)
class Matrix:
    l4t_rows: tuple[L4tRow, ...]
    jetpack_rows: tuple[JetPackRow, ...]
    deepstream_rows: tuple[DeepStreamRow, ...]
    gpu_arch_rules: tuple[GpuArchRule, ...]
    oss_refs: tuple[OssRefRow, ...]
    plugin_rows: tuple[PluginRow, ...]
    device_rows: tuple[DeviceRow, ...]
    gpu_rows: tuple[GpuRow, ...]
    precision_rows: tuple[PrecisionRow, ...]
    cmake: CmakeInfo

    @classmethod
    def load(cls, root: Path | None = None) -> Matrix:
        """Load and validate every file under `root` (default: the repository's matrix/)."""
        root = Path(root) if root is not None else provision.REPO_ROOT / "matrix"
        rules, refs, plugins = _load_oss(root)
        devices, gpus = _load_devices(root)
        return cls(
            l4t_rows=_load_l4t(root),
            jetpack_rows=_load_jetpack(root),
            deepstream_rows=_load_deepstream(root),
            gpu_arch_rules=rules,
            oss_refs=refs,
            plugin_rows=plugins,
            device_rows=devices,
            gpu_rows=gpus,
            precision_rows=_load_precisions(root),
            cmake=_load_cmake(root),
        )

    # -- lookups --------------------------------------------------------------------------

    def l4t(self, l4t: Version) -> L4tRow | None:
        return next((r for r in self.l4t_rows if r.l4t == l4t), None)

    def jetpack_for_l4t(self, l4t: Version) -> JetPackRow | None:
        row = self.l4t(l4t)
        return self.jetpack(row.jetpack) if row else None

    def jetpack(self, version: Version) -> JetPackRow | None:
        return next((r for r in self.jetpack_rows if r.version == version), None)

    def deepstream(self, version: Version) -> DeepStreamRow | None:
        return next((r for r in self.deepstream_rows if r.version == version), None)

    def oss_ref(self, tensorrt: Version, platform: str) -> OssRefRow | None:
        """The OSS ref row for the INSTALLED TensorRT on this platform (its ref may be None)."""
        return next(
            (r for r in self.oss_refs if _mm(r.tensorrt) == _mm(tensorrt) and platform in r.platforms),
            None,
        )

    def default_gpu_archs(self, ref: OssRefRow, platform: str, cuda: Version | None) -> tuple[str, ...]:
        """The SMs the ref's CMakeLists builds when -DGPU_ARCHS is not given, in its order.

        `platform` "jetson" assumes -DTRT_PLATFORM_ID=aarch64 is passed (a native build defaults
        to x86_64). With `cuda` None the CUDA-conditional SMs are left out. Empty when the ref does
        not read GPU_ARCHS or its default is not verified.
        """
        rule = next((r for r in self.gpu_arch_rules if r.name == ref.gpu_arch_rule), None)
        if rule is None or not ref.reads_gpu_archs:
            return ()
        archs = list(rule.base)
        for extra in rule.extra:
            if extra.platform is not None and extra.platform != platform:
                continue
            if extra.cuda_min is not None and (cuda is None or cuda < extra.cuda_min):
                continue
            archs.append(extra.sm)
        return tuple(dict.fromkeys(archs))

    def plugins_in(self, ref: OssRefRow) -> frozenset[str]:
        """Plugin creators a build of this ref carries (of those the matrix tracks)."""
        if ref.ref is None:
            return frozenset()
        trt = ref.tensorrt
        return frozenset(
            p.name for p in self.plugin_rows if p.since <= trt and (p.removed_in is None or trt < p.removed_in)
        )

    def refs_with_plugin(self, name: str) -> list[OssRefRow]:
        """Refs that carry plugin `name`, oldest TensorRT first, one row per ref."""
        found: dict[str, OssRefRow] = {}
        for row in sorted(self.oss_refs, key=lambda r: r.tensorrt):
            if row.ref is not None and row.ref not in found and name in self.plugins_in(row):
                found[row.ref] = row
        return list(found.values())

    def device_for(self, model: str | None, compatible: Sequence[str]) -> DeviceRow | None:
        """The Jetson family from the device-tree SoC (compatible), else from the model string."""
        socs = {c.strip().split(",", 1)[-1] for c in compatible if c.strip()}
        by_soc = [d for d in self.device_rows if socs & set(d.soc)]
        if len(by_soc) == 1:
            return by_soc[0]
        pool = by_soc or list(self.device_rows)
        best: tuple[int, DeviceRow] | None = None
        for device in pool:
            for part in device.model_substrings:
                if model and part.lower() in model.lower() and (best is None or len(part) > best[0]):
                    best = (len(part), device)
        if best is not None:
            return best[1]
        return by_soc[0] if by_soc else None

    def compute_capability_for_gpu_name(self, name: str) -> str | None:
        """Compute capability from a GPU name ("Tesla T4" -> "7.5"), by whole-word token."""
        by_token = {g.token: g.compute_capability for g in self.gpu_rows}
        for token in re.split(r"[^0-9A-Za-z]+", name.upper()):
            if token in by_token:
                return by_token[token]
        return None

    def precisions(self, compute_cap: str) -> frozenset[str]:
        """Precisions TensorRT runs fast on this compute capability: {"fp32", "fp16", "int8"}."""
        if not _CAPABILITY.match(compute_cap or ""):
            return frozenset()
        capability = Version(compute_cap)
        return frozenset(p.name for p in self.precision_rows if p.applies_to(capability))

    def pyds(self, deepstream: Version) -> PydsRow | None:
        row = self.deepstream(deepstream)
        return row.pyds if row else None

    # -- checker --------------------------------------------------------------------------

    def check(self, stack: Stack) -> list[Verdict]:
        """One verdict per rule that applies to what `stack` says; never raises on odd input."""
        ctx = _Context.resolve(self, stack)
        verdicts: list[Verdict] = []
        for rule in _RULES:
            verdicts.extend(rule(self, ctx))
        return verdicts


# ---------------------------------------------------------------------------------------------
# Checker rules


@dataclass(frozen=True)
class _Context:
    stack: Stack
    platform: str | None
    l4t_row: L4tRow | None
    jetpack: Version | None  # claimed, else derived from L4T
    jetpack_row: JetPackRow | None
    deepstream_row: DeepStreamRow | None
    tensorrt: Version | None  # installed, else what the JetPack / DeepStream row implies
    tensorrt_note: str
    cuda: Version | None

    @classmethod
    def resolve(cls, matrix: Matrix, s: Stack) -> _Context:
        platform = s.platform
        jetson_families = {d.family for d in matrix.device_rows}
        if platform is None and (s.l4t or s.jetpack or s.family in jetson_families):
            platform = "jetson"
        l4t_row = matrix.l4t(s.l4t) if s.l4t else None
        jetpack = s.jetpack or (l4t_row.jetpack if l4t_row else None)
        jetpack_row = matrix.jetpack(jetpack) if jetpack and platform == "jetson" else None
        ds_row = matrix.deepstream(s.deepstream) if s.deepstream else None
        tensorrt, note, cuda = s.tensorrt, "", s.cuda
        if tensorrt is None and jetpack_row is not None:
            tensorrt, note = jetpack_row.tensorrt, f" (JetPack {jetpack_row.version} ships it)"
        elif tensorrt is None and platform == "x86" and ds_row and ds_row.x86:
            tensorrt, note = ds_row.x86.tensorrt, f" (DeepStream {ds_row.version} needs it)"
        if cuda is None and jetpack_row is not None:
            cuda = jetpack_row.cuda
        elif cuda is None and platform == "x86" and ds_row and ds_row.x86:
            cuda = ds_row.x86.cuda
        return cls(s, platform, l4t_row, jetpack, jetpack_row, ds_row, tensorrt, note, cuda)


def _rule_platform(m: Matrix, c: _Context) -> list[Verdict]:
    s = c.stack
    if c.platform is not None and c.platform not in PLATFORMS:
        return [Verdict("platform", Status.WARN, f"platform {c.platform!r} is not jetson or x86", "give jetson or x86")]
    if c.platform is None and (s.deepstream or s.tensorrt):
        return [
            Verdict(
                "platform",
                Status.WARN,
                "platform unknown: the DeepStream and TensorRT OSS rules need jetson or x86",
                "give --platform, or --jetpack / --l4t for a Jetson",
            )
        ]
    return []


def _rule_l4t(m: Matrix, c: _Context) -> list[Verdict]:
    s = c.stack
    if s.l4t is None:
        return []
    if c.l4t_row is None:
        known = _names([r.l4t for r in m.l4t_rows if r.l4t.major == s.l4t.major]) or "none"
        return [
            Verdict(
                "l4t",
                Status.WARN,
                f"L4T {s.l4t} is not in the matrix (known R{s.l4t.major}: {known})",
                "add it to matrix/l4t.yml with its source, or give the JetPack version",
            )
        ]
    preview = " (developer preview)" if c.l4t_row.preview else ""
    if s.jetpack is not None and s.jetpack != c.l4t_row.jetpack:
        return [
            Verdict(
                "l4t",
                Status.FAIL,
                f"L4T {s.l4t} is JetPack {c.l4t_row.jetpack}{preview}, not JetPack {s.jetpack}",
                "trust /etc/nv_tegra_release: the JetPack claimed does not match the installed L4T",
            )
        ]
    return [Verdict("l4t", Status.OK, f"L4T {s.l4t} is JetPack {c.l4t_row.jetpack}{preview}")]


def _rule_jetpack(m: Matrix, c: _Context) -> list[Verdict]:
    if c.platform != "jetson" or c.jetpack is None:
        return []
    row = c.jetpack_row
    if row is None:
        return [
            Verdict(
                "jetpack",
                Status.WARN,
                f"JetPack {c.jetpack} is not in the matrix",
                "add it to matrix/jetpack.yml with its source",
            )
        ]
    verdicts = [
        Verdict(
            "jetpack",
            Status.OK,
            f"JetPack {row.version}: L4T {row.l4t}, CUDA {row.cuda}, cuDNN {row.cudnn}, "
            f"TensorRT {row.tensorrt}, Ubuntu {_ubuntu(row.ubuntu)}, Python {row.python}",
        )
    ]
    s = c.stack
    if s.cuda is not None:
        if _mm(s.cuda) == _mm(row.cuda):
            verdicts.append(Verdict("jetpack.cuda", Status.OK, f"CUDA {s.cuda} is JetPack {row.version}'s"))
        elif row.version >= Version("5"):
            verdicts.append(
                Verdict(
                    "jetpack.cuda",
                    Status.WARN,
                    f"CUDA {s.cuda} is not JetPack {row.version}'s {row.cuda} (an upgrade package?)",
                    f"build against CUDA {row.cuda} unless the newer toolkit is intended",
                )
            )
        else:
            verdicts.append(
                Verdict(
                    "jetpack.cuda",
                    Status.FAIL,
                    f"CUDA {s.cuda} does not belong to JetPack {row.version} (CUDA {row.cuda})",
                    f"reinstall CUDA {row.cuda} from the JetPack {row.version} repository",
                )
            )
    if s.tensorrt is not None:
        if _mmp(s.tensorrt) == _mmp(row.tensorrt):
            verdicts.append(Verdict("jetpack.tensorrt", Status.OK, f"TensorRT {s.tensorrt} is JetPack {row.version}'s"))
        else:
            same_minor = _mm(s.tensorrt) == _mm(row.tensorrt)
            verdicts.append(
                Verdict(
                    "jetpack.tensorrt",
                    Status.WARN if same_minor else Status.FAIL,
                    f"TensorRT {s.tensorrt} is not JetPack {row.version}'s {row.tensorrt}",
                    f"reinstall TensorRT {row.tensorrt} from the JetPack {row.version} repository",
                )
            )
    return verdicts


def _rule_deepstream(m: Matrix, c: _Context) -> list[Verdict]:
    s = c.stack
    if s.deepstream is None:
        return []
    if c.deepstream_row is None:
        known = _names([r.version for r in m.deepstream_rows])
        return [
            Verdict(
                "deepstream",
                Status.WARN,
                f"DeepStream {s.deepstream} is not in the matrix (known: {known})",
                "add it to matrix/deepstream.yml with its source",
            )
        ]
    return [Verdict("deepstream", Status.OK, f"DeepStream {s.deepstream} is in the matrix")]


def _rule_deepstream_jetson(m: Matrix, c: _Context) -> list[Verdict]:
    ds = c.deepstream_row
    if ds is None or c.platform != "jetson":
        return []
    rule = "deepstream.jetpack"
    if not ds.jetpacks:
        return [Verdict(rule, Status.FAIL, f"DeepStream {ds.version} has no Jetson release", "pick another DeepStream")]
    wanted = sorted(ds.jetpacks)
    if c.jetpack is None:
        return [
            Verdict(rule, Status.WARN, f"JetPack unknown; DeepStream {ds.version} needs one of {_names(wanted)}")
        ]
    if c.jetpack in wanted:
        return [Verdict(rule, Status.OK, f"DeepStream {ds.version} supports JetPack {c.jetpack}")]
    row = c.jetpack_row
    twin = next(
        (
            j
            for j in wanted
            if row
            and (other := m.jetpack(j))
            and _mm(other.cuda) == _mm(row.cuda)
            and _mmp(other.tensorrt) == _mmp(row.tensorrt)
        ),
        None,
    )
    if twin is not None:
        return [
            Verdict(
                rule,
                Status.WARN,
                f"the guides name JetPack {_names(wanted)} for DeepStream {ds.version}, not {c.jetpack}; "
                f"it has the same CUDA and TensorRT as {twin}",
                f"expect it to work; JetPack {twin} is the tested one",
            )
        ]
    fits = [d.version for d in m.deepstream_rows if c.jetpack in d.jetpacks]
    alternative = f", or use DeepStream {_names(fits)} on JetPack {c.jetpack}" if fits else ""
    if c.jetpack < wanted[0]:
        reason = f"DeepStream {ds.version} needs JetPack {wanted[0]}+ (guides name {_names(wanted)}); this host has {c.jetpack}"
    else:
        reason = f"DeepStream {ds.version} supports JetPack {_names(wanted)} only; this host has {c.jetpack}"
    return [Verdict(rule, Status.FAIL, reason, f"flash JetPack {wanted[-1]}{alternative}")]


def _rule_deepstream_x86(m: Matrix, c: _Context) -> list[Verdict]:
    ds, s = c.deepstream_row, c.stack
    if ds is None or c.platform != "x86":
        return []
    if ds.x86 is None:
        return [Verdict("deepstream.x86", Status.FAIL, f"DeepStream {ds.version} has no x86 release", "pick another DeepStream")]
    need = ds.x86
    verdicts = []
    if s.tensorrt is not None:
        if _mmp(s.tensorrt) == _mmp(need.tensorrt):
            verdicts.append(Verdict("deepstream.tensorrt", Status.OK, f"TensorRT {s.tensorrt} fits DeepStream {ds.version}"))
        else:
            verdicts.append(
                Verdict(
                    "deepstream.tensorrt",
                    Status.WARN if _mm(s.tensorrt) == _mm(need.tensorrt) else Status.FAIL,
                    f"DeepStream {ds.version} needs TensorRT {need.tensorrt}; this host has {s.tensorrt}",
                    f"install TensorRT {need.tensorrt}",
                )
            )
    if s.cuda is not None:
        ok = _mm(s.cuda) == _mm(need.cuda)
        verdicts.append(
            Verdict("deepstream.cuda", Status.OK, f"CUDA {s.cuda} fits DeepStream {ds.version}")
            if ok
            else Verdict(
                "deepstream.cuda",
                Status.FAIL,
                f"DeepStream {ds.version} needs CUDA {need.cuda}; this host has {s.cuda}",
                f"install CUDA {need.cuda}",
            )
        )
    if s.driver is not None:
        ok = s.driver >= need.driver_min
        verdicts.append(
            Verdict("deepstream.driver", Status.OK, f"driver {_driver(s.driver)} >= {_driver(need.driver_min)}")
            if ok
            else Verdict(
                "deepstream.driver",
                Status.FAIL,
                f"DeepStream {ds.version} needs NVIDIA driver >= {_driver(need.driver_min)}; "
                f"this host has {_driver(s.driver)}",
                f"install driver {_driver(need.driver_min)} or newer",
            )
        )
    if s.ubuntu is not None:
        ok = _mm(s.ubuntu) == _mm(need.ubuntu)
        verdicts.append(
            Verdict("deepstream.ubuntu", Status.OK, f"Ubuntu {_ubuntu(s.ubuntu)} fits DeepStream {ds.version}")
            if ok
            else Verdict(
                "deepstream.ubuntu",
                Status.WARN,
                f"DeepStream {ds.version} is built for Ubuntu {_ubuntu(need.ubuntu)}; "
                f"this host has {_ubuntu(s.ubuntu)}",
                f"use Ubuntu {_ubuntu(need.ubuntu)} or the DeepStream container",
            )
        )
    return verdicts


def _rule_tensorrt_oss(m: Matrix, c: _Context) -> list[Verdict]:
    if c.tensorrt is None or c.platform not in PLATFORMS:
        return []
    trt, where = c.tensorrt, "Jetson" if c.platform == "jetson" else "x86"
    row = m.oss_ref(trt, c.platform)
    verdicts = []
    if row is None:
        verdicts.append(
            Verdict(
                "tensorrt.oss",
                Status.FAIL,
                f"no TensorRT OSS ref for TensorRT {trt}{c.tensorrt_note} on {where}",
                "use the installed libnvinfer_plugin, or add a sourced ref to matrix/tensorrt_oss.yml",
            )
        )
    elif row.ref is None:
        verdicts.append(
            Verdict(
                "tensorrt.oss",
                Status.WARN,
                f"no OSS build for TensorRT {trt}{c.tensorrt_note} on {where}: {row.reason}",
                "keep the installed libnvinfer_plugin, or use the prebuilt library the DeepStream/TAO guide ships",
            )
        )
    else:
        version = f" (NvInferVersion {row.nvinfer_version})" if row.nvinfer_version else ""
        verdicts.append(
            Verdict("tensorrt.oss", Status.OK, f"TensorRT {trt}{c.tensorrt_note} -> OSS {row.ref}{version}")
        )
    guide = c.deepstream_row.trt_oss_guide(c.platform) if c.deepstream_row else None
    if guide is not None:
        ds = c.deepstream_row.version
        if guide.guide is OssGuide.BUILD:
            verdicts.append(Verdict("tensorrt.oss.guide", Status.OK, f"the guides build TensorRT OSS for DeepStream {ds}"))
        elif guide.guide is OssGuide.NOT_NEEDED:
            verdicts.append(
                Verdict("tensorrt.oss.guide", Status.OK, f"the guides say DeepStream {ds} needs no TensorRT OSS build")
            )
        else:
            verdicts.append(
                Verdict(
                    "tensorrt.oss.guide",
                    Status.WARN,
                    f"the guides ship only a prebuilt libnvinfer_plugin for DeepStream {ds} on {where}",
                    "use the prebuilt library from deepstream_tao_apps TRT-OSS, or --force an OSS build",
                )
            )
    return verdicts


def _rule_gpu_archs(m: Matrix, c: _Context) -> list[Verdict]:
    caps = c.stack.compute_caps
    if not caps or c.tensorrt is None or c.platform not in PLATFORMS:
        return []
    row = m.oss_ref(c.tensorrt, c.platform)
    if row is None or row.ref is None:
        return []
    wanted = [_sm(cap) for cap in caps]
    flag = f"-DGPU_ARCHS=\"{' '.join(wanted)}\""
    if not row.reads_gpu_archs:
        return [
            Verdict(
                "gpu_archs.default",
                Status.WARN,
                f"{row.ref} no longer reads GPU_ARCHS",
                f"pass -DCMAKE_CUDA_ARCHITECTURES=\"{';'.join(wanted)}\"",
            )
        ]
    default = m.default_gpu_archs(row, c.platform, c.cuda)
    if not default:
        return [
            Verdict("gpu_archs.default", Status.WARN, f"the default GPU_ARCHS of {row.ref} is not verified", f"pass {flag}")
        ]
    missing = [sm for sm in wanted if sm not in default]
    if missing:
        return [
            Verdict(
                "gpu_archs.default",
                Status.WARN,
                f"{row.ref} builds {' '.join(default)} by default, without {' '.join(missing)}",
                f"pass {flag}",
            )
        ]
    return [Verdict("gpu_archs.default", Status.OK, f"{row.ref}'s default GPU_ARCHS cover {' '.join(wanted)}")]


def _rule_compute_capability(m: Matrix, c: _Context) -> list[Verdict]:
    s = c.stack
    if s.family is None:
        return []
    device = next((d for d in m.device_rows if d.family == s.family), None)
    if device is None:
        return [
            Verdict("compute_capability", Status.WARN, f"Jetson family {s.family!r} is not in matrix/devices.yml")
        ]
    if not s.compute_caps:
        return []
    other = sorted(set(s.compute_caps) - {device.compute_capability})
    if other:
        return [
            Verdict(
                "compute_capability",
                Status.WARN,
                f"the GPU reports {', '.join(other)} but {device.name} is {device.compute_capability}",
                "check the device-tree model and deviceQuery; --gpu-archs overrides",
            )
        ]
    return [Verdict("compute_capability", Status.OK, f"{device.name} is {device.compute_capability}, as reported")]


def _rule_pyds(m: Matrix, c: _Context) -> list[Verdict]:
    ds, python = c.deepstream_row, c.stack.python
    if ds is None or python is None:
        return []
    if ds.pyds is None:
        return [Verdict("pyds", Status.WARN, f"no pyds tag known for DeepStream {ds.version}")]
    pyds = ds.pyds
    if _mm(python) == _mm(pyds.python):
        return [Verdict("pyds", Status.OK, f"pyds {pyds.tag} for DeepStream {ds.version} builds for Python {python}")]
    return [
        Verdict(
            "pyds",
            Status.WARN,
            f"pyds {pyds.tag} for DeepStream {ds.version} targets Python {pyds.python}; this host has {python}",
            f"build it with -DPYTHON_MINOR_VERSION={python.minor} (untested by NVIDIA) or use Python {pyds.python}",
        )
    ]


_RULES: tuple[Callable[[Matrix, _Context], list[Verdict]], ...] = (
    _rule_platform,
    _rule_l4t,
    _rule_jetpack,
    _rule_deepstream,
    _rule_deepstream_jetson,
    _rule_deepstream_x86,
    _rule_tensorrt_oss,
    _rule_gpu_archs,
    _rule_compute_capability,
    _rule_pyds,
)
