# Copyright: Contributors to the dsprov project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Callback dsprov.deepstream.recap: the `provision` package's RecapCallback."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: recap
type: aggregate
short_description: One line per host with what dsprov did
description:
  - After the play, a DSPROV RECAP table, one line per host (unreachable hosts included), with the
    result, outcome, build key, whether the host changed, the time, the round trips to the host
    (commands run or held, files copied) and the message of
    M(dsprov.deepstream.provision) and M(dsprov.deepstream.rollback).
  - With the extra var C(dsprov_report_out=FILE) (C(-e)), it then writes the fleet page of the play's
    hosts to FILE (one offline HTML file, as C(dsprov report) writes it from the run records).
version_added: 0.1.0
author:
  - dsprov maintainers (!UNKNOWN)
requirements:
  - deepstream-provision (Python package) on the controller
  - enabled, in ansible.cfg (C(callbacks_enabled = dsprov.deepstream.recap)) or with C(ANSIBLE_CALLBACKS_ENABLED)
"""

# after the documentation, as ansible-test's validate-modules wants (import-before-documentation)
from ansible_collections.dsprov.deepstream.plugins.plugin_utils.provision_package import callback_class  # noqa: E402

CallbackModule = callback_class("RecapCallback")
