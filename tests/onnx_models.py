# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small real ONNX models for tests, made with the onnx package's helpers (onnx.helper) and checked
by its checker: a file a model-checking tool or TensorRT's parser would accept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def yolo_like(path: Path, size: int = 64, outputs: int = 6, opset: int = 17) -> Path:
    """A model shaped like a DeepStream-Yolo export (its utils/export_yoloV8.py with --dynamic):
    input `input` [batch, 3, size, size], output `output` [batch, anchors, 6] (box, score, label),
    batch a dynamic axis. One 1x1 convolution, a reshape and a transpose: no real detector."""
    weights = numpy_helper.from_array(np.full((outputs, 3, 1, 1), 0.5, dtype=np.float32), "w")
    shape = numpy_helper.from_array(np.array([0, outputs, -1], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["features"]),
         helper.make_node("Reshape", ["features", "shape"], ["flat"]),
         helper.make_node("Transpose", ["flat"], ["output"], perm=[0, 2, 1])],
        "yolo_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", size * size, outputs])],
        initializer=[weights, shape],
    )
    model = helper.make_model(graph, producer_name="dsprov-tests", opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path
