# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's recap callback (collections/.../plugins/callback/recap.py), always on for the
playbooks of a checkout: plugins beside a playbook load without configuration."""

from ansible_collections.dsprov.deepstream.plugins.callback.recap import CallbackModule

__all__ = ["CallbackModule"]
