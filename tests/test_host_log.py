"""Logs are per run: the newest is `<host>.log`, older runs are kept up to LOGS_KEPT."""

from provision.provisioner import LOGS_KEPT, HostLog


def test_each_run_writes_its_own_log_and_old_ones_are_pruned(tmp_path):
    paths = []
    for run in range(LOGS_KEPT + 3):
        log = HostLog("nano01", tmp_path)
        log(f"run {run}")
        log.close()
        paths.append(log.path)
    assert (tmp_path / "nano01.log").read_text() == f"run {LOGS_KEPT + 2}\n"  # this run's lines only
    kept = sorted((tmp_path / "nano01").glob("*.log"))
    assert kept == sorted(paths[-LOGS_KEPT:]) and not any(p.exists() for p in paths[:3])


def test_a_host_name_cannot_escape_the_logs_folder(tmp_path):
    log = HostLog("../../etc/x", tmp_path / "logs")
    log.close()
    assert log.path.parent.parent == tmp_path / "logs"
