# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The repositories that build nvinfer's custom libraries (bbox parsers, engine-create functions)
with `make CUDA_VER=<major.minor>` (pure data).

- deepstream_tao_apps' `post_processor` (https://github.com/NVIDIA-AI-IOT/deepstream_tao_apps):
  `libnvds_infercustomparser_tao.so`, its Makefile needs CUDA_VER and reads DS_SRC_PATH.
- DeepStream-Yolo's `nvdsinfer_custom_impl_Yolo` (https://github.com/marcoslucianops/DeepStream-Yolo,
  pinned at the commit its YOLOv8 docs were read at): `libnvdsinfer_custom_impl_Yolo.so`; its
  Makefile stops with "CUDA_VER is not set" without it.
- yolo_deepstream's `deepstream_yolo/nvdsinfer_custom_impl_Yolo`
  (https://github.com/NVIDIA-AI-IOT/yolo_deepstream, pinned likewise): the YOLOv7 parsers; its
  Makefile uses /usr/local/cuda and ignores CUDA_VER.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEEPSTREAM_DIR = "/opt/nvidia/deepstream/deepstream"
COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class LibrarySource:
    """Where a custom library's source lives and how its folder is built."""

    name: str  # the repository's name (build folder prefix, messages)
    setting: str  # the inventory settings dsprov_<setting>_repo / dsprov_<setting>_ref
    repo: str  # the public repository (a mirror replaces it)
    ref: str  # a branch, tag or commit
    folder: str  # the folder `make -C` builds
    library: str  # the file the build writes there
    make_args: tuple[str, ...] = ()

    def make_command(self, src: str, cuda: str) -> list[str]:
        """`make -C <folder> CUDA_VER=<cuda> ...` as an argument list (the caller quotes)."""
        return ["make", "-C", f"{src}/{self.folder}", f"CUDA_VER={cuda}", *self.make_args]


TAO_APPS = LibrarySource(
    "deepstream_tao_apps", "tao_apps", "https://github.com/NVIDIA-AI-IOT/deepstream_tao_apps.git", "master",
    "post_processor", "libnvds_infercustomparser_tao.so", (f"DS_SRC_PATH={DEEPSTREAM_DIR}",))
DEEPSTREAM_YOLO = LibrarySource(
    "DeepStream-Yolo", "deepstream_yolo", "https://github.com/marcoslucianops/DeepStream-Yolo.git",
    "2ccf52987ce1a18fc18ca5b3ba559a599259ade2", "nvdsinfer_custom_impl_Yolo", "libnvdsinfer_custom_impl_Yolo.so")
YOLO_DEEPSTREAM = LibrarySource(
    "yolo_deepstream", "yolo_deepstream", "https://github.com/NVIDIA-AI-IOT/yolo_deepstream.git",
    "e9b75770ea58713d1cb3902d67c36e11acb888d7", "deepstream_yolo/nvdsinfer_custom_impl_Yolo",
    "libnvdsinfer_custom_impl_Yolo.so")
