# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write an nvinfer config for a model kind (pure: settings in, config text out).

The keys and values per kind are those of the configs its project publishes:
- dino (DINO, Deformable DETR), NVIDIA-AI-IOT/deepstream_tao_apps
  configs/nvinfer/retail_object_detection_tao/pgie_retail_object_detection_binary_dino_tao_config.txt
  (simfleet/published/deepstream_configs/SOURCE.md): output-blob-names=pred_boxes;pred_logits,
  parse-bbox-func-name=NvDsInferParseCustomDDETRTAO, cluster-mode=4, ImageNet mean/std scaling, BGR.
- yolov4 (TAO YOLOv4), the same repository's configs/nvinfer/yolov4_tao/pgie_yolov4_tao_config.txt:
  output-blob-names=BatchedNMS, parse-bbox-func-name=NvDsInferParseCustomBatchedNMSTLT, cluster-mode=3.
  Both parsers live in deepstream_tao_apps' post_processor library.
- yolo (YOLOv5, v7, v8 and later exported the DeepStream-Yolo way: utils/export_yolo*.py, input
  `input`), marcoslucianops/DeepStream-Yolo config_infer_primary_yoloV8.txt: NvDsInferParseYolo
  (or NvDsInferParseYoloCuda), engine-create-func-name=NvDsInferYoloCudaEngineGet, cluster-mode=2,
  letterboxed 0-1 RGB input; its library is nvdsinfer_custom_impl_Yolo/ beside the config.
- yolov7 (YOLOv7 exported as in NVIDIA-AI-IOT/yolo_deepstream, YOLOv7's export.py names the input
  `images`), that repository's deepstream_yolo/config_infer_primary_yoloV7.txt:
  NvDsInferParseCustomYoloV7_cuda with disable-output-host-copy=1 (its default), or the CPU
  NvDsInferParseCustomYoloV7 with disable-output-host-copy=0 (its README).
The YOLO configs also carry the ONNX input's name as uff-input-blob-name (nvinfer reads the model's
own; NVIDIA-AI-IOT/deepstream_python_apps' apps/deepstream-test3/config_infer_primary_peoplenet.txt
sets it for an ONNX model too), so the engines step can give trtexec the batch shapes of --streams.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from provision.deepstream.custom_lib import DEEPSTREAM_DIR, DEEPSTREAM_YOLO, TAO_APPS, YOLO_DEEPSTREAM, LibrarySource
from provision.deepstream.nvinfer_config import PRECISIONS, engine_name
from provision.errors import ProvisionError

Keys = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Parser:
    function: str  # parse-bbox-func-name
    keys: Keys = ()  # keys that go with it


@dataclass(frozen=True)
class ModelKind:
    name: str
    source: str  # whose published config the keys follow
    library: LibrarySource
    background_first: bool  # labels start with BG (class id 0 is the background)
    parsers: dict[str, Parser]  # cpu or cuda (options.PARSERS) -> parser; `default_parser` is the project's choice
    preprocess: Keys  # scaling and colour keys, in the project's order
    postprocess: Keys  # layout, clustering and output keys
    class_attrs: Keys
    default_parser: str = "cpu"
    engine_create_function: str | None = None  # engine-create-func-name
    input_name: str | None = None  # the input the project's ONNX export names (trtexec's batch shapes)
    infer_dims: str = "3;544;960"
    library_beside_config: bool = False  # else in DeepStream's lib/

    @property
    def functions(self) -> tuple[str, ...]:
        """What the custom library must export for any of this kind's configs."""
        engine = (self.engine_create_function,) if self.engine_create_function else ()
        return (*(p.function for p in self.parsers.values()), *engine)


YOLO_PREPROCESS = (("net-scale-factor", "0.0039215697906911373"), ("model-color-format", "0"))
KINDS = {
    "dino": ModelKind(
        "dino", "NVIDIA-AI-IOT/deepstream_tao_apps", TAO_APPS, True, {"cpu": Parser("NvDsInferParseCustomDDETRTAO")},
        (("net-scale-factor", "0.01735207357279195"), ("offsets", "123.675;116.28;103.53"),
         ("model-color-format", "1")),
        (("network-input-order", "0"), ("maintain-aspect-ratio", "1"), ("cluster-mode", "4"),
         ("output-blob-names", "pred_boxes;pred_logits")),
        (("pre-cluster-threshold", "0.5"), ("topk", "300")),
    ),
    "yolov4": ModelKind(
        "yolov4", "NVIDIA-AI-IOT/deepstream_tao_apps", TAO_APPS, False,
        {"cpu": Parser("NvDsInferParseCustomBatchedNMSTLT")},
        (("net-scale-factor", "1.0"), ("offsets", "103.939;116.779;123.68"), ("model-color-format", "1")),
        (("maintain-aspect-ratio", "1"), ("cluster-mode", "3"), ("output-blob-names", "BatchedNMS")),
        (("pre-cluster-threshold", "0.3"),),
    ),
    "yolo": ModelKind(
        "yolo", "marcoslucianops/DeepStream-Yolo", DEEPSTREAM_YOLO, False,
        {"cpu": Parser("NvDsInferParseYolo"), "cuda": Parser("NvDsInferParseYoloCuda")},
        YOLO_PREPROCESS,
        (("process-mode", "1"), ("network-type", "0"), ("cluster-mode", "2"), ("maintain-aspect-ratio", "1"),
         ("symmetric-padding", "1")),
        (("nms-iou-threshold", "0.45"), ("pre-cluster-threshold", "0.25"), ("topk", "300")),
        engine_create_function="NvDsInferYoloCudaEngineGet", input_name="input", infer_dims="3;640;640",
        library_beside_config=True,
    ),
    "yolov7": ModelKind(
        "yolov7", "NVIDIA-AI-IOT/yolo_deepstream", YOLO_DEEPSTREAM, False,
        {"cpu": Parser("NvDsInferParseCustomYoloV7", (("disable-output-host-copy", "0"),)),
         "cuda": Parser("NvDsInferParseCustomYoloV7_cuda", (("disable-output-host-copy", "1"),))},
        YOLO_PREPROCESS,
        (("network-type", "0"), ("is-classifier", "0"), ("cluster-mode", "2"), ("maintain-aspect-ratio", "1"),
         ("symmetric-padding", "1"), ("scaling-filter", "1"), ("crop-objects-to-roi-boundary", "1")),
        (("nms-iou-threshold", "0.65"), ("pre-cluster-threshold", "0.25"), ("topk", "300")),
        default_parser="cuda", input_name="images", infer_dims="3;640;640", library_beside_config=True,
    ),
}
KINDS["ddetr"] = KINDS["dino"]  # Deformable DETR: same outputs and parser


@dataclass(frozen=True)
class ModelSetup:
    """What the user asks for: a model kind, its ONNX file on the host, where the config goes.
    `batch_size` is the number of streams (cameras) the primary model serves."""

    kind: str
    onnx: str
    config: str
    labels: str
    batch_size: int = 1
    precision: str = "fp16"
    infer_dims: str | None = None  # default: the kind's
    gpu_id: int = 0
    custom_lib_path: str | None = None  # default: the kind's (DeepStream's lib/, or beside the config)
    int8_calib_file: str | None = None
    parser: str | None = None  # cpu or cuda; default: the kind's

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
        if self.parser is not None and self.parser not in self.model_kind.parsers:
            raise ProvisionError(f"parser {self.parser!r}: a {self.kind} model has {', '.join(self.model_kind.parsers)}")
        dims = self.dims.split(";")
        if len(dims) != 3 or not all(d.isdigit() for d in dims):
            raise ProvisionError(f"infer dims {self.dims!r}: give C;H;W, e.g. 3;544;960")

    @property
    def model_kind(self) -> ModelKind:
        return KINDS[self.kind]

    @property
    def dims(self) -> str:
        """infer-dims C;H;W: as given, else the kind's."""
        return self.infer_dims or self.model_kind.infer_dims

    @property
    def bbox_parser(self) -> Parser:
        kind = self.model_kind
        return kind.parsers[self.parser or kind.default_parser]

    @property
    def library_path(self) -> str:
        """custom-lib-path: as given, else where the kind's project puts its library."""
        if self.custom_lib_path:
            return self.custom_lib_path
        lib = self.model_kind.library
        if self.model_kind.library_beside_config:
            return posixpath.join(posixpath.dirname(self.config), posixpath.basename(lib.folder), lib.library)
        return f"{DEEPSTREAM_DIR}/lib/{lib.library}"


def render_config(setup: ModelSetup, num_classes: int, precision: str) -> str:
    """The nvinfer config text; `precision` is what the GPU runs (after any downgrade)."""
    kind = setup.model_kind
    mode = {v: k for k, v in PRECISIONS.items()}[precision]
    engine = posixpath.join(posixpath.dirname(setup.onnx),
                            engine_name(setup.onnx, setup.batch_size, setup.gpu_id, precision))
    parser = setup.bbox_parser
    input_name = [
        "# the ONNX input's name, for trtexec's batch shapes (nvinfer reads the model's own)",
        f"uff-input-blob-name={kind.input_name}",
    ] if kind.input_name else []
    lines = [
        f"# nvinfer config for a {kind.name} model, written by dsprov (keys as in {kind.source})",
        "[property]",
        f"gpu-id={setup.gpu_id}",
        *(f"{k}={v}" for k, v in kind.preprocess),
        f"onnx-file={setup.onnx}",
        f"model-engine-file={engine}",
        f"labelfile-path={setup.labels}",
        *([f"int8-calib-file={setup.int8_calib_file}"] if setup.int8_calib_file else []),
        f"infer-dims={setup.dims}",
        *input_name,
        "# the number of streams (cameras) this primary model serves",
        f"batch-size={setup.batch_size}",
        "## 0=FP32, 1=INT8, 2=FP16 mode",
        f"network-mode={mode}",
        f"num-detected-classes={num_classes}",
        "interval=0",
        "gie-unique-id=1",
        *(f"{k}={v}" for k, v in kind.postprocess),
        f"parse-bbox-func-name={parser.function}",
        *(f"{k}={v}" for k, v in parser.keys),
        f"custom-lib-path={setup.library_path}",
        *([f"engine-create-func-name={kind.engine_create_function}"] if kind.engine_create_function else []),
        "",
        "[class-attrs-all]",
        *(f"{k}={v}" for k, v in kind.class_attrs),
    ]
    return "\n".join(lines) + "\n"
