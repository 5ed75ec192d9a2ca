# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A DeepStream-Yolo-shaped git repository (marcoslucianops/DeepStream-Yolo) for the simulated fleet.

``make_deepstream_yolo_repo(dest)`` writes bare ``dest/marcoslucianops/DeepStream-Yolo.git``,
branch ``master``, whose ``nvdsinfer_custom_impl_Yolo/`` has the shape of the real folder: a
Makefile that stops with ``"CUDA_VER is not set"`` without ``CUDA_VER`` (as the real one's
``$(error ...)`` does) and builds ``libnvdsinfer_custom_impl_Yolo.so`` with the device's own g++
(arm64 under qemu on a Jetson), and a C++ source written for this fixture (nothing of the real
project's) that exports the functions DeepStream-Yolo's configs name: ``NvDsInferParseYolo``,
``NvDsInferParseYoloCuda`` and ``NvDsInferYoloCudaEngineGet``. The library records the CUDA_VER it
was built for (``dsprov_built_for``), so a test can tell which CUDA the tool passed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from .trt_oss import _publish, _write_tree, git

FOLDER = "nvdsinfer_custom_impl_Yolo"
LIBRARY = "libnvdsinfer_custom_impl_Yolo.so"
FUNCTIONS = ("NvDsInferParseYolo", "NvDsInferParseYoloCuda", "NvDsInferYoloCudaEngineGet")
MAKEFILE = f"""# nvdsinfer_custom_impl_Yolo (simulated fleet stand-in): CUDA_VER is required, as upstream.
CUDA_VER?=
ifeq ($(CUDA_VER),)
  $(error "CUDA_VER is not set")
endif

CXX?=g++
TARGET_LIB:= {LIBRARY}

all: $(TARGET_LIB)

$(TARGET_LIB): yolo_standin.cpp
\t$(CXX) -Wall -std=c++11 -shared -fPIC -DCUDA_VER='"$(CUDA_VER)"' -o $@ $<

clean:
\trm -f $(TARGET_LIB)
"""
SOURCE = """// Stand-in for a YOLO custom library: the entry points an nvinfer config names, no inference.
extern "C" {
const char *dsprov_built_for = "cuda-" CUDA_VER;

bool NvDsInferParseYolo(void *, void *, void *, void *) { return true; }
bool NvDsInferParseYoloCuda(void *, void *, void *, void *) { return true; }
bool NvDsInferYoloCudaEngineGet(void *, void *, void *, void *) { return false; }
}
"""
README = "# DeepStream-Yolo (simulated fleet stand-in)\n\nBuild: `make -C nvdsinfer_custom_impl_Yolo CUDA_VER=<x.y>`.\n"


@dataclass(frozen=True)
class DeepStreamYoloRepo:
    path: Path
    commit: str


def make_deepstream_yolo_repo(dest: Path) -> DeepStreamYoloRepo:
    """Create the bare repository; return it with its commit (the fleet pins it, as a user pins upstream's)."""
    with tempfile.TemporaryDirectory(prefix="deepstream-yolo-") as tmp:
        work = Path(tmp)
        git("init", "--quiet", "-b", "master", cwd=work)
        _write_tree(work, {"README.md": README, f"{FOLDER}/Makefile": MAKEFILE, f"{FOLDER}/yolo_standin.cpp": SOURCE})
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", "nvdsinfer_custom_impl_Yolo (stand-in)", cwd=work)
        commit = git("rev-parse", "HEAD", cwd=work)
        bare = _publish(work, Path(dest) / "marcoslucianops" / "DeepStream-Yolo.git", "master")
    return DeepStreamYoloRepo(bare, commit)
