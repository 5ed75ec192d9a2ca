# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every parser and checker, fuzzed: whatever the input, the answer is a result or one line (a
ProvisionError, or through a task an `error:` line with exit code 1 or 2), never another exception.

Hypothesis generates the input from real files where there are some (the H100 probe capture,
NVIDIA's published nvinfer configs) with parts replaced, and from scratch otherwise. The profile
keeps CI fast: a bounded number of examples per property, no deadline (a slow CI machine is no
failure), no example database written into the checkout. `HYPOTHESIS_PROFILE=long` explores more.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import paramiko
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invoke import Exit

from provision import tasks
from provision.deepstream.app_config import parse_app_config, resolve_gies
from provision.deepstream.gie_graph import check_graph
from provision.deepstream.labels import coco_labels, label_name
from provision.deepstream.nvinfer_config import parse_config
from provision.detect import analyse, read_capture
from provision.errors import ProvisionError
from provision.input_files import parse_json
from provision.matrix import Matrix
from provision.options import Flags, Settings, check_settings
from provision.runners.host_keys import KnownHosts
from provision.state import State
from simfleet.profiles import PUBLISHED_DIR

settings.register_profile("ci", max_examples=60, deadline=None, database=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile("long", parent=settings.get_profile("ci"), max_examples=2000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

H100 = Path(__file__).parent / "fixtures" / "recorded" / "h100-ubuntu2404" / "probe-capture.txt"
NVINFER = sorted((PUBLISHED_DIR / "deepstream_configs").glob("*.txt"))
MATRIX = Matrix.load()
HEADER = re.compile(r"^==> (\S+) <==$", re.M)

# Text that parsers meet: digits of every kind (`²`, `٣`), separators, line breaks of every
# kind, controls, NUL, the probe's own header, numbers at their limits.
TRICKY = st.sampled_from(["²", "³", "٣", "1e3", "-1", "0", "99999", "99999999", "18446744073709551617", "\r", "\x00",
                          "\u2028", "\x85", "==> uname_m <==", "[property]", "=", ";", ",", " ", "\t", "nan", "[",
                          "{", "%s", "{0}", "\\", "'", '"', "~", "-", "--", "/", "..", "@revoked", "|1|"])
TEXT = st.lists(st.one_of(st.text(max_size=12), TRICKY, st.integers(-10**20, 10**20).map(str)), max_size=12).map("".join)
LINES = st.lists(TEXT, max_size=10).map("\n".join)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats() | TEXT,
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5), max_leaves=25)


def one_line(exc: BaseException) -> None:
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert "Traceback" not in message


def answers(call, *args):
    """The call's result, or None after a one-line ProvisionError; any other exception fails."""
    try:
        return call(*args)
    except ProvisionError as exc:
        one_line(exc)
        return None


def task_answers(task, **kwargs) -> None:
    """A task (through its command-line wrapper) ends with exit 0, or an `error:` line and 1 or 2."""
    try:
        task.body(None, **kwargs)
    except Exit as done:
        assert done.code in (1, 2), done.code
        if done.message:
            one_line(done.message)
            assert done.message.startswith("error: "), done.message


# -- probe captures ------------------------------------------------------------------------

def _sections(text: str) -> list[str]:
    return HEADER.findall(text)


H100_TEXT = H100.read_text()
SECTION_NAMES = _sections(H100_TEXT)


@st.composite
def captures(draw) -> str:
    """The recorded H100 capture with some sections' text replaced (or dropped, or repeated)."""
    text = H100_TEXT
    for name in draw(st.lists(st.sampled_from(SECTION_NAMES), max_size=4, unique=True)):
        body = draw(st.one_of(LINES, st.just(""), st.sampled_from(["x86_64", "aarch64", "Version: ²", "R32 (release), REVISION: ³"])))
        text = re.sub(rf"(==> {name} <==\n)(?:(?!==> ).*\n)*", lambda m: m.group(1) + body + "\n", text, count=1)
    return text


@given(captures())
def test_a_capture_analyses_or_is_one_line(text):
    answers(analyse, "h", text, None, MATRIX)


@settings(max_examples=20)  # each example loads the matrix twice (about a second)
@given(st.binary(max_size=400) | captures().map(str.encode))
def test_a_capture_file_through_detect_and_check(tmp_path, data):
    path = tmp_path / "capture.txt"
    path.write_bytes(data)
    if answers(read_capture, path) is None:
        return
    task_answers(tasks.detect, capture=str(path), json=True)
    task_answers(tasks.matrix_check, capture=str(path), json=True)


# -- nvinfer and deepstream-app configs ---------------------------------------------------

NVINFER_KEYS = ["batch-size", "network-mode", "gpu-id", "infer-dims", "input-dims", "onnx-file", "model-engine-file",
                "int8-calib-file", "labelfile-path", "num-detected-classes", "gie-unique-id", "operate-on-gie-id",
                "operate-on-class-ids", "network-type", "process-mode", "interval"]


@st.composite
def nvinfer_texts(draw) -> str:
    lines = draw(st.sampled_from(NVINFER)).read_text().splitlines()
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.sampled_from(NVINFER_KEYS))
        line = f"{key}={draw(TEXT)}"
        if lines and draw(st.booleans()):
            lines[draw(st.integers(0, len(lines) - 1))] = line
        else:
            lines.append(line)
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(TEXT))
    return "\n".join(lines)


@given(nvinfer_texts() | LINES)
def test_an_nvinfer_config_parses_or_is_one_line(text):
    answers(parse_config, "/opt/c/config_infer.txt", text)


APP = """[application]
enable-perf-measurement=1
[primary-gie]
enable=1
config-file=config_infer.txt
batch-size={batch}
gie-unique-id={uid}
[secondary-gie0]
enable={enable}
config-file={second}
gie-unique-id=2
operate-on-gie-id={on}
operate-on-class-ids={classes}
"""


@given(st.fixed_dictionaries({k: TEXT for k in ("batch", "uid", "enable", "second", "on", "classes")}),
       nvinfer_texts(), st.lists(TEXT, max_size=3))
def test_a_deepstream_app_config_and_its_graph_are_results_or_one_line(fields, nvinfer, extra):
    text = APP.format(**fields) + "\n".join(extra)
    app = answers(parse_app_config, "/opt/c/app.txt", text)
    if app is None:
        return
    texts = {"/opt/c/config_infer.txt": nvinfer}
    resolved = answers(resolve_gies, app, texts)
    if resolved:
        gies, unusable = resolved
        answers(check_graph, app, gies, unusable, {g.group: 3 for g in app.enabled})


# -- COCO and labels -----------------------------------------------------------------------

CATEGORY = st.fixed_dictionaries({"id": st.integers(-5, 70000) | JSON, "name": TEXT | JSON})


@given(st.lists(CATEGORY | JSON, max_size=20).map(lambda c: {"categories": c}) | JSON, st.booleans())
def test_coco_categories_become_one_label_per_line_or_one_line(coco, background_first):
    labels = answers(coco_labels, coco, background_first)
    if labels is not None:
        assert labels.text.count("\n") == len(labels.names)
        assert all(name and "\n" not in name and name == label_name(name) for name in labels.names)
        note = labels.duplicate_note()
        assert note is None or "\n" not in note


@given(st.text(max_size=300) | st.sampled_from(["[" * 50_000, '{"a":' * 50_000, "1" * 5000, "[1e999999]"]))
def test_json_input_is_a_value_or_one_line(text):
    answers(parse_json, text, "COCO annotation x.json")


# -- settings and flags --------------------------------------------------------------------

SETTING_NAMES = [f"dsprov_{f}" for f in Settings.__dataclass_fields__] + [f"dsprov_{f}" for f in Flags.__dataclass_fields__]
VALUE = JSON | TEXT | st.sampled_from(["²", "³", 99999, -1, True, "https://m/x.tar.gz", "/abs/path", "release/8.2"])


@given(st.dictionaries(st.sampled_from(SETTING_NAMES + ["dsprov_other"]), VALUE, max_size=4))
def test_settings_are_checked_or_one_line(host_vars):
    try:
        check_settings(host_vars, "h")
    except ProvisionError as exc:
        one_line(exc)
        return
    Settings.read(host_vars)  # what passed the check reads without any error


@given(st.dictionaries(st.sampled_from(list(Flags.__dataclass_fields__)), VALUE, max_size=4))
def test_flags_parse_or_are_one_line(given_flags):
    answers(Flags.parse, given_flags)


@given(st.fixed_dictionaries({"streams": st.none() | TEXT, "batch_size": st.none() | TEXT, "precision": TEXT,
                              "dims": st.none() | TEXT, "parser": st.none() | TEXT, "kind": TEXT | st.just("yolo"),
                              "onnx": TEXT | st.just("/m/a.onnx"), "out": TEXT | st.just("/m/c.txt")}))
def test_deepstream_config_flags_end_in_one_line(tmp_path, flags):
    """Through the task: bad flags are one line, exit 2; good ones reach the (unreachable) host: one line, 2."""
    (tmp_path / "hosts.ini").write_text("[x86]\nt4-01 ansible_host=127.0.0.1 ansible_port=9 ansible_user=u\n")
    (tmp_path / "coco.json").write_text('{"categories": [{"id": 1, "name": "a"}]}')
    task_answers(tasks.deepstream_config, host="t4-01", coco=str(tmp_path / "coco.json"),
                 inventory=str(tmp_path / "hosts.ini"), json=True, **flags)


# -- known_hosts and state files -----------------------------------------------------------

KEY = paramiko.ECDSAKey.generate()
KEY_LINE = f"{KEY.get_name()} {KEY.get_base64()}"
KNOWN_LINE = st.one_of(
    st.tuples(st.sampled_from(["", "@revoked ", "@cert-authority ", "@other ", "@"]),
              st.sampled_from(["nano01", "*", "[10.0.0.5]:2222", "!x,*", "|1|abc|def", ""]) | TEXT,
              st.sampled_from([KEY_LINE, "ssh-ed25519 AAAA", "ssh-rsa !!!", ""]) | TEXT).map(lambda t: f"{t[0]}{t[1]} {t[2]}"),
    TEXT)


@given(st.lists(KNOWN_LINE, max_size=8))
def test_known_hosts_lines_are_read_or_skipped(tmp_path, lines):
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines), errors="surrogateescape")
    known = answers(KnownHosts().read, path)
    if known is not None:
        known.lookup("[10.0.0.5]:2222")
        known.revocation("nano01", KEY)


@given(JSON.map(json.dumps) | st.text(max_size=200) | st.sampled_from(["", "  ", "[" * 100_000, "null", '{"plugin": []}']))
def test_a_state_file_is_a_record_or_one_line(text):
    state = answers(State.parse, "h", text)
    assert state is None or isinstance(state, State)


def test_the_profile_is_bounded():
    """CI runs every property above with at most this many examples (the whole module: about a minute)."""
    assert settings.default.max_examples <= 100 or os.environ.get("HYPOTHESIS_PROFILE") == "long"
