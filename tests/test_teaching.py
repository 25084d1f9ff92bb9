"""The teaching parts, by what they do: the README's ten lines run, the notebooks call only what
the package has, what each teaching cell shows holds for the package's own functions, the
teaching figures draw, and the notebooks' pages need no MathJax.

The notebooks' cells themselves run under nbval (``make test``); these tests do not read the
wording of any cell, so notebooks can be reworded and reordered freely.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import offline_zip

from folkrnn import music
from folkrnn.config import default_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
SMALL = dict(units=16, seq_len=32, batch_size=8, dropout=0.0)  # a model that builds in a blink


def readme_ten_lines() -> str:
    """The Python block of the README's "The whole thing in ten lines" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The whole thing in ten lines", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def small_config(**changes):
    return dataclasses.replace(default_config(), **SMALL, **changes)


def test_readme_ten_lines_are_about_ten():
    lines = [line for line in readme_ten_lines().splitlines() if line.strip()]
    statements = [line for line in lines if not line.startswith(("from ", "import "))]
    assert len(statements) <= 6 and len(lines) <= 13, readme_ten_lines()
    for verb in ("download_dataset(", "prepare_dataset(", "train_model(", "generate_tune(",
                 "save_tune("):
        assert verb in readme_ten_lines()


def test_readme_ten_lines_run_as_is_in_smoke_mode(tmp_path, dataset_home):
    # the session's home: the data are already downloaded and prepared (the lines find them)
    env = dict(os.environ, FOLKRNN_SMOKE="1", FOLKRNN_HOME=str(dataset_home),
               FOLKRNN_DATA_URL=offline_zip().as_uri(), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", readme_ten_lines()], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    tune = music.read_tune(tmp_path / "mine.mid")
    # at most a pickup bar and 16 bars of 16th notes (trailing rests dropped)
    assert 0 < len(tune) <= 17 * 16
    assert (tmp_path / "mine.wav").stat().st_size > 1000
    assert (tmp_path / "mine.abc").read_text().startswith("X:")
    assert (dataset_home / "runs" / "mine").is_dir()


def package_imports(source: str) -> set[tuple[str, str]]:
    """(module, name) for every ``from folkrnn... import name`` and ``import folkrnn...``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("folkrnn"):
            found |= {(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {(alias.name, "") for alias in node.names
                      if alias.name.startswith("folkrnn")}
    return found


def code_of(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "\n".join(cell.source for cell in cells if cell.cell_type == "code"
                     and not cell.source.lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("source", ["README.md", *(p.name for p in NOTEBOOKS)])
def test_the_readme_and_notebooks_import_only_what_the_package_has(source):
    code = readme_ten_lines() if source == "README.md" else code_of(ROOT / "notebooks" / source)
    wanted = package_imports(code)
    assert wanted, f"{source} uses nothing of the package"
    for module, name in sorted(wanted):
        loaded = importlib.import_module(module)
        assert not name or hasattr(loaded, name) or importlib.util.find_spec(
            f"{module}.{name}"), f"{source}: from {module} import {name}: no such thing"


def test_show_source_shows_the_package_code():
    from folkrnn.model import build_model
    from folkrnn.teaching import show_source

    assert show_source(build_model).data.strip() == inspect.getsource(build_model).strip()


def lstm_step(x, h, c, W, U, b):
    """One LSTM step from the textbook equations, gates in Keras's order (input, forget,
    candidate, output): the reference notebook 02 checks Keras against."""
    z = x @ W + h @ U + b
    i, f, g, o = np.split(z, 4, axis=-1)
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


@pytest.mark.parametrize("form_inputs", [False, True])
def test_the_lstm_equations_with_the_models_weights_give_keras_and_the_step_model(
        tuneset, form_inputs):
    """Notebook 02: x_t from the layer ``step_features``, W, U, b from ``lstm_1``, and the
    equations give Keras's LSTM and `StepModel`, step by step."""
    import keras

    from folkrnn.inputs import input_keys, tune_arrays
    from folkrnn.model import StepModel, build_model

    config = small_config() if form_inputs else small_config(lookback="", structure=False)
    model = build_model(config)
    tune = tuneset.valid[0]
    arrays = tune_arrays(tune, input_keys(config))
    embed = keras.Model(model.inputs, model.get_layer("step_features").output)
    xs = np.asarray(embed({key: arrays[key][None] for key in input_keys(config)}))[0]
    W, U, b = model.get_layer("lstm_1").get_weights()
    h = c = np.zeros(config.units, np.float32)
    ours = []
    for x in xs:
        h, c = lstm_step(x, h, c, W, U, b)
        ours.append(h)
    theirs = np.asarray(model.get_layer("lstm_1")(xs[None]))[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    step_model = StepModel(model, config)
    ids = np.stack([arrays[i.name] for i in step_model.inputs])
    state, stepped = step_model.initial_state(1), []
    for t in range(len(xs)):
        hidden, state = step_model.step_ids(ids[:, t:t + 1], state)
        stepped.append(hidden[0])
    np.testing.assert_allclose(stepped, ours, atol=1e-5)


@pytest.mark.parametrize("changes", [dict(lookback="", structure=False), dict(),
                                     dict(lookback="1,2")])
def test_x_t_is_the_embeddings_of_the_inputs_side_by_side(changes):
    """Notebook 02's table of the rows of W: `model_inputs` in order, each as wide as its
    embedding table, fill the LSTM's input exactly."""
    from folkrnn.inputs import embedding_tables, model_inputs
    from folkrnn.model import build_model

    config = small_config(**changes)
    tables = embedding_tables(config)
    width = sum(tables[i.table][1] for i in model_inputs(config))
    model = build_model(config)
    assert model.get_layer("lstm_1").get_weights()[0].shape[0] == width
    assert model.get_layer("step_features").output.shape[-1] == width


def test_a_training_step_by_hand_lowers_the_loss_keras_reports(tuneset):
    """Notebook 03: the loss written by hand (summed cross-entropies with the batch's sample
    weights, the melody's times melody_loss_weight) is the one Keras minimises, and three
    GradientTape steps with Adam on one batch lower it."""
    import keras
    import tensorflow as tf

    from folkrnn.batches import batch_windows
    from folkrnn.inputs import input_keys
    from folkrnn.model import build_model

    config = small_config(melody_loss_weight=1.5)
    model = build_model(config)
    inputs, targets, weights = next(batch_windows(tuneset.train[:16], config.seq_len, 8,
                                                  seed=0, transpose=False,
                                                  names=input_keys(config)))
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")

    def loss_of(logits):
        return (config.melody_loss_weight
                * cross_entropy(targets["melody"], logits["melody"], weights["melody"])
                + cross_entropy(targets["chord"], logits["chord"], weights["chord"]))

    logits = model(inputs, training=False)
    keras_loss = model.compute_loss(x=inputs, y=targets, y_pred=logits, sample_weight=weights)
    assert float(loss_of(logits)) == pytest.approx(float(keras_loss), abs=1e-4)
    optimizer = keras.optimizers.Adam(0.01)
    losses = []
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = loss_of(model(inputs, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def softmax(logits, temperature=1.0):
    z = np.asarray(logits, np.float64) / temperature
    p = np.exp(z - z.max())
    return p / p.sum()


def test_a_sampler_written_from_the_step_functions_draws_the_packages_tune(tuneset):
    """Notebook 04: a short sampler built on the package's steps (`inputs_at`, `step_ids`,
    the two heads, one draw each) writes the very tune `sample_tune` writes (form free)."""
    from folkrnn.form import Plan
    from folkrnn.generate import blank_tune, sample_tune
    from folkrnn.inputs import inputs_at
    from folkrnn.model import StepModel, build_model

    config = small_config()
    step_model = StepModel(build_model(config), config)
    layout = blank_tune(4 * music.steps_per_bar("4/4"), "4/4")
    rng = np.random.default_rng(3)
    melody, chords = np.zeros(len(layout), int), np.zeros(len(layout), int)
    plan, state = Plan.of(layout), step_model.initial_state(1)
    for t in range(len(layout)):
        ids = inputs_at(melody, chords, plan, np.array([t]), step_model.inputs)
        hidden, state = step_model.step_ids(ids, state)
        chords[t] = rng.choice(music.CHORD_SIZE, p=softmax(step_model.chord_logits(hidden)[0]))
        logits = step_model.melody_logits(hidden, [chords[t]])[0]
        if t == 0 or melody[t - 1] == music.REST:
            logits[music.HOLD] = -np.inf
        melody[t] = rng.choice(music.MELODY_SIZE, p=softmax(logits))
    ours = music.normalise(music.Tune(melody, chords, layout.meters))
    package = sample_tune(step_model, layout, seed=3, form="free")
    assert len(ours) > 0
    assert (ours.melody == package.melody).all() and (ours.chords == package.chords).all()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebooks_pages_need_no_mathjax(notebook):
    """Offline HTML pages (build/html, the browser check) load no MathJax, so no formula may
    need it: nbconvert's page of the notebook holds no TeX display math."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    nb.cells = [cell for cell in nb.cells if cell.cell_type == "markdown"]
    body, _ = HTMLExporter().from_notebook_node(nb)
    text = re.sub(r"<(script|style)\b.*?</\1>", "", body, flags=re.S)
    assert "$$" not in text and "\\begin{" not in text


def test_draw_unrolled_draws_a_column_per_step():
    from folkrnn.teaching import draw_unrolled

    fig = draw_unrolled(steps=3)
    boxes = [p for p in fig.axes[1].patches if type(p).__name__ == "FancyBboxPatch"]
    assert len(boxes) == 3 * 5  # inputs, embeddings, LSTM, heads, outputs per step
    assert any("LSTM" in t.get_text() for t in fig.axes[0].texts)


def test_plot_gradient_norms_uses_a_log_scale():
    from folkrnn.teaching import plot_gradient_norms

    fig = plot_gradient_norms({"a": [1.0, 0.1, 0.01], "b": [1.0, 10.0, 100.0]})
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].get_lines()) == 3


def test_plot_temperatures_orders_events_by_probability():
    from folkrnn.teaching import plot_temperatures

    p = np.array([0.1, 0.6, 0.3])
    fig = plot_temperatures({0.5: p, 1.0: p}, ["a", "b", "c"], title="t", top=2)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["b", "c"]
    assert len(fig.axes[0].patches) == 2 * 2
