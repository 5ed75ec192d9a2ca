# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SONAME check that keeps a build of the wrong TensorRT major out of the library folder."""

import shutil
import subprocess

import pytest

from provision.capabilities.plugin_files import PluginPaths, soname


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_soname_of_a_real_shared_library(tmp_path):
    source = tmp_path / "p.c"
    source.write_text("int initLibNvInferPlugins(void *l, const char *n) { return 1; }\n")
    library = tmp_path / "libnvinfer_plugin.so.8.2.1"
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libnvinfer_plugin.so.8", "-o", library, source], check=True)
    assert soname(library) == "libnvinfer_plugin.so.8"
    bare = tmp_path / "libbare.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", bare, source], check=True)
    assert soname(bare) is None


def test_soname_of_a_non_library_is_none(tmp_path):
    text = tmp_path / "libnvinfer_plugin.so.8.2.1"
    text.write_text("not an ELF file\n")
    assert soname(text) is None
    assert soname(tmp_path / "missing.so") is None


def test_plugin_paths_follow_the_real_file_name():
    p = PluginPaths("/usr/lib/aarch64-linux-gnu", "libnvinfer_plugin.so.8.2.1")
    assert p.soname_link == "/usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so.8"
    assert p.saved == "/var/lib/dsprov/orig/libnvinfer_plugin.so.8.2.1"
