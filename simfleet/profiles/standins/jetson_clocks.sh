#!/bin/sh
# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# Stand-in for NVIDIA's jetson_clocks on a simulated Jetson (simfleet). The device's clock settings
# (what the real script reads from and writes to sysfs) are kept in /var/lib/simfleet/clocks, in
# the `path:value` lines `--store` writes; without that file they are the defaults of the profile.
#   jetson_clocks            pins the clocks: the settings become @PINNED_SOURCE@
#   jetson_clocks --show     @SHOW_SOURCE@; pinned, each MinFreq and CurrentFreq is its MaxFreq, idle
#                            states off, EMC FreqOverride=1 (what the pinned settings set); last
#                            the `NV Power Mode` line of `nvpmodel -q`, as the script prints it
#   jetson_clocks --store [file] / --restore [file]   save and load the settings (default
#                            ${HOME}/l4t_dfs.conf); --store asks before overwriting, --restore
#                            fails without the file, with the messages of NVIDIA's script
# Not root, it refuses like the script. Defaults: @DEFAULTS_SOURCE@.
CLOCKS=/var/lib/simfleet/clocks
defaults() {
    cat <<'EOF_DEFAULTS'
@DEFAULTS@
EOF_DEFAULTS
}
pinned() {
    cat <<'EOF_PINNED'
@PINNED@
EOF_PINNED
}
show() {
    cat <<'EOF_SHOW'
@SHOW@
EOF_SHOW
}
settings() { if [ -r "$CLOCKS" ]; then cat "$CLOCKS"; else defaults; fi; }
if [ "$(id -u)" != 0 ]; then
    echo "Error: Run this script($0) as a root user"
    exit 1
fi
file=${2:-${HOME}/l4t_dfs.conf}
case $1 in
    '')
        mkdir -p "${CLOCKS%/*}"
        pinned >"$CLOCKS" ;;
    --show)
        if [ "$(settings)" = "$(pinned)" ]; then
            show | sed -e 's/MinFreq=[0-9]* MaxFreq=\([0-9]*\) CurrentFreq=[0-9]*/MinFreq=\1 MaxFreq=\1 CurrentFreq=\1/' \
                       -e 's/WFI=1/WFI=0/; s/c7=1/c7=0/; s/FreqOverride=0/FreqOverride=1/'
        else
            show
        fi | grep -v '^NV Power Mode'
        if [ -e /usr/sbin/nvpmodel ] && [ -e /etc/nvpmodel.conf ]; then
            /usr/sbin/nvpmodel -q | grep "NV Power Mode"
        fi ;;
    --store)
        if [ -e "$file" ]; then
            printf 'File %s already exists. Can I overwrite it? Y/N:' "$file"
            read -r answer
            case $answer in
                y|Y) ;;
                *) echo "Error: file $file already exists!"; exit 1 ;;
            esac
        fi
        settings >"$file" ;;
    --restore)
        if [ ! -f "$file" ]; then
            echo "Error: $file file not found !"
            exit 1
        fi
        mkdir -p "${CLOCKS%/*}"
        cp "$file" "$CLOCKS" ;;
    --fan) ;;
    *)
        echo "Usage: $0 [--show | --store [file] | --restore [file] | --fan] (simulated fleet stand-in)"
        exit 1 ;;
esac
