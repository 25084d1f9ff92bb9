"""What do the form inputs cost per training step? Times the default model with and without them.

    .venv/bin/python bench/bench_form_cost.py [--rounds 5]

Builds the default model (`Config()`) and the same without form inputs (``lookback=""``,
``structure=False``), and times ``train_on_batch`` on one real batch (default batch size and
window) in alternation, so that both see the same machine load. Prints the median seconds per
step of each and their ratio (BENCHMARKS.md, "Form").
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from folkrnn.config import Config  # noqa: E402
from folkrnn.batches import batch_windows  # noqa: E402
from folkrnn.dataset import load_dataset  # noqa: E402
from folkrnn.inputs import input_keys  # noqa: E402
from folkrnn.model import build_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with_form = Config()
    without = replace(with_form, lookback="", structure=False)
    tunes = load_dataset().train
    inputs, targets, weights = next(batch_windows(tunes, with_form.seq_len,
                                                  with_form.batch_size, transpose=True,
                                                  names=input_keys(with_form)))
    runs = {}
    for name, config in [("with form inputs", with_form), ("without", without)]:
        model = build_model(config)
        batch = {k: inputs[k] for k in input_keys(config)}
        model.train_on_batch(batch, targets, sample_weight=weights)  # compile, warm up
        runs[name] = (model, batch, [])
    for _ in range(args.rounds):
        for model, batch, times in runs.values():
            started = time.perf_counter()
            model.train_on_batch(batch, targets, sample_weight=weights)
            times.append(time.perf_counter() - started)
    medians = {name: statistics.median(times) for name, (_, _, times) in runs.items()}
    for name, seconds in medians.items():
        print(f"{name}: {seconds:.3f} s per training step (median of {args.rounds})")
    print(f"ratio: {medians['with form inputs'] / medians['without']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
