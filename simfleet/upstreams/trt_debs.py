# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stub TensorRT installs built from NVIDIA's real source trees, as real .deb files.

NVIDIA's TensorRT OSS trees come as git bundles (the project's tests find them beside the
repository, ``../shared/upstreams/``, or where each tree's environment variable says):
``release/10.16`` in ``TensorRT-release-10.16.bundle`` (``DSPROV_TRT_BUNDLE``), ``release/11.1`` in
``TensorRT-release-10.13.3-11.1.bundle`` (``DSPROV_TRT_BUNDLE_11``). From a tree and a C compiler
this module makes the packages NVIDIA's apt repository installs (names and file layout as in
NVIDIA's TensorRT install guide,
https://docs.nvidia.com/deeplearning/tensorrt/latest/installing-tensorrt/installing.html), for
major version M and version X.Y.Z:

* ``libnvinferM``: ``libnvinfer.so.X.Y.Z`` (SONAME ``libnvinfer.so.M``), a stub exporting every
  symbol the real ``libnvinfer_plugin`` imports from it (``trt<X>_<Y>_exports.txt``, derived from a
  real build with ``nm -D --undefined-only``) plus ``getInferLibVersion`` (:func:`libnvinfer_source`);
* ``libnvinfer-pluginM``: the stock ``libnvinfer_plugin.so.X.Y.Z`` stand-in (trtstub.c), the file a
  plugin swap replaces;
* ``libnvinfer-headers-dev`` / ``libnvinfer-headers-plugin-dev``: the tree's real ``include/``
  headers in ``/usr/include/<triplet>``;
* ``libnvinfer-dev`` / ``libnvinfer-plugin-dev``: the ``.so`` development links.

All are version ``<X.Y.Z.B>-1+cuda<C>`` and built with ``dpkg-deb --build``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .trtlibs import STUB_SOURCE, TRIPLETS, build_trt_libs, c_compiler, normalize_arch

HERE = Path(__file__).resolve().parent
# beside the checkout this package is installed from (editable: `.ci/setup`)
BUNDLE_DIR = Path(__file__).resolve().parents[3] / "shared" / "upstreams"
PLUGIN_HEADERS = ("NvInferPlugin.h", "NvInferPluginUtils.h")


@dataclass(frozen=True)
class RealTree:
    """One real TensorRT OSS tree: where its bundle is, and the stub install made from it."""

    version: str  # NvInferVersion.h: 10.16.0.72
    ref: str  # the bundle's branch: release/10.16
    bundle_name: str
    env: str  # the variable that points at the bundle elsewhere
    cuda: str  # the CUDA of NVIDIA's package version (+cudaC)
    source_version: str | None = None  # the tree's NvInferVersion.h, where the packages are a later patch

    @property
    def major(self) -> str:
        return self.version.split(".")[0]

    @property
    def library_version(self) -> str:  # 10.16.0: the X.Y.Z of libnvinfer.so.X.Y.Z
        return ".".join(self.version.split(".")[:3])

    @property
    def deb_version(self) -> str:
        return f"{self.version}-1+cuda{self.cuda}"

    @property
    def exports_file(self) -> Path:
        return HERE / f"trt{self.major}_{self.version.split('.')[1]}_exports.txt"

    def bundle_path(self) -> Path:
        """Where the bundle holding this tree is (it may be absent)."""
        return Path(os.environ.get(self.env) or BUNDLE_DIR / self.bundle_name)

    def recorded_exports(self) -> list[str]:
        """The committed list of what the stub libnvinfer exports (comment lines say how it was made)."""
        return [line.strip() for line in self.exports_file.read_text().splitlines()
                if line.strip() and not line.startswith("#")]


# Package CUDA: 10.16.0.72 as built for CUDA 13.0 (this machine's toolkit); TensorRT 11.1.0 "Updates
# the CUDA Toolkit baseline to CUDA 13.3" (TensorRT 11.1.0 release notes, docs.nvidia.com).
TREE_10_16 = RealTree("10.16.0.72", "release/10.16", "TensorRT-release-10.16.bundle", "DSPROV_TRT_BUNDLE", "13.0")
TREE_11_1 = RealTree("11.1.0.106", "release/11.1", "TensorRT-release-10.13.3-11.1.bundle", "DSPROV_TRT_BUNDLE_11", "13.3")
# JetPack 7.2's TensorRT (the thor-jp72 profile): "TensorRT 10.16.1.7 for Jetson" (DeepStream 9.2
# migration guide, docs.nvidia.com) on JetPack 7.2's CUDA 13.2 (NVIDIA/DeepStream README at v9.1.0);
# the bundle's release/10.16 tree (NvInferVersion.h: 10.16.0.72) gives headers and exports.
TREE_10_16_JP72 = RealTree("10.16.1.7", "release/10.16", "TensorRT-release-10.16.bundle", "DSPROV_TRT_BUNDLE", "13.2",
                           source_version="10.16.0.72")
TREES = {tree.version: tree for tree in (TREE_10_16, TREE_11_1, TREE_10_16_JP72)}


def recipe_digest(tree: RealTree, bundle: Path) -> str:
    """SHA-256 over what decides the packages' bytes: these sources, the export list and the
    bundle (by size and mtime: it is 37 MB and read-only)."""
    h = hashlib.sha256(tree.version.encode())
    for src in (Path(__file__), STUB_SOURCE, tree.exports_file):
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


def libnvinfer_source(tree: RealTree, names: list[str]) -> str:
    """C source of the stub libnvinfer: getInferLibVersion, and each imported name (C++ names
    through asm labels) as a function returning one object whose every virtual method accepts
    and returns true. The real plugin's static initializers call
    `getPluginRegistry()->registerCreator(...)` (REGISTER_TENSORRT_PLUGIN, include/NvInferRuntime.h)
    while it is being loaded, so a dlopen needs a registry that answers."""
    major, minor, patch = (int(p) for p in tree.library_version.split("."))
    lines = [
        "/* Stub libnvinfer (dsprov simulated fleet), generated by upstreams/trt_debs.py from",
        f" * {tree.exports_file.name}: the symbols the real libnvinfer_plugin imports. */",
        f'const char dsprov_stub_id[] = "dsprov stub libnvinfer {major}.{minor}.{patch}";',
        "static long dsprov_accept(void) { return 1; }",
        "static void *dsprov_vtable[128] = {[0 ... 127] = (void *) dsprov_accept};",
        "static struct { void **vtable; char room[248]; } dsprov_object = {dsprov_vtable, {0}};",
        f"int getInferLibVersion(void) {{ return {major * 10000 + minor * 100 + patch}; }}",
    ]
    for i, name in enumerate(n for n in names if n != "getInferLibVersion"):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"not a symbol name: {name!r}")
        lines.append(f'void *dsprov_export_{i}(void) __asm__("{name}");')
        lines.append(f"void *dsprov_export_{i}(void) {{ return &dsprov_object; }}")
    return "\n".join(lines) + "\n"


def extract_headers(tree: RealTree, bundle: Path, dest: Path) -> list[Path]:
    """The ``include/*.h`` of the tree's branch in the bundle, written into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trt-bundle-") as tmp:
        subprocess.run(["git", "init", "-q", "--bare", tmp], check=True)
        subprocess.run(["git", "-C", tmp, "fetch", "-q", str(bundle), f"{tree.ref}:{tree.ref}"], check=True)
        archive = subprocess.run(["git", "-C", tmp, "archive", tree.ref, "include"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest), "--strip-components=1", "--wildcards", "include/*.h"],
                       input=archive, check=True)
    return sorted(dest.glob("*.h"))


def control(name: str, version: str, arch: str, depends: list[str], description: str,
            fields: dict[str, str] | None = None) -> str:
    """A binary package's DEBIAN/control (``fields``: more, e.g. Conflicts)."""
    more = "".join(f"{key}: {value}\n" for key, value in (fields or {}).items())
    deps = f"Depends: {', '.join(depends)}\n" if depends else ""
    return (f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
            f"Maintainer: dsprov simulated fleet <noreply@localhost>\nSection: libs\nPriority: optional\n"
            f"{deps}{more}Description: {description}\n Stub built by dsprov's tests (not NVIDIA's binary).\n")


def build_deb(work: Path, out: Path, name: str, version: str, arch: str, files: dict[str, Path | str | bytes],
              depends: list[str], description: str, fields: dict[str, str] | None = None,
              scripts: dict[str, str] | None = None, executables: tuple[str, ...] = ()) -> Path:
    """Package ``files`` (device path -> file to copy, bytes to write, or str: a symlink target) with
    ``dpkg-deb --build``; ``executables``: the device paths of mode 0755; ``scripts``: maintainer
    scripts (postinst ...) by name."""
    root = work / f"{name}_{version}"
    for dev_path, src in files.items():
        dest = root / dev_path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, str):
            dest.symlink_to(src)
        else:
            dest.write_bytes(src if isinstance(src, bytes) else src.read_bytes())
            dest.chmod(0o755 if dev_path in executables else 0o644)
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(control(name, version, arch, depends, description, fields))
    for script, text in (scripts or {}).items():
        (root / "DEBIAN" / script).write_text(text)
        (root / "DEBIAN" / script).chmod(0o755)
    deb = out / f"{name}_{version.split(':', 1)[-1]}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


def _deb(tree: RealTree, work: Path, out: Path, name: str, arch: str, files: dict[str, Path | str],
         depends: list[str], description: str) -> Path:
    return build_deb(work, out, name, tree.deb_version, arch, dict(files), depends, description)


def build_debs(tree: RealTree, bundle: Path, out: Path, arch: str = "amd64",
               exports: list[str] | None = None) -> list[Path]:
    """Build the stub TensorRT packages of ``tree`` for ``arch`` (Debian name) into ``out``."""
    triplet = TRIPLETS[normalize_arch(arch)]
    names = exports if exports is not None else tree.recorded_exports()
    out.mkdir(parents=True, exist_ok=True)
    lib, inc, m, xyz, v = f"/usr/lib/{triplet}", f"/usr/include/{triplet}", tree.major, tree.library_version, tree.deb_version
    with tempfile.TemporaryDirectory(prefix="trt-debs-") as tmp:
        work = Path(tmp)
        build_trt_libs(arch, tree.version, work / "stock")
        stock = work / "stock" / "usr" / "lib" / triplet
        (work / "libnvinfer.c").write_text(libnvinfer_source(tree, names))
        core = work / f"libnvinfer.so.{xyz}"
        subprocess.run([c_compiler(arch), "-shared", "-fPIC", "-O2", f"-Wl,-soname,libnvinfer.so.{m}",
                        "-o", str(core), str(work / "libnvinfer.c")], check=True, capture_output=True)
        headers = extract_headers(tree, bundle, work / "include")
        plugin_h = [h for h in headers if h.name in PLUGIN_HEADERS]
        core_h = [h for h in headers if h.name not in PLUGIN_HEADERS]
        debs = [
            _deb(tree, work, out, f"libnvinfer{m}", arch,
                 {f"{lib}/libnvinfer.so.{xyz}": core, f"{lib}/libnvinfer.so.{m}": f"libnvinfer.so.{xyz}"},
                 [], "TensorRT runtime libraries (stub)"),
            _deb(tree, work, out, f"libnvinfer-plugin{m}", arch,
                 {f"{lib}/libnvinfer_plugin.so.{xyz}": stock / f"libnvinfer_plugin.so.{xyz}",
                  f"{lib}/libnvinfer_plugin.so.{m}": f"libnvinfer_plugin.so.{xyz}"},
                 [f"libnvinfer{m} (= {v})"], "TensorRT plugin libraries (stub)"),
            _deb(tree, work, out, "libnvinfer-headers-dev", arch, {f"{inc}/{h.name}": h for h in core_h},
                 [], f"TensorRT development headers (from the OSS {tree.ref} tree)"),
            _deb(tree, work, out, "libnvinfer-headers-plugin-dev", arch, {f"{inc}/{h.name}": h for h in plugin_h},
                 [], f"TensorRT plugin headers (from the OSS {tree.ref} tree)"),
            _deb(tree, work, out, "libnvinfer-dev", arch, {f"{lib}/libnvinfer.so": f"libnvinfer.so.{m}"},
                 [f"libnvinfer{m} (= {v})", f"libnvinfer-headers-dev (= {v})"],
                 "TensorRT development libraries (stub)"),
            _deb(tree, work, out, "libnvinfer-plugin-dev", arch, {f"{lib}/libnvinfer_plugin.so": f"libnvinfer_plugin.so.{m}"},
                 [f"libnvinfer-plugin{m} (= {v})", f"libnvinfer-headers-plugin-dev (= {v})"],
                 "TensorRT plugin development libraries (stub)"),
        ]
    return debs
