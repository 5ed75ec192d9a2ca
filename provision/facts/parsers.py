# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure parsers: one probe section's raw text in, a typed value (or None) out.

Parsers never raise on odd input: what they cannot read becomes None (or an empty value), and
the caller turns a non-empty section that gave None into a warning.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import shlex
import threading
from dataclasses import dataclass, field

from packaging.version import InvalidVersion, Version


def to_version(text: str | None) -> Version | None:
    """`Version(text)` or None for anything packaging cannot read."""
    if not text:
        return None
    try:
        return Version(text.strip())
    except InvalidVersion:
        return None


def _search_version(pattern: str, text: str) -> Version | None:
    match = re.search(pattern, text, re.MULTILINE)
    return to_version(match.group(1)) if match else None


def parse_uname_m(text: str) -> str | None:
    """`aarch64` / `x86_64`."""
    words = text.split()
    return words[0] if words else None


@dataclass(frozen=True)
class OsRelease:
    id: str | None
    version_id: str | None
    pretty_name: str | None


@functools.lru_cache(maxsize=64)
def parse_os_release(text: str) -> OsRelease | None:
    """/etc/os-release KEY=value lines (values may be shell-quoted); read once per text (a fleet's
    hosts share a few)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.partition("=")
        if not sep or not key.strip() or key.lstrip().startswith("#"):
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            continue
        values[key.strip()] = words[0] if words else ""
    if not values:
        return None
    return OsRelease(values.get("ID"), values.get("VERSION_ID"), values.get("PRETTY_NAME"))


@dataclass(frozen=True)
class TegraRelease:
    l4t: Version
    board: str | None


def parse_nv_tegra_release(text: str) -> TegraRelease | None:
    """`# R32 (release), REVISION: 7.1, GCID: ..., BOARD: t210ref, ...` -> L4T 32.7.1."""
    match = re.search(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)\.(\d+)", text)
    if not match:
        return None
    board = re.search(r"BOARD:\s*([\w.-]+)", text)
    l4t = Version(f"{match.group(1)}.{match.group(2)}.{match.group(3)}")
    return TegraRelease(l4t, board.group(1) if board else None)


def parse_dt_model(text: str) -> str | None:
    """Device-tree model (the probe turned its terminating NUL into a newline)."""
    model = text.replace("\x00", "\n").strip()
    return model.splitlines()[0].strip() if model else None


def parse_container(text: str) -> str | None:
    """The container runtime the probe found signs of (`docker`, `podman`, `$container`), else None."""
    words = [w.strip() for w in text.splitlines() if w.strip()]
    return words[0] if words else None


def l4t_from_dpkg(packages: dict[str, str]) -> Version | None:
    """L4T from `nvidia-l4t-core`, else from any other `nvidia-l4t-*` package (36.3.0-2024... -> 36.3.0)."""
    names = ["nvidia-l4t-core"] + sorted(n for n in packages if n.startswith("nvidia-l4t-") and n != "nvidia-l4t-core")
    for name in names:
        version = upstream_version(packages[name]) if name in packages else None
        if version is not None and len(version.release) >= 2:
            return version
    return None


def parse_dt_compatible(text: str) -> tuple[str, ...]:
    """Device-tree compatible list, one entry a line: `nvidia,p3450-0000`, `nvidia,tegra210`."""
    return tuple(w.strip() for w in text.replace("\x00", "\n").splitlines() if w.strip())


def parse_cuda_version_json(text: str) -> Version | None:
    """/usr/local/cuda/version.json: `cuda_nvcc.version`, else the SDK's `cuda.version`."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("cuda_nvcc", "cuda"):
        entry = data.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            version = to_version(entry["version"])
            if version:
                return version
    return None


def parse_cuda_version_txt(text: str) -> Version | None:
    """/usr/local/cuda/version.txt: `CUDA Version 10.2.89`."""
    return _search_version(r"CUDA Version\s+([\d.]+)", text)


def parse_nvcc_version(text: str) -> Version | None:
    """`nvcc --version`: `Cuda compilation tools, release 10.2, V10.2.89`."""
    return _search_version(r"release [\d.]+, V([\d.]+)", text) or _search_version(
        r"release ([\d.]+)", text
    )


@dataclass(frozen=True)
class SmiGpu:
    name: str
    compute_cap: str | None
    driver: str | None  # as printed: 580.159.04 (a Version would drop the zero)
    memory_mib: int | None


@dataclass(frozen=True)
class NvidiaSmi:
    gpus: tuple[SmiGpu, ...]
    error: str | None = None


def _mib(value: str) -> int | None:
    match = re.match(r"\s*(\d+)\s*MiB", value)
    return int(match.group(1)) if match else None


def _compute_cap(value: str | None) -> str | None:
    return value.strip() if value and re.fullmatch(r"\s*\d+\.\d+\s*", value) else None


@functools.lru_cache(maxsize=64)  # an immutable value, once per text (a fleet's hosts share theirs)
def parse_nvidia_smi_query(text: str) -> NvidiaSmi | None:
    """`nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv`.

    Older drivers reject `compute_cap`; the probe then asks again without it, so the section may
    hold an error line followed by a second CSV table.
    """
    if not text.strip():
        return None
    gpus: list[SmiGpu] = []
    errors: list[str] = []
    header: list[str] | None = None
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        if not row or not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row]
        if cells[0] == "name":
            header = [c.split(" [")[0] for c in cells]
            continue
        if header is None or len(cells) != len(header):
            errors.append(", ".join(cells))
            continue
        values = dict(zip(header, cells, strict=False))
        gpus.append(
            SmiGpu(
                name=values["name"],
                compute_cap=_compute_cap(values.get("compute_cap")),
                driver=values.get("driver_version") or None,
                memory_mib=_mib(values.get("memory.total", "")),
            )
        )
    return NvidiaSmi(tuple(gpus), "; ".join(errors) or None)


def parse_dpkg(text: str) -> dict[str, str]:
    """`dpkg-query -W` lines (`name<TAB>version`) or `dpkg -l` rows (`ii  name  version ...`).

    Packages matched by a pattern but not installed come with an empty version and are left out.
    """
    packages: dict[str, str] = {}
    for line in text.splitlines():
        if "\t" in line:
            name, _, version = line.partition("\t")
        else:
            words = line.split()
            if len(words) < 3 or words[0] not in ("ii", "hi", "iU", "iF"):
                continue
            name, version = words[1], words[2]
        name, version = name.strip().split(":")[0], version.strip()
        if name and version:
            packages[name] = version
    return packages


def upstream_version(debian_version: str) -> Version | None:
    """`8.2.1-1+cuda10.2` -> 8.2.1; `32.7.1-20220219090432` -> 32.7.1 (epoch dropped)."""
    version = debian_version.split(":", 1)[-1].split("-", 1)[0]
    return to_version(version.split("+", 1)[0].split("~", 1)[0])


def tensorrt_from_dpkg(packages: dict[str, str]) -> Version | None:
    """TensorRT from its packages: `tensorrt` (X.Y.Z.B), else `libnvinfer<major>` (X.Y.Z)."""
    if "tensorrt" in packages:
        version = upstream_version(packages["tensorrt"])
        if version:
            return version
    runtime = sorted(name for name in packages if re.fullmatch(r"libnvinfer\d+", name))
    for name in reversed(runtime):
        version = upstream_version(packages[name])
        if version:
            return version
    return None


def deepstream_from_dpkg(packages: dict[str, str]) -> Version | None:
    """`deepstream-6.0  6.0.1-1` -> 6.0.1."""
    for name in sorted(packages, reverse=True):
        if re.fullmatch(r"deepstream-\d+\.\d+", name):
            return upstream_version(packages[name])
    return None


def parse_nvinfer_version_h(text: str) -> Version | None:
    """`#define NV_TENSORRT_MAJOR 8` ... (TensorRT 10 defines them through `TRT_*_ENTERPRISE`)."""
    defines = dict(re.findall(r"^#define\s+(\w+)\s+(\w+)", text, re.MULTILINE))

    def resolve(name: str) -> str | None:
        value = defines.get(name)
        for _ in range(3):
            if value is None or value.isdigit():
                return value
            value = defines.get(value)
        return None

    parts = [resolve(f"NV_TENSORRT_{p}") for p in ("MAJOR", "MINOR", "PATCH", "BUILD")]
    if parts[0] is None:
        parts[0] = resolve("NV_TENSORRT_SONAME_MAJOR")
    if parts[0] is None or parts[1] is None:
        return None
    return to_version(".".join(p for p in parts if p is not None))


def parse_deepstream_version(text: str) -> Version | None:
    """/opt/nvidia/deepstream/deepstream/version: `Version: 6.0`."""
    return _search_version(r"^Version:\s*([\d.]+)", text)


def parse_python3_version(text: str) -> Version | None:
    """`Python 3.6.9`."""
    return _search_version(r"^Python\s+(\d+\.\d+(?:\.\d+)?)", text)


def parse_cmake_version(text: str) -> Version | None:
    """`cmake version 3.10.2`."""
    return _search_version(r"cmake version\s+(\d+\.\d+(?:\.\d+)?)", text)


def parse_gcc_version(text: str) -> Version | None:
    """`gcc -dumpfullversion -dumpversion`: `7.5.0`."""
    return _search_version(r"^(\d+(?:\.\d+)*)\s*$", text)


def parse_libc_version(text: str) -> Version | None:
    """`getconf GNU_LIBC_VERSION`: `glibc 2.27`."""
    return _search_version(r"glibc\s+([\d.]+)", text)


@dataclass(frozen=True)
class Memory:
    total_kib: int | None
    available_kib: int | None
    swap_total_kib: int | None
    swap_free_kib: int | None


def parse_meminfo(text: str) -> Memory | None:
    """/proc/meminfo `MemTotal:  4051024 kB` lines."""
    values = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+)", text, re.MULTILINE)}
    if "MemTotal" not in values:
        return None
    return Memory(
        values["MemTotal"],
        values.get("MemAvailable", values.get("MemFree")),
        values.get("SwapTotal"),
        values.get("SwapFree"),
    )


@dataclass(frozen=True)
class DiskFree:
    mount: str
    available_kib: int


def parse_df(text: str) -> DiskFree | None:
    """`df -Pk DIR`: header then `fs 1024-blocks used available capacity mountpoint`."""
    for line in text.splitlines()[1:]:
        words = line.split()
        if len(words) >= 6 and words[3].isdigit():
            return DiskFree(mount=" ".join(words[5:]), available_kib=int(words[3]))
    return None


def parse_nproc(text: str) -> int | None:
    """CPU count: `/sys/devices/system/cpu/online` (`0-3`, `0-3,6`) or `nproc`'s number."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"\d+", text) and not text.startswith("0"):
        # a bare non-zero number is nproc's count (an online list starts at CPU 0)
        return int(text)
    count = 0
    for part in text.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not match:
            return None
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        count += last - first + 1
    return count or None


@dataclass(frozen=True)
class CudaDevice:
    index: int
    name: str
    compute_cap: str | None


@dataclass(frozen=True)
class DeviceQuery:
    devices: tuple[CudaDevice, ...] = ()
    driver_cuda: str | None = None
    runtime_cuda: str | None = None
    error: str | None = None


@functools.lru_cache(maxsize=64)  # an immutable value, once per text (a fleet's hosts share theirs)
def parse_device_query(text: str) -> DeviceQuery | None:
    """deviceQuery output (NVIDIA's sample or this project's devicequery.cu).

    Each `Device N: "name"` line opens a device; its `CUDA Capability Major/Minor version
    number:    7.5` line gives the compute capability. A failure gives `error` instead, with
    the program's exit status when the probe recorded it (`deviceQuery exit status: N`).
    """
    if not text.strip():
        return None
    devices: list[CudaDevice] = []
    driver = runtime = None
    for line in text.splitlines():
        opened = re.match(r'\s*Device (\d+): "(.*)"', line)
        if opened:
            devices.append(CudaDevice(int(opened.group(1)), opened.group(2), None))
            continue
        capability = re.search(r"CUDA Capability Major/Minor version number:\s+(\d+)\.(\d+)", line)
        if capability and devices:
            last = devices[-1]
            cc = f"{capability.group(1)}.{capability.group(2)}"
            devices[-1] = CudaDevice(last.index, last.name, cc)
            continue
        versions = re.search(r"CUDA Driver Version / Runtime Version\s+([\d.]+) / ([\d.]+)", line)
        if versions:
            driver, runtime = versions.group(1), versions.group(2)
    error = None
    failed = re.search(r"cudaGetDeviceCount returned (\d+)\s*\n\s*->\s*(.*)", text)
    if failed:
        error = f"cudaGetDeviceCount returned {failed.group(1)}: {failed.group(2).strip()}"
    elif "There are no available device(s) that support CUDA" in text:
        error = "no CUDA device"
    elif not devices:
        error = text.strip().splitlines()[-1][:200]
    status = re.search(r"^deviceQuery exit status: (\d+)$", text, re.MULTILINE)
    if status and error and "exit status" not in error:
        error += f" (exit status {status.group(1)})"
    return DeviceQuery(tuple(devices), driver, runtime, error)


@dataclass(frozen=True)
class LibraryFile:
    name: str
    link_target: str | None = None
    size: int | None = None


@functools.lru_cache(maxsize=64)  # an immutable value, once per text (a fleet's hosts share theirs)
def parse_ls_libraries(text: str) -> tuple[LibraryFile, ...]:
    """`ls -l` rows of a library folder: regular files with their size, links with their target."""
    files: list[LibraryFile] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 9 or line[0] not in "-l":
            continue
        if line[0] == "l" and "->" in words:
            arrow = words.index("->")
            name = words[arrow - 1].rsplit("/", 1)[-1]
            files.append(LibraryFile(name, link_target=" ".join(words[arrow + 1 :])))
        else:
            size = int(words[4]) if words[4].isdigit() else None
            files.append(LibraryFile(words[-1].rsplit("/", 1)[-1], size=size))
    return tuple(files)


PLUGIN_NAME = "libnvinfer_plugin.so"


@dataclass(frozen=True)
class PluginFiles:
    """The probe's `plugin_files` section: where each libnvinfer_plugin link leads (`readlink -f`)
    and, once a swap was recorded, each library's and saved original's SHA-256."""

    linked: tuple[str, ...] = ()  # the folders whose links are listed
    hashed: tuple[str, ...] = ()  # the folders whose libraries are hashed
    links: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)

    def _covers(self, folders: tuple[str, ...], path: str) -> bool:
        folder, _, name = path.rpartition("/")
        return folder in folders and name.startswith(PLUGIN_NAME)

    def resolved(self, path: str) -> tuple[bool, str | None]:
        """(whether the probe answered, `readlink -f path`): a plugin file that is no link resolves
        to itself, as readlink -f says."""
        return (True, self.links.get(path, path)) if self._covers(self.linked, path) else (False, None)

    def digest(self, path: str) -> tuple[bool, str | None]:
        """(whether the probe answered, the file's SHA-256 or None when it is absent)."""
        return (True, self.sha256.get(path)) if self._covers(self.hashed, path) else (False, None)


def parse_plugin_files(text: str) -> PluginFiles:
    """`dir`, `hashed`, `link PATH TARGET` and `sha256 PATH SHA` lines, tab-separated."""
    linked, hashed, links, sha256 = [], [], {}, {}
    for line in text.splitlines():
        kind, *rest = line.split("\t")
        if kind == "dir" and len(rest) == 1:
            linked.append(rest[0])
        elif kind == "hashed" and len(rest) == 1:
            hashed.append(rest[0])
        elif kind == "link" and len(rest) == 2 and rest[1]:
            links[rest[0]] = rest[1]
        elif kind == "sha256" and len(rest) == 2 and re.fullmatch(r"[0-9a-f]{64}", rest[1]):
            sha256[rest[0]] = rest[1]
    return PluginFiles(tuple(linked), tuple(hashed), links, sha256)


def parse_pyds_import(text: str) -> str | None:
    """The `pyds_import` section: None when not asked, else the imported version ("" when none)."""
    asked, _, version = text.partition("\n")
    return version.strip() if asked.strip() == "asked" else None


@dataclass
class Sections:
    """A probe output split into its sections (name -> raw text)."""

    texts: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.texts.get(name, "")

    def __contains__(self, name: str) -> bool:
        return name in self.texts


SECTION_HEADER = re.compile(r"^==> ([a-z0-9_]+) <==$")
SECTION_HEADERS = re.compile(r"^==> ([a-z0-9_]+) <==$", re.MULTILINE)
# line breaks str.splitlines() knows besides "\n" (https://docs.python.org/3/library/stdtypes.html#str.splitlines)
OTHER_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LAST_SPLIT = threading.local()  # this thread's last split_sections (output, texts)


def split_sections(output: str) -> Sections:
    """Split probe output at its `==> name <==` lines (a name given twice: its lines joined). A
    host's capture is split by the analysis and again by the checks, in the thread that probed it:
    the last split is kept per thread."""
    last = getattr(_LAST_SPLIT, "value", None)
    if last is not None and last[0] is output:
        return Sections(dict(last[1]))
    joined = _split_lines(output) if OTHER_LINE_BREAKS.search(output) else _split_text(output)
    _LAST_SPLIT.value = (output, joined)
    return Sections(dict(joined))


def _split_lines(output: str) -> dict[str, str]:
    """split_sections line by line, for output with line breaks other than "\n"."""
    texts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        header = SECTION_HEADER.match(line)
        if header:
            current = texts.setdefault(header.group(1), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip("\n") for name, lines in texts.items()}


def _split_text(output: str) -> dict[str, str]:
    """split_sections for output whose only line break is "\n": each section's text sliced whole
    (the same as _split_lines, without a string per line)."""
    pieces = SECTION_HEADERS.split(output)  # [before, name, its text, name, its text, ...]
    parts: dict[str, list[str]] = {}
    for name, body in zip(pieces[1::2], pieces[2::2], strict=True):
        found = parts.setdefault(name, [])
        content = body[1:] if body.startswith("\n") else body  # the header line's own break
        if content:  # its lines, the last one's break left out (as splitlines leaves it)
            found.append(content[:-1] if content.endswith("\n") else content)
    return {name: "\n".join(texts).strip("\n") for name, texts in parts.items()}
