#!/usr/bin/python
# Copyright: Contributors to the dsprov project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Documentation of the action dsprov.deepstream.detect (plugins/action/detect.py does the work)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: detect
short_description: Detect a DeepStream host's platform, versions and GPU_ARCHS in one probe round trip
description:
  - Runs dsprov's probe (POSIX sh, no Python needed on the host) over the play's connection and
    sets the facts as host facts, C(ansible_facts.dsprov), for later tasks.
  - The same probe and analysis as C(dsprov detect) of the Python package deepstream-provision.
version_added: 0.1.0
extends_documentation_fragment:
  - dsprov.deepstream.controller
  - dsprov.deepstream.controller.gpu_archs
attributes:
  check_mode:
    support: full
    description: Detection changes nothing; it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing to compare.
seealso:
  - module: dsprov.deepstream.provision
"""

EXAMPLES = r"""
- name: Probe the host
  dsprov.deepstream.detect:

- name: Probe with an explicit GPU_ARCHS override
  dsprov.deepstream.detect:
    gpu_archs: "53"
"""

RETURN = r"""
ansible_facts:
  description: The detection, under C(dsprov).
  returned: success
  type: dict
  contains:
    dsprov:
      description:
        - The document C(dsprov detect --json) prints (C(schema_version), C(command), C(host), C(facts),
          C(gpu_archs), C(verdicts), the worst verdict C(matrix) and C(build), where C(--build-on auto) would
          build the plugin library and the controller's cross toolchain check); its shape is the package's
          C(provision/schemas/detect.schema.json).
      type: dict
      returned: success
msg:
  description: One line, the platform, TensorRT, GPU_ARCHS and the worst matrix verdict.
  returned: always
  type: str
"""
