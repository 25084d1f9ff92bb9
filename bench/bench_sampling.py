"""Which sampling settings make tunes closest to real ones? A grid search on the music metrics.

    .venv/bin/python bench/bench_sampling.py --run NAME [--tunes 50]
        [--temperatures 0.8,0.9,1.0] [--chord-temperatures 0.5,0.8,1.0] [--top-k 0,8,16]
        [--form AABB]

For every combination, generates ``--tunes`` tunes (half 4/4, half 6/8, 32 bars; the same seeds
for every combination) and scores them by `bench_form.distance`: the mean over all metrics of
|generated mean − real mean| / real std (real = the test tunes). Prints a Markdown table, best
first; the package defaults (`generate.DEFAULT_SAMPLING`) are the best row, checked with
bench/bench_form.py on 100 tunes. Figures in BENCHMARKS.md ("Sampling defaults").
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_form import FORM_METRICS, distance, generate_set, summary  # noqa: E402


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--tunes", type=int, default=50)
    parser.add_argument("--temperatures", type=floats, default=floats("0.8,0.9,1.0"))
    parser.add_argument("--chord-temperatures", type=floats, default=floats("0.5,0.8,1.0"))
    parser.add_argument("--top-k", type=lambda t: [int(x) for x in t.split(",")],
                        default=[0, 8, 16])
    parser.add_argument("--form", default="AABB")
    args = parser.parse_args()

    from folkrnn.dataset import load_dataset
    from folkrnn.model import load_step_model

    real = summary(load_dataset().test)
    step_model = load_step_model(args.run)
    rows = []
    for melody_t, chord_t, top_k in itertools.product(args.temperatures,
                                                      args.chord_temperatures, args.top_k):
        tunes, seconds = generate_set(step_model, args.tunes, 32, form=args.form,
                                      temperature=melody_t, chord_temperature=chord_t,
                                      top_k=top_k)
        gen = summary(tunes)
        rows.append((distance(gen, real), melody_t, chord_t, top_k, gen, seconds))
        print(f"T={melody_t} chord T={chord_t} top_k={top_k}: distance {rows[-1][0]:.3f}",
              file=sys.stderr)
    shown = ("notes_per_bar", "repeated_note_rate", "rest_rate", "chord_tone_ratio",
             "scale_consistency") + FORM_METRICS
    print(f"run {args.run}, form {args.form}, {args.tunes} tunes per setting")
    print("| melody T | chord T | top-k | distance | " + " | ".join(shown) + " |")
    print("|---:|---:|---:|---:|" + "---:|" * len(shown))
    print("| real | | | 0 | " + " | ".join(f"{real[n][0]:.2f}" for n in shown) + " |")
    for dist, melody_t, chord_t, top_k, gen, _ in sorted(rows, key=lambda r: r[0]):
        print(f"| {melody_t} | {chord_t} | {top_k} | {dist:.3f} | "
              + " | ".join(f"{gen[n][0]:.2f}" for n in shown) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
