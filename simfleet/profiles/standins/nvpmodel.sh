#!/bin/sh
# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# Stand-in for NVIDIA's nvpmodel on a simulated Jetson (simfleet). The modes are those of
# /etc/nvpmodel.conf (`< POWER_MODEL ID=n NAME=x >`, `< PM_CONFIG DEFAULT=n >`); the chosen one is
# kept in /var/lib/nvpmodel/status as `pmode:NNNN` (without it: PM_CONFIG's default).
#   nvpmodel -q [--verbose]  `NV Power Mode: <NAME>` then the id (the format of @QUERY_SOURCE@);
#                            not root, it adds the errors of @NONROOT_SOURCE@
#   nvpmodel -m <id>         root only: sets the mode; nvpmodel writes the mode's MIN_FREQ values, so
#                            the clocks jetson_clocks pinned are let go (the jetson_clocks stand-in's
#                            state, /var/lib/simfleet/clocks, is dropped)
CONF=/etc/nvpmodel.conf
STATUS=/var/lib/nvpmodel/status
CLOCKS=/var/lib/simfleet/clocks
name_of() {
    sed -n "s/^[[:space:]]*<[[:space:]]*POWER_MODEL[[:space:]][[:space:]]*ID=$1[[:space:]][[:space:]]*NAME=\([^[:space:]>]*\).*/\1/p" "$CONF"
}
current() {
    id=
    [ -r "$STATUS" ] && id=$(sed -n 's/^pmode:0*\([0-9][0-9]*\).*/\1/p' "$STATUS")
    [ -n "$id" ] || id=$(sed -n 's/^[[:space:]]*<[[:space:]]*PM_CONFIG[[:space:]][[:space:]]*DEFAULT=\([0-9]*\).*/\1/p' "$CONF")
    echo "$id"
}
fail() { echo "NVPM ERROR: $1" >&2; echo "NVPM ERROR: failed to set power mode!" >&2; exit 1; }
case $1 in
    -q|--query)
        id=$(current)
        echo "NV Power Mode: $(name_of "$id")"
        echo "$id"
        if [ "$(id -u)" != 0 ]; then
            grep '^NVPM ERROR' <<'EOF_NONROOT' >&2
@NONROOT@
EOF_NONROOT
        fi
        exit 0 ;;
    -m|--mode)
        [ "$(id -u)" = 0 ] || fail "Error opening $STATUS: 13"
        case $2 in ''|*[!0-9]*) fail "invalid mode '$2'" ;; esac
        [ -n "$(name_of "$2")" ] || fail "invalid power mode ID $2 (not in $CONF)"
        mkdir -p "${STATUS%/*}"
        printf 'pmode:%04d\n' "$2" >"$STATUS"
        rm -f "$CLOCKS"
        exit 0 ;;
    *)
        echo "usage: nvpmodel [-q | --query] [-m | --mode <mode>] (simulated fleet stand-in)" >&2
        exit 1 ;;
esac
