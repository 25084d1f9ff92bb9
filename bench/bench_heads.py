"""What do factorised heads buy? Trains the model with factorised and with independent heads.

    FOLKRNN_HOME=/tmp/heads-home .venv/bin/python bench/bench_heads.py [--units 384]
        [--epochs 5] [--tunes 60]

Trains the same network twice, ``factorised=True`` (the chord, then the melody given the chord)
and ``factorised=False`` (two heads that both read only the LSTM), for the same number of epochs
(same split, seed and data order; no time limit, no early stopping), into the runs
``heads-factorised`` and ``heads-independent`` (resumed if they exist). Then, for each:

* the validation NLL after every epoch, and `evaluate.evaluate_model` on the validation tunes
  (melody, chord and total NLL in nats per step: the total is the NLL of the pair in both cases,
  so it compares the two directly);
* ``--tunes`` sampled tunes (32 bars, ``form="free"`` so the model alone writes every bar, half
  4/4 and half 6/8, seeds 0, 1, ...) and how often their melody clashes with their chords: the
  share of notes starting on a beat whose pitch is not in the chord sounding under them, and
  `metrics.chord_tone_ratio` (all notes); the same for the validation tunes as the reference.

Prints Markdown tables for BENCHMARKS.md ("Factorised heads"); notebook 02 quotes them.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from folkrnn import metrics, music  # noqa: E402
from folkrnn.config import Config  # noqa: E402
from folkrnn.dataset import load_dataset  # noqa: E402
from folkrnn.music import Tune  # noqa: E402

METERS = ("4/4", "6/8")
HEADS = {"factorised": True, "independent": False}


def beat_steps(meter: str) -> int:
    """16th-note steps per beat: a dotted quarter in 6/8, 9/8, 12/8, else the lower number."""
    beats, unit = music.meter_fraction(meter)
    return 6 if unit == 8 and beats % 3 == 0 else 16 // unit


def on_beat_clash_rate(tune: Tune) -> float:
    """Of the notes that start on a beat over a chord, the share whose pitch is not in it."""
    meter_of_step = np.array(music.METERS)[tune.meter_ids]
    clashes = total = 0
    for step in np.nonzero(music.is_onset(tune.melody))[0]:
        root_quality = music.chord_root_quality(int(tune.chords[step]))
        if root_quality is None or tune.positions[step] % beat_steps(meter_of_step[step]):
            continue
        root, quality = root_quality
        total += 1
        clashes += (music.event_pitch(tune.melody[step]) - root) % 12 not in music.QUALITIES[quality]
    return clashes / total if total else float("nan")


def clash_figures(tunes: list[Tune]) -> tuple[float, float]:
    """Mean on-beat clash rate and mean chord-tone ratio over ``tunes`` (NaNs left out)."""
    return (float(np.nanmean([on_beat_clash_rate(t) for t in tunes])),
            float(np.nanmean([metrics.chord_tone_ratio(t) for t in tunes])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=Config().units)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--tunes", type=int, default=60)
    args = parser.parse_args()

    from folkrnn.evaluate import evaluate_model
    from folkrnn.generate import generate_tune
    from folkrnn.model import StepModel, load_run
    from folkrnn.runs import read_history
    from folkrnn.train import train_model

    tuneset = load_dataset()
    rows = {}
    for name, factorised in HEADS.items():
        run = f"heads-{name}"
        config = Config().with_overrides({"units": args.units, "epochs": args.epochs,
                                          "max_minutes": 0.0, "patience": 0,
                                          "factorised": factorised})
        train_model(config, run, tunes=tuneset, verbose=0)
        model, config = load_run(run, compile=False)
        scores = evaluate_model(model, tuneset.valid)
        step_model = StepModel(model, config)
        tunes = [generate_tune(step_model, bars=32, meter=METERS[seed % 2], seed=seed,
                               form="free") for seed in range(args.tunes)]
        rows[name] = {"weights": model.count_params(),
                      "val_loss": [row["val_loss"] for row in read_history(run)],
                      **{k: scores[k] for k in ("melody_nll", "chord_nll", "total_nll")},
                      "clash": clash_figures(tunes)}
    real = clash_figures(tuneset.valid)

    print(f"units={args.units}, {args.epochs} epochs (no time limit), validation tunes "
          f"({len(tuneset.valid)}); sampled: {args.tunes} tunes of 32 bars, form free")
    epochs = " | ".join(str(e + 1) for e in range(args.epochs))
    print(f"| heads | weights | val NLL after epoch {epochs} | melody NLL | chord NLL | "
          f"total NLL |")
    print("|---|---:|" + "---:|" * args.epochs + "---:|---:|---:|")
    for name, row in rows.items():
        losses = " | ".join(f"{v:.3f}" for v in row["val_loss"])
        print(f"| {name} | {row['weights']:,} | {losses} | {row['melody_nll']:.3f} | "
              f"{row['chord_nll']:.3f} | {row['total_nll']:.3f} |")
    print("\n| tunes | on-beat notes not in the chord | chord-tone share of all notes |")
    print("|---|---:|---:|")
    for name, row in rows.items():
        print(f"| sampled, {name} | {row['clash'][0]:.1%} | {row['clash'][1]:.1%} |")
    print(f"| real (validation) | {real[0]:.1%} | {real[1]:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
