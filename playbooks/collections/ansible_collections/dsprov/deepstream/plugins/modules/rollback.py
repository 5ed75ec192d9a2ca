#!/usr/bin/python
# Copyright: Contributors to the dsprov project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Documentation of the action dsprov.deepstream.rollback (plugins/action/rollback.py does the work)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback
short_description: Restore a DeepStream host's original TensorRT plugin library
description:
  - Restores the original C(libnvinfer_plugin) (the same SHA-256) that M(dsprov.deepstream.provision)
    saved, from the host's state file, exactly as C(dsprov rollback) of the Python package
    deepstream-provision.
  - On a Jetson provisioned with O(dsprov.deepstream.provision#module:max_clocks), also sets the power
    mode from before again, restores the clocks C(jetson_clocks --store) saved and removes the boot unit.
version_added: 0.1.0
extends_documentation_fragment:
  - dsprov.deepstream.controller
options: {}
attributes:
  check_mode:
    support: full
    description: Reports whether a restore would happen and changes nothing.
  diff_mode:
    support: none
    description: Nothing to compare.
notes:
  - Use C(become).
seealso:
  - module: dsprov.deepstream.provision
"""

EXAMPLES = r"""
- name: Restore the original plugin library
  dsprov.deepstream.rollback:
  become: true
"""

RETURN = r"""
dsprov_report:
  description:
    - What happened on the host, the entry C(dsprov rollback --json) reports in C(hosts) (C(outcome) V(restored)
      when it changed); its fields are those of M(dsprov.deepstream.provision)'s C(dsprov_report).
  returned: always
  type: dict
msg:
  description: The report's message.
  returned: always
  type: str
"""
