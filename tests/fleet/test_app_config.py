# SPDX-FileCopyrightText: 2026 Contributors to the dsprov project
# SPDX-License-Identifier: GPL-3.0-or-later
"""deepstream-app configs on the simulated fleet: NVIDIA's four-model sample on a T4 (the profile
lays it down, simfleet/deepstream_app.py) has all four GIE engines rebuilt where the app config
makes DeepStream look, its model-engine-file lines rewritten and every other byte kept; a rerun
changes nothing; a copy with a secondary operating on a missing GIE id is refused, nothing built."""


import pytest

from simfleet.deepstream_app import APP_CONFIG, CLASSIFIERS, CONFIG_DIR, MODEL_DIR, sample_files

from .helpers import document, fleet_env, on_device
from .helpers import invoke as run_invoke

pytestmark = pytest.mark.fleet

DS = "/opt/nvidia/deepstream/deepstream"  # the searched root: a link to the t4 profile's deepstream-6.0
APP = f"{DS}/{CONFIG_DIR}/{APP_CONFIG}"
BROKEN = f"{DS}/{CONFIG_DIR}/broken_{APP_CONFIG}"
MODELS = f"{DS}/{MODEL_DIR}"
# engine DeepStream looks for per group: the app config's folder, batch and precision (T4: INT8 runs)
ENGINES = {
    "primary-gie": f"{MODELS}/Primary_Detector/resnet10.onnx_b4_gpu0_int8.engine",
    **{f"secondary-gie{i}": f"{MODELS}/{c.folder}/resnet18.onnx_b16_gpu0_int8.engine" for i, c in enumerate(CLASSIFIERS)},
}


@pytest.fixture(scope="module")
def apps(serve_fleet):
    with serve_fleet("app-config", "name: app-config\ndevices:\n  - {name: app-t4, profile: t4}\n") as handle:
        yield handle


def invoke(handle, *args):
    return run_invoke(handle, *args, env=fleet_env(handle))


def text(handle, path) -> str:
    result = on_device(handle, "app-t4", f"cat '{path}'")
    assert result.returncode == 0, result.stderr
    return result.stdout


def tree(handle) -> str:
    """Every file of the sample's configs and models with its SHA-256."""
    return on_device(handle, "app-t4", f"cd {DS}/samples && find . -type f | sort | xargs sha256sum").stdout


def test_sample_app_config_engines_rebuilt_config_kept_consistent(apps):
    original = sample_files()[f"{CONFIG_DIR}/{APP_CONFIG}"].decode()
    assert text(apps, APP) == original

    dry = invoke(apps, "engines", "--host", "app-t4", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    planned = document(dry)
    (graph,) = planned["graphs"]
    gies = {g["group"]: g for g in graph["gies"]}
    assert graph["app_config"] == APP and graph["problems"] == []
    assert gies["primary-gie"]["feeds"] == ["[secondary-gie0]", "[secondary-gie1]", "[secondary-gie2]"]
    assert {gies[f"secondary-gie{i}"]["operates_on"] for i in range(3)} == {"[primary-gie]"}
    assert [g["batch_size"] for g in graph["gies"]] == [4, 16, 16, 16]  # the app config's batch sizes win
    rows = {r["group"]: r for r in planned["engines"]}
    assert set(rows) == set(ENGINES) and {r["status"] for r in rows.values()} == {"missing"}
    assert all(r["app_config"] == APP for r in rows.values())
    assert any("--maxShapes=input_1:4x3x368x640" in line for line in planned["plan"])
    assert sum("--maxShapes=input_1:16x3x224x224" in line for line in planned["plan"]) == 3

    human = invoke(apps, "engines", "--host", "app-t4", "--dry-run")
    assert "[secondary-gie1] gie-unique-id 5, classifier, batch 16 <- [primary-gie] classes 0" in human.stdout

    first = invoke(apps, "engines", "--host", "app-t4", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    assert {r["group"]: r["outcome"] for r in document(first)["engines"]} == dict.fromkeys(ENGINES, "rebuilt")
    for group, engine in ENGINES.items():
        built = text(apps, engine)
        assert "precision=int8" in built and "tensorrt=8.0.1.6" in built, group
    expected = "".join(line.replace(".caffemodel_b", ".onnx_b") if line.startswith("model-engine-file=") else line
                       for line in original.splitlines(keepends=True))
    assert expected.count(".onnx_b") == 4
    assert text(apps, APP) == expected  # only the four model-engine-file lines changed, kept relative
    for name in ("config_infer_primary.txt", *(c.config for c in CLASSIFIERS)):  # the overridden configs untouched
        assert text(apps, f"{DS}/{CONFIG_DIR}/{name}") == sample_files()[f"{CONFIG_DIR}/{name}"].decode()

    before = tree(apps)
    again = invoke(apps, "engines", "--host", "app-t4", "--json")
    assert again.returncode == 0 and {r["outcome"] for r in document(again)["engines"]} == {"current"}
    assert tree(apps) == before


def test_secondary_on_a_missing_gie_id_is_refused_nothing_built(apps):
    broken = text(apps, APP).replace("gie-unique-id=5\noperate-on-gie-id=1\n", "gie-unique-id=5\noperate-on-gie-id=7\n")
    assert broken != text(apps, APP)
    assert on_device(apps, "app-t4", "cat > /tmp/broken.txt", stdin=broken).returncode == 0
    # beside the good one (its config-file paths are relative), and an engine to rebuild, so that
    # "nothing built" says something
    assert on_device(apps, "app-t4", f"cp /tmp/broken.txt '{BROKEN}' && rm '{ENGINES['primary-gie']}'",
                     sudo=True).returncode == 0
    assert text(apps, BROKEN) == broken
    before = tree(apps)
    try:
        for args in (("--config", BROKEN), ()):  # asked for, and found by the search beside the good one
            result = invoke(apps, "engines", "--host", "app-t4", *args)
            assert result.returncode != 0
            assert result.stderr.strip().count("\n") == 0, result.stderr
            assert (f"{BROKEN}: [secondary-gie1] operate-on-gie-id=7: no enabled GIE has gie-unique-id 7"
                    in result.stderr), result.stderr
            assert tree(apps) == before
    finally:
        on_device(apps, "app-t4", f"rm -f '{BROKEN}'", sudo=True)
    rebuilt = invoke(apps, "engines", "--host", "app-t4", "--json")
    assert rebuilt.returncode == 0
    assert {r["group"]: r["outcome"] for r in document(rebuilt)["engines"]}["primary-gie"] == "rebuilt"
