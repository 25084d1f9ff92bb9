"""The model: config validation, output shapes, save/load, and the numpy StepModel."""
from __future__ import annotations

import json
from dataclasses import replace

import keras
import numpy as np
import pytest

from folkrnn import form, inputs, music
from folkrnn.batches import batch_windows
from folkrnn.config import Config
from folkrnn.errors import FolkRNNError
from folkrnn.inputs import input_keys
from folkrnn.model import StepModel, build_model, load_run

TINY = Config(melody_embedding=6, chord_embedding=5, position_embedding=3, meter_embedding=2,
              layers=2, units=12, seq_len=16, batch_size=4, form_embedding=3)
NO_FORM = replace(TINY, lookback="", structure=False)
INPUT_KEYS = input_keys(TINY)  # the default config reads every input


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FOLKRNN_HOME", str(tmp_path))
    return tmp_path


def random_inputs(batch: int = 2, steps: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)  # every input, in one order: the same seed, the same data
    return {i.name: rng.integers(0, i.size, (batch, steps)).astype(np.int32)
            for i in inputs.by_names(INPUT_KEYS)}


def only(inputs: dict[str, np.ndarray], config: Config) -> dict[str, np.ndarray]:
    """The inputs a model of ``config`` reads (repeat flags: one bit per lag it looks back)."""
    flags = 2 ** len(form.parse_lookback(config.lookback))
    return {k: inputs[k] % flags if k == "repeats" else inputs[k] for k in input_keys(config)}


def randomise(model: keras.Model, seed: int = 1) -> None:
    """Large random weights, so that outputs depend strongly on every weight and gate."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32)
                       for w in model.get_weights()])


def test_validation_lists_every_bad_field():
    with pytest.raises(FolkRNNError) as error:
        Config(units=0, dropout=1.0, seq_len=0)
    message = str(error.value)
    for field in ("units=0", "dropout=1.0", "seq_len=0"):
        assert field in message
    with pytest.raises(FolkRNNError, match="units"):
        build_model(Config(units=0))


@pytest.mark.parametrize("factorised", [True, False])
def test_output_shapes_and_next_chord_use(factorised):
    model = build_model(replace(TINY, factorised=factorised))
    randomise(model)
    inputs = random_inputs(batch=3, steps=7)
    assert {t.name for t in model.inputs} == set(INPUT_KEYS)  # the default reads every input
    out = model(inputs, training=False)
    assert tuple(out["melody"].shape) == (3, 7, music.MELODY_SIZE)
    assert tuple(out["chord"].shape) == (3, 7, music.CHORD_SIZE)
    other = dict(inputs, next_chord=(inputs["next_chord"] + 1) % music.CHORD_SIZE)
    changed = model(other, training=False)
    melody_moved = np.abs(np.asarray(out["melody"]) - np.asarray(changed["melody"])).max()
    assert (melody_moved > 1e-3) == factorised  # only the factorised head sees next_chord
    np.testing.assert_allclose(out["chord"], changed["chord"], atol=1e-6)


@pytest.mark.parametrize("config", [TINY, replace(TINY, factorised=False), NO_FORM,
                                    replace(TINY, lookback="8", structure=False),
                                    replace(TINY, lookback="")],
                         ids=["factorised", "independent", "no-form", "lookback-8", "structure"])
def test_step_model_reproduces_keras_logits(config):
    model = build_model(config)
    randomise(model)
    inputs = only(random_inputs(batch=2, steps=40), config)
    expected = model(inputs, training=False)
    stepper = StepModel(model, config)
    assert [i.name for i in stepper.inputs] == list(input_keys(config)[:-1])  # by name, in order
    chord, melody, _ = stepped_logits(stepper, inputs)
    assert np.abs(np.asarray(expected["chord"])).max() > 1  # a non-trivial comparison
    np.testing.assert_allclose(chord, expected["chord"], atol=1e-4)
    np.testing.assert_allclose(melody, expected["melody"], atol=1e-4)


def stepped_logits(stepper, inputs: dict[str, np.ndarray]):
    """(chord logits, melody logits, last states) of a step model fed ``inputs`` (batch, time)
    one step at a time, the melody head told each step's real next chord."""
    batch, steps = inputs["melody"].shape
    states, melody, chord = stepper.initial_state(batch), [], []
    for t in range(steps):
        ids = np.stack([inputs[i.name][:, t] for i in stepper.inputs])
        hidden, states = stepper.step_ids(ids, states)
        chord.append(stepper.chord_logits(hidden))
        melody.append(stepper.melody_logits(hidden, inputs["next_chord"][:, t]))
    return np.stack(chord, 1), np.stack(melody, 1), states


@pytest.mark.parametrize("key", ["lookback_melody_8", "lookback_chord_1", "repeats",
                                 "bar_in_part", "part", "bars_left"])
def test_every_form_input_reaches_the_outputs(key):
    model = build_model(TINY)
    randomise(model)
    inputs = random_inputs(batch=2, steps=9)
    other = dict(inputs, **{key: (inputs[key] + 1) % 2})
    moved = np.abs(np.asarray(model(inputs)["chord"]) - np.asarray(model(other)["chord"]))
    assert moved.max() > 1e-3


def test_form_knobs_set_the_inputs_and_are_checked():
    assert build_model(NO_FORM).count_params() < build_model(TINY).count_params()
    with pytest.raises(FolkRNNError, match="lookback"):
        Config(lookback="3")


def save_run(home, name: str, model: keras.Model, config: Config) -> None:
    folder = home / "runs" / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config.to_json())
    (folder / "vocab.json").write_text(json.dumps(music.vocabularies()))
    if model.optimizer is not None:  # as a trained run's checkpoint: Adam's state included
        model.optimizer.build(model.trainable_variables)
    model.save_weights(folder / "best.weights.h5")


def test_save_load_round_trip(home):
    model = build_model(TINY)
    randomise(model)
    save_run(home, "r", model, TINY)
    loaded, config = load_run("r")
    assert config == TINY
    inputs = random_inputs()
    for key in ("melody", "chord"):
        np.testing.assert_allclose(loaded(inputs)[key], model(inputs)[key], atol=1e-6)


def test_load_run_errors_name_the_fix(home):
    with pytest.raises(FolkRNNError, match="train it first: folkrnn train --run nope"):
        load_run("nope")
    model = build_model(TINY)
    save_run(home, "r", model, TINY)
    folder = home / "runs" / "r"
    (folder / "config.json").write_text(replace(TINY, units=8).to_json())
    with pytest.raises(FolkRNNError, match="don't fit"):
        load_run("r")
    (folder / "config.json").write_text(TINY.to_json())
    (folder / "vocab.json").write_text(json.dumps({**music.vocabularies(), "meter": ["4/4"]}))
    with pytest.raises(FolkRNNError, match="another vocabulary"):
        load_run("r")
    (folder / "vocab.json").write_text(json.dumps(music.vocabularies()))
    (folder / "best.weights.h5").unlink()
    with pytest.raises(FolkRNNError, match="no saved weights"):
        load_run("r")


@pytest.mark.parametrize("lookback", ["1,2", "8", "1,2,4,8"])
def test_a_model_looking_back_fewer_bars_trains_on_its_own_inputs(lookback):
    config = replace(TINY, lookback=lookback)
    tune = _scale_tune(24)  # 24 equal bars: all flags up
    inputs, targets, weights = next(batch_windows([tune] * 4, 64, 4, names=input_keys(config)))
    assert set(inputs) == set(input_keys(config))
    assert inputs["repeats"].max() == 2 ** len(form.parse_lookback(lookback)) - 1
    model = build_model(config)
    loss = model.train_on_batch(inputs, targets, sample_weight=weights)
    assert np.isfinite(loss).all()


def test_the_lstm_stays_inside_cudnns_conditions():
    """On a GPU, Keras runs the LSTM with cuDNN only under these conditions (keras.layers.LSTM's
    documentation); outside them it falls back to a slow generic loop, silently."""
    model = build_model(Config(), compile=False)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert lstms
    for layer in lstms:
        assert layer.use_cudnn in ("auto", True)
        assert layer.cell.activation is keras.activations.tanh
        assert layer.cell.recurrent_activation is keras.activations.sigmoid
        assert layer.recurrent_dropout == 0 and not layer.unroll and layer.cell.use_bias
    assert not any(getattr(layer, "mask_zero", False) for layer in model.layers)  # no masks


def test_own_draws_replace_the_inputs_of_some_steps_by_the_models_draw():
    """``own_draws``: at a share of the steps (never a window's first), the melody and chord
    inputs are what the network drew for the step before; the other inputs stay."""
    model = build_model(replace(TINY, own_draws=0.5))
    sure = {"melody_logits": music.onset(67), "chord_logits": 5}  # each head draws one id
    for layer, event in sure.items():
        kernel, bias = model.get_layer(layer).get_weights()
        bias[:] = -1e4
        bias[event] = 1e4
        model.get_layer(layer).set_weights([np.zeros_like(kernel), bias])
    batch = {k: keras.ops.convert_to_tensor(v) for k, v in random_inputs(4, 200).items()}
    fed = {k: keras.ops.convert_to_numpy(v) for k, v in model.with_own_draws(batch).items()}
    given = {k: keras.ops.convert_to_numpy(v) for k, v in batch.items()}
    replaced = fed["melody"] != given["melody"]
    assert 0.4 < replaced[:, 1:].mean() < 0.6 and not replaced[:, 0].any()
    assert (fed["melody"][replaced] == music.onset(67)).all()
    assert (fed["chord"][replaced] == 5).all()
    assert (fed["last_note"][replaced] == music.onset(67)).all()
    for key in set(given) - {"melody", "chord", "last_note"}:
        np.testing.assert_array_equal(fed[key], given[key])


def test_a_model_trained_on_its_own_draws_is_the_same_network(monkeypatch):
    """The knob changes training only (each training step feeds the draws): the same weights,
    loaded and sampled as any run's."""
    from folkrnn.model import OwnDraws

    config = replace(TINY, own_draws=0.3)
    model = build_model(config)
    assert [w.shape for w in model.weights] == [w.shape for w in build_model(TINY).weights]
    fed = []
    draws = OwnDraws.with_own_draws
    monkeypatch.setattr(OwnDraws, "with_own_draws", lambda self, x: fed.append(x) or draws(self, x))
    inputs, targets, weights = next(batch_windows([_scale_tune(8)] * 4, 64, 4,
                                                  names=input_keys(config)))
    assert np.isfinite(model.train_on_batch(inputs, targets, sample_weight=weights)).all()
    assert fed and set(fed[0]) == set(inputs)
    with pytest.raises(FolkRNNError, match="own_draws=1.0 must be in"):
        replace(TINY, own_draws=1.0)


def _scale_tune(bars: int) -> "music.Tune":
    """``bars`` equal 4/4 bars of C D E F, each note an 8th."""
    bar = [music.onset(60), 1, music.onset(62), 1, music.onset(64), 1, music.onset(65), 1] * 2
    return music.Tune(bar * bars, [3] * 16 * bars, [(0, "4/4")], "C", "t")
