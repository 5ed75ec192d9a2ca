# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The compatibility checker: one verdict per rule that applies to a Stack."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.version import Version

from provision.matrix.rows import (
    PLATFORMS,
    DeepStreamRow,
    JetPackRow,
    L4tRow,
    OssGuide,
    Stack,
    Status,
    Verdict,
)

if TYPE_CHECKING:
    from provision.matrix import Matrix


def major_minor(v: Version) -> tuple[int, int]:
    return (v.major, v.minor)


def major_minor_patch(v: Version) -> tuple[int, ...]:
    return (v.release + (0, 0))[:3]


def _sm(capability: str) -> str:
    return capability.replace(".", "")


def _names(versions: Sequence[Version]) -> str:
    return ", ".join(str(v) for v in versions)


def _ubuntu(v: Version) -> str:
    """Ubuntu as written ("18.04"): packaging normalises 18.04 to 18.4."""
    return f"{v.major}.{v.minor:02d}"


def _same_release(have: Version, want: Version) -> bool:
    """`have` is `want` to the precision `want` is written in, at least major.minor.patch ("10.16"
    takes any 10.16 patch; "8.5.2.2" takes 8.5.2.x)."""
    depth = 2 if len(want.release) == 2 else 3
    return (have.release + (0, 0))[:depth] == (want.release + (0, 0))[:depth]


def _driver(v: Version) -> str:
    """An NVIDIA driver version as written ("460.32.03")."""
    return ".".join([str(v.major)] + [f"{n:02d}" for n in v.release[1:]])


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
            f"JetPack {row.version}: L4T {row.l4t or 'unknown'}, CUDA {row.cuda}, cuDNN {row.cudnn}, "
            f"TensorRT {row.tensorrt}, Ubuntu {_ubuntu(row.ubuntu)}, Python {row.python}",
        )
    ]
    s = c.stack
    if s.cuda is not None:
        if major_minor(s.cuda) == major_minor(row.cuda):
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
        also = next((v for v in row.tensorrt_also if _same_release(s.tensorrt, v)), None)
        if major_minor_patch(s.tensorrt) == major_minor_patch(row.tensorrt):
            verdicts.append(Verdict("jetpack.tensorrt", Status.OK, f"TensorRT {s.tensorrt} is JetPack {row.version}'s"))
        elif also is not None:
            verdicts.append(Verdict("jetpack.tensorrt", Status.OK,
                                    f"TensorRT {s.tensorrt}: NVIDIA supports TensorRT {also} on JetPack {row.version}"
                                    f" ({row.tensorrt_also_source})"))
        else:
            same_minor = major_minor(s.tensorrt) == major_minor(row.tensorrt)
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
            and major_minor(other.cuda) == major_minor(row.cuda)
            and major_minor_patch(other.tensorrt) == major_minor_patch(row.tensorrt)
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
        if _same_release(s.tensorrt, need.tensorrt):
            verdicts.append(Verdict("deepstream.tensorrt", Status.OK, f"TensorRT {s.tensorrt} fits DeepStream {ds.version}"))
        else:
            verdicts.append(
                Verdict(
                    "deepstream.tensorrt",
                    Status.WARN if major_minor(s.tensorrt) == major_minor(need.tensorrt) else Status.FAIL,
                    f"DeepStream {ds.version} needs TensorRT {need.tensorrt}; this host has {s.tensorrt}",
                    f"install TensorRT {need.tensorrt}",
                )
            )
    if s.cuda is not None:
        ok = major_minor(s.cuda) == major_minor(need.cuda)
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
        ok = major_minor(s.ubuntu) == major_minor(need.ubuntu)
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
    elif row.unsupported:
        verdicts.append(
            Verdict(
                "tensorrt.oss",
                Status.FAIL,
                f"TensorRT {trt}{c.tensorrt_note} on {where}: {row.reason} ({row.source})",
                "keep the TensorRT your JetPack ships" if c.platform == "jetson" else "use a supported TensorRT",
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
        cmake = f", cmake >= {m.cmake_minimum(row)}"
        exact = m.exact_ref(trt, c.platform)
        tag = (f"; tag {exact.ref} is NvInferVersion {exact.nvinfer_version} exactly (--trt-oss-ref {exact.ref})"
               if exact is not None and exact.ref != row.ref else "")
        verdicts.append(
            Verdict("tensorrt.oss", Status.OK, f"TensorRT {trt}{c.tensorrt_note} -> OSS {row.ref}{version}{cmake}{tag}")
        )
    prebuilt = m.prebuilt_for(c.platform, trt)
    if prebuilt is not None and prebuilt.pinned:
        verdicts.append(
            Verdict("tensorrt.prebuilt", Status.OK,
                    f"deepstream_tao_apps ships a prebuilt {prebuilt.filename} for TensorRT {trt} on {where}"
                    " (--plugin-source prebuilt)")
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
                    "provision installs the prebuilt library from deepstream_tao_apps TRT-OSS"
                    " (--plugin-source build --force builds instead)",
                )
            )
    return verdicts


def _rule_oss_cmake(m: Matrix, c: _Context) -> list[Verdict]:
    """NVIDIA's README and the ref's CMakeLists disagree on the cmake it needs: WARN naming both,
    with the builds recorded so far (they decide)."""
    row = m.oss_ref(c.tensorrt, c.platform) if c.tensorrt is not None and c.platform in PLATFORMS else None
    if row is None or row.ref is None or row.cmake_readme is None:
        return []
    minimum = m.cmake_minimum(row)
    if row.cmake_readme.minimum == minimum:
        return []
    builds = "; ".join(f"cmake {b.cmake} {'built it' if b.ok else 'failed'} ({b.date}, {b.log})"
                       for b in row.cmake_builds) or "no build recorded yet"
    return [
        Verdict(
            "tensorrt.oss.cmake",
            Status.WARN,
            f"sources disagree on the cmake {row.ref} needs: NVIDIA's README asks >= {row.cmake_readme.minimum}"
            f" ({row.cmake_readme.source}), its CMakeLists.txt requires {minimum} ({row.source}); builds: {builds}",
            f"provision enforces {minimum}; cmake >= {row.cmake_readme.minimum} satisfies both",
        )
    ]


def _rule_gpu_archs(m: Matrix, c: _Context) -> list[Verdict]:
    caps = c.stack.compute_caps
    if not caps or c.tensorrt is None or c.platform not in PLATFORMS:
        return []
    row = m.oss_ref(c.tensorrt, c.platform)
    if row is None or row.ref is None:
        return []
    wanted = [_sm(cap) for cap in caps]
    flag = f"-D{row.arch_flag}=\"{row.arch_define(wanted)}\""
    how = ""
    if not row.reads_gpu_archs:
        how = f"; {row.ref} ignores GPU_ARCHS"
    elif row.arch_note:
        how = f"; {row.arch_note}"
    default = m.default_gpu_archs(row, c.platform, c.cuda)
    if not default:
        return [
            Verdict("gpu_archs.default", Status.WARN, f"the default architectures of {row.ref} are not verified{how}",
                    f"pass {flag}")
        ]
    missing = [sm for sm in wanted if sm not in default]
    if missing:
        return [
            Verdict(
                "gpu_archs.default",
                Status.WARN,
                f"{row.ref} builds {' '.join(default)} by default, without {' '.join(missing)}{how}",
                f"pass {flag} (provision does)",
            )
        ]
    return [Verdict("gpu_archs.default", Status.OK, f"{row.ref}'s default architectures cover {' '.join(wanted)}{how}")]


def _rule_caveats(m: Matrix, c: _Context) -> list[Verdict]:
    """Rows the sources disagree on, or whose values are not all verified: say so."""
    oss = m.oss_ref(c.tensorrt, c.platform) if c.tensorrt is not None and c.platform in PLATFORMS else None
    rows = [("l4t", c.l4t_row), ("jetpack", c.jetpack_row), ("deepstream", c.deepstream_row), ("tensorrt.oss", oss)]
    return [
        Verdict(f"{name}.sources", Status.WARN, _caveat(row), f"check it against the release notes ({row.source})")
        for name, row in rows
        if row is not None and (row.caveat or row.disputed)
    ]


def _caveat(row) -> str:
    """The row's caveat, and where sources disagree, each of them: the one followed first."""
    if not row.disputed:
        return row.caveat
    others = "; ".join(f"{d.source} says {d.says}" for d in row.disputed)
    return f"{row.caveat or 'sources disagree'}: followed {row.source}; {others}"


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
    if major_minor(python) == major_minor(pyds.python):
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
    _rule_oss_cmake,
    _rule_gpu_archs,
    _rule_compute_capability,
    _rule_pyds,
    _rule_caveats,
)


def run(matrix: Matrix, stack: Stack) -> list[Verdict]:
    """One verdict per rule that applies to what `stack` says; never raises on odd input."""
    context = _Context.resolve(matrix, stack)
    return [verdict for rule in _RULES for verdict in rule(matrix, context)]
