# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in TensorRT shared objects (libnvinfer, libnvinfer_plugin) for the simulated fleet.

The libraries are compiled from ``csrc/trtstub.c`` for a real architecture (x86_64 natively,
aarch64 with ``aarch64-linux-gnu-gcc``) so that ``readelf``, ``ldconfig``, ``dlopen`` and
``grep -c <creator name>`` behave on them as on NVIDIA's files. See the C source for the
exported symbols and ``csrc/trtcheck.c`` for the loader check program.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CSRC = Path(__file__).resolve().parent / "csrc"
STUB_SOURCE = CSRC / "trtstub.c"
LOADER_SOURCE = CSRC / "trtcheck.c"

TRIPLETS = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
_ARCH_ALIASES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


@dataclass(frozen=True)
class PluginCreator:
    """A plugin creator name and the TensorRT versions whose shipped library carries it.

    ``since`` is the first release branch with the plugin in NVIDIA/TensorRT ``plugin/``;
    ``until`` the first release without it (None: still there in 10.x).
    """

    name: str
    since: tuple[int, int]
    until: tuple[int, int] | None = None


# Sources: NVIDIA/TensorRT plugin/README.md "Contents" tables (a 10.x-era copy lists every name
# below) and plugin/ at each ref: EfficientNMS_TRT from 8.0, MultiscaleDeformableAttnPlugin_TRT from
# release/8.4, TensorRT 11.0 removed batchTile/cropAndResize/nms/proposal/specialSlice/split/
# batchedNMS. pillarScatterPlugin is present at tag 22.02 (TensorRT 8.2). The first-release
# versions of the other non-TAO plugins (DecodeBbox3D, VoxelGenerator, ScatterND, ROIAlign,
# NMSDynamic, ModulatedDeformConv2d, ...) are from release notes as remembered, not re-checked
# per branch; the TAO-relevant ones (7.0 baseline) are in every 7.x README.
PLUGIN_CREATORS: tuple[PluginCreator, ...] = (
    PluginCreator("BatchTilePlugin_TRT", (7, 0), (11, 0)),
    PluginCreator("BatchedNMS_TRT", (7, 0), (11, 0)),
    PluginCreator("BatchedNMSDynamic_TRT", (7, 2), (11, 0)),
    PluginCreator("CustomQKVToContextPluginDynamic", (7, 0)),
    PluginCreator("Clip_TRT", (7, 0)),
    PluginCreator("CoordConvAC", (7, 2)),
    PluginCreator("CropAndResize", (7, 0), (11, 0)),
    PluginCreator("CropAndResizeDynamic", (8, 6)),
    PluginCreator("DecodeBbox3DPlugin", (8, 2)),
    PluginCreator("DetectionLayer_TRT", (7, 0)),
    PluginCreator("DisentangledAttention_TRT", (8, 4)),
    PluginCreator("EfficientNMS_TRT", (8, 0)),
    PluginCreator("EfficientNMS_ONNX_TRT", (8, 2)),
    PluginCreator("CustomEmbLayerNormPluginDynamic", (7, 0)),
    PluginCreator("CustomFCPluginDynamic", (7, 0)),
    PluginCreator("FlattenConcat_TRT", (7, 0)),
    PluginCreator("CustomGeluPluginDynamic", (7, 0)),
    PluginCreator("GenerateDetection_TRT", (7, 0)),
    PluginCreator("GridAnchor_TRT", (7, 0)),
    PluginCreator("GridAnchorRect_TRT", (7, 0)),
    PluginCreator("GroupNormalizationPlugin", (8, 0)),
    PluginCreator("InstanceNormalization_TRT", (7, 0)),
    PluginCreator("LReLU_TRT", (7, 0)),
    PluginCreator("ModulatedDeformConv2d", (8, 6)),
    PluginCreator("MultilevelCropAndResize_TRT", (7, 0)),
    PluginCreator("MultilevelProposeROI_TRT", (7, 0)),
    PluginCreator("MultiscaleDeformableAttnPlugin_TRT", (8, 4)),
    PluginCreator("NMS_TRT", (7, 0), (11, 0)),
    PluginCreator("NMSDynamic_TRT", (8, 5), (11, 0)),
    PluginCreator("Normalize_TRT", (7, 0)),
    PluginCreator("RPROI_TRT", (7, 0)),
    PluginCreator("PillarScatterPlugin", (8, 2)),
    PluginCreator("PriorBox_TRT", (7, 0)),
    PluginCreator("ProposalLayer_TRT", (7, 0)),
    PluginCreator("Proposal", (7, 0), (11, 0)),
    PluginCreator("ProposalDynamic", (8, 6), (11, 0)),
    PluginCreator("PyramidROIAlign_TRT", (7, 0)),
    PluginCreator("Region_TRT", (7, 0)),
    PluginCreator("Reorg_TRT", (7, 0)),
    PluginCreator("ROIAlign_TRT", (8, 5)),
    PluginCreator("ResizeNearest_TRT", (7, 0)),
    PluginCreator("ScatterElements", (8, 6)),
    PluginCreator("ScatterND", (8, 0)),
    PluginCreator("CustomSkipLayerNormPluginDynamic", (7, 0)),
    PluginCreator("SpecialSlice_TRT", (7, 0), (11, 0)),
    PluginCreator("Split", (7, 0), (11, 0)),
    PluginCreator("VoxelGeneratorPlugin", (8, 2)),
)


def parse_version(trt_version: str) -> tuple[int, ...]:
    """``"8.2.1"`` or ``"8.2.1.8"`` -> ``(8, 2, 1[, 8])``; at least major.minor.patch."""
    parts = tuple(int(p) for p in trt_version.strip().split("."))
    if len(parts) < 3 or len(parts) > 4:
        raise ValueError(f"TensorRT version must be X.Y.Z or X.Y.Z.B, got {trt_version!r}")
    return parts


def plugins_for(trt_version: str) -> list[str]:
    """Plugin creator names the shipped libnvinfer_plugin of this TensorRT release carries."""
    major_minor = parse_version(trt_version)[:2]
    return [
        p.name
        for p in PLUGIN_CREATORS
        if p.since <= major_minor and (p.until is None or major_minor < p.until)
    ]


def encode_version(trt_version: str) -> int:
    """The integer getInferLibVersion() returns (NV_TENSORRT_VERSION).

    TensorRT 7/8 (NvInferRuntimeCommon.h): MAJOR*1000 + MINOR*100 + PATCH.
    TensorRT 10 (NvInferRuntimeBase.h, NV_TENSORRT_VERSION_INT): MAJOR*10000 + MINOR*100 + PATCH.
    TensorRT 9.x is treated like 8.x (not checked).
    """
    major, minor, patch = parse_version(trt_version)[:3]
    return major * (10000 if major >= 10 else 1000) + minor * 100 + patch


def normalize_arch(arch: str) -> str:
    """``amd64``/``x86_64`` -> ``x86_64``; ``arm64``/``aarch64`` -> ``aarch64``."""
    try:
        return _ARCH_ALIASES[arch.lower()]
    except KeyError:
        raise ValueError(f"unsupported architecture {arch!r} (x86_64 or aarch64)") from None


def c_compiler(arch: str) -> str:
    """The C compiler that makes objects for ``arch`` on this machine (native or cross)."""
    arch = normalize_arch(arch)
    native = normalize_arch(platform.machine()) if platform.machine() in _ARCH_ALIASES else None
    candidates = ["cc", "gcc"] if arch == native else []
    candidates.append(f"{TRIPLETS[arch]}-gcc")
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    hint = " (apt-get install gcc-aarch64-linux-gnu)" if arch == "aarch64" else ""
    raise RuntimeError(f"no C compiler for {arch}: tried {', '.join(candidates)}{hint}")


def default_stock_gpu_archs(arch: str, trt_version: str) -> list[str]:
    """GPU_ARCHS marker for a stock (NVIDIA-built) library: the SMs that release targets.

    Stand-in values: Jetson builds of TensorRT <= 8.2 cover Nano/TX1 (53), TX2 (62) and Xavier
    (72); JetPack 5/6 builds (8.4+) cover Xavier and Orin (72 87); x86 builds cover the server
    GPUs of their time.
    """
    major, minor = parse_version(trt_version)[:2]
    if normalize_arch(arch) == "aarch64":
        return ["53", "62", "72"] if (major, minor) <= (8, 2) else ["72", "87"]
    archs = ["60", "61", "70", "75"]
    if (major, minor) >= (7, 1):
        archs.append("80")
    if (major, minor) >= (8, 0):
        archs.append("86")
    if (major, minor) >= (8, 6):
        archs += ["89", "90"]
    return archs


def version_header(trt_version: str) -> str:
    """Text of an ``NvInferVersion.h`` for this version (macro names as in TensorRT's header)."""
    parts = parse_version(trt_version)
    major, minor, patch = parts[:3]
    build = parts[3] if len(parts) > 3 else 0
    lines = [
        "/* NvInferVersion.h: TensorRT version macros (simulated fleet stand-in). */",
        "#ifndef NV_INFER_VERSION_H",
        "#define NV_INFER_VERSION_H",
        "",
        f"#define NV_TENSORRT_MAJOR {major} //!< TensorRT major version.",
        f"#define NV_TENSORRT_MINOR {minor} //!< TensorRT minor version.",
        f"#define NV_TENSORRT_PATCH {patch} //!< TensorRT patch version.",
        f"#define NV_TENSORRT_BUILD {build} //!< TensorRT build number.",
        "",
    ]
    if major < 10:  # TensorRT 10 dropped the SONAME macros from this header.
        lines += [
            f"#define NV_TENSORRT_SONAME_MAJOR {major} //!< Shared object library major version.",
            f"#define NV_TENSORRT_SONAME_MINOR {minor} //!< Shared object library minor version.",
            f"#define NV_TENSORRT_SONAME_PATCH {patch} //!< Shared object library patch version.",
            "",
        ]
    lines += ["#endif // NV_INFER_VERSION_H", ""]
    return "\n".join(lines)


def config_header(plugins: Sequence[str], gpu_archs: Sequence[str]) -> str:
    """The trtstub_config.h header: creator names and GPU_ARCHS list as C string literals."""
    for name in plugins:
        if not name or not all(c.isalnum() or c in "_-." for c in name):
            raise ValueError(f"bad plugin creator name {name!r}")
    archs = " ".join(gpu_archs)
    if not all(c.isalnum() or c in " ._" for c in archs):
        raise ValueError(f"bad GPU_ARCHS {archs!r}")
    names = ", ".join(f'"{n}"' for n in plugins)
    return f'#define TRTSTUB_PLUGIN_NAMES {names}\n#define TRTSTUB_GPU_ARCHS "{archs}"\n'


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")


def _link(path: Path, target: str) -> None:
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)


def build_trt_libs(
    arch: str,
    trt_version: str,
    dest_root: Path,
    plugins: Sequence[str] | None = None,
    *,
    gpu_archs: Sequence[str] | None = None,
    cc: str | None = None,
) -> list[Path]:
    """Compile stand-in libnvinfer / libnvinfer_plugin for ``arch`` into ``dest_root``.

    Writes ``usr/lib/<triplet>/libnvinfer{,_plugin}.so.X.Y.Z`` (SONAME ``.so.X``; the plugin
    NEEDS ``libnvinfer.so.X``), the ``.so.X`` and ``.so`` links, and
    ``usr/include/<triplet>/NvInferVersion.h``. ``plugins`` defaults to what the shipped
    library of that release carries (:func:`plugins_for`); ``gpu_archs`` to
    :func:`default_stock_gpu_archs`. Returns every path written (files and links).
    """
    arch = normalize_arch(arch)
    parts = parse_version(trt_version)
    major, minor, patch = parts[:3]
    plugin_names = list(plugins) if plugins is not None else plugins_for(trt_version)
    archs = list(gpu_archs) if gpu_archs is not None else default_stock_gpu_archs(arch, trt_version)
    compiler = cc or c_compiler(arch)
    triplet = TRIPLETS[arch]
    libdir = Path(dest_root) / "usr" / "lib" / triplet
    incdir = Path(dest_root) / "usr" / "include" / triplet
    libdir.mkdir(parents=True, exist_ok=True)
    incdir.mkdir(parents=True, exist_ok=True)
    full = f"{major}.{minor}.{patch}"
    defs = [f"-DTRTSTUB_MAJOR={major}", f"-DTRTSTUB_MINOR={minor}", f"-DTRTSTUB_PATCH={patch}"]
    common = [compiler, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", *defs]
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="trtstub-") as tmp:
        work = Path(tmp)
        (work / "trtstub_config.h").write_text(config_header(plugin_names, archs))
        core = work / f"libnvinfer.so.{full}"
        _run([*common, "-DTRTSTUB_CORE", f"-Wl,-soname,libnvinfer.so.{major}",
              "-o", str(core), str(STUB_SOURCE)])
        os.symlink(core.name, work / "libnvinfer.so")
        plug = work / f"libnvinfer_plugin.so.{full}"
        _run([*common, "-DTRTSTUB_PLUGIN", "-DTRTSTUB_HAVE_CONFIG", f"-I{work}",
              f"-Wl,-soname,libnvinfer_plugin.so.{major}", "-o", str(plug), str(STUB_SOURCE),
              f"-L{work}", "-Wl,--no-as-needed", "-lnvinfer"])
        for lib in ("libnvinfer", "libnvinfer_plugin"):
            real = libdir / f"{lib}.so.{full}"
            shutil.copyfile(work / real.name, real)
            real.chmod(0o644)
            written.append(real)
            _link(libdir / f"{lib}.so.{major}", real.name)
            _link(libdir / f"{lib}.so", f"{lib}.so.{major}")
            written += [libdir / f"{lib}.so.{major}", libdir / f"{lib}.so"]
    header = incdir / "NvInferVersion.h"
    header.write_text(version_header(".".join(str(p) for p in parts)))
    written.append(header)
    return written


def build_loader(dest: Path, arch: str | None = None, cc: str | None = None) -> Path:
    """Compile ``csrc/trtcheck.c`` into ``dest`` (an executable path) for ``arch``."""
    compiler = cc or c_compiler(arch or platform.machine())
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _run([compiler, "-O2", "-o", str(dest), str(LOADER_SOURCE), "-ldl"])
    return dest


def elf_machine(path: Path) -> str:
    """ELF e_machine of a file read from its header bytes: ``x86_64``, ``aarch64`` or the number."""
    data = Path(path).read_bytes()[:20]
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    order = "little" if data[5] == 1 else "big"
    machine = int.from_bytes(data[18:20], order)
    return {62: "x86_64", 183: "aarch64"}.get(machine, str(machine))


def source_digest() -> str:
    """SHA-256 over the C sources: part of every cache key that holds compiled stand-ins."""
    h = hashlib.sha256()
    for src in (STUB_SOURCE, LOADER_SOURCE):
        h.update(src.read_bytes())
    return h.hexdigest()
