#!/bin/sh
# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# Stand-in for nvidia-smi on a simulated device (simfleet).
#   nvidia-smi        prints the recorded table (source: @TABLE_SOURCE@)
#   nvidia-smi -q     prints the recorded query report (source: @QUERY_SOURCE@)
#   nvidia-smi --query-gpu=F1,F2 --format=csv[,noheader][,nounits]  answers from the profile's
#                     values; a driver that predates compute_cap rejects it with the recorded
#                     message (source: simfleet/published/misc/nvidia_smi_compute_cap_rejected.txt)
fields= format=
for arg in "$@"; do
    case $arg in
        --query-gpu=*) fields=${arg#*=} ;;
        --format=*) format=${arg#*=} ;;
        -q|--query) cat <<'EOF_QUERY'
@QUERY@
EOF_QUERY
            exit 0 ;;
    esac
done
if [ -z "$fields" ]; then
    cat <<'EOF_TABLE'
@TABLE@
EOF_TABLE
    exit 0
fi
header= row=
for f in $(echo "$fields" | tr ',' ' '); do
    case $f in
        name) v='@NAME@' h=name ;;
        driver_version) v='@DRIVER@' h=driver_version ;;
        memory.total) v='@MEMORY_TOTAL@' h='memory.total [MiB]' ;;
        compute_cap)
            if [ '@HAS_COMPUTE_CAP@' != yes ]; then
                echo 'Field "compute_cap" is not a valid field to query.'
                echo
                exit 2
            fi
            v='@COMPUTE_CAP@' h=compute_cap ;;
        *) echo "Field \"$f\" is not a valid field to query."; echo; exit 2 ;;
    esac
    case $format in *nounits*) v=${v% MiB}; h=${h% \[MiB\]} ;; esac
    header=${header:+$header, }$h
    row=${row:+$row, }$v
done
case $format in *noheader*) ;; *) echo "$header" ;; esac
echo "$row"
