# Copyright: Contributors to the dsprov project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Documentation the dsprov.deepstream actions share."""

from __future__ import annotations


class ModuleDocFragment:
    """An action that runs the provision package on the controller and only sh on the host."""

    DOCUMENTATION = r"""
---
author:
  - dsprov maintainers (!UNKNOWN)
requirements:
  - deepstream-provision (Python package) in the Python that runs Ansible on the controller
notes:
  - An action plugin on the controller; the host needs C(sh) and no Python.
  - The host's C(dsprov_*) variables are its settings, as for the C(dsprov) command.
  - An option the task does not set is the host's C(dsprov_<option>) variable when it has one
    (C(-e dsprov_force=true)); the collection's playbooks set none, so that no host's worker templates them.
attributes:
  platform:
    support: full
    platforms: posix
    description: Jetson (L4T) and x86 Linux hosts.
"""

    GPU_ARCHS = r"""
---
options:
  gpu_archs:
    description:
      - Override GPU_ARCHS, for example C(53) or C(75 86).
    type: str
"""
