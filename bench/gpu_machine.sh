#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# The whole job on one machine, as root, every output kept: install the stub TensorRT 10.16
# packages, detect, provision (build NVIDIA's real nvinfer_plugin from the bundle), rerun,
# roll back, remove the packages, then bench/real_plugin_build.py.
#
#   bench/gpu_machine.sh BUNDLE OUTDIR [--gpu-archs A] [--quick]
#
# BUNDLE: the TensorRT OSS release/10.16 git bundle. OUTDIR gets one file per step (command
# line, output, exit status and seconds in each) and summary.txt. --gpu-archs is for a machine
# without a GPU (passed to detect and provision); --quick times only the derived build in the
# bench. Needs python3 with this project's dependencies (PYTHON overrides; PYTHONPATH is
# honoured), cmake >= 3.13, gcc/g++, git, dpkg, and CUDA at /usr/local/cuda. It changes this
# machine: the packages are installed with dpkg -i and purged at the end; the plugin swap is
# rolled back before that.
set -uo pipefail

usage() { echo "usage: $0 BUNDLE OUTDIR [--gpu-archs A] [--quick]" >&2; exit 2; }
[ $# -ge 2 ] || usage
BUNDLE=$(realpath "$1") OUT=$2
shift 2
ARCHS=() QUICK=()
while [ $# -gt 0 ]; do
    case $1 in
        --gpu-archs) [ $# -ge 2 ] || usage; ARCHS=(--gpu-archs "$2"); shift 2 ;;
        --quick) QUICK=(--skip-default); shift ;;
        *) usage ;;
    esac
done
[ -f "$BUNDLE" ] || { echo "error: no bundle at $BUNDLE" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "error: run as root (it installs packages)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
WORK=$(mktemp -d /tmp/dsprov-gpu-machine.XXXXXX)
export DSPROV_TRT_BUNDLE=$BUNDLE DSPROV_CACHE=$WORK/controller-cache COLUMNS=110 PATH=$PATH:/usr/local/cuda/bin
cd "$ROOT" || exit 2

# step NAME COMMAND...: run it, keep its output in OUTDIR/NAME.txt, note the result in summary.txt
step() {
    local name=$1 started=$SECONDS rc
    shift
    { echo "\$ $*"; echo; "$@"; } > "$OUT/$name.txt" 2>&1
    rc=$?
    printf '%-16s exit %-3s %5d s\n' "$name" "$rc" "$((SECONDS - started))" | tee -a "$OUT/summary.txt"
    return "$rc"
}

{ date -u +"recorded %Y-%m-%d %H:%M UTC"; uname -a; grep PRETTY /etc/os-release; nproc; free -g | sed -n 2p
  nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv 2>&1; nvcc --version | tail -2
  cmake --version | head -1; gcc --version | head -1; } > "$OUT/env.txt" 2>&1

# The mirror a user would have: a bare clone of the bundle, reached over file:// (shallow works).
git clone -q --bare "$BUNDLE" "$WORK/mirror/NVIDIA/TensorRT.git"
mkdir -p "$WORK/inventory"
cat > "$WORK/inventory/hosts.yml" <<EOF
all:
  hosts:
    localhost:
      ansible_connection: local
      dsprov_trt_oss_repo: file://$WORK/mirror/NVIDIA/TensorRT.git
      dsprov_required_plugins: [MultiscaleDeformableAttnPlugin_TRT]
      dsprov_build_dir: $WORK/build
EOF
cp "$WORK/inventory/hosts.yml" "$OUT/inventory.yml"
INV=(-i "$WORK/inventory")

step debs "$PY" -c "import sys; from pathlib import Path; from simfleet.upstreams import trt_debs
for d in trt_debs.build_debs(trt_debs.TREE_10_16, Path(sys.argv[1]), Path(sys.argv[2])): print(d.name)" "$BUNDLE" "$WORK/debs" || exit 1
step dpkg-install sh -c "dpkg -i $WORK/debs/*.deb && dpkg-query -W 'libnvinfer*'" || exit 1
step detect "$PY" -m invoke detect --host localhost "${INV[@]}" "${ARCHS[@]}"
step provision "$PY" -m invoke provision --host localhost "${INV[@]}" "${ARCHS[@]}"
step provision-rerun "$PY" -m invoke provision --host localhost "${INV[@]}" "${ARCHS[@]}"
step rollback "$PY" -m invoke rollback --host localhost "${INV[@]}"
# every command of the four runs, CMake's output included (one log per run, named by start time)
for log in "$DSPROV_CACHE"/logs/localhost/*.log; do echo "==> ${log##*/} <=="; cat "$log"; done > "$OUT/host-log.txt"
step dpkg-purge sh -c "dpkg --purge libnvinfer-plugin-dev libnvinfer-dev libnvinfer-headers-plugin-dev \
    libnvinfer-headers-dev libnvinfer-plugin10 libnvinfer10 && ! dpkg-query -W 'libnvinfer*'"
step bench "$PY" bench/real_plugin_build.py --bundle "$BUNDLE" --jobs "$(nproc)" --json "$OUT/bench.json" \
    ${ARCHS[1]:+--archs "${ARCHS[1]}"} "${QUICK[@]}"
rm -rf "$WORK"
