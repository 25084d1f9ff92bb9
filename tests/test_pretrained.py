"""The shipped model (`folkrnn.pretrained`): it loads with this code, fits this code's vocabulary
and inputs, composes, and scores the test tunes as recorded when it was built; drift, and weights
that don't fit, fail in one line that names the fix."""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import environment
from folkrnn import cli, form, inputs, music, pretrained
from folkrnn.config import Config, default_config
from folkrnn.errors import FolkRNNError
from folkrnn.evaluate import evaluate_model
from folkrnn.generate import generate_tune
from folkrnn.model import StepModel, build_model, load_run, load_step_model
from folkrnn.runs import PRETRAINED_RUN
from folkrnn.train import train_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = pretrained.SHIPPED_DIR
# The recorded figures were measured on the same float16 weights (loaded as float32), so only
# the order of floating-point sums may differ: far below the target of 1e-3 nats/step.
NLL_TOLERANCE = 1e-3
MAX_MEGABYTES = 10  # what the shipped model may add to the repository


@pytest.fixture(scope="module")
def shipped():
    """``(keras model, config)`` of the shipped model, loaded by its run name."""
    return load_run(PRETRAINED_RUN, compile=False)


@pytest.fixture
def doctored(tmp_path: Path) -> Path:
    """A copy of the shipped model's folder, to damage."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "pretrained"))


def assert_one_line_naming(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert error.type is FolkRNNError and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


# --- what is shipped --------------------------------------------------------------------------
def test_the_shipped_files_are_float16_small_and_installed_by_pip():
    names = sorted(p.name for p in SHIPPED.iterdir())
    assert names == ["config.json", "manifest.json", "vocab.json", "weights.npz"]
    with np.load(SHIPPED / pretrained.WEIGHTS_FILE) as npz:
        assert npz.files and {npz[k].dtype for k in npz.files} == {np.dtype(np.float16)}
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) < MAX_MEGABYTES * 1e6
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["folkrnn"]
    for name in names:
        assert any(fnmatch.fnmatch(f"{SHIPPED.name}/{name}", p) for p in patterns), name


def test_it_fits_this_codes_vocabulary_and_inputs(shipped):
    model, config = shipped
    manifest = pretrained.read_manifest()
    assert manifest["contract"] == pretrained.contract(config)
    assert json.loads((SHIPPED / "vocab.json").read_text()) == music.vocabularies()
    assert sorted(t.name for t in model.inputs) == sorted(inputs.input_keys(config))
    assert manifest["rebuild"] == "make pretrained" and manifest["command"]


def test_it_composes_a_tune(shipped):
    step_model = StepModel(*shipped)
    tune = generate_tune(step_model, bars=16, meter="6/8", seed=1)
    bar = music.steps_per_bar("6/8")
    # 16 bars, after a pickup bar if the model wrote notes in it; it may end early
    assert tune.meters == [(0, "6/8")] and 15 * bar < len(tune) <= 17 * bar
    assert form.Plan.of_tune(tune).total_bars == 16
    assert music.is_onset(tune.melody).sum() >= 16  # notes, not one held sound
    again = generate_tune(step_model, bars=16, meter="6/8", seed=1)
    assert np.array_equal(tune.melody, again.melody) and np.array_equal(tune.chords, again.chords)


def test_it_scores_the_test_tunes_as_recorded(shipped, tuneset):
    recorded = pretrained.read_manifest()["figures"]["test"]
    measured = evaluate_model(shipped[0], tuneset.test)
    for key in ("total_nll", "melody_nll", "chord_nll"):
        assert abs(measured[key] - recorded[key]) <= NLL_TOLERANCE, (key, measured, recorded)


# --- the run name -----------------------------------------------------------------------------
def test_the_name_loads_the_shipped_model_even_if_a_run_folder_has_it(home):
    folder = home / "runs" / PRETRAINED_RUN
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("not the shipped model")
    _, config = load_run(PRETRAINED_RUN, compile=False)
    assert config == pretrained.check_contract()
    assert load_step_model(PRETRAINED_RUN).inputs == inputs.model_inputs(config)


def test_training_under_the_name_is_refused_in_one_line(home, capsys):
    with pytest.raises(FolkRNNError) as error:
        train_model(default_config(), PRETRAINED_RUN)
    assert_one_line_naming(error, "shipped", "--run mine")
    assert cli.main(["train", "--run", PRETRAINED_RUN]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert not (home / "runs").exists()


def test_notebook_04_uses_the_learners_run_once_it_has_a_checkpoint(home):
    name, sentence = pretrained.choose_run("tutorial")
    assert name == PRETRAINED_RUN
    assert "shipped" in sentence and "folkrnn train --run tutorial" in sentence
    folder = home / "runs" / "tutorial"
    folder.mkdir(parents=True)
    (folder / "best.weights.h5").write_bytes(b"")
    assert pretrained.choose_run("tutorial")[0] == "tutorial"


def readme_shipped_lines() -> str:
    """The README's variant of the ten lines that composes with the shipped model."""
    section = (ROOT / "README.md").read_text().split("No time to train yet?", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.parametrize("command, written", [
    (["-m", "folkrnn.cli", "generate", "--run", PRETRAINED_RUN, "--out", "tune.mid"],
     ["tune.mid"]),
    (["-c", readme_shipped_lines()], ["shipped.mid", "shipped.abc", "shipped.wav"]),
])
def test_composing_with_it_needs_no_data(tmp_path, command, written):
    """As on a fresh install: no data/ folder, and no way to download one."""
    home = tmp_path / "home"
    env = dict(os.environ, FOLKRNN_HOME=str(home), FOLKRNN_DATA_URL="file:///nowhere/none.zip")
    env.pop("FOLKRNN_SMOKE", None)
    result = subprocess.run([sys.executable, *command], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in written:
        assert (tmp_path / name).stat().st_size > 100, name
    assert not (home / "data").exists()


# --- drift and misfits: one line naming the fix ------------------------------------------------
def test_a_representation_changed_in_the_code_names_the_rebuild_command(monkeypatch):
    monkeypatch.setattr(pretrained, "ENCODING_VERSION", pretrained.ENCODING_VERSION + 1)
    with pytest.raises(FolkRNNError) as error:
        load_run(PRETRAINED_RUN)
    assert_one_line_naming(error, "encoding_version", "make pretrained")
    monkeypatch.undo()
    fewer = inputs.model_inputs
    monkeypatch.setattr(inputs, "model_inputs", lambda config: fewer(config)[:-1])
    with pytest.raises(FolkRNNError) as error:
        load_step_model(PRETRAINED_RUN)
    assert_one_line_naming(error, "inputs", "make pretrained")


@pytest.mark.parametrize("damage, fragment", [
    (lambda f: _edit_json(f / "manifest.json", lambda m: m["contract"].update(
        encoding_version=m["contract"]["encoding_version"] - 1)), "encoding_version"),
    (lambda f: _edit_json(f / "manifest.json", lambda m: m["contract"]["inputs"].update(
        melody=music.MELODY_SIZE - 1)), "inputs"),
    (lambda f: _edit_json(f / "vocab.json", lambda v: v["meter"].pop()), "vocabulary"),
    (lambda f: _edit_json(f / "config.json", lambda c: c.update(bells=3)), "bells"),
])
def test_a_doctored_manifest_or_vocabulary_names_the_rebuild_command(doctored, damage, fragment):
    damage(doctored)
    with pytest.raises(FolkRNNError) as error:
        pretrained.load_model(doctored)
    assert_one_line_naming(error, fragment, "make pretrained", str(doctored))


def _edit_json(path: Path, change) -> None:
    values = json.loads(path.read_text())
    change(values)
    path.write_text(json.dumps(values))


def test_shipped_weights_that_dont_fit_are_one_line(doctored):
    config = Config.from_dict(json.loads((doctored / "config.json").read_text()))
    (doctored / "config.json").write_text(replace(config, units=config.units + 1).to_json())
    with pytest.raises(FolkRNNError) as error:
        pretrained.load_model(doctored)
    assert_one_line_naming(error, "don't fit", "lstm_1", "make pretrained")
    (doctored / "config.json").write_text(config.to_json())
    with np.load(doctored / "weights.npz") as npz:
        kept = {k: npz[k] for k in npz.files if not k.startswith("chord_logits/")}
    np.savez(doctored / "weights.npz", **kept)
    with pytest.raises(FolkRNNError) as error:
        pretrained.load_model(doctored)
    assert_one_line_naming(error, "chord_logits", "missing")
    (doctored / "weights.npz").write_bytes(b"not an npz file")
    with pytest.raises(FolkRNNError) as error:
        pretrained.load_model(doctored)
    assert_one_line_naming(error, "weights.npz", "make pretrained")


def test_a_saved_runs_unreadable_weights_are_one_line(home):
    config = replace(default_config(), units=8, layers=1)
    folder = home / "runs" / "broken"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config.to_json())
    (folder / "vocab.json").write_text(json.dumps(music.vocabularies()))
    (folder / "best.weights.h5").write_bytes(b"half a file")
    with pytest.raises(FolkRNNError) as error:
        load_run("broken")
    assert_one_line_naming(error, "don't fit", "--run broken --fresh")


# --- building it ------------------------------------------------------------------------------
def test_export_writes_a_model_that_scores_as_its_manifest_says(dataset_home, tuneset, tmp_path):
    with environment(FOLKRNN_HOME=str(dataset_home), FOLKRNN_SMOKE="1"):
        train_model(replace(default_config(), epochs=2), "export-me", fresh=True, verbose=0)
        manifest = pretrained.export("export-me", tmp_path)
        model, config = pretrained.load_model(tmp_path)
    assert manifest == pretrained.read_manifest(tmp_path)
    assert manifest["training"]["run"] == "export-me" and manifest["training"]["epochs"] == 2
    assert manifest["training"]["settings_not_default"]["units"] == config.units != Config().units
    assert manifest["contract"] == pretrained.contract(config)
    measured = evaluate_model(model, tuneset.valid)
    assert abs(measured["total_nll"] - manifest["figures"]["valid"]["total_nll"]) <= NLL_TOLERANCE
    check = manifest["float16"]
    assert abs(check["test_total_nll_float16"] - check["test_total_nll_float32"]) < 0.01
    assert 0 <= check["identical_tunes"] <= check["tunes"] == len(pretrained.CHECK_SEEDS)
