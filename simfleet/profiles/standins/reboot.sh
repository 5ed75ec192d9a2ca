#!/bin/sh
# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
# Stand-in of reboot(8) on a simulated device whose profile says `reboot: true` (simfleet/device.py):
# the device's boot loop then ends every process, empties /run, changes the boot id and starts sshd
# again. Like reboot(8) it returns at once; the connection that ran it drops a moment later.
if [ "$(id -u)" != 0 ]; then
    echo "Call with root privileges" >&2   # authored wording
    exit 1
fi
: > /run/dsprov-reboot
(sleep 1; kill -TERM "$(cat /run/dsprov-sshd.pid)") </dev/null >/dev/null 2>&1 &
