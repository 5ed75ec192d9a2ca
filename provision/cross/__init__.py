# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cross builds on the controller: the x86 CUDA 13 toolkit and Debian's aarch64 cross compiler
build TensorRT OSS's plugin for JetPack 7 (SBSA-style CUDA 13) devices."""
