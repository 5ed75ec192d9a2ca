# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""The state file's typed records (provision/state.py; each capability declares its own): every
record reads back as the JSON it was made from, and a file the previous release wrote is read
into records and written again byte for byte."""

from __future__ import annotations

import json

import pytest

from provision.capabilities.max_clocks import MaxClocksRecord
from provision.capabilities.plugin_files import KeptOriginals, PluginRecord
from provision.capabilities.pyds import PydsRecord
from provision.errors import StepFailed
from provision.state import SCHEMA, ObjectRecord, State, StateRecord, record_types

SHA = {c: c * 64 for c in "abcd"}
PLUGIN = {"path": "/usr/lib/aarch64-linux-gnu/libnvinfer_plugin.so.8.2.1", "saved": "/var/lib/dsprov/orig/libnvinfer_plugin.so.8.2.1",
          "original_sha256": SHA["a"], "package_version": None, "installing_sha256": SHA["b"], "installed_sha256": SHA["b"],
          "key": "0123456789abcdef", "ref": "release/8.2", "commit": None, "gpu_archs": ["53", "62", "72"],
          "previous_originals": [{"sha256": SHA["c"], "path": "/var/lib/dsprov/previous/libnvinfer_plugin.so.8.2.1.cccccccccccc"}]}
PYDS = {"key": "fedcba9876543210", "version": "1.1.1", "wheel": "/var/lib/dsprov/wheels/pyds-1.1.1-py3-none-linux_aarch64.whl",
        "sha256": SHA["d"], "tag": "v1.1.1", "commit": "9f3c1b2"}
MAX_CLOCKS = {"previous_mode": 1, "previous_name": "5W", "stored": "/var/lib/dsprov/l4t_dfs.conf", "mode": 0,
              "mode_name": "MAXN", "unit": "/etc/systemd/system/dsprov-jetson-clocks.service"}
# What the previous release (main at c4dea9b: State.to_json, json.dumps(indent=2, sort_keys=True))
# wrote for a host with every record: a swap after a takeover (its commit and package version
# unknown: null), a built pyds, --max-clocks, the originals of a swap rolled back earlier, and a
# key this release does not know.
PREVIOUS_RELEASE = json.dumps({"plugin": PLUGIN, "pyds": PYDS, "max_clocks": MAX_CLOCKS,
                               "previous_originals": [{"sha256": SHA["d"], "path": "/var/lib/dsprov/previous/x.so"}],
                               "later": {"kept": True}}, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("kind, value", [(PluginRecord, PLUGIN), (PydsRecord, PYDS), (MaxClocksRecord, MAX_CLOCKS),
                                         (PluginRecord, {"original_sha256": SHA["a"], "saved": "/s", "path": "/p"}),
                                         (PydsRecord, {"key": "k", "version": "1.2", "unknown": [1]}),
                                         (KeptOriginals, PLUGIN["previous_originals"])])
def test_each_record_reads_back_as_its_json(kind, value):
    record = kind.from_json(value)
    assert record.to_json() == value and kind.from_json(record.to_json()) == record


def test_a_key_is_written_when_set_even_to_null_and_only_then():
    record = PydsRecord.new(key="k", version="1.1.1")
    assert record.to_json() == {"key": "k", "version": "1.1.1"} and record.tag is None
    assert record.updated(tag="v1.1.1", commit=None).to_json() == {"key": "k", "version": "1.1.1", "tag": "v1.1.1",
                                                                    "commit": None}
    assert list(PydsRecord.from_json({"version": "1", "x": 0, "key": "k"}).updated(tag="t", key="j").to_json()) == [
        "version", "x", "key", "tag"]  # a dict's update: keys keep their place, a new one comes last


def test_a_file_of_the_previous_release_is_read_into_records_and_written_byte_for_byte():
    state = State.parse("nano01", PREVIOUS_RELEASE)
    plugin, pyds, clocks = state.record_of(PluginRecord), state.record_of(PydsRecord), state.record_of(MaxClocksRecord)
    assert plugin and plugin.installed_sha256 == SHA["b"] and plugin.commit is None and plugin.gpu_archs == ["53", "62", "72"]
    assert pyds and (pyds.version, pyds.tag) == ("1.1.1", "v1.1.1")
    assert clocks and str(clocks.previous) == str(MaxClocksRecord.from_json(MAX_CLOCKS).previous) and clocks.mode == 0
    assert state.record_of(KeptOriginals) == KeptOriginals(({"sha256": SHA["d"], "path": "/var/lib/dsprov/previous/x.so"},))
    assert state.to_json() == PREVIOUS_RELEASE
    as_read = json.loads(PREVIOUS_RELEASE)  # what `detect` shows (facts.provisioned): the file's order kept
    assert json.dumps(dict(state)) == json.dumps(as_read)
    changed = state.without(PydsRecord).with_record(pyds.updated(version="1.1.2"))
    assert json.loads(changed.to_json()) == {**json.loads(PREVIOUS_RELEASE), "pyds": {**PYDS, "version": "1.1.2"}}
    assert json.loads(state.without(PydsRecord).to_json()).keys() == {"plugin", "max_clocks", "previous_originals", "later"}


def test_a_null_record_is_no_record_and_stays_as_it_was():
    state = State.parse("nano01", '{"pyds": null}')
    assert state.record_of(PydsRecord) is None and json.loads(state.to_json()) == {"pyds": None}
    assert json.loads(state.without(PydsRecord).to_json()) == {}


def test_each_declared_record_has_its_key_in_the_schema():
    kinds = record_types()
    assert {"plugin", "pyds", "max_clocks", "previous_originals"} <= kinds.keys() <= SCHEMA["properties"].keys()
    assert all(issubclass(k, StateRecord) and (k is KeptOriginals or issubclass(k, ObjectRecord)) for k in kinds.values())


def test_strict_and_lenient_reading_stay_as_they_were():
    with pytest.raises(StepFailed, match=r"\['pyds'\] is a list"):
        State.parse("nano01", '{"pyds": []}')
    assert State.parse("nano01", '{"pyds": []}', strict=False) == State()


def test_a_state_made_from_json_holds_records_and_reads_as_json():
    state = State({"pyds": PYDS, "later": 1})
    assert state.record_of(PydsRecord) == PydsRecord.from_json(PYDS) and state.record_of(MaxClocksRecord) is None
    assert state.record("pyds") == PYDS and state.record("max_clocks") == {} and dict(state) == {"pyds": PYDS, "later": 1}
