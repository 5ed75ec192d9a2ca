# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The NVIDIA stack under DeepStream on a bare x86 host or a Jetson without JetPack's components
(`--deepstream VERSION`, `dsprov_deepstream`).

What NVIDIA's host-provisioning playbook does (NVIDIA/DeepStream v9.1.0,
tools/deepstream-host-provisioning: the CUDA repository's keyring, the driver with its pinning
package, CUDA, cuDNN, TensorRT, reboot), at the versions matrix/nvidia_stack.yml gives for the
release, checked before anything is installed: the planner (provision/nvidia_stack/apt_plan.py)
refuses an unsupported pair (Ubuntu, GPU, CUDA) and a host with another DeepStream or TensorRT
unless `--replace-stack`. Every TensorRT package is pinned to one version and held.

A new driver runs only after a reboot: the `nvidia-driver` step installs it and records the boot
id; without `--reboot` the run stops there with one line, and the next run (after a reboot, seen
as a changed boot id or the driver's module loaded) goes on. With `--reboot` the `reboot` step
reboots the host and waits for it to come back, as Ansible's reboot module does (a new boot id).
Once the stack steps ran, the plugin, pyds and engines are planned on the installed stack in the
same run: the plan's `stop` says that they wait, and the executor (provision/provisioner.py) probes
the host again and plans the rest under the same lock; a dry run or check mode shows the stack's
steps and that line. Rollback removes what the tool installed (DeepStream, TensorRT, cuDNN, the CUDA
toolkit, with what they brought) and keeps the driver and the repository's keyring, saying why.

On a Jetson the driver is L4T's: one `nvidia-stack` step adds NVIDIA's L4T apt repository and
installs JetPack's components, TensorRT (pinned, held), the prerequisites and DeepStream
(apt_plan.plan_jetson); rollback keeps the repository's sources list and key, saying why.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from provision.core.capability import Capability, Planning
from provision.core.plan import PlanRefused
from provision.core.step import Step, StepContext
from provision.errors import StepFailed
from provision.facts import Sections, split_sections
from provision.matrix import Stack, Status
from provision.matrix.nvidia import JetsonStackRow, StackRow
from provision.nvidia_stack.apt_plan import (APT, Phase, StackOptions, StackPlan, StackRefused, plan_jetson,
                                             plan_stack)
from provision.nvidia_stack.facts import PROBE, NvidiaFacts, nvidia_facts, parse_holds, parse_packages
from provision.outcomes import Outcome
from provision.state import State, read_state, write_state

KEY = "nvidia_stack"  # its record in the state file
READ = ("dpkg-query -W -f '${db:Status-Abbrev}\\t${Package}\\t${Version}\\n' 2>/dev/null;"
        " echo '-- boot'; cat /proc/sys/kernel/random/boot_id; echo '-- module';"
        " cat /sys/module/nvidia/version 2>/dev/null; echo '-- l4t'; cat /etc/apt/sources.list.d/nvidia-l4t-apt-source.list"
        " 2>/dev/null; true")
REBOOT_WAIT = 900  # seconds a rebooted host may take to answer again (ansible.builtin.reboot's default 600)
REST = "the plugin, pyds and engines are planned after the stack's install, in the same run, on the installed stack"
KEPT = ("the driver and the CUDA repository's keyring are kept: a running host's GPU needs its driver, and removing"
        " it takes effect only at the next boot (remove them with apt-get if wanted)")
KEPT_JETSON = ("the L4T apt repository's sources list and key are kept: a flashed Jetson has them from L4T itself"
               " (its nvidia-l4t-apt-source package), and L4T's own updates come from that repository")


def observe(sections: Sections) -> NvidiaFacts:
    return nvidia_facts(sections.texts)


def read_now(ctx: StepContext, gpus: tuple = ()) -> NvidiaFacts:
    """The packages, holds, boot id and loaded module, asked of the host now."""
    out = ctx.sh(READ).stdout
    packages, _, rest = out.partition("-- boot\n")
    boot, _, rest = rest.partition("-- module\n")
    module, _, l4t = rest.partition("-- l4t\n")
    return NvidiaFacts(gpus, parse_packages(packages), parse_holds(packages), boot.strip() or None,
                       module.strip() or None, l4t if l4t.strip() else None)


def _done(facts: NvidiaFacts, phase: Phase) -> bool:
    if phase.name == "l4t-repository":  # its printf writes the sources list's lines
        return (facts.l4t_sources or "").strip() == shlex.split(phase.commands[-2])[2].strip()
    if phase.name == "hold":
        return all(name in facts.held for name in phase.commands[0].split()[2:])
    if phase.name == "remove":
        return not any(name in facts.packages for name in phase.commands[-1].split()[4:])
    for wanted in phase.installs:
        name, _, version = wanted.partition("=")
        if name not in facts.packages or (version and facts.packages[name] != version):
            return False
    return True


@dataclass
class InstallPhases(Step):
    """Phases of the stack's install (the driver's, or the rest), each skipped when done."""

    stack: StackPlan
    phases: tuple[Phase, ...]
    name: str = "nvidia-stack"
    interruptible = False

    def summary(self) -> str:
        row = self.stack.row
        parts = ", ".join(f"{p.name} ({len(p.installs)})" if p.installs else p.name for p in self.phases)
        return f"DeepStream {row.deepstream}'s NVIDIA stack on {self.stack.target}: {parts}"

    def describe(self) -> list[str]:
        return [c for phase in self.phases for c in phase.commands]

    def _now(self, ctx: StepContext) -> NvidiaFacts:
        seen = ctx.observed.view(KEY) if ctx.observed else None
        return seen if isinstance(seen, NvidiaFacts) else read_now(ctx, (self.stack.gpu,))

    def check(self, ctx: StepContext) -> str | None:
        now = self._now(ctx)
        if all(_done(now, phase) for phase in self.phases):
            return f"{', '.join(p.name for p in self.phases)}: in place"
        return None

    def apply(self, ctx: StepContext) -> None:
        before = read_now(ctx)
        state = dict(ctx.state)
        record = dict(state.get(KEY) or {})
        installed = list(record.get("installed", []))
        for phase in self.phases:
            if _done(before, phase):
                continue
            new = [w.partition("=")[0] for w in phase.installs if w.partition("=")[0] not in before.packages]
            installed += [n for n in new if n not in installed]
            record.update({"deepstream": str(self.stack.row.deepstream), "installed": installed})
            if phase.name == "hold":
                record["held"] = sorted(set(record.get("held", [])) | set(phase.commands[0].split()[2:]))
            if phase.name == "driver" and isinstance(self.stack.row, StackRow):
                record["driver"] = self.stack.row.driver.version
                record["driver_boot"] = before.boot_id
            if isinstance(self.stack.row, JetsonStackRow):
                record["platform"] = "jetson"
            state[KEY] = record
            write_state(ctx, state)  # before the change: a run killed half-way is rolled back all the same
            for command in phase.commands:
                ctx.sh(command, sudo=True, stream=True, timeout=3600)
            if phase.installs and phase.name != "driver":  # and what came with them (a metapackage's dependencies)
                now = read_now(ctx)
                installed += [n for n in now.packages if n not in before.packages and n not in installed]
                record["installed"] = installed
                write_state(ctx, state)

    def verify(self, ctx: StepContext) -> None:
        now = read_now(ctx)
        missing = [p.name for p in self.phases if not _done(now, p)]
        if missing:
            raise StepFailed(f"{ctx.runner.host}: after the install, not in place: {', '.join(missing)}")


@dataclass
class Reboot(Step):
    """Reboot the host and wait for it to answer with a new boot id (as ansible.builtin.reboot)."""

    why: str
    name = "reboot"

    def summary(self) -> str:
        return f"reboot the host and wait for it ({self.why})"

    def describe(self) -> list[str]:
        return ["reboot", "(wait for a new /proc/sys/kernel/random/boot_id)"]

    def check(self, ctx: StepContext) -> str | None:
        return None

    def apply(self, ctx: StepContext) -> None:
        before = read_now(ctx).boot_id
        ctx.sh("reboot", sudo=True, check=False)
        deadline = time.monotonic() + REBOOT_WAIT
        while time.monotonic() < deadline:
            time.sleep(2)
            try:
                result = ctx.runner.run("cat /proc/sys/kernel/random/boot_id", timeout=30)
            except Exception:  # the connection went with the old boot; the runner opens a new one
                continue
            if result.ok and result.stdout.strip() and result.stdout.strip() != before:
                ctx.notes.append(f"rebooted ({self.why})")
                return
        raise StepFailed(f"{ctx.runner.host}: did not come back within {REBOOT_WAIT}s of the reboot")


@dataclass
class RemoveStack(Step):
    """`rollback`: the packages the stack's install added, less the driver and the keyring."""

    record: dict
    outcome: Outcome | None = field(default=None, init=False)
    name = "remove-nvidia-stack"
    main_product = True

    @property
    def removes(self) -> list[str]:
        keep = ("nvidia-driver-pinning-", "nvidia-open-", "cuda-drivers-", "cuda-keyring")
        return [n for n in self.record.get("installed", []) if not n.startswith(keep)]

    @property
    def kept(self) -> str:
        return KEPT_JETSON if self.record.get("platform") == "jetson" else KEPT

    def summary(self) -> str:
        return (f"remove what --deepstream {self.record.get('deepstream')} installed ({len(self.removes)} packages);"
                f" {self.kept}")

    def describe(self) -> list[str]:
        held = self.record.get("held", [])
        return ([f"apt-mark unhold {' '.join(held)}"] if held else []) + [f"{APT} remove -y {' '.join(self.removes)}"]

    def check(self, ctx: StepContext) -> str | None:
        return None if ctx.state.get(KEY) else "nothing to roll back: the state file records no --deepstream install"

    def apply(self, ctx: StepContext) -> None:
        for command in self.describe():
            ctx.sh(command, sudo=True, stream=True, timeout=3600)
        state = read_state(ctx, sudo=True)
        write_state(ctx, {k: v for k, v in state.items() if k != KEY})
        self.outcome = Outcome.RESTORED
        ctx.notes.append(f"removed {len(self.removes)} packages of DeepStream {self.record.get('deepstream')}'s stack;"
                         f" {self.kept}")

    def verify(self, ctx: StepContext) -> None:
        left = [n for n in self.removes if n in read_now(ctx).packages]
        if left:
            raise StepFailed(f"{ctx.runner.host}: still installed after the rollback: {', '.join(left)}")


def rollback_steps(state: Mapping[str, Any]) -> list[Step]:
    record = state.get(KEY)
    return [RemoveStack(dict(record))] if record else []


def stack_options(p: Planning, version: str) -> StackOptions:
    settings, flags = p.options.settings, p.options.flags
    return StackOptions(Version(version), replace=flags.replace_stack, reboot=flags.reboot,
                        repository=settings.cuda_repo, keyring_sha256=settings.cuda_keyring_sha256,
                        deepstream_url=(settings.deepstream_debs or {}).get(version),
                        l4t_repository=settings.l4t_repo, l4t_key_sha256=settings.l4t_key_sha256)


def checked(p: Planning, stack: StackPlan) -> None:
    """The checker runs first, as for everything else: the stack to be installed, read against the
    matrix (deepstream.yml's requirements for the release); a FAIL refuses the plan."""
    row = stack.row
    if isinstance(row, JetsonStackRow):
        planned = Stack(platform="jetson", jetpack=row.jetpack, deepstream=row.deepstream,
                        tensorrt=row.tensorrt_version, cuda=row.cuda, ubuntu=Version(row.ubuntu))
    else:
        assert stack.gpu_row is not None
        planned = Stack(platform=row.platform, deepstream=row.deepstream, tensorrt=row.tensorrt_version, cuda=row.cuda,
                        ubuntu=Version(row.ubuntu), driver=Version(row.driver.version),
                        compute_caps=(stack.gpu_row.compute_capability,))
    failed = [v for v in p.matrix.check(planned) if v.status is Status.FAIL]
    if failed:
        raise PlanRefused(f"{p.host}: DeepStream {row.deepstream}'s stack: "
                          + "; ".join(v.reason + (f" (fix: {v.fix})" if v.fix else "") for v in failed))


def plan_on_jetson(p: Planning, facts: NvidiaFacts, version: str) -> None:
    """JetPack's components, TensorRT (pinned, held), the prerequisites and DeepStream from the L4T
    apt repository: no driver (L4T's), so no reboot."""
    hf = p.detection.facts
    jetson = hf.jetson
    try:
        stack = plan_jetson(facts, p.matrix.nvidia, stack_options(p, version), l4t=jetson.l4t if jetson else None,
                            soc=jetson.soc if jetson else None,
                            ubuntu=hf.os_version if hf.os_id == "ubuntu" else None)
    except StackRefused as refused:
        raise PlanRefused(f"{p.host}: {refused.reason} (fix: {refused.fix})") from None
    checked(p, stack)
    p.plan.notes.extend(stack.notes)
    if stack.phases:
        p.plan.add(f"DeepStream {stack.row.deepstream}'s JetPack components, TensorRT (pinned, held) and DeepStream",
                   InstallPhases(stack, stack.phases))
        p.plan.stop = REST


def plan(p: Planning) -> None:
    """--deepstream VERSION: the stack's steps first; the rest of the plan after them (the same run,
    unless a reboot must come first)."""
    version = p.options.flags.deepstream or p.options.settings.deepstream
    if not version:
        return
    sections = split_sections(p.detection.capture)
    facts, hf = observe(sections), p.detection.facts
    if hf.platform == "jetson":
        plan_on_jetson(p, facts, version)
        return
    record = State.parse(p.host, sections["dsprov_state"], strict=False).record(KEY)
    try:
        stack = plan_stack(facts, p.matrix.nvidia, stack_options(p, version), platform=hf.platform,
                           machine=hf.arch, ubuntu=hf.os_version if hf.os_id == "ubuntu" else None,
                           installed_in_boot=record.get("driver_boot"))
    except StackRefused as refused:
        raise PlanRefused(f"{p.host}: {refused.reason} (fix: {refused.fix})") from None
    checked(p, stack)
    p.plan.notes.extend(stack.notes)
    row, gpu = stack.row, stack.gpu_row
    assert isinstance(row, StackRow) and gpu is not None
    first = tuple(ph for ph in stack.phases if ph.name in ("remove", "repository", "driver"))
    rest = tuple(ph for ph in stack.phases if ph not in first)
    reboot = p.options.flags.reboot
    why = f"DeepStream {row.deepstream} needs driver {row.driver.version} ({gpu.name}," \
          f" {'open' if stack.open_modules else 'proprietary'} kernel modules)"
    if first:
        p.plan.add(why, InstallPhases(stack, first, name="nvidia-driver"))
    elif stack.reboot_needed and not reboot:
        raise PlanRefused(f"{p.host}: the NVIDIA driver {row.driver.version} is installed but not running:"
                          " reboot the host (or pass --reboot), then run again")
    if stack.reboot_needed:
        if not reboot:
            p.plan.stop = ("the run stops after the driver: reboot the host (or pass --reboot), then run again"
                           " for CUDA, cuDNN, TensorRT, DeepStream, the plugin, pyds and engines")
            p.plan.continues = False
            return
        p.plan.add("the new driver runs only after a reboot", Reboot(f"driver {row.driver.version}"))
    if rest:
        p.plan.add(f"DeepStream {stack.row.deepstream}'s CUDA, cuDNN, TensorRT (pinned, held) and DeepStream",
                   InstallPhases(stack, rest))
    if p.plan.steps:
        p.plan.stop = REST


CAPABILITY = Capability("nvidia_stack", probe=PROBE, observe=observe, plan=plan,
                        rollback=lambda state, survey: rollback_steps(state))
