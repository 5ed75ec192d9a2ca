"""dsprov inside Ansible: action plugins for detect, provision and rollback, and the recap callback.

The Ansible collection dsprov.deepstream (playbooks/collections/ansible_collections/dsprov/deepstream)
only imports these; each action's ARGUMENT_SPEC is what its arguments are checked against (the
collection's static DOCUMENTATION matches it: tests/test_collection.py). The actions run on the
controller and reach the host through the play's connection (AnsibleRunner): the same probe, plan
and steps as `dsprov`, POSIX sh on the target and no Python there, become from Ansible's usual
settings. Settings are the host's `dsprov_*` vars, as for `dsprov`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.plugins.callback import CallbackBase

from provision.artifacts import ArtifactStore
from provision.detect import BUILD_DIR_VAR, analyse, capture
from provision.errors import ProvisionError
from provision.exit_codes import NOT_OK
from provision.gpu.archs import parse_override
from provision.matrix import Matrix
from provision.provisioner import HostLog, HostReport, provision_on, rollback_on
from provision.report import detection_json, worst
from provision.runners.ansible import LEASE_SECONDS, AnsibleRunner
from provision.settings import check_flags, check_settings

FLAGS = {  # invoke provision's flags
    "gpu_archs": {"type": "str"},
    "trt_oss_ref": {"type": "str"},
    "force": {"type": "bool", "default": False},
    "cmake_from_source": {"type": "bool", "default": False},
    "skip_pyds": {"type": "bool", "default": False},
    "skip_engines": {"type": "bool", "default": False},
    "skip_models": {"type": "bool", "default": False},
    "plugin_source": {"type": "str", "default": "auto", "choices": ["auto", "prebuilt", "build"]},
}
REPORT_KEY = "dsprov_report"


class _HostAction(ActionBase):
    """Shared by the dsprov actions: check mode, no remote temp folder, settings from vars."""

    _supports_check_mode = True
    TRANSFERS_FILES = False  # files go through AnsibleRunner, never a remote ~/.ansible/tmp

    def _setup(self, task_vars: dict[str, Any], spec: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(host, validated args, the host's dsprov_* settings templated)."""
        super().run(task_vars=task_vars)
        _, args = self.validate_argument_spec(spec)
        host = task_vars["inventory_hostname"]
        settings = {k: self._templar.template(v) for k, v in task_vars.items() if k.startswith("dsprov_")}
        try:
            check_settings(settings, host)
            check_flags(args)
            if args.get("gpu_archs"):
                parse_override(args["gpu_archs"], Matrix.load().known_sms())
        except ProvisionError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        return host, args, settings

    def _runner(self, host: str, settings: dict[str, Any]) -> AnsibleRunner:
        """A runner over this task's connection; `dsprov_lock_lease` (seconds) bounds how long the
        host lock outlives a controller that died."""
        lease = settings.get("dsprov_lock_lease", LEASE_SECONDS)
        if not str(lease).isdigit() or int(lease) < 1:
            raise AnsibleActionFail(f"dsprov_lock_lease: {lease!r} is not a number of seconds")
        return AnsibleRunner(self, host, int(lease))


def _result(report: HostReport, changed: bool) -> dict[str, Any]:
    return {
        "changed": changed,
        "failed": report.result in NOT_OK,
        "msg": report.message,
        REPORT_KEY: {k: v for k, v in dataclasses.asdict(report).items() if k != "plan"},  # the plan: --diff
    }


class DetectAction(_HostAction):
    """`dsprov.deepstream.detect`: one probe round trip; the facts become host facts (`ansible_facts.dsprov`)."""

    ARGUMENT_SPEC = {"gpu_archs": FLAGS["gpu_archs"]}

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        host, args, settings = self._setup(task_vars or {}, self.ARGUMENT_SPEC)
        runner = self._runner(host, settings)
        try:
            d = analyse(host, capture(runner, settings.get(BUILD_DIR_VAR)), args["gpu_archs"], Matrix.load())
        except ProvisionError as exc:
            return {"failed": True, "changed": False, "msg": str(exc)}
        facts = detection_json(d)
        archs = " ".join(d.gpu_archs.archs) or "unknown"
        return {
            "changed": False,
            "msg": f"{host}: {d.facts.platform} TensorRT {d.facts.tensorrt}, GPU_ARCHS {archs}, matrix {worst(d.verdicts).value}",
            "ansible_facts": {"dsprov": facts},
        }


class ProvisionAction(_HostAction):
    """`dsprov.deepstream.provision`: detect, plan and apply (with --check: what would change; --diff: the plan)."""

    ARGUMENT_SPEC = FLAGS

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        host, flags, settings = self._setup(task_vars or {}, self.ARGUMENT_SPEC)
        log = HostLog(host)
        try:
            report, detection = provision_on(
                self._runner(host, settings), settings, flags, Matrix.load(), ArtifactStore(), log,
                check_only=self._task.check_mode,
            )
        finally:
            log.close()
        result = _result(report, report.changed)
        if detection and not result["failed"]:
            result["ansible_facts"] = {"dsprov": detection_json(detection)}
        if self._task.diff and report.plan:
            result["diff"] = {"prepared": "\n".join(report.plan) + "\n"}
        return result


class RollbackAction(_HostAction):
    """`dsprov.deepstream.rollback`: restore the original plugin library recorded in the host's state file."""

    ARGUMENT_SPEC: dict[str, Any] = {}

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        host, _, settings = self._setup(task_vars or {}, self.ARGUMENT_SPEC)
        log = HostLog(host)
        try:
            report = rollback_on(self._runner(host, settings), log, check_only=self._task.check_mode)
        finally:
            log.close()
        return _result(report, report.outcome == "restored")


class RecapCallback(CallbackBase):
    """After the play: one line per host with what dsprov did (unreachable hosts included)."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "dsprov_recap"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}

    def _record(self, result: Any, unreachable: bool = False) -> None:
        data, host = result._result, result._host.get_name()
        report = data.get(REPORT_KEY)
        if report:
            changed = "yes" if data.get("changed") else "no"
            self.rows[host] = [host, report["result"], report["outcome"], report["key"], changed,
                               f"{report['seconds']:.1f}s", report["message"]]
        elif unreachable or data.get("failed"):
            message = str(data.get("msg", "")).strip().splitlines()
            what = "unreachable" if unreachable else "failed"
            self.rows[host] = [host, what, "-", "-", "no", "-", message[0] if message else ""]

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record(result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        if not self.rows:
            return
        header = ["host", "result", "outcome", "key", "changed", "time", "message"]
        rows = [header, *(self.rows[h] for h in sorted(self.rows))]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
        self._display.banner("DSPROV RECAP")
        for row in rows:
            self._display.display("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
