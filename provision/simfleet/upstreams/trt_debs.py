"""A stub TensorRT 10.16 install built from NVIDIA's real source tree, as real .deb files.

NVIDIA's TensorRT OSS ``release/10.16`` tree comes as a git bundle (the project's tests find it
at ``../shared/upstreams/TensorRT-release-10.16.bundle`` beside the repository, or where
``DSPROV_TRT_BUNDLE`` says). From it and a C compiler this module makes the packages NVIDIA's
apt repository installs (names and file layout as in NVIDIA's TensorRT install guide,
https://docs.nvidia.com/deeplearning/tensorrt/latest/installing-tensorrt/installing.html):

* ``libnvinfer10``: ``libnvinfer.so.10.16.0`` (SONAME ``libnvinfer.so.10``), a stub exporting
  every symbol the real ``libnvinfer_plugin`` imports from it (``TRT10_16_EXPORTS``, derived from
  a real build with ``nm -D --undefined-only``) plus ``getInferLibVersion``;
* ``libnvinfer-plugin10``: the stock ``libnvinfer_plugin.so.10.16.0`` stand-in (trtstub.c),
  the file a plugin swap replaces;
* ``libnvinfer-headers-dev`` / ``libnvinfer-headers-plugin-dev``: the tree's real ``include/``
  headers in ``/usr/include/<triplet>``;
* ``libnvinfer-dev`` / ``libnvinfer-plugin-dev``: the ``.so`` development links.

All are version ``10.16.0.72-1+cuda13.0`` and built with ``dpkg-deb --build``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from pathlib import Path

from provision import REPO_ROOT

from .trtlibs import STUB_SOURCE, TRIPLETS, build_trt_libs, c_compiler, normalize_arch

BUNDLE_ENV = "DSPROV_TRT_BUNDLE"
DEFAULT_BUNDLE = REPO_ROOT.parent / "shared" / "upstreams" / "TensorRT-release-10.16.bundle"
TRT_VERSION = "10.16.0.72"
DEB_VERSION = "10.16.0.72-1+cuda13.0"
OSS_REF = "release/10.16"
EXPORTS_FILE = Path(__file__).resolve().parent / "trt10_16_exports.txt"
PLUGIN_HEADERS = ("NvInferPlugin.h", "NvInferPluginUtils.h")


def bundle_path() -> Path:
    """Where the real TensorRT release/10.16 bundle is (it may be absent)."""
    return Path(os.environ.get(BUNDLE_ENV) or DEFAULT_BUNDLE)


def recipe_digest(bundle: Path) -> str:
    """SHA-256 over what decides the packages' bytes: these sources, the export list and the
    bundle (by size and mtime: it is 36 MB and read-only)."""
    h = hashlib.sha256()
    for src in (Path(__file__), STUB_SOURCE, EXPORTS_FILE):
        h.update(src.read_bytes())
    stat = bundle.stat()
    h.update(f"{bundle.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()


def imports_from_nvinfer(plugin: Path) -> list[str]:
    """The symbols a built libnvinfer_plugin takes from libnvinfer: its undefined dynamic
    symbols without a version tag (glibc, libstdc++ and libgcc symbols all carry one)."""
    out = subprocess.run(["nm", "-D", "--undefined-only", "--format=posix", str(plugin)],
                         capture_output=True, text=True, check=True).stdout
    return sorted({name for name, kind, *_ in (line.split() for line in out.splitlines())
                   if kind == "U" and "@" not in name})


def recorded_exports() -> list[str]:
    """The committed list (comment lines say how it was made)."""
    return [line.strip() for line in EXPORTS_FILE.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _stub_exports_source(names: list[str], defined: set[str]) -> str:
    """C source defining each name (C++ names through asm labels) as a function returning 0."""
    lines = ["/* Generated from trt10_16_exports.txt: the symbols libnvinfer_plugin imports. */"]
    for i, name in enumerate(n for n in names if n not in defined):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"not a symbol name: {name!r}")
        lines.append(f'__attribute__((visibility("default"))) void *dsprov_export_{i}(void)'
                     f' __asm__("{name}");')
        lines.append(f"void *dsprov_export_{i}(void) {{ return 0; }}")
    return "\n".join(lines) + "\n"


def extract_headers(bundle: Path, dest: Path) -> list[Path]:
    """The bundle's ``include/*.h`` (its one branch's tree) written into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trt-bundle-") as tmp:
        subprocess.run(["git", "init", "-q", "--bare", tmp], check=True)
        subprocess.run(["git", "-C", tmp, "fetch", "-q", str(bundle), f"{OSS_REF}:{OSS_REF}"], check=True)
        archive = subprocess.run(["git", "-C", tmp, "archive", OSS_REF, "include"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest), "--strip-components=1", "--wildcards", "include/*.h"],
                       input=archive, check=True)
    return sorted(dest.glob("*.h"))


def _control(name: str, arch: str, depends: list[str], description: str) -> str:
    deps = "".join(f"Depends: {', '.join(depends)}\n" if depends else "")
    return (f"Package: {name}\nVersion: {DEB_VERSION}\nArchitecture: {arch}\n"
            f"Maintainer: dsprov simulated fleet <noreply@localhost>\nSection: libs\nPriority: optional\n"
            f"{deps}Description: {description}\n Stub built by dsprov's tests (not NVIDIA's binary).\n")


def _deb(work: Path, out: Path, name: str, arch: str, files: dict[str, Path | str],
         depends: list[str], description: str) -> Path:
    """Package ``files`` (device path -> file to copy, or str: a symlink target)."""
    root = work / name
    for dev_path, src in files.items():
        dest = root / dev_path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, str):
            dest.symlink_to(src)
        else:
            dest.write_bytes(src.read_bytes())
            dest.chmod(0o644)
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(_control(name, arch, depends, description))
    deb = out / f"{name}_{DEB_VERSION}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def build_debs(bundle: Path, out: Path, arch: str = "amd64", exports: list[str] | None = None) -> list[Path]:
    """Build the stub TensorRT 10.16 packages for ``arch`` (Debian name) into ``out``."""
    triplet = TRIPLETS[normalize_arch(arch)]
    names = exports if exports is not None else recorded_exports()
    out.mkdir(parents=True, exist_ok=True)
    lib, inc = f"/usr/lib/{triplet}", f"/usr/include/{triplet}"
    with tempfile.TemporaryDirectory(prefix="trt-debs-") as tmp:
        work = Path(tmp)
        build_trt_libs(arch, TRT_VERSION, work / "stock")
        stock = work / "stock" / "usr" / "lib" / triplet
        core_defined = set(re.findall(r"TRTSTUB_EXPORT\s+[\w *]+?\b(\w+)\s*\(", STUB_SOURCE.read_text()))
        (work / "exports.c").write_text(_stub_exports_source(names, core_defined))
        core = work / "libnvinfer.so.10.16.0"
        subprocess.run([c_compiler(arch), "-shared", "-fPIC", "-O2", "-fvisibility=hidden",
                        "-DTRTSTUB_CORE", "-DTRTSTUB_MAJOR=10", "-DTRTSTUB_MINOR=16", "-DTRTSTUB_PATCH=0",
                        "-Wl,-soname,libnvinfer.so.10", "-o", str(core), str(STUB_SOURCE), str(work / "exports.c")],
                       check=True, capture_output=True)
        headers = extract_headers(bundle, work / "include")
        plugin_h = [h for h in headers if h.name in PLUGIN_HEADERS]
        core_h = [h for h in headers if h.name not in PLUGIN_HEADERS]
        debs = [
            _deb(work, out, "libnvinfer10", arch,
                 {f"{lib}/libnvinfer.so.10.16.0": core, f"{lib}/libnvinfer.so.10": "libnvinfer.so.10.16.0"},
                 [], "TensorRT runtime libraries (stub)"),
            _deb(work, out, "libnvinfer-plugin10", arch,
                 {f"{lib}/libnvinfer_plugin.so.10.16.0": stock / "libnvinfer_plugin.so.10.16.0",
                  f"{lib}/libnvinfer_plugin.so.10": "libnvinfer_plugin.so.10.16.0"},
                 [f"libnvinfer10 (= {DEB_VERSION})"], "TensorRT plugin libraries (stub)"),
            _deb(work, out, "libnvinfer-headers-dev", arch, {f"{inc}/{h.name}": h for h in core_h},
                 [], "TensorRT development headers (from the OSS release/10.16 tree)"),
            _deb(work, out, "libnvinfer-headers-plugin-dev", arch, {f"{inc}/{h.name}": h for h in plugin_h},
                 [], "TensorRT plugin headers (from the OSS release/10.16 tree)"),
            _deb(work, out, "libnvinfer-dev", arch, {f"{lib}/libnvinfer.so": "libnvinfer.so.10"},
                 [f"libnvinfer10 (= {DEB_VERSION})", f"libnvinfer-headers-dev (= {DEB_VERSION})"],
                 "TensorRT development libraries (stub)"),
            _deb(work, out, "libnvinfer-plugin-dev", arch, {f"{lib}/libnvinfer_plugin.so": "libnvinfer_plugin.so.10"},
                 [f"libnvinfer-plugin10 (= {DEB_VERSION})", f"libnvinfer-headers-plugin-dev (= {DEB_VERSION})"],
                 "TensorRT plugin development libraries (stub)"),
        ]
    return debs
