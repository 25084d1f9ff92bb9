"""How fast does the sampler write a tune? Targets: 2,048 steps in at most 1 s, and a whole
32-bar tune in form (`generate_tune`'s defaults) in under 0.1 s.

    .venv/bin/python bench/bench_generate.py [--run NAME] [--steps 2048] [--repeats 3]

Without ``--run`` an untrained model of the default size (``Config()``) is built: sampling speed
does not depend on the weights' values. Prints the figures (explained in notebook 04).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from folkrnn.config import Config  # noqa: E402
from folkrnn.generate import blank_tune, generate_tune, sample_tune  # noqa: E402
from folkrnn.model import StepModel, build_model, load_run  # noqa: E402

TARGET_SECONDS = 1.0
TARGET_TUNE_SECONDS = 0.1  # one 32-bar tune with the default form


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a trained run (default: untrained Config() model)")
    parser.add_argument("--steps", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive", type=int, default=256, metavar="N",
                        help="also time N steps of the re-run-everything sampler (0: skip)")
    args = parser.parse_args()

    model, config = load_run(args.run) if args.run else (build_model(Config()), Config())
    started = time.perf_counter()
    step_model = StepModel(model, config)
    setup = time.perf_counter() - started
    times = []
    for seed in range(args.repeats):
        started = time.perf_counter()
        sample_tune(step_model, blank_tune(args.steps, "4/4"), seed=seed)
        times.append(time.perf_counter() - started)
    best, mean = min(times), sum(times) / len(times)
    print(f"model: {args.run or 'untrained Config()'} (layers={config.layers}, "
          f"units={config.units}, factorised={config.factorised})")
    print(f"StepModel set-up: {setup * 1000:.0f} ms")
    print(f"sample_tune, {args.steps} steps: best {best:.3f} s, mean {mean:.3f} s over "
          f"{args.repeats} runs ({best / args.steps * 1e6:.0f} µs per step)")
    verdict = "OK" if best <= TARGET_SECONDS else "SLOWER THAN TARGET"
    print(f"target ≤ {TARGET_SECONDS:.1f} s: {verdict}")
    tunes, cpu = [], []
    for seed in range(2 * args.repeats):  # half 4/4 (512 steps), half 6/8 (384 steps)
        started, started_cpu = time.perf_counter(), time.process_time()
        generate_tune(step_model, seed=seed, meter=("4/4", "6/8")[seed % 2])
        tunes.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    verdict = "OK" if min(tunes) < TARGET_TUNE_SECONDS else "SLOWER THAN TARGET"
    print(f"generate_tune, 32 bars in form AABB (4/4 and 6/8): best {min(tunes):.3f} s, mean "
          f"{sum(tunes) / len(tunes):.3f} s (CPU time: best {min(cpu):.3f} s, mean "
          f"{sum(cpu) / len(cpu):.3f} s); target < {TARGET_TUNE_SECONDS} s: {verdict}")
    if args.naive:
        naive = naive_seconds(model, args.naive)
        print(f"before (the whole sequence re-run through the Keras model at every step, as "
              f"the TensorFlow music tutorial does): {args.naive} steps in {naive:.2f} s, "
              f"{naive / (best * args.naive / args.steps):.0f}x slower than sample_tune")
    return 0


def naive_seconds(model, steps: int) -> float:
    """Time ``steps`` steps of re-running the growing sequence through the Keras model."""
    import numpy as np

    events = np.zeros((1, steps + 1), np.int32)
    keys = [t.name for t in model.inputs]
    started = time.perf_counter()
    for t in range(1, steps + 1):
        outputs = model.predict_on_batch({k: events[:, :t] for k in keys})
        events[0, t] = int(np.argmax(outputs["melody"][0, -1]))
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
