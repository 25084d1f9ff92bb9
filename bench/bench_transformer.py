"""Another model family over the same inputs: a small causal Transformer instead of the LSTM.

    .venv/bin/python bench/bench_transformer.py [all|train|check|evaluate|judge]
        [--run transformer] [--set k=v ...] [--fresh] [bench_judge options]

``all`` (the default): train `PRESET` into ``runs/transformer`` (or resume it; ~32 min on 2
cores), check the sampler, score the test tunes, and judge 400 tunes with fold seeds 0, 1, 2.

Issue 18's last untried lever (BENCHMARKS.md, round 3 session 7): does a network that can look
straight back at any of the last 128 steps, instead of carrying a memory through them, write
tunes a classifier tells from real ones less easily? Everything but the network is the
package's: the inputs (`folkrnn.inputs`), batches, training loop and checkpoints
(`folkrnn.train`), the heads (a chord head, and the melody head that sees the chord), the
sampler and its form rules (`folkrnn.generate`), the judge (``bench/bench_judge.py``).

The network: the step's input embeddings, concatenated and projected to ``units`` wide;
``layers`` pre-norm blocks of causal self-attention (`HEADS` heads; in each block a step
attends to at most the last `WINDOW` steps, itself included, so stacked blocks reach further
back, as an LSTM's memory does beyond its training windows; ALiBi's linear distance penalty
gives the order: Press et al. 2022) and a ReLU feed-forward layer 4× as wide; a final layer
norm; the package's heads.
The run's ``config.json`` is the package's Config (``units``, ``layers``, ``dropout`` size the
Transformer): load such a run through this script only.

For sampling, `TransformerStep` runs the same network one step at a time in numpy, keeping
each block's keys and values of the steps so far (a cache), with the `model.StepModel`
interface the generator expects; ``check`` compares it with the Keras model on real tunes.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from folkrnn import inputs, model as model_lib, music  # noqa: E402
from folkrnn.config import Config  # noqa: E402

HEADS = 4
WINDOW = 128  # steps a step attends to in each block, itself included (= seq_len)
WARMUP_SHARE = 0.03  # of all training steps: the step size rises linearly, then the cosine
LN_EPSILON = 1e-3  # keras.layers.LayerNormalization's default
# The better of the measured runs (BENCHMARKS.md): 4 blocks 192 wide (1.9 M weights), Adam at
# 2e-3 after the warm-up (1e-3 was worse), the cosine over 30 epochs, all of them.
PRESET = ["units=192", "layers=4", "dropout=0.1", "learning_rate=2e-3", "lr_schedule=cosine",
          "epochs=30", "patience=0", "max_minutes=0"]


def alibi_slopes(heads: int) -> np.ndarray:
    """Per head, the penalty per step of distance (ALiBi: 2^-8/heads, 2^-16/heads, ...)."""
    return 2.0 ** (-8.0 * np.arange(1, heads + 1) / heads)


class WindowAttention(keras.layers.Layer):
    """Causal multi-head self-attention over the last ``window`` steps, ALiBi for order."""

    def __init__(self, width: int, heads: int, window: int, **kwargs):
        super().__init__(**kwargs)
        self.width, self.heads, self.window = width, heads, window
        self.qkv = keras.layers.Dense(3 * width, name="qkv")
        self.out = keras.layers.Dense(width, name="out")

    def build(self, shape):
        self.qkv.build(shape)
        self.out.build(shape[:-1] + (self.width,))

    def call(self, x):
        batch, steps, size = ops.shape(x)[0], ops.shape(x)[1], self.width // self.heads
        qkv = ops.reshape(self.qkv(x), (batch, steps, 3, self.heads, size))
        q, k, v = (ops.transpose(qkv[:, :, i], (0, 2, 1, 3)) for i in range(3))  # (b, h, t, d)
        scores = ops.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(size).astype("float32")
        position = ops.arange(steps)
        distance = ops.cast(position[:, None] - position[None, :], "float32")  # i - j
        slopes = ops.convert_to_tensor(alibi_slopes(self.heads).astype("float32"))
        scores = scores - slopes[:, None, None] * distance
        allowed = (distance >= 0) & (distance < self.window)
        weights = ops.softmax(ops.where(allowed, scores, -1e9), axis=-1)
        y = ops.transpose(ops.einsum("bhij,bhjd->bhid", weights, v), (0, 2, 1, 3))
        return self.out(ops.reshape(y, (batch, steps, self.width)))

    def get_config(self):
        return {**super().get_config(), "width": self.width, "heads": self.heads,
                "window": self.window}


def build_transformer(config: Config, *, compile: bool = True,
                      steps_per_epoch: int | None = None) -> keras.Model:
    """`model.build_model`'s contract (inputs by name, melody and chord logits), a Transformer
    in place of the LSTM: ``units`` wide, ``layers`` blocks, ``dropout`` on each branch."""
    tensors = {k: keras.Input((None,), dtype="int32", name=k) for k in inputs.input_keys(config)}
    tables = {table: keras.layers.Embedding(rows, width, name=f"{table}_embedding")
              for table, (rows, width) in inputs.embedding_tables(config).items()}
    x = keras.layers.Concatenate(name="step_features")(
        [tables[i.table](tensors[i.name]) for i in inputs.model_inputs(config)])
    x = keras.layers.Dense(config.units, name="input_projection")(x)
    for n in range(1, config.layers + 1):
        h = keras.layers.LayerNormalization(name=f"block{n}_ln1")(x)
        h = WindowAttention(config.units, HEADS, WINDOW, name=f"block{n}_attention")(h)
        x = keras.layers.Add()([x, keras.layers.Dropout(config.dropout)(h)])
        h = keras.layers.LayerNormalization(name=f"block{n}_ln2")(x)
        h = keras.layers.Dense(4 * config.units, activation="relu", name=f"block{n}_mlp1")(h)
        h = keras.layers.Dense(config.units, name=f"block{n}_mlp2")(h)
        x = keras.layers.Add()([x, keras.layers.Dropout(config.dropout)(h)])
    x = keras.layers.LayerNormalization(name="final_ln")(x)
    chord = keras.layers.Dense(music.CHORD_SIZE, name="chord_logits")(x)
    next_chord = inputs.NEXT_CHORD
    both = keras.layers.Concatenate(name="with_next_chord")(
        [x, tables[next_chord.table](tensors[next_chord.name])])
    hidden = keras.layers.Dense(config.units, activation="relu", name="melody_hidden")(both)
    melody = keras.layers.Dense(music.MELODY_SIZE, name="melody_logits")(hidden)
    model = keras.Model(tensors, {"melody": melody, "chord": chord}, name="folkrnn_transformer")
    if compile:
        model_lib.compile_model(model, config, steps_per_epoch)
    return model


def learning_rate(config: Config, steps_per_epoch: int | None = None):
    """The package's cosine, after a linear warm-up (a Transformer's first steps need it)."""
    if not steps_per_epoch:
        return config.learning_rate
    total = max(1, config.epochs * steps_per_epoch)
    warmup = int(WARMUP_SHARE * total)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total - warmup, alpha=model_lib.FINAL_LR_SHARE,
        warmup_target=config.learning_rate, warmup_steps=warmup)


def use_transformer() -> None:
    """From here on, the package builds, trains, loads and samples the Transformer."""
    from folkrnn import train  # noqa: PLC0415
    model_lib.build_model = train.build_model = build_transformer
    model_lib.learning_rate = learning_rate
    model_lib.load_step_model = lambda run, checkpoint="best": TransformerStep(
        *model_lib.load_run(run, checkpoint, compile=False))


def _layer_norm(x: np.ndarray, gamma_beta: list[np.ndarray]) -> np.ndarray:
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LN_EPSILON) * gamma_beta[0] + gamma_beta[1]


class TransformerStep(model_lib.StepModel):
    """The Transformer one step at a time in numpy; the state is each block's cached keys and
    values (batch, heads, steps so far, size), never more than `WINDOW` - 1 steps of them."""

    def __init__(self, model: keras.Model, config: Config):
        w = {layer.name: [np.asarray(v, np.float32) for v in layer.get_weights()]
             for layer in model.layers if layer.get_weights()}
        self.factorised, self.inputs = True, inputs.model_inputs(config)
        self.tables = [w[f"{i.table}_embedding"][0] for i in self.inputs]
        self.chord_table = w[f"{inputs.NEXT_CHORD.table}_embedding"][0]
        self.projection = w["input_projection"]
        self.blocks = [{part: w[f"block{n}_{part}"] for part in
                        ("ln1", "attention", "ln2", "mlp1", "mlp2")}
                       for n in range(1, config.layers + 1)]
        self.final_ln, self.units = w["final_ln"], config.units
        self.chord_head, self.melody_head = w["chord_logits"], w["melody_logits"]
        self.melody_hidden = w["melody_hidden"]
        self.slopes = alibi_slopes(HEADS)[None, :, None]

    def initial_state(self, batch: int) -> list:
        size = self.units // HEADS
        empty = np.zeros((batch, HEADS, 0, size), np.float32)
        return [(empty, empty) for _ in self.blocks]

    def step_ids(self, ids: np.ndarray, states):
        x = np.concatenate([t[i] for t, i in zip(self.tables, ids)], axis=-1)
        x = x @ self.projection[0] + self.projection[1]
        batch, size, new_states = x.shape[0], self.units // HEADS, []
        for block, (keys, values) in zip(self.blocks, states):
            qkv_kernel, qkv_bias, out_kernel, out_bias = block["attention"]
            qkv = (_layer_norm(x, block["ln1"]) @ qkv_kernel + qkv_bias)
            q, k, v = qkv.reshape(batch, 3, HEADS, size).transpose(1, 0, 2, 3)  # (b, h, d) each
            keys = np.concatenate([keys[:, :, -(WINDOW - 1):], k[:, :, None]], axis=2)
            values = np.concatenate([values[:, :, -(WINDOW - 1):], v[:, :, None]], axis=2)
            scores = np.einsum("bhd,bhjd->bhj", q, keys) / np.sqrt(size)
            scores -= self.slopes * np.arange(keys.shape[2] - 1, -1, -1)  # distance back
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            y = np.einsum("bhj,bhjd->bhd", weights, values).reshape(batch, self.units)
            x = x + y @ out_kernel + out_bias
            h = np.maximum(_layer_norm(x, block["ln2"]) @ block["mlp1"][0] + block["mlp1"][1], 0)
            x = x + h @ block["mlp2"][0] + block["mlp2"][1]
            new_states.append((keys, values))
        return _layer_norm(x, self.final_ln), new_states


def check(run: str, count: int = 4) -> float:
    """Largest difference, over ``count`` held-out tunes, between the per-step log-probabilities
    of the Keras model (teacher forced) and of `TransformerStep` fed the same tunes."""
    from scipy.special import log_softmax  # noqa: PLC0415

    from folkrnn.dataset import load_dataset  # noqa: PLC0415
    from folkrnn.evaluate import model_log_probs  # noqa: PLC0415
    from folkrnn.inputs import tune_arrays  # noqa: PLC0415

    keras_model, config = model_lib.load_run(run, compile=False)
    step = TransformerStep(keras_model, config)
    tunes = load_dataset().test[:count]
    worst = 0.0
    for tune, (melody, chord) in zip(tunes, model_log_probs(keras_model, tunes)):
        arrays = tune_arrays(tune, [i.name for i in step.inputs])
        states = step.initial_state(1)
        for t in range(len(tune)):
            ids = np.array([[arrays[i.name][t]] for i in step.inputs])
            hidden, states = step.step_ids(ids, states)
            c = log_softmax(step.chord_logits(hidden)[0])
            m = log_softmax(step.melody_logits(hidden, np.array([tune.chords[t]]))[0])
            worst = max(worst, abs(c[tune.chords[t]] - chord[t, tune.chords[t]]),
                        abs(m[tune.melody[t]] - melody[t, tune.melody[t]]))
    return worst


def train(run: str, settings: list[str], fresh: bool) -> None:
    """Train (or resume) the Transformer into ``runs/RUN`` with `PRESET` and ``settings``."""
    from folkrnn.config import default_config  # noqa: PLC0415
    from folkrnn.train import train_model  # noqa: PLC0415

    config = default_config().with_overrides([*PRESET, *settings])
    started = time.perf_counter()
    train_model(config, run, fresh=fresh, verbose=2)
    print(f"{(time.perf_counter() - started) / 60:.1f} min")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("verb", nargs="?", default="all",
                        choices=["all", "train", "check", "evaluate", "judge"],
                        help="all (the default, as make bench runs it): the other four in turn")
    parser.add_argument("--run", default="transformer")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="train: a knob on top of PRESET")
    parser.add_argument("--fresh", action="store_true", help="train: start over")
    args, judge_options = parser.parse_known_args(argv)
    if judge_options and args.verb not in ("judge", "all"):
        parser.error(f"unknown options {' '.join(judge_options)}")
    use_transformer()
    if args.verb in ("train", "all"):
        train(args.run, args.set, args.fresh)
    if args.verb in ("check", "all"):
        print(f"largest log-probability difference, Keras vs numpy steps: {check(args.run):.2e}")
    if args.verb in ("evaluate", "all"):
        from folkrnn.evaluate import evaluate_run  # noqa: PLC0415
        report = evaluate_run(args.run)["model"]
        print("test:", {k: round(v, 4) for k, v in report.items()})
    if args.verb in ("judge", "all"):
        import bench_judge  # noqa: PLC0415
        options = judge_options or ["--tunes", "400", "--seeds", "0,1,2"]
        sys.argv = ["bench_judge.py", "--run", args.run, *options]
        return bench_judge.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
