# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The NVIDIA stack under DeepStream on a bare host (`provision --deepstream`): the probe's part
and its parser (facts.py), and the pure planner of the apt commands (apt_plan.py)."""
