# Copyright: Contributors to the dsprov project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `provision` Python package the plugins of this collection run: it must be installed in the
Python that runs Ansible on the controller. When it is not, the plugins load anyway and say, in one
line, what to install."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.plugins.callback import CallbackBase

DISTRIBUTION = "deepstream-provision"
WHEEL = "deepstream_provision-*.whl"  # the wheel's file name (the distribution name, normalized)


def missing_message() -> str:
    """What to install, and how: the package is on no index, so from its wheel, built from a checkout."""
    return (f"dsprov.deepstream needs the Python package {DISTRIBUTION} in the Python that runs Ansible; "
            f"it is on no package index: build its wheel from a checkout of dsprov "
            f"(python3 -m pip wheel --no-deps -w dist CHECKOUT) and install it into this Python "
            f"({sys.executable} -m pip install dist/{WHEEL})")


def _plugins() -> Any:
    """provision.ansible_plugins, or None when the provision package is not installed."""
    try:
        return importlib.import_module("provision.ansible_plugins")
    except ModuleNotFoundError as exc:
        if exc.name != "provision":
            raise
        return None


class MissingPackageAction(ActionBase):
    """Fails the task with what to install."""

    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"failed": True, "changed": False, "msg": missing_message()}


class MissingPackageCallback(CallbackBase):
    """Says what to install, once, when the play starts."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._display.warning(missing_message())


def action_class(name: str) -> type[ActionBase]:
    """The action class `name` of provision.ansible_plugins (or MissingPackageAction)."""
    plugins = _plugins()
    return getattr(plugins, name) if plugins else MissingPackageAction


def callback_class(name: str) -> type[CallbackBase]:
    """The callback class `name` of provision.ansible_plugins (or MissingPackageCallback)."""
    plugins = _plugins()
    return getattr(plugins, name) if plugins else MissingPackageCallback
