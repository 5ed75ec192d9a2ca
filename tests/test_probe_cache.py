# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The probe's own cache (probe.sh's `cached`, the static facts, plugin_files), run for real under dash
and busybox sh: a warm probe starts none of the tools the kept sections come from, and each kept
section is asked again when what it comes from changes (a package, a swapped plugin file, a boot, a
tool). Which tools ran is counted by logging wrappers first on PATH; the boot id is a file bound over
/proc's (unshare), as tests/test_devicequery.py does."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from provision.detect import probe_script

SHELLS = [["dash"], ["busybox", "sh"]]
LOGGED = ("dpkg-query", "uname", "sha256sum", "readlink", "python3", "gcc", "getconf")
SWAPPED = b"plugin two\n"
STATUS = "Package: libnvinfer8\nStatus: install ok installed\nVersion: {v}\n"


def sections(output: str) -> dict[str, str]:
    parts = re.split(r"^==> (\S+) <==$", output, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}


@dataclass
class Host:
    """A probe run in its own mount namespace: the boot id and dpkg's status file are files here, the
    state file and the saved plugin folder too; the tools in LOGGED log each run."""

    dir: Path
    shell: list[str]

    def probe(self) -> dict[str, str]:
        d = self.dir
        script = probe_script()
        script = re.sub(r"^STATE_FILE=.*$", f"STATE_FILE={d / 'state.json'}", script, count=1, flags=re.MULTILINE)
        script = re.sub(r"^SAVED_DIR=.*$", f"SAVED_DIR={d / 'saved'}", script, count=1, flags=re.MULTILINE)
        binds = (f"mount --bind {d / 'boot_id'} /proc/sys/kernel/random/boot_id && "
                 f"mount --bind {d / 'status'} /var/lib/dpkg/status && ")
        env = {"PATH": f"{d / 'bin'}:{os.environ['PATH']}", "HOME": str(d / "home"), "LC_ALL": "C"}
        result = subprocess.run(["unshare", "-rm", "sh", "-c", binds + " ".join([*self.shell, "-s", "--", str(d / "build")])],
                                input=script, capture_output=True, text=True, env=env, timeout=600)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return sections(result.stdout)

    def calls(self) -> list[str]:
        """The logged tools run since the last call, sorted."""
        log = self.dir / "calls.log"
        lines = log.read_text().split() if log.exists() else []
        log.write_text("")
        return sorted(lines)


def settle() -> None:
    """Let the files made so far leave the last second, which the cache does not keep (whole-second times)."""
    time.sleep(2.1)


@pytest.fixture(params=SHELLS, ids=lambda s: s[0])
def host(request, tmp_path) -> Host:
    for tool in (request.param[0], "unshare", "dpkg-query"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (.ci/apt-packages.txt installs it)")
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("no user and mount namespaces here (unshare -rm)")
    for folder in ("bin", "home", "saved", "build"):
        (tmp_path / folder).mkdir()
    (tmp_path / "bin" / "nvcc").write_text("#!/bin/sh\nexit 1\n")  # no deviceQuery built here
    (tmp_path / "bin" / "nvcc").chmod(0o755)
    for tool in LOGGED:
        real = shutil.which(tool)
        if real:
            (tmp_path / "bin" / tool).write_text(f'#!/bin/sh\necho {tool} >> {tmp_path / "calls.log"}\nexec {real} "$@"\n')
            (tmp_path / "bin" / tool).chmod(0o755)
    (tmp_path / "boot_id").write_text("0e7c7f59-5a0b-4c3a-9d61-8a1d2b7c4e01\n")
    (tmp_path / "status").write_text(Path("/var/lib/dpkg/status").read_text())
    (tmp_path / "state.json").write_text('{"version": 1}\n')
    (tmp_path / "saved" / "libnvinfer_plugin.so.8.0.1").write_bytes(b"plugin one\n")
    settle()
    return Host(tmp_path, request.param)


def test_a_warm_probe_asks_no_kept_tool_and_says_the_same(host):
    first = host.probe()
    assert {"dpkg-query", "uname", "sha256sum"} <= set(host.calls())
    again = host.probe()
    assert host.calls() == []  # every tool above: its answer kept
    dynamic = {"meminfo", "df_build", "nvidia_smi_query", "device_query"}
    assert {k: v for k, v in again.items() if k not in dynamic} == {k: v for k, v in first.items() if k not in dynamic}
    assert again["nvidia_packages"] and again["uname_m"] == os.uname().machine
    kept = host.dir / "home/.cache/dsprov/probe"
    assert {p.name for p in kept.glob("*.sh")} >= {"facts.sh", "plugin_files.sh"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in kept.glob("*.sh"))  # the user's own


def test_a_changed_package_a_boot_or_a_swapped_plugin_asks_again(host):
    host.probe()
    host.probe()
    host.calls()
    status = host.dir / "status"
    status.write_text(status.read_text() + "\n" + STATUS.format(v="8.0.1-1+cuda11.3"))  # dpkg ran
    settle()
    assert "libnvinfer8\t8.0.1-1+cuda11.3" in host.probe()["dpkg_nvinfer"]
    assert host.calls().count("dpkg-query") == 2
    host.probe()
    assert host.calls() == []

    saved = host.dir / "saved" / "libnvinfer_plugin.so.8.0.1"
    saved.with_suffix(".new").write_bytes(SWAPPED)
    saved.with_suffix(".new").rename(saved)  # a swap: another file under the name
    settle()
    files = host.probe()["plugin_files"]
    assert f"sha256\t{saved}\t{hashlib.sha256(SWAPPED).hexdigest()}" in files
    assert host.calls() == ["sha256sum"]
    host.probe()
    assert host.calls() == []

    (host.dir / "boot_id").write_text("5d2f3c1a-7b8e-4f60-a1c2-3e4d5f6a7b8c\n")  # a reboot
    host.probe()
    assert {"dpkg-query", "uname"} <= set(host.calls())


def test_the_kept_facts_of_another_user_are_not_read(host):
    host.probe()
    settle()
    host.probe()
    host.calls()
    facts = host.dir / "home/.cache/dsprov/probe/facts.sh"
    facts.write_text(facts.read_text() + "echo planted\n")
    os.chown(facts, 65534, 65534)
    out = host.probe()
    assert "planted" not in "".join(out.values()) and "dpkg-query" in host.calls()
