"""The network: embeddings → stacked LSTMs → a chord head and a melody head.

Explained in notebook 02_build_model. To predict step t the model reads its inputs by name
(`folkrnn.inputs`: the melody event and chord of step t-1, where step t falls in the bar, the
form inputs) and – in the factorised melody head – the chord of step t (``next_chord``); it
returns LOGITS for the melody event and chord of step t.

    melody ─┐
     chord ─┤ embeddings ─ concat ─ LSTM ─ dropout ─ … ─ LSTM ─ dropout ─┬─ dense ─ chord logits
  position ─┤                                                            │
     ... ───┘                          next_chord ─ embedding ─ concat ─┴─ dense ─ dense ─ melody

`load_run` reads a trained run back; `StepModel` runs the same network one step at a time in
numpy, which is what the generator needs (notebook 04_test_model).
"""
from __future__ import annotations

import h5py
import keras
import numpy as np

from folkrnn import inputs, music, pretrained, runs
from folkrnn.config import Config
from folkrnn.errors import FolkRNNError

FINAL_LR_SHARE = 0.05  # the cosine schedule ends at this share of the learning rate
JIT_COMPILE = False  # XLA: measured no faster for the stock LSTM on CPU (see the model report)


def lstm_layer(units: int, name: str) -> keras.layers.Layer:
    """The recurrent layer: the ONE place to swap in another LSTM implementation.

    Any replacement must keep the weights ``[kernel, recurrent_kernel, bias]`` with the Keras
    gate order (input, forget, cell, output): `StepModel` copies them. Explained in notebook 02.
    """
    return keras.layers.LSTM(units, return_sequences=True, name=name)


def build_model(config: Config, *, compile: bool = True, steps_per_epoch: int | None = None
                ) -> keras.Model:
    """The Keras model for ``config``, compiled for training unless ``compile=False``
    (``steps_per_epoch``: for the learning-rate schedule, see `learning_rate`).

    Inputs: a dict of int32 (batch, time) arrays, one per name of `inputs.input_keys(config)`.
    Outputs: ``{"melody": (batch, time, 36) logits, "chord": (batch, time, 37) logits}``.
    Explained in notebook 02_build_model.
    """
    tensors = {k: keras.Input((None,), dtype="int32", name=k) for k in inputs.input_keys(config)}
    tables = {table: keras.layers.Embedding(rows, width, name=f"{table}_embedding")
              for table, (rows, width) in inputs.embedding_tables(config).items()}
    x = keras.layers.Concatenate(name="step_features")(
        [tables[i.table](tensors[i.name]) for i in inputs.model_inputs(config)])
    for layer in range(1, config.layers + 1):
        x = lstm_layer(config.units, f"lstm_{layer}")(x)
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{layer}")(x)
    chord = keras.layers.Dense(music.CHORD_SIZE, name="chord_logits")(x)
    if config.factorised:  # the melody head also sees the chord it will sound over
        next_chord = inputs.NEXT_CHORD
        both = keras.layers.Concatenate(name="with_next_chord")(
            [x, tables[next_chord.table](tensors[next_chord.name])])
        x = keras.layers.Dense(config.units, activation="relu", name="melody_hidden")(both)
    melody = keras.layers.Dense(music.MELODY_SIZE, name="melody_logits")(x)
    outputs = {"melody": melody, "chord": chord}
    if config.own_draws:  # the same network, trained on some of its own draws (`OwnDraws`)
        model = OwnDraws(tensors, outputs, name="folkrnn")
        model.share = config.own_draws
    else:
        model = keras.Model(tensors, outputs, name="folkrnn")
    if compile:
        compile_model(model, config, steps_per_epoch)
    return model


class OwnDraws(keras.Model):
    """The network, trained partly on its own draws (the ``own_draws`` knob, notebook 03).

    Fed only real tunes (teacher forcing), a network never reads a note it wrote itself; when
    composing, it reads nothing else, and one unlikely draw can lead it where no training tune
    went (exposure bias). So before each training step, the batch is run through the network
    once, a melody event and a chord are drawn at every step from its predictions, and at a
    random ``share`` of the steps the next step's inputs are those draws instead of the real
    events (parallel scheduled sampling, Duckworth et al. 2019). The targets stay the real
    tune: whatever it drew, the network learns to come back to it. One slip at a time: only
    the step's own inputs change (and its last note, if a note was drawn); the lookback
    inputs and the steps after it still read the real tune. Measured: no gain (BENCHMARKS.md,
    round 3 session 5), so the default is 0.
    """

    share = 0.0

    def train_step(self, data):
        x, y, weights = data
        return super().train_step((self.with_own_draws(x), y, weights))

    def with_own_draws(self, x: dict) -> dict:
        """The batch ``x`` with the melody and chord inputs of a random ``share`` of its steps
        (never a window's first) replaced by the network's draws for the step before."""
        import tensorflow as tf  # noqa: PLC0415 (the TensorFlow backend: its random ops)

        logits = self(x, training=False)
        mask = tf.random.uniform(tf.shape(x["melody"])) < self.share
        mask = tf.concat([tf.zeros_like(mask[:, :1]), mask[:, 1:]], axis=1)
        out = dict(x)
        for name in ("melody", "chord"):
            shape = tf.shape(logits[name])
            drawn = tf.random.categorical(tf.reshape(logits[name], (-1, shape[-1])), 1)
            drawn = tf.cast(tf.reshape(drawn, shape[:2]), x[name].dtype)
            before = tf.concat([x[name][:, :1], drawn[:, :-1]], axis=1)  # step t reads t-1's
            out[name] = tf.where(mask, before, x[name])
        if "last_note" in x:  # a drawn note is the last note started
            onset = mask & (out["melody"] >= music.ONSET)
            out["last_note"] = tf.where(onset, out["melody"], x["last_note"])
        return out


def learning_rate(config: Config, steps_per_epoch: int | None = None):
    """Adam's step size: ``learning_rate`` throughout (``lr_schedule="constant"``), or falling
    along a half cosine to `FINAL_LR_SHARE` of it by the last of ``config.epochs`` epochs of
    ``steps_per_epoch`` batches (``"cosine"``): big steps while far from a good model, small
    ones to settle into it. Without ``steps_per_epoch`` (a model trained batch by batch by
    hand) the step size stays constant. Explained in notebook 03_train_model."""
    if config.lr_schedule == "constant" or not steps_per_epoch:
        return config.learning_rate
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(1, config.epochs * steps_per_epoch),
        alpha=FINAL_LR_SHARE)


def compile_model(model: keras.Model, config: Config, steps_per_epoch: int | None = None
                  ) -> None:
    """Adam, and the loss: ``melody_loss_weight`` × melody cross-entropy + chord cross-entropy.

    The loss is a weighted SUM over the batch: the batches' sample weights (`folkrnn.batches`)
    are 0 on padding and 1 / (the mean number of real steps per batch) on real steps, so every
    real step weighs the same, and the loss Keras reports (a mean over batches) is the mean
    NLL per step. The accuracies count real steps only.
    """
    def loss() -> keras.losses.Loss:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate(config, steps_per_epoch),
                                        clipnorm=config.clipnorm),
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
    ``runs.PRETRAINED_RUN`` is the model shipped with folkrnn (`folkrnn.pretrained`).
    """
    if run_name == runs.PRETRAINED_RUN:
        return pretrained.load_model(compile=compile)
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
    """``model.load_weights(path)``, but a file that lacks some of the model's weights is a
    ValueError (Keras itself only warns and leaves such a layer untrained).

    A ``.weights.h5`` file keeps every layer's arrays under ``layers/``; the model and the file
    must hold arrays of the same shapes.
    """
    stored: list[tuple[int, ...]] = []
    with h5py.File(path, "r") as weights:
        weights.require_group("layers").visititems(
            lambda _, item: stored.append(item.shape) if isinstance(item, h5py.Dataset) else None)
    wanted = sorted(tuple(w.shape) for w in model.weights)
    if sorted(stored) != wanted:
        raise ValueError(f"it holds {len(stored)} weight arrays where the model has "
                         f"{len(wanted)}, or of other shapes")
    model.load_weights(path)


def load_step_model(run_name: str, checkpoint: str = "best") -> "StepModel":
    """The trained run as a `StepModel`, ready to sample (notebook 04, ``folkrnn generate``)."""
    return StepModel(*load_run(run_name, checkpoint, compile=False))


# --- one step at a time, in numpy --------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow warnings


class StepModel:
    """The trained network run one step at a time in numpy, for sampling (notebook 04).

    To sample step t: ``hidden, states = step_ids(inputs of step t, states)``, draw a chord
    from ``chord_logits(hidden)``, then a melody event from ``melody_logits(hidden, chord)``.
    The inputs are `self.inputs` (`folkrnn.inputs.model_inputs`), in that order.
    """

    def __init__(self, model: keras.Model, config: Config):
        weights = {layer.name: [np.asarray(w, np.float32) for w in layer.get_weights()]
                   for layer in model.layers if layer.get_weights()}
        self.factorised = config.factorised
        self.inputs = inputs.model_inputs(config)  # what `step_ids` reads, in this order
        self.chord_table = weights[f"{inputs.NEXT_CHORD.table}_embedding"][0]
        tables = [weights[f"{i.table}_embedding"][0] for i in self.inputs]
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

    def step_ids(self, ids: np.ndarray, states):
        """One step of every LSTM layer: returns (top layer output, new states).

        ``ids``: an (inputs, batch) int array, the ids of `self.inputs` in that order
        (`inputs.inputs_at` computes them)."""
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
