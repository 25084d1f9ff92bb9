"""The network: embeddings → stacked LSTMs → a chord head and a melody head.

Explained in notebook 02_build_model. At each step t the model sees the melody event and chord
of step t (``melody``, ``chord``), where step t+1 falls in the bar (``position``, ``meter``),
and – for the factorised melody head – the chord of step t+1 (``next_chord``); it returns
LOGITS for the melody event and chord of step t+1.

    melody ─┐
     chord ─┤ embeddings ─ concat ─ LSTM ─ dropout ─ … ─ LSTM ─ dropout ─┬─ dense ─ chord logits
  position ─┤                                                            │
     meter ─┘                          next_chord ─ embedding ─ concat ─┴─ dense ─ dense ─ melody

`load_run` reads a trained run back; `StepModel` runs the same network one step at a time in
numpy, which is what the generator needs (notebook 04_test_model).
"""
from __future__ import annotations

import warnings

import keras
import numpy as np

from folkrnn import form, music, runs
from folkrnn.config import Config
from folkrnn.dataset import input_keys
from folkrnn.errors import FolkRNNError

JIT_COMPILE = False  # XLA: measured no faster for the stock LSTM on CPU (see the model report)
NUM_POSITIONS = music.MAX_BAR_STEPS
NUM_METERS = len(music.METERS)


def lstm_layer(units: int, name: str) -> keras.layers.Layer:
    """The recurrent layer: the ONE place to swap in another LSTM implementation.

    Any replacement must keep the weights ``[kernel, recurrent_kernel, bias]`` with the Keras
    gate order (input, forget, cell, output): `StepModel` copies them. Explained in notebook 02.
    """
    return keras.layers.LSTM(units, return_sequences=True, name=name)


def build_model(config: Config, *, compile: bool = True) -> keras.Model:
    """The Keras model for ``config``, compiled for training unless ``compile=False``.

    Inputs: a dict of int32 (batch, time) arrays with the keys of `dataset.input_keys(config)`.
    Outputs: ``{"melody": (batch, time, 36) logits, "chord": (batch, time, 37) logits}``.
    Explained in notebook 02_build_model.
    """
    inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in input_keys(config)}
    embeddings = {name: keras.layers.Embedding(rows, width, name=name)
                  for name, rows, width in embedding_layers(config)}
    chord_embedding = embeddings["chord_embedding"]
    x = keras.layers.Concatenate(name="step_features")(
        [embeddings[layer](inputs[key]) for key, layer in feature_layout(config)])
    for layer in range(1, config.layers + 1):
        x = lstm_layer(config.units, f"lstm_{layer}")(x)
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{layer}")(x)
    chord = keras.layers.Dense(music.CHORD_SIZE, name="chord_logits")(x)
    if config.factorised:  # the melody head also sees the chord it will sound over
        both = keras.layers.Concatenate(name="with_next_chord")(
            [x, chord_embedding(inputs["next_chord"])])
        x = keras.layers.Dense(config.units, activation="relu", name="melody_hidden")(both)
    melody = keras.layers.Dense(music.MELODY_SIZE, name="melody_logits")(x)
    model = keras.Model(inputs, {"melody": melody, "chord": chord}, name="folkrnn")
    if compile:
        compile_model(model, config)
    return model


def embedding_layers(config: Config) -> list[tuple[str, int, int]]:
    """``(layer name, rows, width)`` of every embedding table of the model of ``config``."""
    layers = [("melody_embedding", music.MELODY_SIZE, config.melody_embedding),
              ("chord_embedding", music.CHORD_SIZE, config.chord_embedding),
              ("position_embedding", NUM_POSITIONS, config.position_embedding),
              ("meter_embedding", NUM_METERS, config.meter_embedding)]
    lags = form.parse_lookback(config.lookback)
    if lags:
        layers.append(("repeats_embedding", 2 ** len(lags), config.form_embedding))
    if config.structure:
        layers += [(f"{k}_embedding", form.NUM_IDS[k], config.form_embedding)
                   for k in form.STRUCTURE_KEYS]
    return layers


def feature_layout(config: Config) -> list[tuple[str, str]]:
    """``(input, embedding layer)`` in the order ``step_features`` concatenates them.

    The lookback inputs (`folkrnn.form`) reuse the melody and chord embeddings: the event 8
    bars back has the same vector as the event now. `StepModel` follows the same order.
    """
    pairs = [("melody", "melody_embedding"), ("chord", "chord_embedding"),
             ("position", "position_embedding"), ("meter", "meter_embedding")]
    for key in input_keys(config)[len(pairs) + 1:]:  # after those four and next_chord
        kind = key.split("_")[1] if key.startswith("lookback_") else key
        pairs.append((key, f"{kind}_embedding"))
    return pairs


def compile_model(model: keras.Model, config: Config) -> None:
    """Adam, and the loss: ``melody_loss_weight`` × melody cross-entropy + chord cross-entropy.

    The losses and accuracies are averaged over real steps only: the dataset's sample weights
    are 0 on the padding after a short window (``mean_with_sample_weight``).
    """
    def loss() -> keras.losses.Loss:
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight")

    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm),
        loss={"melody": loss(), "chord": loss()},
        loss_weights={"melody": config.melody_loss_weight, "chord": 1.0},
        weighted_metrics={k: [keras.metrics.SparseCategoricalAccuracy(name="acc")]
                          for k in ("melody", "chord")},
        jit_compile=JIT_COMPILE)


# --- trained runs ------------------------------------------------------------------------------
def load_run(run_name: str, checkpoint: str = "best", *, compile: bool = True
             ) -> tuple[keras.Model, Config]:
    """The trained model of ``runs/NAME`` and its config (explained in notebook 04).

    ``checkpoint`` is ``"best"`` (lowest validation loss; falls back to the last one) or
    ``"last"``. Safe to call while that run is still training: checkpoints are replaced
    atomically. ``compile=False`` skips the optimizer (enough to predict or sample).
    """
    config = runs.read_config(run_name)
    path = runs.weights_file(run_name, checkpoint)
    model = build_model(config, compile=compile)
    if compile:
        model.optimizer.build(model.trainable_variables)  # checkpoints hold Adam's state too
    try:
        load_weights_strictly(model, path)
    except (ValueError, OSError, KeyError) as error:
        raise FolkRNNError(f"the weights in {path} don't fit the run's {runs.CONFIG_FILE} "
                           f"({error}): retrain it with folkrnn train --run {run_name} --fresh"
                           ) from None
    return model, config


def load_weights_strictly(model: keras.Model, path) -> None:
    """``model.load_weights(path)``, but a layer left unloaded is a ValueError, not a warning.

    Keras only warns ("Skipping nested container … layers will retain their freshly-initialized
    weights") when a file lacks some layer, which would quietly give an untrained network.
    Its note about optimizer state (a file saved without Adam's state) stays harmless.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(path)
    skipped = [str(w.message) for w in caught
               if "Skipping" in str(w.message) and "optimizer" not in str(w.message)]
    if skipped:
        raise ValueError(skipped[0].split(". ")[0])


def load_step_model(run_name: str, checkpoint: str = "best") -> "StepModel":
    """The trained run as a `StepModel`, ready to sample (notebook 04, ``folkrnn generate``)."""
    return StepModel(*load_run(run_name, checkpoint, compile=False))


# --- one step at a time, in numpy --------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow warnings


class StepModel:
    """The trained network run one step at a time in numpy, for sampling (notebook 04).

    To sample step t+1: ``hidden, states = step(events of t, position/meter of t+1, states,
    form inputs of t+1)``, draw a chord from ``chord_logits(hidden)``, then a melody event from
    ``melody_logits(hidden, chord)``. All arguments are (batch,) int arrays; the form inputs
    (`form_keys`, see `folkrnn.form`) a dict of them by name.
    """

    def __init__(self, model: keras.Model, config: Config):
        weights = {layer.name: [np.asarray(w, np.float32) for w in layer.get_weights()]
                   for layer in model.layers if layer.get_weights()}
        self.factorised = config.factorised
        self.chord_table = weights["chord_embedding"][0]
        layout = feature_layout(config)
        self.lags = form.parse_lookback(config.lookback)  # the form inputs the model reads
        self.structure = config.structure
        self.form_keys = [key for key, _ in layout[4:]]
        tables = [weights[layer][0] for _, layer in layout]
        self.lstms = [weights[f"lstm_{i}"] for i in range(1, config.layers + 1)]
        # x @ W of the first layer, precomputed for every value of every input (x is a concat
        # of embeddings, so x @ W is a sum of one row from each table): a lookup per step.
        kernel, rows = self.lstms[0][0], np.cumsum([0] + [t.shape[1] for t in tables])
        tables = [t @ kernel[a:b] for t, a, b in zip(tables, rows[:-1], rows[1:])]
        # stacked into one table: the rows of all inputs are gathered and summed at once
        self.offsets = np.cumsum([0] + [len(t) for t in tables])[:-1, None]
        self.input_table = np.concatenate(tables)
        self.chord_head = weights["chord_logits"]
        self.melody_head = weights["melody_logits"]
        self.melody_hidden = weights.get("melody_hidden")

    def initial_state(self, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Zero (h, c) for every layer, as the Keras model starts each window."""
        zeros = np.zeros((batch, self.lstms[0][1].shape[0]), np.float32)
        return [(zeros, zeros) for _ in self.lstms]

    def step(self, melody, chord, position, meter, states, form_ids=None):
        """One step of every LSTM layer: returns (top layer output, new states).

        ``form_ids``: the model's form inputs (`form_keys`) by name, or in that order.
        """
        ids = [melody, chord, position, meter]
        if self.form_keys:
            ids += ([form_ids[k] for k in self.form_keys] if isinstance(form_ids, dict)
                    else list(form_ids))
        batch = len(np.atleast_1d(melody))
        return self.step_ids(np.stack([np.broadcast_to(i, (batch,)) for i in ids]), states)

    def step_ids(self, ids: np.ndarray, states):
        """`step` with every input in one (inputs, batch) int array, in the order melody,
        chord, position, meter, then `form_keys`: the sampler's fast path."""
        projected = self.input_table[ids + self.offsets].sum(axis=0)
        new_states, x = [], None
        for layer, ((kernel, recurrent, bias), (h, c)) in enumerate(zip(self.lstms, states)):
            z = (projected if layer == 0 else x @ kernel) + h @ recurrent + bias
            gates, n = _sigmoid(z), h.shape[-1]  # Keras gate order: input, forget, cell, output
            c = gates[:, n:2 * n] * c + gates[:, :n] * np.tanh(z[:, 2 * n:3 * n])
            x = gates[:, 3 * n:] * np.tanh(c)
            new_states.append((x, c))
        return x, new_states

    def chord_logits(self, hidden: np.ndarray) -> np.ndarray:
        """(batch, 37) logits of the next chord."""
        return hidden @ self.chord_head[0] + self.chord_head[1]

    def melody_logits(self, hidden: np.ndarray, next_chord) -> np.ndarray:
        """(batch, 36) logits of the next melody event, given the chord it sounds over."""
        if self.factorised:
            x = np.concatenate([hidden, self.chord_table[np.asarray(next_chord)]], axis=-1)
            hidden = np.maximum(x @ self.melody_hidden[0] + self.melody_hidden[1], 0)
        return hidden @ self.melody_head[0] + self.melody_head[1]
