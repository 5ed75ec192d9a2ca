# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Jetson at full clocks (`--max-clocks`): the maximum power mode, clocks pinned, also at boot.

NVIDIA's way (L4T guides, e.g. "Power Management for Jetson Nano and Jetson TX1 Devices",
https://docs.nvidia.com/jetson/l4t/Tegra%20Linux%20Driver%20Package%20Development%20Guide/power_management_nano.html):
`sudo nvpmodel -m <id>` sets a power mode, which "persists across power cycles and SC7";
`sudo jetson_clocks` then pins CPU, GPU and EMC to the maximum that mode allows. jetson_clocks
only writes sysfs and keeps nothing across a reboot (its script: `--store`/`--restore` save and
load those values, nothing more). So a oneshot systemd unit runs it at every boot, after NVIDIA's
nvpmodel.service has set the mode (jetson_stats offers the same "jetson_clocks on boot",
https://github.com/rbonghi/jetson_stats jtop/core/jetson_clocks.py). The unit is enabled the way
`systemctl enable` does it, a link in multi-user.target.wants (systemctl(1)), which needs no
running systemd; systemd, where it runs, rereads its units.

Before any change the mode in force and `jetson_clocks --store <file>` are recorded; rollback sets
that mode again, `jetson_clocks --restore <file>` and removes the unit. `--store` asks "File ...
already exists. Can I overwrite it? Y/N:" on stdin when the file exists (and fails on any other
answer): it stores into a fresh file, stdin closed, so it never waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from provision.errors import StepFailed
from provision.facts.power import Clocks, JetsonPower, PowerModel, blocks, max_mode, parse_clocks_show, parse_nvpmodel_q
from provision.outcomes import Outcome
from provision.state import STATE_DIR, ObjectRecord, State, read_state, write_state
from provision.core.capability import Capability, Planning
from provision.core.step import Step, StepContext, q

UNIT = "dsprov-jetson-clocks.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
WANTS_LINK = f"/etc/systemd/system/multi-user.target.wants/{UNIT}"
STORED = f"{STATE_DIR}/l4t_dfs.conf"  # jetson_clocks --store: the clocks before the change
UNIT_TEXT = """\
[Unit]
Description=dsprov: pin the Jetson's clocks at boot (jetson_clocks)
After=nvpmodel.service

[Service]
Type=oneshot
ExecStart=/usr/bin/jetson_clocks

[Install]
WantedBy=multi-user.target
"""
RELOAD = "if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi"  # sd_booted(3)
FOLDERS = f"mkdir -p {q(WANTS_LINK.rsplit('/', 1)[0])}"
ENABLE = f"ln -sfn {q(UNIT_PATH)} {q(WANTS_LINK)} && {RELOAD}"
DISABLE = f"rm -f {q(WANTS_LINK)} {q(UNIT_PATH)} && {RELOAD}"
STORE = (f"mkdir -p {STATE_DIR} && rm -f {q(STORED + '.partial')} && jetson_clocks --store {q(STORED + '.partial')}"
         f" </dev/null && mv -f {q(STORED + '.partial')} {q(STORED)}")
READ = ("echo '-- nvpmodel -q'; nvpmodel -q 2>&1; echo '-- jetson_clocks --show'; jetson_clocks --show 2>&1;"
        f" echo '-- boot unit'; for f in {UNIT_PATH} {WANTS_LINK}; do [ -e $f ] && echo $f; done; true")


@dataclass(frozen=True)
class MaxClocksRecord(ObjectRecord):
    """The state file's "max_clocks": the power mode and stored clocks from before --max-clocks
    (what rollback puts back) and what it set."""

    KEY = "max_clocks"
    previous_mode: int | None = None
    previous_name: str | None = None
    stored: str | None = None  # jetson_clocks --store's file
    mode: int | None = None
    mode_name: str | None = None
    unit: str | None = None

    @property
    def previous(self) -> PowerModel:
        return PowerModel(int(str(self.previous_mode)), str(self.previous_name))


def set_mode_command(mode: PowerModel) -> str:
    """nvpmodel with stdin closed: where a mode change needs a reboot it may ask to reboot now
    (jetson_stats answers YES there, jtop/core/nvpmodel.py); this declines, and verify says so."""
    return f"nvpmodel -m {mode.id} </dev/null"


@dataclass(frozen=True)
class Reading:
    """The host's power mode, clocks and boot unit, as read now."""

    mode: PowerModel | None
    pinned: bool | None
    loose: tuple[str, ...]
    unit: bool

    def says(self) -> str:
        clocks = {True: "clocks pinned", False: f"clocks not pinned ({', '.join(self.loose)})",
                  None: "clocks unknown"}[self.pinned]
        return f"power mode {self.mode or 'unknown'}, {clocks}, boot unit {'enabled' if self.unit else 'absent'}"


def _reading(mode: PowerModel | None, clocks: Clocks | None, unit_files: Iterable[str]) -> Reading:
    files = set(unit_files)
    return Reading(mode, clocks.pinned if clocks else None, clocks.loose if clocks else (),
                   UNIT_PATH in files and WANTS_LINK in files)


def reading(power: JetsonPower) -> Reading:
    """What the probe read."""
    return _reading(power.mode, power.clocks, power.boot_unit)


def read_now(ctx: StepContext) -> Reading:
    """Ask the host (as root: jetson_clocks --show needs it)."""
    parts = blocks(ctx.sh(READ, sudo=True).stdout)
    return _reading(parse_nvpmodel_q(parts.get("nvpmodel -q", "")),
                    parse_clocks_show(parts.get("jetson_clocks --show", "")), parts.get("boot unit", "").split())


def target_or_why(power: JetsonPower | None, platform: str | None) -> PowerModel | str:
    """The mode --max-clocks sets on this host, or why the step does not apply."""
    if platform != "jetson":
        return "not a Jetson (nvpmodel and jetson_clocks are L4T tools)"
    if power is None:
        return "no nvpmodel on the host (a container without L4T's tools?)"
    if power.conf is None:
        return "/etc/nvpmodel.conf defines no POWER_MODEL"
    return max_mode(power.conf) or (
        "/etc/nvpmodel.conf has no MAXN mode and no mode named by its power budget (modes: "
        + ", ".join(str(m) for m in power.conf.models) + ")")


@dataclass
class MaxClocks(Step):
    """Set the maximum power mode, pin the clocks, and do so at every boot."""

    target: PowerModel
    known: Reading  # from the probe (clocks unknown unless it ran as root)
    name = "max-clocks"

    def summary(self) -> str:
        return (f"power mode {self.target} (nvpmodel), clocks pinned (jetson_clocks), at boot too ({UNIT});"
                f" the mode and clocks before are kept for rollback ({STORED})")

    def describe(self) -> list[str]:
        return [STORE, set_mode_command(self.target), "jetson_clocks", FOLDERS,
                f"(controller) write {UNIT_PATH} (ExecStart=/usr/bin/jetson_clocks, After=nvpmodel.service)", ENABLE]

    def _done(self, now: Reading) -> bool:
        return now.mode == self.target and bool(now.pinned) and now.unit

    def check(self, ctx: StepContext) -> str | None:
        now = self.known if self.known.pinned is not None else read_now(ctx)
        return now.says() if self._done(now) else None

    def apply(self, ctx: StepContext) -> None:
        if ctx.state.record_of(MaxClocksRecord) is None:  # the first change: what rollback puts back (kept over later runs)
            before = read_now(ctx).mode
            if before is None:
                raise StepFailed(f"{ctx.runner.host}: `nvpmodel -q` names no power mode; nothing was changed")
            ctx.sh(STORE, sudo=True)
            write_state(ctx, ctx.state.with_record(MaxClocksRecord.new(
                previous_mode=before.id, previous_name=before.name, stored=STORED,
                mode=self.target.id, mode_name=self.target.name, unit=UNIT_PATH)))
        if read_now(ctx).mode != self.target:
            ctx.sh(set_mode_command(self.target), sudo=True)
        ctx.sh("jetson_clocks", sudo=True)
        ctx.sh(FOLDERS, sudo=True)
        ctx.write(UNIT_PATH, UNIT_TEXT.encode(), mode="0644", sudo=True)
        ctx.sh(ENABLE, sudo=True)

    def verify(self, ctx: StepContext) -> None:
        now = read_now(ctx)
        if now.mode != self.target:
            raise StepFailed(f"{ctx.runner.host}: the power mode is {now.mode or 'unknown'}, not {self.target}"
                             " (nvpmodel makes some changes only at the next boot: reboot, then run again)")
        if not now.pinned:
            raise StepFailed(f"{ctx.runner.host}: after jetson_clocks, {now.says()}")
        if not now.unit:
            raise StepFailed(f"{ctx.runner.host}: {UNIT_PATH} is not enabled")

    def rollback(self, ctx: StepContext) -> None:
        restore(ctx)


def restore(ctx: StepContext) -> None:
    """Set the recorded mode again, restore the stored clocks, remove the boot unit; a no-op
    when nothing is recorded."""
    state = read_state(ctx)
    record = state.record_of(MaxClocksRecord)
    if not record:
        return
    previous = record.previous
    if read_now(ctx).mode != previous:
        ctx.sh(set_mode_command(previous), sudo=True)
    ctx.sh(DISABLE, sudo=True)
    ctx.sh(f"jetson_clocks --restore {q(str(record.stored))} </dev/null && rm -f {q(str(record.stored))}", sudo=True)
    write_state(ctx, state.without(MaxClocksRecord))


@dataclass
class RestoreClocks(Step):
    """`rollback`: the power mode and clocks from before --max-clocks, without its boot unit."""

    record: MaxClocksRecord
    outcome: Outcome | None = field(default=None, init=False)
    name = "restore-clocks"
    main_product = True

    @property
    def previous(self) -> PowerModel:
        return self.record.previous

    def summary(self) -> str:
        return f"power mode {self.previous} again, the clocks stored in {self.record.stored}, no {UNIT}"

    def describe(self) -> list[str]:
        return [set_mode_command(self.previous), DISABLE, f"jetson_clocks --restore {q(str(self.record.stored))}"]

    def check(self, ctx: StepContext) -> str | None:
        return None if ctx.state.record_of(MaxClocksRecord) else "nothing to roll back: the state file records no --max-clocks"

    def apply(self, ctx: StepContext) -> None:
        restore(ctx)
        self.outcome = Outcome.RESTORED
        ctx.notes.append(f"power mode {self.previous} and the clocks before --max-clocks restored")

    def verify(self, ctx: StepContext) -> None:
        now = read_now(ctx)
        if now.mode != self.previous or now.unit:
            raise StepFailed(f"{ctx.runner.host}: after the rollback, {now.says()}")


def rollback_steps(state: State) -> list[Step]:
    """The rollback's step for a host whose state file records --max-clocks."""
    record = state.record_of(MaxClocksRecord)
    return [RestoreClocks(record)] if record else []


def plan(p: Planning) -> None:
    """--max-clocks: the Jetson's maximum power mode and pinned clocks, first (the builds and the
    engine builds' timing of kernels then run at full clocks); elsewhere a note says why not."""
    if not p.options.max_clocks:
        return
    target = target_or_why(p.detection.facts.power, p.detection.facts.platform)
    if isinstance(target, str):
        p.plan.notes.append(f"max clocks: skipped: {target}")
        return
    p.plan.add("--max-clocks: builds and engine timing then run at the module's full clocks",
               MaxClocks(target, reading(p.detection.facts.power)))


CAPABILITY = Capability("max_clocks", plan=plan, records=(MaxClocksRecord,),
                        rollback=lambda state, survey: rollback_steps(state))
