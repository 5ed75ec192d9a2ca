# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engines step's config search (engine_search.sh) and root's SHA-256 cache (REFRESH_SCRIPT),
run for real on files made here, under dash with GNU find, stat and mawk, and under busybox sh with
busybox's tools alone (no find -printf there: the stat keys): what a rerun reads again, the configs
found through config-file=, the bound. Which files were hashed or encoded is counted by logging
wrappers around the real sha256sum and base64 (first on PATH)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from provision.capabilities.engines import REFRESH_SCRIPT, _file_states, search_script
from provision.deepstream.engine_plan import EngineRecord

SHELLS = [["dash"], ["busybox", "sh"]]
BUSYBOX_TOOLS = ("sh", "awk", "find", "xargs", "stat", "date", "mktemp", "rm", "cp", "mv", "mkdir", "cat", "cmp", "cut", "tr",
                 "base64", "sha256sum", "chmod")
APP = """[application]
enable-perf-measurement=1
[primary-gie]
enable=1
config-file=../../other/cfg/pgie.txt
[secondary-gie0]
enable=0
config-file=../../other/cfg/disabled.txt
"""
RECORD = EngineRecord("8.0.1.6", "11.4", "75", "ab" * 32, "fp16", 1, "cd" * 32)
NVINFER = "[property]\nonnx-file=../models/m.onnx\nmodel-engine-file=../models/m.onnx_b1_gpu0_fp16.engine\n"


@dataclass
class Host:
    """A folder laid out like a host: a searched root, configs and models elsewhere, a plugin link,
    the login user's home, and wrappers that log each sha256sum and base64 run."""

    dir: Path
    shell: list[str]
    tools: str  # PATH after the logging wrappers

    @property
    def log(self) -> Path:
        return self.dir / "calls.log"

    def calls(self) -> list[tuple[str, ...]]:
        """The tools' runs since the last call, each (tool, *sorted arguments) (base64 reads stdin)."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.write_text("")
        return sorted((line.split()[0], *sorted(line.split()[1:])) for line in lines)

    def search(self, *items: str, sha_cache: Path | None = None) -> str:
        env = {"PATH": f"{self.dir / 'bin'}:{self.tools}", "HOME": str(self.dir / "home"), "LC_ALL": "C"}
        result = subprocess.run([*self.shell, "-s", "--", str(self.dir / "lib" / "libplugin.so.8"), *items],
                                input=search_script(str(sha_cache or self.dir / "no-root-cache")),
                                capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return result.stdout


def settle() -> None:
    """Let the files made so far leave the last second, which the caches do not keep (whole-second times)."""
    time.sleep(2.1)


@pytest.fixture(params=SHELLS, ids=lambda s: s[0])
def host(request, tmp_path) -> Host:
    if not shutil.which(request.param[0]):
        pytest.fail(f"{request.param[0]} is not installed (.ci/apt-packages.txt installs it)")
    for folder in ("root/app", "other/cfg", "other/models", "lib", "home", "bin"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "root/app/app.txt").write_text(APP)
    (tmp_path / "root/app/labels.txt").write_text("person\ncar\n")
    (tmp_path / "other/cfg/pgie.txt").write_text(NVINFER)
    (tmp_path / "other/cfg/disabled.txt").write_text(NVINFER)
    (tmp_path / "other/models/m.onnx").write_text("model one\n")
    (tmp_path / "other/models/m.onnx_b1_gpu0_fp16.engine").write_text("engine\n")
    (tmp_path / "other/models/m.onnx_b1_gpu0_fp16.engine.dsprov.json").write_text(json.dumps(RECORD.to_json(), indent=2) + "\n")
    (tmp_path / "lib/libplugin.so.8.0.1").write_text("plugin\n")
    (tmp_path / "lib/libplugin.so.8").symlink_to("libplugin.so.8.0.1")
    tools = os.environ["PATH"]
    if request.param[0] == "busybox":  # busybox's own applets only
        (tmp_path / "busybox").mkdir()
        for tool in BUSYBOX_TOOLS:
            (tmp_path / "busybox" / tool).symlink_to(shutil.which("busybox"))
        tools = str(tmp_path / "busybox")
    for tool in ("sha256sum", "base64"):
        wrapper = tmp_path / "bin" / tool
        wrapper.write_text(f'#!{shutil.which("sh")}\necho "{tool} $*" >> {tmp_path / "calls.log"}\n'
                           f'PATH={tools} exec {tool} "$@"\n')
        wrapper.chmod(0o755)
    settle()
    return Host(tmp_path, [shutil.which(request.param[0]), *request.param[1:]], tools)


def configs(output: str) -> dict[str, str]:
    return {p[1]: base64.b64decode(p[2]).decode() for p in (line.split("\t") for line in output.splitlines())
            if p[0] == "config"}


def test_configs_found_through_config_file_and_a_rerun_reads_nothing_again(host):
    d = host.dir
    first = host.search(f"r:{d}/root")
    # the app config under the root, the nvinfer config its enabled GIE names (outside the root); not
    # the disabled GIE's, not the labels file
    assert configs(first) == {f"{d}/root/app/app.txt": APP, f"{d}/other/cfg/pgie.txt": NVINFER}
    states, folders = _file_states(first)
    model, engine = states[f"{d}/other/models/m.onnx"], states[f"{d}/other/models/m.onnx_b1_gpu0_fp16.engine"]
    assert model.exists and model.sha256 == hashlib.sha256(b"model one\n").hexdigest()
    assert engine.exists and engine.record == RECORD  # the record beside it, written with json.dumps(indent=2)
    assert folders == {f"{d}/other/models"}
    assert host.calls() == [("base64",), ("base64",), ("sha256sum", f"{d}/lib/libplugin.so.8", f"{d}/other/models/m.onnx")]

    assert host.search(f"r:{d}/root") == first
    assert host.calls() == []  # nothing hashed or encoded again: the caches answered
    cache = d / "home/.cache/dsprov/probe"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert f"{d}/root/app/labels.txt\tn" in (cache / "configs").read_text()  # a verdict kept: not a config

    # a changed model is hashed again, the unchanged plugin not; a changed config is read again
    (d / "other/models/m.onnx").write_text("model two\n")
    (d / "other/cfg/pgie.txt").write_text(NVINFER + "batch-size=2\n")
    (d / "root/app/app.txt").write_text(APP + "# changed\n")
    again = host.search(f"r:{d}/root")
    assert host.calls() == [("base64",), ("base64",), ("sha256sum", f"{d}/other/models/m.onnx")]
    assert configs(again)[f"{d}/other/cfg/pgie.txt"].endswith("batch-size=2\n")
    assert configs(again)[f"{d}/root/app/app.txt"].endswith("# changed\n")
    settle()
    # what changed within the second before that search is read once more (whole-second times), then kept
    assert configs(host.search(f"r:{d}/root")) == configs(again)
    assert host.calls() == [("base64",), ("base64",), ("sha256sum", f"{d}/other/models/m.onnx")]
    assert configs(host.search(f"r:{d}/root")) == configs(again) and host.calls() == []  # then kept as read
    assert _file_states(again)[0][f"{d}/other/models/m.onnx"].sha256 != model.sha256


def test_the_bound_and_named_configs(host):
    d = host.dir
    for i in range(3):
        (d / "root" / f"notes{i}.txt").write_text("notes\n")
    out = host.search("n:3", f"f:{d}/other/cfg/disabled.txt", f"r:{d}/root", f"f:{d}/missing.txt")
    warnings = [line for line in out.splitlines() if line.startswith("warning\t")]
    assert warnings == [f"warning\t{d}/root: more than 3 *.txt files (dsprov_engine_search_max_files): not searched"]
    assert set(configs(out)) == {f"{d}/other/cfg/disabled.txt"}  # named: searched whatever the bound
    assert f"skip\t{d}/missing.txt\tcannot read" in out.splitlines()
    assert set(configs(host.search("n:5", f"r:{d}/root"))) == {f"{d}/root/app/app.txt", f"{d}/other/cfg/pgie.txt"}


def test_root_cache_answers_first_and_keeps_only_world_readable_files(host, tmp_path):
    d = host.dir
    root_cache = d / "var/lib/dsprov/sha256"
    secret = d / "other/models/secret.onnx"
    secret.write_text("secret\n")
    secret.chmod(0o600)
    settle()
    model, plugin = f"{d}/other/models/m.onnx", f"{d}/lib/libplugin.so.8"
    refresh = subprocess.run([*host.shell, "-c", REFRESH_SCRIPT, "refresh", str(root_cache), model, plugin, str(secret)],
                             capture_output=True, text=True, timeout=60)
    assert refresh.returncode == 0, refresh.stderr
    shas = dict(line.split("\t")[1:] for line in refresh.stdout.splitlines())
    assert set(shas) == {model, plugin}  # the secret is not world-readable: not in a world-readable cache
    assert oct(root_cache.stat().st_mode & 0o777) == "0o644"
    entries = root_cache.read_text()
    # rerun: nothing new, the same entries
    subprocess.run([*host.shell, "-c", REFRESH_SCRIPT, "refresh", str(root_cache), model], check=True, timeout=60)
    assert root_cache.read_text() == entries

    out = host.search(f"r:{d}/root", sha_cache=root_cache)
    assert [c for c in host.calls() if c[0] == "sha256sum"] == []  # root's cache answered
    assert _file_states(out)[0][model].sha256 == shas[model]
    # a user's own cache cannot override root's entry for the same file
    user = d / "home/.cache/dsprov/probe/sha256"
    user.write_text(entries.replace(shas[model], "0" * 64))
    assert _file_states(host.search(f"r:{d}/root", sha_cache=root_cache))[0][model].sha256 == shas[model]


def test_a_search_from_the_caches_is_kept_whole_until_a_file_it_came_from_changes(host):
    d = host.dir
    fast = d / "home/.cache/dsprov/probe"

    def from_the_kept_output() -> str:
        """Search until one reads nothing (then its output is kept whole), then once more: that output
        must be the kept one (a marker line put into it shows)."""
        for _ in range(3):
            out = host.search(f"r:{d}/root")
            if (fast / "fast.sh").exists():
                break
            settle()
        assert (fast / "fast.sh").exists()
        with (fast / "fast.sh").open("a") as kept:  # read by the shell (`.`): a line more in the kept output
            kept.write('kept_out="${kept_out}warning\tmarker\n"\n')
        again = host.search(f"r:{d}/root")
        assert again == out + "warning\tmarker\n"
        host.calls()
        return out

    first = from_the_kept_output()
    (d / "other/models/m.onnx_b1_gpu0_fp16.engine").rename(d / "other/models/m2.engine")  # an engine moved
    (d / "other/cfg/pgie.txt").write_text(NVINFER + "batch-size=4\n")  # a followed config outside the root
    changed = host.search(f"r:{d}/root")
    assert "marker" not in changed and changed != first
    assert configs(changed)[f"{d}/other/cfg/pgie.txt"].endswith("batch-size=4\n")
    states, _ = _file_states(changed)
    assert states[f"{d}/other/models/m2.engine"].exists
    assert not states[f"{d}/other/models/m.onnx_b1_gpu0_fp16.engine"].exists

    settle()
    from_the_kept_output()
    (d / "other/models/m.onnx").write_text("model three\n")  # a model the config names
    states, _ = _file_states(host.search(f"r:{d}/root"))
    assert states[f"{d}/other/models/m.onnx"].sha256 == hashlib.sha256(b"model three\n").hexdigest()
    assert host.calls() == [("sha256sum", f"{d}/other/models/m.onnx")]


def kept_search(host: Host, *items: str) -> str:
    """Search until one reads nothing (its output is then kept whole, probe/fast.sh) and return that
    output; then mark the kept output (a line more) so that a search answered from it shows."""
    fast = host.dir / "home/.cache/dsprov/probe/fast.sh"
    for _ in range(3):
        out = host.search(*items)
        if fast.exists():
            break
        settle()
    assert fast.exists()
    with fast.open("a") as kept:
        kept.write('kept_out="${kept_out}warning\tmarker\n"\n')
    host.calls()
    return out


def find_runs(host: Host) -> int:
    """How many times the search ran find to walk a folder since the last call (a logging wrapper first on
    PATH, a line per run: `find` and its first argument); a check of a kept tree by its ctimes (GNU find's
    -files0-from, -maxdepth 0) reads none."""
    log = host.dir / "find.log"
    runs = log.read_text().splitlines() if log.exists() else []
    log.write_text("")
    return sum(run != "find -files0-from" for run in runs)


def checked_by_ctimes(host: Host) -> bool:
    """Whether the last search began with a check of a kept tree by its ctimes (the find log's first run)."""
    log = host.dir / "find.log"
    return log.exists() and log.read_text().startswith("find -files0-from\n")


def test_a_kept_search_reads_no_folder_and_sees_every_change_of_the_tree(host):
    d = host.dir
    wrapper = d / "bin/find"
    wrapper.write_text(f'#!{shutil.which("sh")}\necho "find $1" >> {d / "find.log"}\nPATH={host.tools} exec find "$@"\n')
    wrapper.chmod(0o755)
    deep = d / "root/a/b/c/d"
    deep.mkdir(parents=True)
    (d / "root/a/b/labels.txt").write_text("person\n")
    settle()
    first = kept_search(host, f"r:{d}/root")
    find_runs(host)
    assert host.search(f"r:{d}/root") == first + "warning\tmarker\n"  # the kept output, no folder read
    # GNU find here is 4.9 or later (Debian 12): the kept tree is checked by its ctimes, busybox's by its keys
    assert checked_by_ctimes(host) == host.shell[0].endswith("dash")
    assert find_runs(host) == 0
    if host.shell[0].endswith("dash"):  # a tree kept in another boot: checked by its keys once, then by its ctimes
        fast = d / "home/.cache/dsprov/probe/fast.sh"
        fast.write_text(fast.read_text() + "kept_boot=another\n")
        assert host.search(f"r:{d}/root") == first + "warning\tmarker\n"
        assert not checked_by_ctimes(host) and find_runs(host) == 0
        assert host.search(f"r:{d}/root") == first + "warning\tmarker\n"
        assert checked_by_ctimes(host) and find_runs(host) == 0

    # a config added in a deep folder is found by the next search (no second waited)
    (deep / "new.txt").write_text(NVINFER)
    added = host.search(f"r:{d}/root")
    assert "marker" not in added and configs(added)[f"{deep}/new.txt"] == NVINFER
    assert find_runs(host) > 0
    # and only in its second, the tree it changed is not kept: the next search walks again
    assert not (d / "home/.cache/dsprov/probe/fast.sh").exists()
    settle()
    assert configs(kept_search(host, f"r:{d}/root")) == configs(added)

    # a folder renamed: its config under the new name
    (d / "root/a/b").rename(d / "root/a/B")
    renamed = host.search(f"r:{d}/root")
    assert set(configs(renamed)) == set(configs(first)) | {f"{d}/root/a/B/c/d/new.txt"}
    settle()
    kept_search(host, f"r:{d}/root")

    # removed: gone
    (d / "root/a/B/c/d/new.txt").unlink()
    assert configs(host.search(f"r:{d}/root")) == configs(first)
    settle()
    kept_search(host, f"r:{d}/root")

    # a *.txt rewritten in place into a config (its folder untouched, its mtime put back): found
    labels = d / "root/a/B/labels.txt"
    times = labels.stat()
    labels.write_text(NVINFER)
    os.utime(labels, ns=(times.st_atime_ns, times.st_mtime_ns))
    find_runs(host)
    assert configs(host.search(f"r:{d}/root"))[str(labels)] == NVINFER
    assert checked_by_ctimes(host) == host.shell[0].endswith("dash")
    settle()
    kept_search(host, f"r:{d}/root")
    # and rewritten again to bytes of the same size (its size and mtime the same): found
    times = labels.stat()
    labels.write_text(NVINFER.replace("onnx_b1", "onnx_b2"))
    os.utime(labels, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert labels.stat().st_size == times.st_size
    find_runs(host)
    assert configs(host.search(f"r:{d}/root"))[str(labels)] == NVINFER.replace("onnx_b1", "onnx_b2")
    assert checked_by_ctimes(host) == host.shell[0].endswith("dash")
    labels.write_text("person\n")
    settle()
    kept = kept_search(host, f"r:{d}/root")
    assert configs(kept) == configs(first)

    # a folder swapped for a symlink to a folder of the same entries (its parent's mtime put back): not
    # followed, as the walk does not follow it
    parent = d / "root/a"
    times = parent.stat()
    (d / "root/a/B").rename(d / "other/B")
    (d / "root/a/B").symlink_to(d / "other/B")
    os.utime(parent, ns=(times.st_atime_ns, times.st_mtime_ns))
    swapped = host.search(f"r:{d}/root")
    assert "marker" not in swapped and configs(swapped) == configs(first)
    (d / "root/a/B").unlink()
    (d / "other/B").rename(d / "root/a/B")
    (d / "root/a/B/c/d/new.txt").write_text(NVINFER)
    assert f"{d}/root/a/B/c/d/new.txt" in configs(host.search(f"r:{d}/root"))
    (d / "root/a/B/c/d/new.txt").unlink()
    settle()
    kept = kept_search(host, f"r:{d}/root")

    # nothing else changes the output: another file added, a folder made, a file's times, then the kept output again
    (d / "root/a/B/image.jpg").write_bytes(b"\xff\xd8")
    (d / "root/a/empty").mkdir()
    os.utime(d / "root/app/labels.txt")
    assert host.search(f"r:{d}/root") == kept
    settle()
    assert kept_search(host, f"r:{d}/root") == kept
    assert host.search(f"r:{d}/root") == kept + "warning\tmarker\n"

    # a change in the second the tree is taken: that tree is not kept (times in whole seconds), so a config
    # added in that same second is found
    time.sleep(1.05 - time.time() % 1)
    (d / "root/a/B/c/d/image.jpg").write_bytes(b"\xff\xd8")
    assert host.search(f"r:{d}/root") == kept  # nothing read, and not kept
    assert not (d / "home/.cache/dsprov/probe/fast.sh").exists()
    (d / "root/a/B/c/d/late.txt").write_text(NVINFER)
    assert f"{d}/root/a/B/c/d/late.txt" in configs(host.search(f"r:{d}/root"))


def test_a_kept_search_keeps_the_bound_and_sees_a_root_made(host):
    d = host.dir
    (d / "root/deep/er").mkdir(parents=True)
    (d / "root/deep/er/notes.txt").write_text("notes\n")  # 3 *.txt with app.txt and labels.txt
    settle()
    kept = kept_search(host, "n:3", f"r:{d}/root", f"r:{d}/later")
    assert "warning" not in kept and set(configs(kept)) == {f"{d}/root/app/app.txt", f"{d}/other/cfg/pgie.txt"}
    (d / "root/deep/er/more.txt").write_text("notes\n")  # 4: over the bound
    bound = f"warning\t{d}/root: more than 3 *.txt files (dsprov_engine_search_max_files): not searched"
    over = host.search("n:3", f"r:{d}/root", f"r:{d}/later")
    assert bound in over.splitlines() and configs(over) == {}
    settle()
    assert bound in kept_search(host, "n:3", f"r:{d}/root", f"r:{d}/later").splitlines()
    (d / "root/deep/er/more.txt").unlink()
    assert configs(host.search("n:3", f"r:{d}/root", f"r:{d}/later")) == configs(kept)
    settle()
    kept_search(host, "n:3", f"r:{d}/root", f"r:{d}/later")
    (d / "later").mkdir()  # a root that was missing
    (d / "later/app.txt").write_text(APP)
    assert f"{d}/later/app.txt" in configs(host.search("n:3", f"r:{d}/root", f"r:{d}/later"))


def test_a_folder_of_labels_is_watched_by_itself_and_a_folder_with_a_config_file_by_file(host):
    """A kept check stats each *.txt only where a folder holds at most 32 of them or a config; a folder of
    more (a YOLO label folder) is watched by its own ctime and keys. A label there rewritten in place is
    read by the next search that reads anything."""
    d = host.dir
    (d / "root/labels").mkdir()
    for n in range(33):
        (d / f"root/labels/{n:05}.txt").write_text(f"0 0.5 0.5 0.{n % 10} 0.1\n")
    (d / "root/app/few").mkdir()
    for n in range(32):
        (d / f"root/app/few/{n:05}.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    settle()
    first = kept_search(host, f"r:{d}/root")
    tree = (d / "home/.cache/dsprov/probe/fast.tree").read_bytes().split(b"\0")
    assert f"{d}/root/labels".encode() in tree and not any(p.startswith(f"{d}/root/labels/".encode()) for p in tree)
    assert sum(p.startswith(f"{d}/root/app/few/".encode()) for p in tree) == 32
    assert f"{d}/root/app/labels.txt".encode() in tree  # beside a config
    assert host.search(f"r:{d}/root") == first + "warning\tmarker\n"

    # a label rewritten in place among 32 (its mtime put back): found by the kept check
    few = d / "root/app/few/00000.txt"
    times = few.stat()
    few.write_text(NVINFER)
    os.utime(few, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert configs(host.search(f"r:{d}/root"))[str(few)] == NVINFER
    few.write_text("0 0.5 0.5 0.1 0.1\n")
    settle()
    assert configs(kept_search(host, f"r:{d}/root")) == configs(first)

    # among 33: the kept output stands until something else changes; then the search that reads finds it
    label = d / "root/labels/00000.txt"
    times = label.stat()
    label.write_text(NVINFER)
    os.utime(label, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert host.search(f"r:{d}/root") == first + "warning\tmarker\n"
    (d / "root/labels/extra.jpg").write_bytes(b"\xff\xd8")
    assert configs(host.search(f"r:{d}/root"))[str(label)] == NVINFER
    # and with a config among them, the folder's *.txt are watched one by one
    settle()
    kept_search(host, f"r:{d}/root")
    tree = (d / "home/.cache/dsprov/probe/fast.tree").read_bytes().split(b"\0")
    assert sum(p.startswith(f"{d}/root/labels/".encode()) for p in tree) == 33
