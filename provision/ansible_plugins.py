# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""dsprov inside Ansible: action plugins for detect, provision and rollback, and the recap callback.

The Ansible collection dsprov.deepstream (playbooks/collections/ansible_collections/dsprov/deepstream)
only imports these; each action's ARGUMENT_SPEC is what its arguments are checked against (the
collection's static DOCUMENTATION matches it: tests/test_collection.py). The actions run on the
controller and reach the host through the play's connection (AnsibleRunner): the same probe, plan
and steps as `dsprov`, POSIX sh on the target and no Python there, become from Ansible's usual
settings. Settings are the host's `dsprov_*` vars, as for `dsprov`.
"""

from __future__ import annotations

from provision.library_warnings import silence_library_warnings

silence_library_warnings()  # before the imports below bring in paramiko and cryptography

import contextlib
import io
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.plugins.callback import CallbackBase

from provision import documents
from provision.artifacts import ArtifactStore, cache_root
from provision.capabilities.trt_oss import build_view
from provision.detect import analyse, capture
from provision.errors import ProvisionError
from provision.fleet_report import records
from provision.outcomes import NOT_OK
from provision.matrix import Matrix
from provision.provisioner import HostLog, HostReport, provision_job, rollback_job, run_job
from provision.options import DETECT_FLAGS, PROVISION_FLAGS, Flags, Settings, argument_spec
from provision.runners.ansible import AnsibleRunner

REPORT_KEY = "dsprov_report"
# Loaded here, in ansible-playbook's own process: its strategy imports an action's class before it
# forks the task's worker per host (ansible-core lib/ansible/plugins/strategy/linear.py,
# `action_loader.get(..., class_only=True)`), so every worker has the matrix parsed already. A
# matrix that does not load fails each task instead, with its one line (the actions load it again).
with contextlib.suppress(ProvisionError):
    Matrix.load()


class _HostAction(ActionBase):
    """Shared by the dsprov actions: check mode, no remote temp folder, settings from vars."""

    _supports_check_mode = True
    TRANSFERS_FILES = False  # files go through AnsibleRunner, never a remote ~/.ansible/tmp

    ARGUMENT_SPEC: dict[str, Any] = {}  # the action's arguments: flags of the options table (argument_spec)

    def _setup(self, task_vars: dict[str, Any]) -> tuple[str, Flags, Settings]:
        """(host, the checked flags, the host's settings: its dsprov_* vars templated, checked and
        read once). A flag the task does not give is the host's `dsprov_<flag>` var (the playbooks
        give none: `-e dsprov_force=true`), so a worker templates no argument (see `_flag_vars`)."""
        super().run(task_vars=task_vars)
        host = task_vars["inventory_hostname"]
        host_vars = {k: self._templar.template(v) for k, v in task_vars.items() if k.startswith("dsprov_")}
        try:
            settings = Settings.resolve(host_vars, host)
        except ProvisionError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        self._task.args = {**_flag_vars(self.ARGUMENT_SPEC, host_vars), **self._task.args}
        _, args = self.validate_argument_spec(self.ARGUMENT_SPEC)
        try:
            flags = Flags.parse(args)
        except ProvisionError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        return host, flags, settings

    def _runner(self, host: str, settings: Settings) -> AnsibleRunner:
        """A runner over this task's connection; `dsprov_lock_lease` (seconds) bounds how long the
        host lock outlives a controller that died."""
        return AnsibleRunner(self, host, settings.lock_lease)


def _flag_vars(spec: dict[str, Any], host_vars: dict[str, Any]) -> dict[str, Any]:
    """The flags of `spec` the host's `dsprov_<flag>` vars give (templated; an empty one gives
    nothing). The collection's playbooks pass their flags this way rather than as
    `force: "{{ dsprov_force | default(false) | bool }}"`: Ansible compiles each templated argument
    of a task again in every host's forked worker (ansible-core has no template cache, and a fork's
    work is lost with it), 14 Jinja compilations per host for the provision task."""
    return {name: value for name in spec if (value := host_vars.get(f"dsprov_{name}")) is not None and value != ""}


def _result(report: HostReport) -> dict[str, Any]:
    """The action's result: `dsprov_report` is the report's host entry of `dsprov provision --json`."""
    return {"changed": report.changed, "failed": report.result in NOT_OK, "msg": report.message,
            REPORT_KEY: documents.host_report(report)}


def _details(report: HostReport) -> str:
    """`verbose`: the host's fact and verdict tables and its steps, as `dsprov provision --verbose`
    prints them (80 columns, no colour). Imported here: only `verbose` needs rich, and a no-op's
    controller does without it."""
    from rich.console import Console

    from provision.report import print_detection

    out = io.StringIO()
    console = Console(file=out, width=80, no_color=True, highlight=False)
    if report.detection:
        print_detection(report.detection, console)
    for step in report.steps:
        console.print(f"{report.host}: [{step.name}] {step.status}: {step.detail}", markup=False, soft_wrap=True)
    return out.getvalue()


class DetectAction(_HostAction):
    """`dsprov.deepstream.detect`: one probe round trip; the facts become host facts (`ansible_facts.dsprov`)."""

    ARGUMENT_SPEC = argument_spec(DETECT_FLAGS)

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        host, flags, settings = self._setup(task_vars or {})
        runner = self._runner(host, settings)
        try:
            detection = analyse(host, capture(runner, settings.build_dir), flags.gpu_archs, Matrix.load())
        except ProvisionError as exc:
            return {"failed": True, "changed": False, "msg": str(exc)}
        build = build_view(detection, cache_root()).to_json()
        records.save_detection(detection, keep=settings.report_keep, build=build)
        facts = documents.detection(detection, build)
        archs = " ".join(detection.gpu_archs.archs) or "unknown"
        return {
            "changed": False,
            "msg": f"{host}: {detection.facts.platform} TensorRT {detection.facts.tensorrt}, GPU_ARCHS {archs}, matrix {facts['matrix']}",
            "ansible_facts": {"dsprov": facts},
        }


class ProvisionAction(_HostAction):
    """`dsprov.deepstream.provision`: detect, plan and apply (with --check: what would change; --diff: the plan)."""

    ARGUMENT_SPEC = argument_spec(PROVISION_FLAGS)

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        host, flags, settings = self._setup(task_vars or {})
        try:
            job = provision_job(settings, flags, Matrix.load(), ArtifactStore())
        except ProvisionError as exc:  # a dsprov_models entry or its COCO file
            return {"failed": True, "changed": False, "msg": str(exc)}
        log = HostLog(host)
        try:
            report, detection = run_job(self._runner(host, settings), settings, job, log,
                                        check_only=self._task.check_mode)
        finally:
            log.close()
        records.save_reports("provision", [report], self._task.check_mode, keep=settings.report_keep)
        result = _result(report)
        if flags.verbose:
            self._display.display(_details(report))
        if detection and not result["failed"]:
            result["ansible_facts"] = {"dsprov": documents.detection(detection)}
        if self._task.diff and report.plan:
            result["diff"] = {"prepared": "\n".join(report.plan) + "\n"}
        return result


class RollbackAction(_HostAction):
    """`dsprov.deepstream.rollback`: restore the original plugin library recorded in the host's state file."""

    ARGUMENT_SPEC = argument_spec(())

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        host, _, settings = self._setup(task_vars or {})
        log = HostLog(host)
        try:
            report, _ = run_job(self._runner(host, settings), settings, rollback_job(), log,
                                check_only=self._task.check_mode)
        finally:
            log.close()
        records.save_reports("rollback", [report], self._task.check_mode, keep=settings.report_keep)
        return _result(report)


class RecapCallback(CallbackBase):
    """After the play: one line per host with what dsprov did (unreachable hosts included); with
    `-e dsprov_report_out=FILE`, the fleet page of the play's hosts (provision/fleet_report/)."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "dsprov_recap"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.page: str | None = None  # dsprov_report_out

    def _record(self, result: Any, unreachable: bool = False) -> None:
        data, host = result._result, result._host.get_name()
        report = data.get(REPORT_KEY)
        if report:
            changed = "yes" if report["changed"] else "no"
            self.rows[host] = [host, report["result"], report["outcome"], report["key"], changed,
                               f"{report['seconds']:.1f}s", str(report["commands"]), report["message"]]
        elif unreachable or data.get("failed"):
            message = str(data.get("msg", "")).strip().splitlines()
            what = "unreachable" if unreachable else "failed"
            self.rows[host] = [host, what, "-", "-", "no", "-", "-", message[0] if message else ""]

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record(result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._record(result, unreachable=True)
        if str(result._task.action).startswith("dsprov.deepstream."):  # the action never ran: its record
            command, host = str(result._task.action).rsplit(".", 1)[-1], result._host.get_name()
            records.save([(records.unreached(host, command, "unreachable", self.rows[host][-1]), records.KEEP)])

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self.page = play.get_variable_manager().extra_vars.get("dsprov_report_out") or self.page

    def v2_playbook_on_stats(self, stats: Any) -> None:
        if self.page:
            from provision.fleet_report.command import write_report

            try:
                self._display.display(write_report(str(self.page), sorted(stats.processed)))
            except ProvisionError as exc:
                self._display.warning(f"dsprov_report_out: {exc}")
        if not self.rows:
            return
        header = ["host", "result", "outcome", "key", "changed", "time", "commands", "message"]
        rows = [header, *(self.rows[h] for h in sorted(self.rows))]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
        self._display.banner("DSPROV RECAP")
        for row in rows:
            self._display.display("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
