"""Write an nvinfer config for a model kind (pure: settings in, config text out).

The keys and values per kind are those of NVIDIA's own configs in NVIDIA-AI-IOT/deepstream_tao_apps
(simfleet/published/deepstream_configs/SOURCE.md):
- dino (DINO, Deformable DETR): configs/nvinfer/retail_object_detection_tao/
  pgie_retail_object_detection_binary_dino_tao_config.txt: output-blob-names=pred_boxes;pred_logits,
  parse-bbox-func-name=NvDsInferParseCustomDDETRTAO, cluster-mode=4, ImageNet mean/std scaling, BGR.
- yolov4 (TAO YOLOv4): configs/nvinfer/yolov4_tao/pgie_yolov4_tao_config.txt: output-blob-names=
  BatchedNMS, parse-bbox-func-name=NvDsInferParseCustomBatchedNMSTLT, cluster-mode=3.
Both parsers live in deepstream_tao_apps' post_processor library, libnvds_infercustomparser_tao.so.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from provision.deepstream.nvinfer_config import PRECISIONS, engine_name
from provision.errors import ProvisionError

PARSER_LIBRARY = "/opt/nvidia/deepstream/deepstream/lib/libnvds_infercustomparser_tao.so"


@dataclass(frozen=True)
class ModelKind:
    name: str
    background_first: bool  # labels start with BG (class id 0 is the background)
    parse_function: str
    preprocess: tuple[tuple[str, str], ...]  # scaling and colour keys, in NVIDIA's order
    postprocess: tuple[tuple[str, str], ...]  # layout, clustering and output keys
    class_attrs: tuple[tuple[str, str], ...]


KINDS = {
    "dino": ModelKind(
        "dino", True, "NvDsInferParseCustomDDETRTAO",
        (("net-scale-factor", "0.01735207357279195"), ("offsets", "123.675;116.28;103.53"),
         ("model-color-format", "1")),
        (("network-input-order", "0"), ("maintain-aspect-ratio", "1"), ("cluster-mode", "4"),
         ("output-blob-names", "pred_boxes;pred_logits")),
        (("pre-cluster-threshold", "0.5"), ("topk", "300")),
    ),
    "yolov4": ModelKind(
        "yolov4", False, "NvDsInferParseCustomBatchedNMSTLT",
        (("net-scale-factor", "1.0"), ("offsets", "103.939;116.779;123.68"), ("model-color-format", "1")),
        (("maintain-aspect-ratio", "1"), ("cluster-mode", "3"), ("output-blob-names", "BatchedNMS")),
        (("pre-cluster-threshold", "0.3"),),
    ),
}
KINDS["ddetr"] = KINDS["dino"]  # Deformable DETR: same outputs and parser


@dataclass(frozen=True)
class ModelSetup:
    """What the user asks for: a model kind, its ONNX file on the host, where the config goes."""

    kind: str
    onnx: str
    config: str
    labels: str
    batch_size: int = 1
    precision: str = "fp16"
    infer_dims: str = "3;544;960"
    gpu_id: int = 0
    custom_lib_path: str = PARSER_LIBRARY
    int8_calib_file: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ProvisionError(f"model kind {self.kind!r}: choose one of {', '.join(sorted(KINDS))}")
        for name, path in (("onnx", self.onnx), ("config", self.config), ("labels", self.labels)):
            if not path.startswith("/"):
                raise ProvisionError(f"--{name} {path!r}: give an absolute path on the host")
        if self.precision not in PRECISIONS.values():
            raise ProvisionError(f"precision {self.precision!r}: choose fp32, fp16 or int8")
        if self.batch_size < 1:
            raise ProvisionError(f"batch size {self.batch_size} must be at least 1")
        dims = self.infer_dims.split(";")
        if len(dims) != 3 or not all(d.isdigit() for d in dims):
            raise ProvisionError(f"infer dims {self.infer_dims!r}: give C;H;W, e.g. 3;544;960")

    @property
    def model_kind(self) -> ModelKind:
        return KINDS[self.kind]


def render_config(setup: ModelSetup, num_classes: int, precision: str) -> str:
    """The nvinfer config text; `precision` is what the GPU runs (after any downgrade)."""
    kind = setup.model_kind
    mode = {v: k for k, v in PRECISIONS.items()}[precision]
    engine = posixpath.join(posixpath.dirname(setup.onnx),
                            engine_name(setup.onnx, setup.batch_size, setup.gpu_id, precision))
    lines = [
        f"# nvinfer config for a {kind.name} model, written by dsprov (keys as in NVIDIA-AI-IOT/deepstream_tao_apps)",
        "[property]",
        f"gpu-id={setup.gpu_id}",
        *(f"{k}={v}" for k, v in kind.preprocess),
        f"onnx-file={setup.onnx}",
        f"model-engine-file={engine}",
        f"labelfile-path={setup.labels}",
        *([f"int8-calib-file={setup.int8_calib_file}"] if setup.int8_calib_file else []),
        f"infer-dims={setup.infer_dims}",
        f"batch-size={setup.batch_size}",
        "## 0=FP32, 1=INT8, 2=FP16 mode",
        f"network-mode={mode}",
        f"num-detected-classes={num_classes}",
        "interval=0",
        "gie-unique-id=1",
        *(f"{k}={v}" for k, v in kind.postprocess),
        f"parse-bbox-func-name={kind.parse_function}",
        f"custom-lib-path={setup.custom_lib_path}",
        "",
        "[class-attrs-all]",
        *(f"{k}={v}" for k, v in kind.class_attrs),
    ]
    return "\n".join(lines) + "\n"
