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

import keras
import numpy as np

from folkrnn import music, runs
from folkrnn.config import Config
from folkrnn.dataset import INPUT_KEYS
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

    Inputs: a dict of int32 (batch, time) arrays with the keys of `dataset.INPUT_KEYS`.
    Outputs: ``{"melody": (batch, time, 36) logits, "chord": (batch, time, 37) logits}``.
    Explained in notebook 02_build_model.
    """
    inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in INPUT_KEYS}
    chord_embedding = keras.layers.Embedding(music.CHORD_SIZE, config.chord_embedding,
                                             name="chord_embedding")
    x = keras.layers.Concatenate(name="step_features")([
        keras.layers.Embedding(music.MELODY_SIZE, config.melody_embedding,
                               name="melody_embedding")(inputs["melody"]),
        chord_embedding(inputs["chord"]),
        keras.layers.Embedding(NUM_POSITIONS, config.position_embedding,
                               name="position_embedding")(inputs["position"]),
        keras.layers.Embedding(NUM_METERS, config.meter_embedding,
                               name="meter_embedding")(inputs["meter"])])
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
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as error:
        raise FolkRNNError(f"the weights in {path} don't fit the run's {runs.CONFIG_FILE} "
                           f"({error}): retrain it with folkrnn train --run {run_name} --fresh"
                           ) from None
    return model, config


def load_step_model(run_name: str, checkpoint: str = "best") -> "StepModel":
    """The trained run as a `StepModel`, ready to sample (notebook 04, ``folkrnn generate``)."""
    return StepModel(*load_run(run_name, checkpoint, compile=False))


# --- one step at a time, in numpy --------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow warnings


class StepModel:
    """The trained network run one step at a time in numpy, for sampling (notebook 04).

    To sample step t+1: ``hidden, states = step(events of t, position/meter of t+1, states)``,
    draw a chord from ``chord_logits(hidden)``, then a melody event from
    ``melody_logits(hidden, chord)``. All arguments are (batch,) int arrays.
    """

    def __init__(self, model: keras.Model, config: Config):
        weights = {layer.name: [np.asarray(w, np.float32) for w in layer.get_weights()]
                   for layer in model.layers if layer.get_weights()}
        self.factorised = config.factorised
        self.chord_table = weights["chord_embedding"][0]
        tables = [weights["melody_embedding"][0], self.chord_table,
                  weights["position_embedding"][0], weights["meter_embedding"][0]]
        self.lstms = [weights[f"lstm_{i}"] for i in range(1, config.layers + 1)]
        # x @ W of the first layer, precomputed for every value of every input (x is a concat
        # of embeddings, so x @ W is a sum of one row from each table): a lookup per step.
        kernel, rows = self.lstms[0][0], np.cumsum([0] + [t.shape[1] for t in tables])
        self.input_tables = [t @ kernel[a:b] for t, a, b in zip(tables, rows[:-1], rows[1:])]
        self.chord_head = weights["chord_logits"]
        self.melody_head = weights["melody_logits"]
        self.melody_hidden = weights.get("melody_hidden")

    def initial_state(self, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Zero (h, c) for every layer, as the Keras model starts each window."""
        zeros = np.zeros((batch, self.lstms[0][1].shape[0]), np.float32)
        return [(zeros, zeros) for _ in self.lstms]

    def step(self, melody, chord, position, meter, states):
        """One step of every LSTM layer: returns (top layer output, new states)."""
        ids = [melody, chord, position, meter]
        projected = sum(table[np.asarray(i)] for table, i in zip(self.input_tables, ids))
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
