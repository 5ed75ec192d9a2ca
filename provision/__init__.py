# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Provision NVIDIA Jetson and x86 GPU hosts for DeepStream inference."""

__version__ = "0.2.0"
