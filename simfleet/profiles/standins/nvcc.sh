#!/bin/sh
# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# Stand-in for nvcc on a simulated device (simfleet): it compiles nothing.
#   nvcc --version          prints this device's recorded nvcc output (source: @VERSION_SOURCE@)
#   nvcc [-o OUT] SRC.cu    checks SRC exists, then writes OUT (default a.out): a program that
#                           prints the device's recorded deviceQuery output (source: @DEVICE_QUERY_SOURCE@)
# The "No input files" message is real nvcc's (github.com/pyg-team/pytorch_geometric/issues/6019).
out=a.out
srcs=
want_version=
while [ $# -gt 0 ]; do
    case $1 in
        --version|-V) want_version=1 ;;
        -o|--output-file) shift; out=$1 ;;
        --output-file=*) out=${1#*=} ;;
        -I|-L|-l|-D|-U|-x|-m|-arch|-code|-gencode|-ccbin|--compiler-bindir|-Xcompiler|-Xlinker|-Xptxas|-std|--gpu-architecture|--gpu-code|--include-path|--library-path) shift ;;
        -*) ;;
        *) srcs="$srcs $1" ;;
    esac
    shift
done
if [ -n "$want_version" ]; then
    cat <<'EOF_VERSION'
@VERSION@
EOF_VERSION
    exit 0
fi
if [ -z "$srcs" ]; then
    echo "nvcc fatal   : No input files specified; use option --help for more information" >&2
    exit 1
fi
for src in $srcs; do
    if [ ! -f "$src" ]; then
        echo "nvcc fatal   : Don't know what to do with '$src'" >&2
        exit 1
    fi
done
{
    echo '#!/bin/sh'
    echo '# deviceQuery as written by the simulated nvcc; output recorded from @DEVICE_QUERY_SOURCE@'
    echo "cat <<'EOF_DEVICE_QUERY'"
    cat <<'EOF_RECORDED'
@DEVICE_QUERY@
EOF_RECORDED
    echo 'EOF_DEVICE_QUERY'
} > "$out"
chmod 755 "$out"
