# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logs are per run: the newest is `<host>.log`, older runs are kept up to LOGS_KEPT. Every line
carries its UTC time (the standard `logging` module); every logged command its exit status and
duration; a host's lines go to its own file only."""

import logging
import re
import threading

from provision.provisioner import LOGS_KEPT, HostLog
from provision.runners.local import LocalRunner
from provision.core.step import StepContext

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "


def lines(log: HostLog) -> list[str]:
    """The log's lines without their time stamps (each checked)."""
    text = log.path.read_text().splitlines()
    assert all(re.match(STAMP, line) for line in text), text
    return [re.sub("^" + STAMP, "", line) for line in text]


def test_each_run_writes_its_own_log_and_old_ones_are_pruned(tmp_path):
    paths = []
    for run in range(LOGS_KEPT + 3):
        log = HostLog("nano01", tmp_path)
        log(f"run {run}")
        log.close()
        paths.append(log.path)
    assert re.fullmatch(STAMP + f"run {LOGS_KEPT + 2}\n", (tmp_path / "nano01.log").read_text())  # this run's lines only
    kept = sorted((tmp_path / "nano01").glob("*.log"))
    assert kept == sorted(paths[-LOGS_KEPT:]) and not any(p.exists() for p in paths[:3])


def test_a_host_name_cannot_escape_the_logs_folder(tmp_path):
    log = HostLog("../../etc/x", tmp_path / "logs")
    log.close()
    assert log.path.parent.parent == tmp_path / "logs"


def test_every_line_has_its_time_and_a_command_its_exit_status_and_duration(tmp_path):
    log = HostLog("localhost", tmp_path)
    ctx = StepContext(LocalRunner(), None, log)
    ctx.sh("printf 'one\\ntwo\\n'")
    ctx.sh("echo bad >&2; exit 3", check=False)
    log("a message\nof two lines")
    log.close()
    got = lines(log)
    assert got[0] == "$ printf 'one\\ntwo\\n'" and got[1:3] == ["one", "two"]
    assert re.fullmatch(r"exit 0 after \d+\.\d\ds", got[3]), got
    assert got[4:6] == ["$ echo bad >&2; exit 3", "bad"] and re.fullmatch(r"exit 3 after \d+\.\d\ds", got[6]), got
    assert got[7:] == ["a message", "of two lines"]


def test_hosts_logged_at_once_keep_to_their_own_files_and_nothing_reaches_other_loggers(tmp_path):
    """Lines (commands and their output may carry a host's secrets) go to their host's file only:
    not to another host's written at the same time, nor to a handler an application or a library
    put on the root logger."""
    caught = []
    root = logging.getLogger()
    spy = logging.Handler()
    spy.emit = caught.append
    root.addHandler(spy)
    try:
        logs = [HostLog(f"host{i}", tmp_path) for i in range(4)]

        def write(log: HostLog) -> None:
            for n in range(200):
                log(f"{log.path.parent.name} line {n}")

        threads = [threading.Thread(target=write, args=(log,)) for log in logs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for log in logs:
            log.close()
    finally:
        root.removeHandler(spy)
    for i, log in enumerate(logs):
        assert lines(log) == [f"host{i} line {n}" for n in range(200)]
    assert caught == []
