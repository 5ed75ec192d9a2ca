# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""DeepStream Python bindings (pyds), the pure parts: which wheel a host's python3 accepts
(wheel_tags.py) and how the wheel is built (build_spec.py). The capability (plan, steps, state
record) is provision/capabilities/pyds.py."""
