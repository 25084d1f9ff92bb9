"""Do generated tunes have the form of folk tunes? Scores generated tunes against the real ones.

    .venv/bin/python bench/bench_form.py --run NAME [--tunes 100] [--bars 32] [--form AABB]
        [--temperature T] [--chord-temperature T] [--top-k K] [--real]

Generates ``--tunes`` tunes (half in 4/4, half in 6/8, seeds 0, 1, ...) with `generate_tune`
and the given settings (default: the package defaults), and prints, as a Markdown table, the
mean ± std of every music metric (`folkrnn.metrics`) over them beside the real test tunes,
the longest passage any of them copies from a training tune (`metrics.CopyIndex`), the seconds
per tune, and the targets of the form issue (met or not). ``--real`` prints the real tunes'
figures only (no run needed). Figures go into BENCHMARKS.md ("Form").
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from folkrnn import metrics  # noqa: E402
from folkrnn.dataset import load_dataset  # noqa: E402

METERS = ("4/4", "6/8")
FORM_METRICS = ("repeated_bars", "aabb_form", "longest_repeat", "ends_on_tonic", "pitch_range",
                "pitch_classes")


def generate_set(step_model, count: int, bars: int | None, **settings) -> tuple[list, float]:
    """``count`` tunes, alternately 4/4 and 6/8 (seed = index); and seconds per tune."""
    from folkrnn.generate import generate_tune

    tunes, started = [], time.perf_counter()
    for seed in range(count):
        tunes.append(generate_tune(step_model, bars=bars, meter=METERS[seed % 2], seed=seed,
                                   **settings))
    return tunes, (time.perf_counter() - started) / max(count, 1)


def summary(tunes: list) -> dict[str, tuple[float, float]]:
    """Mean and std of every metric over ``tunes`` (NaNs left out)."""
    table = metrics.metric_table(tunes)
    out = {}
    for name, values in table.items():
        finite = np.array([v for v in values if not np.isnan(v)])
        out[name] = (float(finite.mean()), float(finite.std())) if len(finite) else (np.nan,
                                                                                        np.nan)
    return out


def distance(generated: dict, real: dict, names=None) -> float:
    """How far generated tunes sit from real ones: the mean over metrics of
    |generated mean − real mean| / real std (0 = indistinguishable on average)."""
    names = names or list(real)
    return float(np.mean([abs(generated[n][0] - real[n][0]) / max(real[n][1], 1e-6)
                          for n in names]))


def targets(gen: dict, real: dict, copied: float) -> list[tuple[str, bool]]:
    """The targets of the form issue, each with whether ``gen`` meets it."""
    def within(name):
        return abs(gen[name][0] - real[name][0]) <= real[name][1]

    return [("≥30% of bars repeat an earlier bar", gen["repeated_bars"][0] >= 0.30),
            ("AABB-like form in ≥ half the tunes", gen["aabb_form"][0] >= 0.5),
            ("≥60% end on the tonic", gen["ends_on_tonic"][0] >= 0.6),
            ("pitch range within one std of real", within("pitch_range")),
            ("pitch classes used within one std of real", within("pitch_classes")),
            ("no tune copies more than 8 bars of a training tune", copied <= 8)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a trained run (folkrnn train --run NAME)")
    parser.add_argument("--tunes", type=int, default=100)
    parser.add_argument("--bars", type=int, default=None, help="default: generate_tune's")
    parser.add_argument("--form", default=None)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--chord-temperature", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--real", action="store_true", help="only the real tunes' figures")
    args = parser.parse_args()

    tuneset = load_dataset()
    real = summary(tuneset.test)
    copies = metrics.CopyIndex(tuneset.train)
    real_copy = [copies.longest_copy(t) for t in tuneset.test]
    if args.real or not args.run:
        print(f"real test tunes ({len(tuneset.test)}):")
        for name in metrics.METRICS:
            print(f"| {name} | {real[name][0]:.3f} ± {real[name][1]:.3f} |")
        print(f"longest passage a test tune shares with a training tune: mean "
              f"{np.mean(real_copy):.2f} bars, max {max(real_copy):.0f}")
        return 0

    from folkrnn.model import load_step_model

    settings = {k: v for k, v in [("form", args.form), ("temperature", args.temperature),
                                  ("chord_temperature", args.chord_temperature),
                                  ("top_k", args.top_k)] if v is not None}
    step_model = load_step_model(args.run)
    tunes, seconds = generate_set(step_model, args.tunes, args.bars, **settings)
    gen = summary(tunes)
    copied = [copies.longest_copy(t) for t in tunes]
    print(f"run {args.run}, {args.tunes} tunes (4/4 and 6/8), settings {settings or 'defaults'}: "
          f"{seconds * 1000:.0f} ms per tune")
    print("| metric | generated | real (test) |\n|---|---:|---:|")
    for name in metrics.METRICS:
        bold = "**" if name in FORM_METRICS else ""
        print(f"| {bold}{name}{bold} | {gen[name][0]:.3f} ± {gen[name][1]:.3f} | "
              f"{real[name][0]:.3f} ± {real[name][1]:.3f} |")
    print(f"| longest copy from a training tune (bars) | mean {np.mean(copied):.2f}, max "
          f"{max(copied):.0f} | mean {np.mean(real_copy):.2f}, max {max(real_copy):.0f} |")
    print(f"distance to real (mean |Δ| / real std over all metrics): {distance(gen, real):.3f}")
    for text, ok in targets(gen, real, max(copied)):
        print(f"{'met ' if ok else 'MISSED'} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
