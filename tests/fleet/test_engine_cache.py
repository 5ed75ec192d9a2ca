# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Engines built once per key: three identical T4s provisioned cold build each of the four sample
engines once in all (the trtexec stand-in records every build and load on its device), the other
hosts copy them from the controller's cache and load each (`trtexec --loadEngine`) before it is
used, each host in the round trips counted below (a copier of everything in 12, at most 30 in any
case), the reads and trtexec never under sudo, the branch's commit asked once per run; `dsprov_engine_cache: off` builds on every host; a
cached engine that does not load on a host is not used: that host builds its own."""

import json
from collections import Counter
from pathlib import Path

import pytest

from provision.artifacts import sha256_file
from simfleet.profiles import TRTEXEC_RUNS

from .helpers import fleet_env, hosts, invoke, on_device

pytestmark = pytest.mark.fleet
HOSTS = ("t4-01", "t4-02", "t4-03")
SAMPLE_MODELS = "/opt/nvidia/deepstream/deepstream/samples/models"
ENGINES = 4  # the four-model deepstream-app sample (simfleet/deepstream_app.py)
# A cold provision's round trips on a host that copies the plugin and every engine: the probe, the
# plugin's commit (git ls-remote: one host of a run asks, the others are told), the lock (its command
# also reads the state file); the swap: one read, the copy, one sudo command, one verify; the
# engines: the survey, one transfer of all four, one load check for all, the install as the login
# user, then with sudo (30 before the engine cache's round, 13 before this one).
COPIER = 12
# The builder adds cmake (its version, the archive's copy, the install, the version again), the build
# folder's check, the clone, configure and build, the product's name and its fetch.
BUILDER = COPIER + 10


def round_trips(base: int, builds: int) -> int:
    """A host's round trips from its base and the engines it built: each build is trtexec and the
    fetch into the cache; the first makes the private folder, and when every engine is built there
    is neither the transfer of copies nor their load check."""
    return base + (2 * builds + 1 if builds else 0) - 2 * (builds == ENGINES)


@pytest.fixture(scope="module")
def t4s(serve_fleet):
    devices = "".join(f"  - {{name: {h}, profile: t4}}\n" for h in HOSTS)
    with serve_fleet("engine-cache", f"name: engine-cache\ndevices:\n{devices}") as handle:
        yield handle


def runs(handle, host: str) -> Counter:
    """The stand-in's builds and loads on a host since the last call (the log is emptied)."""
    lines = on_device(handle, host, f"cat {TRTEXEC_RUNS} && : > {TRTEXEC_RUNS}").stdout.splitlines()
    return Counter(f"{line.split(chr(9))[0]}" + (f" {line.split(chr(9))[3]}" if line.startswith("load") else "")
                   for line in lines)


def logged(report: dict) -> list[str]:
    """The commands a host's run logged (`$ ...` lines of its log)."""
    lines = (line.partition(" ")[2] for line in Path(report["log"]).read_text().splitlines())
    return [line[2:] for line in lines if line.startswith("$ ")]


def asked(report: dict) -> bool:
    """Whether the host asked the plugin's commit itself (else another host of its run told it)."""
    return any(c.startswith("git ls-remote ") for c in logged(report))


def make_stale(handle, host: str) -> None:
    """Remove the sample engines' build records: every engine is stale again."""
    gone = on_device(handle, host, f"rm -f {SAMPLE_MODELS}/*/*.engine.dsprov.json", sudo=True)
    assert gone.returncode == 0, gone.stderr


@pytest.fixture(scope="module")
def cold(t4s) -> dict[str, dict]:
    """Each host provisioned cold with --force, its report and its trtexec runs: two at once (they
    share the builds key by key), then the third, which finds every key built."""
    reports = {}
    for picked in (",".join(HOSTS[:2]), HOSTS[2]):
        result = invoke(t4s, "provision", "--hosts", picked, "--force", "--json", env=fleet_env(t4s))
        assert result.returncode == 0, result.stdout + result.stderr
        reports.update((r["host"], {**r, "runs": runs(t4s, r["host"])}) for r in hosts(result))
    return reports


def test_each_engine_is_built_once_in_the_fleet_and_copied_to_the_others(cold):
    assert sum(r["runs"]["build"] for r in cold.values()) == ENGINES, {h: r["runs"] for h, r in cold.items()}
    copiers = [r for r in cold.values() if not r["runs"]["build"]]
    assert cold[HOSTS[2]] in copiers and cold[HOSTS[2]]["outcome"] == "copied"  # the plugin too
    for report in cold.values():  # what a host did not build it copied and loaded first
        assert report["runs"]["build"] + report["runs"]["load ok"] == ENGINES, report["runs"]
        assert not report["runs"]["load failed"]
    assert [asked(cold[h]) for h in HOSTS].count(True) == 2 and asked(cold[HOSTS[2]])  # once per run
    for report in cold.values():  # the variance of main's 28-39: copiers of the plugin that built some engines
        base = COPIER if report["outcome"] == "copied" else BUILDER
        assert report["commands"] == round_trips(base, report["runs"]["build"]) - (not asked(report)), \
            (report["host"], report["runs"])
        assert report["outcome"] != "copied" or report["commands"] <= max(round_trips(COPIER, n) for n in range(ENGINES + 1)) <= 30
    assert cold[HOSTS[2]]["commands"] == COPIER
    for report in copiers:
        copies = [c for c in logged(report) if c.startswith("(controller) copy the cached engine ")]
        assert len({c.split()[5] for c in copies}) == len(copies) == ENGINES, copies


# What runs as the login user (the command's start): the reads before the swap (both SHA-256s,
# dpkg-query), its verify (readlink, sha256sum, the loader), the engine survey, the load checks
# (trtexec), the install of what the login user may write; and the plugin's commit where it is asked.
NO_ROOT = ("printf '%s\\t%s\\n' lib \"$(sha256sum ", "printf 'link\\t%s\\n' \"$(readlink -f ",
           "sh -s -- /usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.8 ", "if out=$(PATH=/usr/src/tensorrt/bin:$PATH; trtexec --loadEngine=",
           "sh -s -- user ")


def test_commands_that_need_no_root_run_without_sudo(cold):
    for report in cold.values():
        commands = logged(report)
        for start in NO_ROOT:
            copied = report["runs"]["build"] < ENGINES
            assert [c for c in commands if c.startswith(start)] != [] or (not copied and "loadEngine" in start), \
                (report["host"], start, commands)
            assert [c for c in commands if c.startswith("sudo " + start)] == [], (report["host"], start)
        assert [c for c in commands if "trtexec " in c and c.startswith("sudo")] == []
        assert [c for c in commands if "git ls-remote " in c and c.startswith("sudo")] == []
        assert [c for c in commands if "dpkg-query" in c and not c.startswith(NO_ROOT[0])] == []
        # with sudo only: the swap (one command) and the engines' install under /opt; the builder's cmake install
        sudo = [c for c in commands if c.startswith("sudo")]
        cmake = [c for c in sudo if c.startswith("sudo echo ") and "cmake-" in c]
        assert len(cmake) == (report["outcome"] == "built") and sorted(sudo) == sorted(["sudo sh -c '"] * 2 + cmake), sudo


def test_engine_cache_off_builds_on_every_host(t4s, cold, tmp_path):
    inventory = t4s.inventory_with(tmp_path / "inventory", HOSTS[0], "dsprov_engine_cache: 'off'\n")
    for host in HOSTS:
        (inventory / "host_vars" / f"{host}.yml").write_text("dsprov_engine_cache: 'off'\n")
        make_stale(t4s, host)
    result = invoke(t4s, "provision", "--hosts", "all", "--json", inventory=inventory / "hosts.ini", env=fleet_env(t4s))
    assert result.returncode == 0, result.stdout + result.stderr
    for report in hosts(result):
        assert runs(t4s, report["host"]) == Counter({"build": ENGINES}), report["host"]
        assert not [c for c in logged(report) if "engine cache" in c], report["host"]


def test_a_cached_engine_that_does_not_load_is_not_used(t4s, cold):
    cache = Path(fleet_env(t4s)["DSPROV_CACHE"]) / "artifacts"
    (meta,) = [m for m in cache.glob("*/meta.json") if json.loads(m.read_text())["parts"].get("batch") == "4"]  # the primary
    engine = meta.parent / "model.engine"
    engine.write_bytes(b"not an engine this TensorRT can deserialize\n")  # a bad entry, as the store sees it whole
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "sha256": sha256_file(engine)}))
    make_stale(t4s, "t4-02")
    result = invoke(t4s, "engines", "--host", "t4-02", "--json", env=fleet_env(t4s))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {r["new_engine"].split("/")[-2]: r for r in json.loads(result.stdout)["engines"]}
    primary = rows.pop("Primary_Detector")
    assert (primary["outcome"], primary["copied"], primary["key"]) == ("rebuilt", False, None)
    assert {(r["outcome"], r["copied"], r["key"] == meta.parent.name) for r in rows.values()} == {("rebuilt", True, False)}
    assert any("does not load here" in w and "built here instead" in w for w in primary["warnings"]), primary
    assert runs(t4s, "t4-02") == Counter({"load ok": ENGINES - 1, "load failed": 1, "build": 1})
    installed = on_device(t4s, "t4-02", f"head -n 1 {SAMPLE_MODELS}/Primary_Detector/resnet10.onnx_b4_gpu0_int8.engine")
    assert installed.stdout.startswith("# simulated TensorRT engine")
    assert engine.read_bytes() == b"not an engine this TensorRT can deserialize\n"  # the host's own build is not cached
