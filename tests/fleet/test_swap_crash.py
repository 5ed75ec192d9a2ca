# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A controller that dies in the middle of the plugin swap leaves the host safe, and the next run
repairs it.

The swap runs for real against the simulated T4 server; the runner stops dead (raises, like a
killed controller whose SSH session drops) before its k-th action that changes the host (a sudo
command, a file copy, or an action of the swap's one command, which then ends there), for every k
the swap has. After each crash the library that
`libnvinfer_plugin.so.8` resolves to must load and be either the original or the build, and the
original's bytes must still be on the host (in place or saved); then a normal provision must
finish the swap, and rollback must give back the original.
"""

import shlex
import subprocess

import pytest

from provision.artifacts import ArtifactStore
from provision.capabilities.plugin_swap import APPLY_SCRIPT
from provision.detect import analyse, capture
from provision.inventory import Inventory
from provision.matrix import Matrix
from provision.options import Flags, Settings
from provision.plan import make_plan, plan_options
from provision.provisioner import HostReport, provision_host, rollback_host, run_plan
from provision.runners import runner_for
from provision.state import SAVED_DIR, read_state
from provision.runners.base import FileOps
from provision.core.step import GIT_STALL_WATCH, StepContext

pytestmark = pytest.mark.fleet
HOST = "t4-01"
LIB_DIR = "/usr/lib/x86_64-linux-gnu"
LIB = f"{LIB_DIR}/libnvinfer_plugin.so.8.0.1"


class Crash(BaseException):
    """The controller 'dies': nothing in the tool may catch this."""


class CrashingRunner(FileOps):
    """A real runner that stops before its `at`-th host-changing action (None: never), counting them
    (its file operations go through its own run and put)."""

    def __init__(self, inner, at: int | None) -> None:
        self.inner, self.at, self.actions = inner, at, 0
        self.host = inner.host

    def _action(self) -> None:
        if self.actions == self.at:
            raise Crash
        self.actions += 1

    def run(self, command, *, sudo=False, **kwargs):
        env, _, own = command.rpartition(GIT_STALL_WATCH + "\n")  # StepContext.env, then the step's command
        script = shlex.split(own)[-1] if sudo and own.startswith("sh -c ") else ""
        if script.startswith(APPLY_SCRIPT):  # the swap's one command: an action a line
            actions = script[len(APPLY_SCRIPT):].splitlines()
            done = actions[: max(0, self.at - self.actions)] if self.at is not None else actions
            result = self.inner.run(f"{env}{GIT_STALL_WATCH}\nsh -c {shlex.quote(APPLY_SCRIPT + chr(10).join(done))}",
                                    sudo=True, **kwargs)
            self.actions += len(done)
            if len(done) < len(actions):
                raise Crash  # the controller died, its session's command with it, between two actions
            return result
        if sudo:
            self._action()
        return self.inner.run(command, sudo=sudo, **kwargs)

    def put(self, local, remote):
        self._action()
        self.inner.put(local, remote)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def sh(fleet, command: str) -> str:
    return subprocess.run([*fleet.ssh_command(HOST), command], capture_output=True, text=True, timeout=120).stdout


def sha(fleet, path: str) -> str | None:
    out = sh(fleet, f"sha256sum {path} 2>/dev/null")
    return out.split()[0] if out else None


def swap_once(inventory: Inventory, at: int | None) -> int:
    """Run the plan's steps against HOST through a runner that crashes before action `at`;
    return how many actions it carried out."""
    spec = inventory.host(HOST)
    inner = runner_for(spec)
    try:
        matrix = Matrix.load()
        detection = analyse(HOST, capture(inner, Settings.read(spec.vars).build_dir), None, matrix)
        plan = make_plan(detection, matrix, plan_options(Settings.read(spec.vars)), ArtifactStore())
        runner = CrashingRunner(inner, at)
        ctx = StepContext(runner, detection.facts)
        ctx.state = read_state(ctx)
        try:
            run_plan(plan, ctx, HostReport(HOST), lambda step: None)
        except Crash:
            pass
        return runner.actions
    finally:
        inner.close()


def test_crash_between_any_two_swap_actions_is_safe_and_repaired(fleet):
    inventory = Inventory(fleet.inventory)
    matrix, store = Matrix.load(), ArtifactStore()
    rollback_host(HOST, str(fleet.inventory))  # from stock, whatever earlier tests left installed
    original = sha(fleet, LIB)
    # One whole provision first: cmake is installed and the build cached, so the plan's only
    # host-changing actions are the swap's.
    first = provision_host(HOST, inventory, Flags(), matrix, store)
    assert first.result == "ok", first.message
    built = sha(fleet, LIB)
    assert built != original
    assert rollback_host(HOST, str(fleet.inventory)).outcome == "restored"
    assert sha(fleet, LIB) == original

    total = swap_once(inventory, None)
    assert total >= 7, total  # copy; then one command: save, check the copy, state, divert, swap, state
    assert sha(fleet, LIB) == built
    rollback_host(HOST, str(fleet.inventory))

    for at in range(total):
        assert swap_once(inventory, at) == at
        target = sh(fleet, f"readlink -f {LIB_DIR}/libnvinfer_plugin.so.8").strip()
        assert sha(fleet, target) in (original, built), (at, target)
        loads = subprocess.run([*fleet.ssh_command(HOST), f"/lib64/ld-linux-x86-64.so.2 --list {target}"],
                               capture_output=True, text=True)
        assert loads.returncode == 0 and "not found" not in loads.stdout, (at, loads.stdout)
        assert original in (sha(fleet, LIB), sha(fleet, f"{SAVED_DIR}/libnvinfer_plugin.so.8.0.1")), at

        repaired = provision_host(HOST, inventory, Flags(), matrix, store)
        assert repaired.result == "ok" and sha(fleet, LIB) == built, (at, repaired.message)
        assert sh(fleet, f"readlink -f {LIB_DIR}/libnvinfer_plugin.so.8").strip() == LIB
        assert rollback_host(HOST, str(fleet.inventory)).outcome == "restored", at
        assert sha(fleet, LIB) == original, at
        assert sh(fleet, f"ls {SAVED_DIR}; dpkg-divert --listpackage {LIB}").strip() == "", at
