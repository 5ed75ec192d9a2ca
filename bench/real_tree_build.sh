#!/bin/bash
# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# One recording build of a real TensorRT OSS tree (tests/fixtures/recorded/trt-oss-cmake/):
#   OUT=DIR bash bench/real_tree_build.sh BUNDLE REF CMAKE_VERSION LABEL TARGET ARCH_FLAG
# run from a folder holding .cache/realtrt/cmake-<CMAKE_VERSION>.tar.xz (bin/cmake and share/ of
# PyPI's cmake wheel, top folder cmake-<CMAKE_VERSION>) and BUNDLE (a path relative to it).
# Clones REF from BUNDLE, makes a stub libnvinfer (getInferLibVersion, getLogger, getPluginRegistry
# and whatever else the link asks for), configures with the given cmake as dsprov does, builds
# TARGET with -j$(nproc) and reports the library (SONAME, SHA-256, imports, fatbin). The log goes to
# $OUT/LABEL.log. CONFIGURE_ONLY=1 stops after the configure step.
set -u
BUNDLE=$1 REF=$2 CV=$3 LABEL=$4 TARGET=$5 ARCH_FLAG=$6
W=/tmp/w; mkdir -p "$W"
here=$(pwd)
{
echo "=== $LABEL: $REF, cmake $CV, target $TARGET, -D$ARCH_FLAG=75"
echo "date: $(date -u +%FT%TZ)  host: $(uname -srm)  cpus: $(nproc)"
[ -d "$W/cmake-$CV" ] || tar -C "$W" -xJf "$here/.cache/realtrt/cmake-$CV.tar.xz"
CM=$W/cmake-$CV/bin/cmake
"$CM" --version | head -1
/usr/local/cuda/bin/nvcc --version | tail -1
gcc --version | head -1
src=$W/TensorRT-${REF//\//-}
if [ ! -d "$src" ]; then git clone -q -b "$REF" "$here/$BUNDLE" "$src"; fi
echo "tree: $(git -C "$src" rev-parse HEAD) ($(git -C "$src" log -1 --format=%s))"
grep -m1 cmake_minimum_required "$src/CMakeLists.txt"
major=$(awk '/#define TRT_MAJOR_ENTERPRISE/ {print $3}' "$src/include/NvInferVersion.h")
minor=$(awk '/#define TRT_MINOR_ENTERPRISE/ {print $3}' "$src/include/NvInferVersion.h")
patch=$(awk '/#define TRT_PATCH_ENTERPRISE/ {print $3}' "$src/include/NvInferVersion.h")
stub=$W/stub-$LABEL; rm -rf "$stub"; mkdir -p "$stub"
names="getLogger getPluginRegistry"
make_stub() {
  { echo "int getInferLibVersion(void) { return $((major * 10000 + minor * 100 + patch)); }"
    i=0; for n in $names; do echo "void *s$i(void) __asm__(\"$n\"); void *s$i(void) { return 0; }"; i=$((i + 1)); done; } > "$stub/nvinfer.c"
  gcc -shared -fPIC -Wl,-soname,libnvinfer.so.$major -o "$stub/libnvinfer.so.$major.$minor.$patch" "$stub/nvinfer.c"
  ln -sf "libnvinfer.so.$major.$minor.$patch" "$stub/libnvinfer.so.$major"; ln -sf "libnvinfer.so.$major" "$stub/libnvinfer.so"
}
make_stub
echo "stub libnvinfer exports: getInferLibVersion $names"
build=$W/build-$LABEL; rm -rf "$build"
cfg=("$CM" -S "$src" -B "$build" "-D$ARCH_FLAG=75" "-DTRT_LIB_DIR=$stub" "-DTRT_OUT_DIR=$build/out"
     -DCMAKE_C_COMPILER=/usr/bin/gcc -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DTRT_PLATFORM_ID=x86_64
     -DCUDA_VERSION=13.0 -DBUILD_PARSERS=OFF -DBUILD_SAMPLES=OFF)
echo "\$ ${cfg[*]}"
t0=$(date +%s)
"${cfg[@]}"; rc=$?
echo "configure exit status $rc after $(( $(date +%s) - t0 )) s"
if [ $rc -ne 0 ]; then echo "=== $LABEL: CONFIGURE FAILED"; exit 0; fi
if [ -n "${CONFIGURE_ONLY:-}" ]; then echo "=== $LABEL: CONFIGURED (configure only: no build)"; exit 0; fi
echo "\$ $CM --build $build --target $TARGET -- -j$(nproc)"
t0=$(date +%s)
for attempt in 1 2 3; do
  "$CM" --build "$build" --target "$TARGET" -- -j"$(nproc)" > "$build/make-$attempt.log" 2>&1; rc=$?
  grep -E "warning|error|undefined|Linking" "$build/make-$attempt.log" | sort | uniq -c | sort -rn | head -40
  [ $rc -eq 0 ] && break
  tail -30 "$build/make-$attempt.log"
  missing=$(grep -o "undefined reference to \`[^']*'" "$build/make-$attempt.log" | sed "s/.*\`//; s/'//" | sort -u)
  [ -z "$missing" ] && break
  echo "link attempt $attempt: undefined: $missing"; names="$names $missing"; make_stub
done
echo "build exit status $rc after $(( $(date +%s) - t0 )) s"
[ $rc -ne 0 ] && { echo "=== $LABEL: BUILD FAILED"; exit 0; }
ls -la "$build/out"
lib=$(ls "$build"/out/libnvinfer_plugin.so.*.*.* | head -1)
readelf -d "$lib" | grep -E "SONAME|NEEDED"
sha256sum "$lib"
echo "undefined, unversioned (imports from libnvinfer):"
nm -D --undefined-only --format=posix "$lib" | awk '$2 == "U" && $1 !~ /@/ {print "  " $1}' | sort
echo "fatbin: $(cuobjdump --list-elf "$lib" 2>/dev/null | awk -F. '{print $(NF-1)}' | sort | uniq -c | tr '\n' ' ') ptx: $(cuobjdump --list-ptx "$lib" 2>/dev/null | awk -F. '{print $(NF-1)}' | sort | uniq -c | tr '\n' ' ')"
grep -c -a MultiscaleDeformableAttnPlugin_TRT "$lib"
echo "=== $LABEL: OK"
} 2>&1 | tee "$OUT/$LABEL.log" | grep -v "^\[ *[0-9]*%\]"
