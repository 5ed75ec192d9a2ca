# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# Host probe: everything `detect` needs, gathered in one round trip.
# POSIX sh only (runs under dash and busybox sh); no Python on the target.
# Usage: sh -s -- BUILD_DIR [ITEM...] < script, where provision/detect.py's probe_script() heads this
# file with STATE_FILE and SAVED_DIR (provision/state.py) and PROBE_SHA256 (the digest of the rest) and
# appends the deviceQuery step and the registered capabilities' fragments (provision/capabilities/:
# their own sections; the engines capability's config search runs when items are given)
# Output: sections `==> NAME <==`, each followed by the raw text of its source; a section whose
# source is absent is printed empty. The controller's parsers make sense of the text.
# A warm probe starts few processes: the sections that change only with a file, a package or a boot
# are kept in the login user's ~/.cache/dsprov/probe (`cached` below); memory, disk, nvidia-smi's
# answer, the state file and the PCI devices are read each run.

BUILD_DIR=$1  # dsprov_build_dir, else options.DEFAULT_BUILD_DIR: a leading ~/ is the login user's home
case $BUILD_DIR in "~/"*) BUILD_DIR=$HOME/${BUILD_DIR#"~/"} ;; esac
PATH=$PATH:/usr/local/cuda/bin:/usr/local/bin:/usr/sbin:/sbin
export PATH LC_ALL=C

section() { printf '\n==> %s <==\n' "$1"; }  # a leading newline ends a source without one
show() { [ -r "$1" ] && cat "$1" 2>/dev/null; }
has() { command -v "$1" >/dev/null 2>&1; }
line() { l=; [ -r "$1" ] && { IFS= read -r l || [ -n "$l" ]; } < "$1" && printf '%s\n' "$l"; }  # a one-line file: no process
triplet() {
    case ${machine:-$(uname -m)} in
        aarch64|arm64) echo aarch64-linux-gnu ;;
        *) echo x86_64-linux-gnu ;;
    esac
}
# on_path TOOL...: where each TOOL found on $PATH is (what command -v says of a tool; builtins alone)
on_path() {
    for t; do
        rest=$PATH:
        while [ -n "$rest" ]; do
            d=${rest%%:*}; rest=${rest#*:}
            if [ -f "${d:-.}/$t" ] && [ -x "${d:-.}/$t" ]; then printf '%s\n' "${d:-.}/$t"; break; fi
        done
    done
}

# The probe's own cache, the login user's, as deviceQuery's and the engine search's.
probe_cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/dsprov/probe
# quote TEXT: TEXT as one single-quoted shell word (trailing newlines kept)
quote() { q=$(printf '%s.' "$1" | sed "s/'/'\\\\''/g"); printf "'%s'" "${q%.}"; }
# cached NAME KEY FUNCTION [VAR...]: FUNCTION's output and the VARs it sets, kept in $probe_cache/NAME.sh
# under KEY (text: `%i %s %Y %Z %n` stat lines of the files the output comes from, and whatever else it
# depends on). While KEY holds, both come from there by `.` (a builtin: no process started). Not kept
# when a file of KEY changed within the last second (the times are whole seconds), when FUNCTION sets
# keep=no, or without a cache folder of the user's own; a kept file is read only from the user's own folder
# and when it is the user's.
cached() {
    c_name=$1 c_key=$2 c_fn=$3; shift 3
    kept_key= kept_out=
    c_file=$probe_cache/$c_name.sh
    [ -f "$c_file" ] && [ -O "$probe_cache" ] && [ -O "$c_file" ] && . "$c_file" 2>/dev/null
    if [ "$kept_key" = "$c_key" ]; then printf '%s' "$kept_out"; return 0; fi
    keep=yes
    if ! { [ -d "$probe_cache" ] || (umask 077; mkdir -p "$probe_cache") 2>/dev/null; } || [ ! -w "$probe_cache" ] \
            || [ ! -O "$probe_cache" ] || ! (umask 077; : > "$c_file.$$") 2>/dev/null; then
        "$c_fn"; return 0
    fi
    "$c_fn" > "$c_file.$$"
    kept_out=$(cat "$c_file.$$"; echo .); kept_out=${kept_out%.}
    printf '%s' "$kept_out"
    now=$(date +%s)
    while read -r _ _ c_m c_c _; do
        case $c_m$c_c in ''|*[!0-9]*) continue ;; esac
        if [ "$c_m" -ge $((now - 1)) ] || [ "$c_c" -ge $((now - 1)) ]; then keep=no; fi
    done <<EOF
$c_key
EOF
    if [ "$keep" = yes ] && { printf 'kept_key=%s\nkept_out=%s\n' "$(quote "$c_key")" "$(quote "$kept_out")"
            for v; do eval "printf '%s=%s\n' $v \"\$(quote \"\${$v}\")\""; done; } > "$c_file.$$" 2>/dev/null; then
        mv -f "$c_file.$$" "$c_file" 2>/dev/null
    fi
    rm -f "$c_file.$$"
}

# The facts that change only with a package, a file or a boot: the sections up to libc_version, but
# nvidia_smi_query, and nvinfer_plugin. Printed from the probe cache while their key holds (below). It
# sets $machine, $nvcc_out and $dpkg_all (every package: the nvidia_stack fragment's nvidia_packages).
static_facts() {
    section uname_m
    machine=$(uname -m); printf '%s\n' "$machine"

    section os_release
    show /etc/os-release

    section nv_tegra_release
    show /etc/nv_tegra_release

    section dt_model
    [ -r /sys/firmware/devicetree/base/model ] && tr '\000' '\n' </sys/firmware/devicetree/base/model

    section container
    # Inside a container (l4t-base, DeepStream-l4t images) /etc/nv_tegra_release may be absent while
    # the device tree is the host's: say so, the facts then come from the container's packages.
    [ -f /.dockerenv ] && echo docker
    [ -f /run/.containerenv ] && echo podman
    [ -n "${container:-}" ] && echo "$container"

    section dt_compatible
    for f in /proc/device-tree/compatible /sys/firmware/devicetree/base/compatible; do
        if [ -r "$f" ]; then tr '\000' '\n' <"$f"; break; fi
    done

    section cuda_version_json
    show /usr/local/cuda/version.json

    section cuda_version_txt
    show /usr/local/cuda/version.txt

    section nvcc_version  # $nvcc_out and the nvidia-smi section's $out: a part of the deviceQuery cache's key
    nvcc_out=
    if has nvcc; then nvcc_out=$(nvcc --version 2>&1); printf '%s\n' "$nvcc_out"; fi

    section dpkg_nvinfer
    dpkg_all=
    if has dpkg-query; then
        dpkg-query -W 'nvidia-l4t-*' tensorrt 'libnvinfer*' 'deepstream*' 2>/dev/null
        dpkg_all=$(dpkg-query -W -f '${db:Status-Abbrev}\t${Package}\t${Version}\n' 2>/dev/null; echo .)
        dpkg_all=${dpkg_all%.}
    fi

    section nvinfer_version_h
    for h in /usr/include/$(triplet)/NvInferVersion.h /usr/include/NvInferVersion.h \
             /usr/local/cuda/include/NvInferVersion.h /usr/local/TensorRT/include/NvInferVersion.h; do
        if [ -r "$h" ]; then
            grep -E '^#define (NV_TENSORRT|TRT)_[A-Z_]+ ' "$h"
            break
        fi
    done

    section deepstream_version
    show /opt/nvidia/deepstream/deepstream/version

    section python3_version
    has python3 && python3 --version 2>&1

    section cmake_version
    has cmake && cmake --version 2>&1 | head -n 1

    section gcc_version
    has gcc && gcc -dumpfullversion -dumpversion 2>/dev/null

    section libc_version
    getconf GNU_LIBC_VERSION 2>/dev/null

    section nvinfer_plugin
    ls -l /usr/lib/$(triplet)/libnvinfer_plugin.so* 2>/dev/null
    return 0
}
# Their key: the whole probe's digest (PROBE_SHA256, from provision/detect.py), the boot, $container and
# $PATH, then the stat (following links) of the files they read and of the tools that print them;
# dpkg's status file is replaced by every package change, its updates/ folder holds dpkg's journal.
boot=; [ -r /proc/sys/kernel/random/boot_id ] && IFS= read -r boot < /proc/sys/kernel/random/boot_id
static_key=$(printf '%s\n' "${PROBE_SHA256:-}" "$boot" "${container:-}" "$PATH"
    # shellcheck disable=SC2046  # the tools' paths, one word each
    stat -L -c '%i %s %Y %Z %n' /etc/os-release /etc/nv_tegra_release /sys/firmware/devicetree/base/model \
        /.dockerenv /run/.containerenv /proc/device-tree/compatible /sys/firmware/devicetree/base/compatible \
        /usr/local/cuda/version.json /usr/local/cuda/version.txt /var/lib/dpkg/status /var/lib/dpkg/updates \
        /usr/include/*-linux-gnu/NvInferVersion.h /usr/include/NvInferVersion.h \
        /usr/local/cuda/include/NvInferVersion.h /usr/local/TensorRT/include/NvInferVersion.h \
        /opt/nvidia/deepstream/deepstream/version /usr/lib/*-linux-gnu/libnvinfer_plugin.so* \
        $(on_path nvcc python3 cmake gcc getconf dpkg-query uname ls) 2>/dev/null)
cached facts "$static_key" static_facts machine nvcc_out dpkg_all

section nvidia_smi_query  # asked each run: a driver's answer can change with no file above changed
out=
if has nvidia-smi; then
    out=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv 2>&1)
    printf '%s\n' "$out"
    # Older drivers (R470) reject compute_cap: ask again without it.
    case $out in
        *'not a valid field'*)
            nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 ;;
    esac
fi

section meminfo
show /proc/meminfo

section build_dir
printf '%s\n' "$BUILD_DIR"

section df_build
d=$BUILD_DIR
while [ ! -d "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
df -Pk "$d" 2>/dev/null

section nproc
line /sys/devices/system/cpu/online || nproc 2>/dev/null

section jetson_power
# The power mode (nvpmodel -q), the modes of /etc/nvpmodel.conf, the clocks (jetson_clocks --show
# runs as root only: otherwise the step asks with sudo) and dsprov's boot unit (provision/capabilities/max_clocks.py).
if has nvpmodel; then
    echo '-- nvpmodel -q'
    nvpmodel -q 2>&1
    echo '-- nvpmodel.conf'
    grep -E '^[[:space:]]*<[[:space:]]*(POWER_MODEL|PM_CONFIG)[[:space:]]' /etc/nvpmodel.conf 2>/dev/null
    echo '-- jetson_clocks --show'
    if [ "$(id -u)" = 0 ]; then jetson_clocks --show 2>&1; else echo 'not root'; fi
    echo '-- boot unit'
    for f in /etc/systemd/system/dsprov-jetson-clocks.service \
             /etc/systemd/system/multi-user.target.wants/dsprov-jetson-clocks.service; do
        [ -e "$f" ] && echo "$f"
    done
fi

section dsprov_state
show "$STATE_FILE"
