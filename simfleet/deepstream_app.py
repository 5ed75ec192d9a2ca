# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""NVIDIA's four-model deepstream-app sample, laid down in a device's DeepStream install.

`samples/configs/deepstream-app/source4_1080p_dec_infer-resnet_tracker_sgie_tiled_display_int8.txt`
(published/deepstream_app/, byte for byte) runs a ResNet-10 car detector and three ResNet-18
classifiers (vehicle type, car colour, car make) on its cars. Its nvinfer configs
(profiles/files/deepstream-app/) keep NVIDIA's keys with small real ONNX models in place of the
Caffe ones: made here with onnx's helper, with the inputs and output names the configs name (so
trtexec's shapes fit) and as many classes as the labels files list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, helper

HERE = Path(__file__).parent

APP_CONFIG = "source4_1080p_dec_infer-resnet_tracker_sgie_tiled_display_int8.txt"
CONFIG_DIR = "samples/configs/deepstream-app"  # under /opt/nvidia/deepstream/deepstream-X.Y
MODEL_DIR = "samples/models"
OPSET = 13  # TensorRT 8.0 (the oldest on the fleet) parses opsets up to 13


@dataclass(frozen=True)
class Classifier:
    folder: str
    config: str
    labels: tuple[str, ...]  # one line, ';'-separated: nvinfer's classifier labels format


# Label names: car colours as NVIDIA's CarColor model card lists its output; the make and type
# names are authored (the counts are what matter here: operate-on-class-ids is checked against them).
CLASSIFIERS = (
    Classifier("Secondary_VehicleTypes", "config_infer_secondary_vehicletypes.txt",
               ("coupe", "largevehicle", "sedan", "suv", "truck", "van")),
    Classifier("Secondary_CarColor", "config_infer_secondary_carcolor.txt",
               ("black", "blue", "brown", "gold", "green", "grey", "maroon", "orange", "red", "silver", "white", "yellow")),
    Classifier("Secondary_CarMake", "config_infer_secondary_carmake.txt",
               ("acura", "audi", "bmw", "chevrolet", "chrysler", "dodge", "ford", "gmc", "honda", "hyundai", "infiniti",
                "jeep", "kia", "lexus", "mazda", "mercedes", "nissan", "subaru", "toyota", "volkswagen")),
)
DETECTOR_LABELS = ("Car", "Bicycle", "Person", "Roadsign")  # one per line: nvinfer's detector labels format


def _weights(name: str, *dims: int) -> TensorProto:
    count = 1
    for d in dims:
        count *= d
    return helper.make_tensor(name, TensorProto.FLOAT, dims, [((i * 7) % 11 - 5) / 50 for i in range(count)])


def _model(graph: onnx.GraphProto) -> bytes:
    model = helper.make_model(graph, producer_name="dsprov-simfleet", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7  # what onnx wrote for opset 13: TensorRT 8.0's parser reads it
    onnx.checker.check_model(model)
    return model.SerializeToString()


def detector_onnx(classes: int, height: int, width: int) -> bytes:
    """DetectNet_v2-shaped: a coverage map per class and four box coordinates per class on a
    16-pixel grid (outputs conv2d_cov/Sigmoid and conv2d_bbox, as the primary config names)."""
    grid = (height // 16, width // 16)
    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["input_1"], ["pooled"], kernel_shape=[16, 16], strides=[16, 16]),
         helper.make_node("Conv", ["pooled", "w_cov", "b_cov"], ["cov"]),
         helper.make_node("Sigmoid", ["cov"], ["conv2d_cov/Sigmoid"]),
         helper.make_node("Conv", ["pooled", "w_bbox", "b_bbox"], ["conv2d_bbox"])],
        "resnet10_standin",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["batch", 3, height, width])],
        [helper.make_tensor_value_info("conv2d_cov/Sigmoid", TensorProto.FLOAT, ["batch", classes, *grid]),
         helper.make_tensor_value_info("conv2d_bbox", TensorProto.FLOAT, ["batch", 4 * classes, *grid])],
        [_weights("w_cov", classes, 3, 1, 1), _weights("b_cov", classes),
         _weights("w_bbox", 4 * classes, 3, 1, 1), _weights("b_bbox", 4 * classes)],
    )
    return _model(graph)


def classifier_onnx(classes: int, size: int = 224) -> bytes:
    """A softmax over `classes` from the image's mean colour (output predictions/Softmax)."""
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input_1"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1),
         helper.make_node("Softmax", ["logits"], ["predictions/Softmax"], axis=1)],
        "resnet18_standin",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("predictions/Softmax", TensorProto.FLOAT, ["batch", classes])],
        [_weights("w", classes, 3), _weights("b", classes)],
    )
    return _model(graph)


def sample_files() -> dict[str, bytes]:
    """The sample's files by path under the DeepStream install folder."""
    files = {f"{CONFIG_DIR}/{APP_CONFIG}": (HERE / "published" / "deepstream_app" / APP_CONFIG).read_bytes()}
    own = HERE / "profiles" / "files" / "deepstream-app"
    files[f"{CONFIG_DIR}/config_infer_primary.txt"] = (own / "config_infer_primary.txt").read_bytes()
    files[f"{MODEL_DIR}/Primary_Detector/resnet10.onnx"] = detector_onnx(len(DETECTOR_LABELS), 368, 640)
    files[f"{MODEL_DIR}/Primary_Detector/labels.txt"] = "".join(f"{n}\n" for n in DETECTOR_LABELS).encode()
    for c in CLASSIFIERS:
        files[f"{CONFIG_DIR}/{c.config}"] = (own / c.config).read_bytes()
        files[f"{MODEL_DIR}/{c.folder}/resnet18.onnx"] = classifier_onnx(len(c.labels))
        files[f"{MODEL_DIR}/{c.folder}/labels.txt"] = (";".join(c.labels) + "\n").encode()
    return files
