# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runners carry out commands on a host: locally, over SSH, or over an Ansible action plugin's
connection (runners/ansible.py, imported by the plugins only); the host lock (runners/lock.py)."""

from provision.inventory import HostSpec
from provision.runners.base import Result, Runner, WrongSudoPassword
from provision.runners.local import LocalRunner


def runner_for(spec: HostSpec) -> Runner:
    """The runner an inventory host asks for: local for `ansible_connection=local`, else SSH (Fabric
    and paramiko imported here: the Ansible plugins and local runs never load them)."""
    if spec.connection == "local":
        return LocalRunner(spec.name, spec.become_password)
    from provision.runners.ssh import SSHRunner

    return SSHRunner(spec)


__all__ = ["LocalRunner", "Result", "Runner", "WrongSudoPassword", "runner_for"]
