# Host probe: everything `detect` needs, gathered in one round trip.
# POSIX sh only (runs under dash and busybox sh); no Python on the target.
# Usage: sh -s -- BUILD_DIR [ITEM...] < script, where provision/detect.py's probe_script() heads this
# file with STATE_FILE and SAVED_DIR (provision/state.py) and appends the deviceQuery step and the
# registered capabilities' fragments (provision/capabilities/: their own sections; the engines
# capability's config search runs when items are given)
# Output: sections `==> NAME <==`, each followed by the raw text of its source; a section whose
# source is absent is printed empty. The controller's parsers make sense of the text.

BUILD_DIR=$1  # dsprov_build_dir, else options.DEFAULT_BUILD_DIR: a leading ~/ is the login user's home
case $BUILD_DIR in "~/"*) BUILD_DIR=$HOME/${BUILD_DIR#"~/"} ;; esac
PATH=$PATH:/usr/local/cuda/bin:/usr/local/bin:/usr/sbin:/sbin
export PATH LC_ALL=C

section() { printf '\n==> %s <==\n' "$1"; }  # a leading newline ends a source without one
show() { [ -r "$1" ] && cat "$1" 2>/dev/null; }
has() { command -v "$1" >/dev/null 2>&1; }
triplet() {
    case $(uname -m) in
        aarch64|arm64) echo aarch64-linux-gnu ;;
        *) echo x86_64-linux-gnu ;;
    esac
}

section uname_m
uname -m

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

section nvidia_smi_query
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

section dpkg_nvinfer
has dpkg-query && dpkg-query -W 'nvidia-l4t-*' tensorrt 'libnvinfer*' 'deepstream*' 2>/dev/null

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

section meminfo
show /proc/meminfo

section build_dir
printf '%s\n' "$BUILD_DIR"

section df_build
d=$BUILD_DIR
while [ ! -d "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
df -Pk "$d" 2>/dev/null

section nproc
if [ -r /sys/devices/system/cpu/online ]; then cat /sys/devices/system/cpu/online; else nproc 2>/dev/null; fi

section nvinfer_plugin
ls -l /usr/lib/$(triplet)/libnvinfer_plugin.so* 2>/dev/null

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
