# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated fleet of Jetson and x86 GPU hosts: chroots over cached Debian roots, one real sshd
each, with device profiles that lay down the files a real device has."""
