#!/usr/bin/python
# Copyright: Contributors to the dsprov project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Documentation of the action dsprov.deepstream.provision (plugins/action/provision.py does the work)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: provision
short_description: Build the TensorRT OSS plugin for a DeepStream host and swap it in
description:
  - Detects the host, checks it against dsprov's version matrix, plans and runs the steps
    (cmake, TensorRT OSS build or NVIDIA's prebuilt library, plugin swap, pyds, engines) over the
    play's connection, exactly as C(dsprov provision) of the Python package deepstream-provision.
  - Builds run once per key on the controller's cache and are copied to hosts that share it.
version_added: 0.1.0
extends_documentation_fragment:
  - dsprov.deepstream.controller
  - dsprov.deepstream.controller.gpu_archs
options:
  trt_oss_ref:
    description:
      - Override the TensorRT OSS branch or tag the matrix names.
    type: str
  force:
    description:
      - Build even where the guides say the OSS build is not needed; replace a plugin library that is
        neither the original nor dsprov's build (kept for rollback); allow a GPU_ARCHS override the GPU cannot run.
    type: bool
    default: false
  cmake_from_source:
    description:
      - Build cmake from its source release on the host instead of pushing a binary archive.
    type: bool
    default: false
  skip_pyds:
    description:
      - Leave the DeepStream Python bindings out.
    type: bool
    default: false
  skip_engines:
    description:
      - Do not rebuild stale TensorRT engines after the swap.
    type: bool
    default: false
  skip_models:
    description:
      - Do not write the dsprov_models nvinfer configs (nor build their parser library).
    type: bool
    default: false
  plugin_source:
    description:
      - Where the plugin library comes from. V(auto) takes NVIDIA's prebuilt library where the guide
        is binary-only and builds elsewhere.
    type: str
    default: auto
    choices: [auto, prebuilt, build]
  build_on:
    description:
      - Where the plugin is built. V(auto) cross-builds on the controller for JetPack >= 7 when its
        cross toolchain works, and builds on the host otherwise; V(controller) refuses a host it cannot build for.
    type: str
    default: auto
    choices: [auto, controller, host]
  max_clocks:
    description:
      - Jetson only. Set the maximum power mode with C(nvpmodel) (MAXN, read from C(/etc/nvpmodel.conf))
        and pin the clocks with C(jetson_clocks), also at every boot (a systemd unit); the mode and
        clocks before are kept, and M(dsprov.deepstream.rollback) restores them.
    type: bool
    default: false
  deepstream:
    description:
      - Install this DeepStream release's NVIDIA stack first (x86, Ubuntu; C(matrix/nvidia_stack.yml)) -
        NVIDIA's CUDA repository keyring, the driver with its pinning package (open kernel modules where
        the GPU supports them), the CUDA toolkit, cuDNN, every TensorRT package pinned and held, and
        DeepStream. On a Jetson, JetPack's components from NVIDIA's L4T apt repository (the driver is
        L4T's). The plugin, pyds and engines follow on the next run.
    type: str
  reboot:
    description:
      - With O(deepstream), reboot the host after a new driver and wait for it, then go on; without it
        the run stops after the driver.
    type: bool
    default: false
  replace_stack:
    description:
      - With O(deepstream), remove another DeepStream or TensorRT found on the host (the plan lists
        exactly what) instead of refusing.
    type: bool
    default: false
  verbose:
    description:
      - Also print the host's facts, matrix verdicts and steps in the task's output, as
        C(dsprov provision --verbose) prints them.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing.
  diff_mode:
    support: full
    description: The plan, with its exact commands.
notes:
  - Use C(become) for the swap.
  - Enable the callback P(dsprov.deepstream.recap#callback) for one line per host after the play.
seealso:
  - module: dsprov.deepstream.detect
  - module: dsprov.deepstream.rollback
"""

EXAMPLES = r"""
- name: Detect, plan and provision
  dsprov.deepstream.provision:
  become: true

- name: Always build, for one GPU architecture
  dsprov.deepstream.provision:
    plugin_source: build
    gpu_archs: "53"
    force: true
  become: true
"""

RETURN = r"""
dsprov_report:
  description:
    - What happened on the host, an entry of the C(hosts) list of C(dsprov provision --json), the shape
      C(host_report) of the package's C(provision/schemas/common.schema.json).
  returned: always
  type: dict
  contains:
    host:
      description: The inventory host name.
      type: str
      returned: always
    result:
      description: V(ok), V(failed), V(refused), V(unreachable), V(planned) or V(cancelled).
      type: str
      returned: always
    outcome:
      description: V(built), V(fetched), V(copied), V(unchanged) or V(-).
      type: str
      returned: always
    changed:
      description: Whether a step changed the host.
      type: bool
      returned: always
    key:
      description: The build key (the cache entry the plugin library came from).
      type: str
      returned: always
    seconds:
      description: How long the host took.
      type: float
      returned: always
    commands:
      description: Round trips to the host (commands run or held, files copied), as dsprov counts them.
      type: int
      returned: always
    message:
      description: One line about the host.
      type: str
      returned: always
    steps:
      description: Each step's C(name), C(status) (V(changed) or V(unchanged)) and C(detail).
      type: list
      elements: dict
      returned: always
    plan:
      description: The plan's lines, with their exact commands.
      type: list
      elements: str
      returned: always
    log:
      description: The host's log file on the controller.
      type: str
      returned: always
    device:
      description:
        - The host's C(platform), C(model) (Jetson model or GPU), C(jetpack), C(driver), C(cuda), C(tensorrt),
          C(deepstream) and C(gpu_archs), from the probe; null when the host was never probed.
      type: dict
      returned: always
ansible_facts:
  description: The detection, under C(dsprov), as M(dsprov.deepstream.detect) sets it (the C(dsprov detect --json) document).
  returned: success
  type: dict
msg:
  description: The report's message.
  returned: always
  type: str
"""
