#!/bin/sh
# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# Stand-in for TensorRT's trtexec on a simulated device (simfleet): builds no engine.
# --saveEngine=FILE gets a text file recording the inputs (model, precision, shapes, TensorRT
# version); --loadEngine=FILE passes only for such a file of this TensorRT version (a real engine
# loads only where TensorRT and the GPU are those it was built for). The log lines follow trtexec's
# "&&&& RUNNING/PASSED/FAILED TensorRT.trtexec [TensorRT vNNNN]" framing. Each run appends a line
# to RUNS (a file any user may append to, laid down with the stand-in: simfleet/profiles.py):
# `build<TAB>uid<TAB>engine` or `load<TAB>uid<TAB>engine<TAB>ok|failed`, so tests count builds.
trt_version=@TRT_VERSION@
trt_int=@TRT_INT@
RUNS=/var/log/trtexec-standin.log
onnx= engine= load= precision=fp32 batch= shapes= min= opt= max= workspace=
for arg in "$@"; do
    case $arg in
        --onnx=*) onnx=${arg#*=} ;;
        --loadEngine=*) load=${arg#*=} ;;
        --saveEngine=*) engine=${arg#*=} ;;
        --fp16) precision=fp16 ;;
        --int8) precision=int8 ;;
        --best) precision=best ;;
        --batch=*) batch=${arg#*=} ;;
        --shapes=*) shapes=${arg#*=} ;;
        --minShapes=*) min=${arg#*=} ;;
        --optShapes=*) opt=${arg#*=} ;;
        --maxShapes=*) max=${arg#*=} ;;
        --workspace=*|--memPoolSize=*) workspace=${arg#*=} ;;
    esac
done
stamp() { date '+[%m/%d/%Y-%H:%M:%S]'; }
echo "&&&& RUNNING TensorRT.trtexec [TensorRT v$trt_int] # $0 $*"
fail() {
    echo "$(stamp) [E] $1"
    echo "&&&& FAILED TensorRT.trtexec [TensorRT v$trt_int] # $0 $*"
    exit 1
}
if [ -n "$load" ]; then
    if [ "$(head -n 1 "$load" 2>/dev/null)" != "# simulated TensorRT engine (trtexec stand-in): no kernels, only the inputs" ] ||
        ! grep -qx "tensorrt=$trt_version" "$load"; then
        printf 'load\t%s\t%s\tfailed\n' "$(id -u)" "$load" >> "$RUNS" 2>/dev/null
        fail "Error Code 1: Serialization (Serialization assertion failed: engine from another TensorRT version or not an engine)"
    fi
    printf 'load\t%s\t%s\tok\n' "$(id -u)" "$load" >> "$RUNS" 2>/dev/null
    echo "$(stamp) [I] Engine loaded in 0.01 sec."
    echo "&&&& PASSED TensorRT.trtexec [TensorRT v$trt_int] # $0 $*"
    exit 0
fi
echo "$(stamp) [I] === Model Options ==="
if [ -z "$onnx" ]; then fail "Model missing or format not recognized"; fi
echo "$(stamp) [I] Format: ONNX"
echo "$(stamp) [I] Model: $onnx"
[ -f "$onnx" ] || fail "Failed to parse onnx file"
echo "$(stamp) [I] Precision: $precision"
if [ -n "$engine" ]; then
    printf 'build\t%s\t%s\n' "$(id -u)" "$engine" >> "$RUNS" 2>/dev/null
    {
        echo "# simulated TensorRT engine (trtexec stand-in): no kernels, only the inputs"
        echo "tensorrt=$trt_version"
        echo "onnx=$onnx"
        echo "onnx_sha256=$(sha256sum "$onnx" | cut -d' ' -f1)"
        echo "precision=$precision"
        echo "batch=$batch"
        echo "shapes=$shapes"
        echo "minShapes=$min"
        echo "optShapes=$opt"
        echo "maxShapes=$max"
        echo "workspace=$workspace"
    } > "$engine" || fail "Cannot open engine file: $engine"
    echo "$(stamp) [I] Engine built in 0.1 sec."
    echo "$(stamp) [I] Saved engine to $engine"
fi
echo "&&&& PASSED TensorRT.trtexec [TensorRT v$trt_int] # $0 $*"
