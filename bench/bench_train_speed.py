"""Training speed at the machine's limit: the default model's epoch against a bare LSTM.

Prints, in one run on the same machine: the default model's epoch (training part, and with
validation) as `folkrnn.train` runs it (`model.fit` on `batches.training_windows`), and a bare
``keras.layers.LSTM`` of the same width and input size doing forward and backward passes over
the same number of real (unpadded) steps, in full batches of the same shape. The ratio of the
two is the cost of everything that is not the LSTM's own arithmetic (the heads, the embeddings,
the loss, the input pipeline, padding). Figures: BENCHMARKS.md, "Training at the machine's limit".

    FOLKRNN_HOME=... .venv/bin/python bench/bench_train_speed.py [--epochs 3] [--set k=v ...]

Take the figure with nothing else running on the cores.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from folkrnn import batches, inputs  # noqa: E402
from folkrnn.config import Config  # noqa: E402
from folkrnn.dataset import load_dataset  # noqa: E402
from folkrnn.model import build_model  # noqa: E402


class EpochTimes(keras.callbacks.Callback):
    """Seconds of each epoch's training part and of its validation."""

    def __init__(self):
        super().__init__()
        self.train, self.valid = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_test_begin(self, logs=None):
        self.train.append(time.perf_counter() - self.start)
        self.valid_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self.valid.append(time.perf_counter() - self.valid_start)


def model_epochs(config: Config, epochs: int) -> tuple[EpochTimes, int, int]:
    """Train ``epochs`` epochs as `folkrnn.train` does; the times, real steps and batches."""
    tunes = load_dataset()
    names = inputs.input_keys(config)
    count = batches.steps_per_epoch(tunes.train, config.seq_len, config.batch_size)
    first = batches.Batcher(tunes.train, names, config.seq_len, config.batch_size,
                            transpose=config.transpose, seed=config.seed).epoch(0)
    real = int(sum((b[2]["melody"] > 0).sum() for b in first[:count]))
    validation = batches.validation_windows(tunes.valid, config.seq_len, config.batch_size,
                                            names=names)
    model = build_model(config, steps_per_epoch=count)
    times = EpochTimes()
    model.fit(batches.training_windows(tunes.train, config.seq_len, config.batch_size,
                                       names=names, seed=config.seed, batches=count),
              steps_per_epoch=count, epochs=epochs, verbose=0, callbacks=[times],
              validation_data=validation)
    return times, real, count


def bare_lstm_seconds(config: Config, real_steps: int, width: int, rounds: int = 3) -> float:
    """Seconds for a bare LSTM(units) to train on ``real_steps`` steps (best of ``rounds``)."""
    shape = (config.batch_size, config.seq_len)
    x = np.random.default_rng(0).normal(size=(*shape, width)).astype(np.float32)
    y = np.zeros((*shape, config.units), np.float32)
    tensor = keras.Input((None, width))
    bare = keras.Model(tensor, keras.layers.LSTM(config.units, return_sequences=True)(tensor))
    bare.compile(optimizer="adam", loss="mse")
    bare.train_on_batch(x, y)
    full = real_steps / (shape[0] * shape[1])
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(int(np.ceil(full))):
            bare.train_on_batch(x, y)
        best = min(best, (time.perf_counter() - start) * full / np.ceil(full))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs to time (the first, "
                        "which compiles, is reported apart)")
    parser.add_argument("--set", action="append", default=[], help="a Config override k=v")
    args = parser.parse_args()
    config = Config().with_overrides(args.set)
    tables = inputs.embedding_tables(config)
    width = sum(tables[i.table][1] for i in inputs.model_inputs(config))
    times, real, count = model_epochs(config, args.epochs)
    bare = bare_lstm_seconds(config, real, width)
    train = min(times.train[1:] or times.train)
    valid = min(times.valid[1:] or times.valid)
    print(f"default model: {count} batches, {real:,} real steps per epoch; input width {width}")
    print(f"  epoch 1 (compiling): {times.train[0]:.1f} s training + {times.valid[0]:.1f} s "
          f"validation")
    print(f"  later epochs (best): {train:.1f} s training + {valid:.1f} s validation "
          f"= {train + valid:.1f} s ({real / train:,.0f} real steps/s)")
    print(f"bare keras.layers.LSTM({config.units}), same steps: {bare:.1f} s "
          f"({real / bare:,.0f} steps/s)")
    print(f"ratio (training part / bare LSTM): {train / bare:.2f}; with validation: "
          f"{(train + valid) / bare:.2f}")


if __name__ == "__main__":
    main()
