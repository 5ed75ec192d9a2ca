# Copyright: Contributors to the dsprov project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action dsprov.deepstream.detect (documented in plugins/modules/detect.py): runs on the controller,
reaching the host through the play's connection; the work is the `provision` package's DetectAction."""

from __future__ import annotations

from ansible_collections.dsprov.deepstream.plugins.plugin_utils.provision_package import action_class

ActionModule = action_class("DetectAction")
