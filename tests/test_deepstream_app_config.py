# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""deepstream-app configs (pure): NVIDIA's four-model sample parses into its GIE graph; the group's
keys override the nvinfer config's; the graph check refuses in one line naming the group."""

import pytest

from provision.deepstream.app_config import is_app_config, parse_app_config, resolve_gie, resolve_gies
from provision.deepstream.gie_graph import check_graph
from provision.deepstream.nvinfer_config import ConfigError, set_property
from simfleet.deepstream_app import APP_CONFIG, CLASSIFIERS, CONFIG_DIR, sample_files

ROOT = "/opt/ds"
APP = f"{ROOT}/{CONFIG_DIR}/{APP_CONFIG}"
FILES = {f"{ROOT}/{path}": data for path, data in sample_files().items()}
SAMPLE = FILES[APP].decode()
NVINFER = {path: data.decode() for path, data in FILES.items() if path.endswith(".txt") and "/configs/" in path}


def graph(text: str, path: str = APP, nvinfer: dict[str, str] | None = None, labels: dict[str, int] | None = None):
    """The graph check over `text` with the sample's nvinfer configs (or `nvinfer`)."""
    app = parse_app_config(path, text)
    return check_graph(app, *resolve_gies(app, NVINFER if nvinfer is None else nvinfer), labels or {})


def test_the_sample_graph_primary_feeds_three_classifiers():
    assert is_app_config(SAMPLE) and not is_app_config(NVINFER[f"{ROOT}/{CONFIG_DIR}/config_infer_primary.txt"])
    g = graph(SAMPLE)
    assert (g.problems, g.warnings) == ([], [])
    data = g.to_json()
    assert [x["group"] for x in data["gies"]] == ["primary-gie", "secondary-gie0", "secondary-gie1", "secondary-gie2"]
    assert data["gies"][0]["feeds"] == ["[secondary-gie0]", "[secondary-gie1]", "[secondary-gie2]"]
    assert [x["gie_unique_id"] for x in data["gies"]] == [1, 4, 5, 6]
    assert [x["operates_on"] for x in data["gies"]] == ["frames", *["[primary-gie]"] * 3]
    assert data["gies"][2]["config_file"] == f"{ROOT}/{CONFIG_DIR}/{CLASSIFIERS[1].config}"


def test_app_config_keys_override_the_nvinfer_config():
    app = parse_app_config(APP, SAMPLE)
    primary = resolve_gie(app, app.gies[0], NVINFER[f"{ROOT}/{CONFIG_DIR}/config_infer_primary.txt"])
    # the nvinfer config says batch-size=30 and ..._b30_gpu0_int8.engine; the app config's group wins,
    # its relative path resolved against the app config's folder
    assert primary.config.batch_size == 4 and primary.engine_set_in_app
    assert primary.config.model_engine_file == f"{ROOT}/samples/models/Primary_Detector/resnet10.caffemodel_b4_gpu0_int8.engine"
    assert primary.config.onnx_file == f"{ROOT}/samples/models/Primary_Detector/resnet10.onnx"  # from the nvinfer config
    # without the group's keys, the nvinfer config's values hold
    bare = SAMPLE.replace("model-engine-file=../../models/Primary_Detector/resnet10.caffemodel_b4_gpu0_int8.engine\n"
                          "batch-size=4\n", "")
    app = parse_app_config(APP, bare)
    primary = resolve_gie(app, app.gies[0], NVINFER[f"{ROOT}/{CONFIG_DIR}/config_infer_primary.txt"])
    assert primary.config.batch_size == 30 and not primary.engine_set_in_app
    assert primary.config.model_engine_file.endswith("Primary_Detector/resnet10.caffemodel_b30_gpu0_int8.engine")
    # an app group's gpu-id and gie-unique-id win too
    moved = SAMPLE.replace("[primary-gie]\nenable=1\ngpu-id=0\n", "[primary-gie]\nenable=1\ngpu-id=1\n")
    app = parse_app_config(APP, moved.replace("gie-unique-id=1\n", "gie-unique-id=3\n"))
    primary = resolve_gie(app, app.gies[0], NVINFER[f"{ROOT}/{CONFIG_DIR}/config_infer_primary.txt"])
    assert (primary.config.gpu_id, primary.unique_id) == (1, 3)


def test_absolute_paths_comments_gaps_and_disabled_groups():
    text = (
        "# a hand-written app config\n[application]\nenable-perf-measurement=1\n\n"
        "[primary-gie]\nenable=1  # inline comment\nconfig-file=/srv/p.txt\n\n"
        "[secondary-gie7]\nenable=true\nconfig-file=../cfg/s.txt\noperate-on-gie-id=1\n\n"
        "[secondary-gie2]\nenable=0\nconfig-file=missing.txt\noperate-on-gie-id=99\n\n"
        "[secondary-gie3]\nconfig-file=missing.txt\n"  # no enable: deepstream-app leaves it off
    )
    nvinfer = {"/srv/p.txt": "[property]\nonnx-file=p.onnx\ngie-unique-id=1\nnum-detected-classes=2\n",
               "/srv/cfg/s.txt": "[property]\nonnx-file=s.onnx\ngie-unique-id=2\noperate-on-class-ids=1\n"}
    app = parse_app_config("/srv/apps/app.txt", text)
    assert [g.group for g in app.gies] == ["primary-gie", "secondary-gie7", "secondary-gie2", "secondary-gie3"]
    assert [g.group for g in app.enabled] == ["primary-gie", "secondary-gie7"]
    assert app.gies[1].config_file == "/srv/cfg/s.txt" and not app.tracker_enabled
    g = graph(text, "/srv/apps/app.txt", nvinfer)
    assert g.problems == [] and g.to_json()["gies"][1]["operate_on_class_ids"] == [1]  # from the nvinfer config


def test_a_secondary_on_a_missing_gie_id_is_one_problem_naming_the_group():
    broken = SAMPLE.replace("gie-unique-id=5\noperate-on-gie-id=1\n", "gie-unique-id=5\noperate-on-gie-id=7\n")
    assert graph(broken).problems == ["[secondary-gie1] operate-on-gie-id=7: no enabled GIE has gie-unique-id 7"]
    # a disabled primary is no GIE to operate on
    off = SAMPLE.replace("[primary-gie]\nenable=1\n", "[primary-gie]\nenable=0\n")
    assert graph(off).problems == [f"[secondary-gie{i}] operate-on-gie-id=1: no enabled GIE has gie-unique-id 1"
                                   for i in range(3)]


def test_duplicated_ids_and_self_reference():
    twice = SAMPLE.replace("gie-unique-id=6\n", "gie-unique-id=4\n")
    assert graph(twice).problems == ["[secondary-gie2] gie-unique-id=4: [secondary-gie0] has it too"]
    itself = SAMPLE.replace("gie-unique-id=5\noperate-on-gie-id=1\n", "gie-unique-id=5\noperate-on-gie-id=5\n")
    assert graph(itself).problems == ["[secondary-gie1] operate-on-gie-id=5: the GIE operates on itself"]


def test_class_ids_checked_against_the_detector_classes():
    out = SAMPLE.replace("gie-unique-id=6\noperate-on-gie-id=1\noperate-on-class-ids=0;",
                         "gie-unique-id=6\noperate-on-gie-id=1\noperate-on-class-ids=0;4;9")
    assert graph(out).problems == [
        "[secondary-gie2] operate-on-class-ids=0;4;9: [primary-gie] (gie-unique-id 1) has 4 classes (0-3), not 4, 9"]
    # without num-detected-classes the labels file's lines count; unknown: a warning, no refusal
    primary = f"{ROOT}/{CONFIG_DIR}/config_infer_primary.txt"
    nvinfer = {**NVINFER, primary: NVINFER[primary].replace("num-detected-classes=4\n", "")}
    assert graph(out, nvinfer=nvinfer, labels={"primary-gie": 10}).problems == []
    unknown = graph(out, nvinfer=nvinfer)
    assert unknown.problems == [] and unknown.warnings == [
        f"[secondary-gie{i}] operate-on-class-ids not checked: [primary-gie] has no num-detected-classes or readable"
        " labels file" for i in range(3)]


def test_missing_config_file_and_unreadable_config_name_the_group():
    none = SAMPLE.replace("config-file=config_infer_secondary_carcolor.txt\n", "")
    assert graph(none).problems == [
        '[secondary-gie1] has no config-file (deepstream-app: "Config file not provided for group")']
    gone = SAMPLE.replace("config-file=config_infer_secondary_carcolor.txt", "config-file=nowhere.txt")
    assert graph(gone).problems == [
        f"[secondary-gie1] config-file={ROOT}/{CONFIG_DIR}/nowhere.txt: no such readable file on the host"]
    carcolor = f"{ROOT}/{CONFIG_DIR}/{CLASSIFIERS[1].config}"
    assert graph(SAMPLE, nvinfer={**NVINFER, carcolor: "[application]\nenable=1\n"}).problems == [
        f"[secondary-gie1] config-file={carcolor}: {carcolor}: no [property] group: not an nvinfer config"]
    with pytest.raises(ConfigError, match=r"\[secondary-gie0\]: batch-size='x' is not a whole number"):
        parse_app_config(APP, SAMPLE.replace("batch-size=16\ngie-unique-id=4", "batch-size=x\ngie-unique-id=4"))


def test_interval_with_tracker_and_secondary_on_a_classifier_warn():
    skipping = SAMPLE.replace("interval=0\ngie-unique-id=1\n", "interval=2\ngie-unique-id=1\n")
    g = graph(skipping)
    assert g.problems == [] and g.warnings == [
        "[primary-gie] interval=2 with the tracker enabled: inference skips 2 of every 3 batches,"
        " the tracker carries objects over"]
    untracked = skipping.replace("[tracker]\nenable=1\n", "[tracker]\nenable=0\n")
    assert graph(untracked).warnings == []
    chained = SAMPLE.replace("gie-unique-id=6\noperate-on-gie-id=1\n", "gie-unique-id=6\noperate-on-gie-id=4\n")
    assert graph(chained).warnings == [
        "[secondary-gie2] operate-on-gie-id=4: [secondary-gie0] is a classifier and makes no objects to operate on"]


def test_group_rewrite_changes_one_line_of_the_app_config():
    new = set_property(SAMPLE, "model-engine-file", "../../models/Secondary_CarColor/resnet18.onnx_b16_gpu0_int8.engine",
                       "secondary-gie1")
    changed = [(a, b) for a, b in zip(SAMPLE.splitlines(), new.splitlines()) if a != b]
    assert changed == [("model-engine-file=../../models/Secondary_CarColor/resnet18.caffemodel_b16_gpu0_int8.engine",
                        "model-engine-file=../../models/Secondary_CarColor/resnet18.onnx_b16_gpu0_int8.engine")]
    assert len(new) == len(SAMPLE) - len("caffemodel") + len("onnx")


def test_an_nvinferserver_gie_is_left_to_triton():
    triton = SAMPLE.replace("[primary-gie]\nenable=1\n", "[primary-gie]\nenable=1\nplugin-type=1\n")
    g = graph(triton, nvinfer={path: text for path, text in NVINFER.items() if "primary" not in path})
    assert g.problems == [] and [x["group"] for x in g.to_json()["gies"]] == [f"secondary-gie{i}" for i in range(3)]
    assert g.warnings == ["[primary-gie] plugin-type=1 (nvinferserver): Triton loads its model, no engine is built for it here",
                          *(f"[secondary-gie{i}] operate-on-gie-id=1: an nvinferserver GIE's, not checked" for i in range(3))]
