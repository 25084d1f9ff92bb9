"""Can a classifier tell generated tunes from real ones? The judge (`folkrnn.judge`) on a run.

    .venv/bin/python bench/bench_judge.py [--run NAME[,NAME...]] [--tunes 200] [--form free]
        [--temperature T] [--chord-temperature T] [--top-k K] [--top-p P] [--copy-bias B]
        [--echo-bias B] [--seed 0 | --seeds 0,1,2]

Generates ``--tunes`` tunes with `generate_tune` (half in 4/4, half in 6/8, seeds 0, 1, …,
the package defaults unless options are given) and prints, as Markdown: the cross-validated AUC
of the judge telling them from the real tunes (overall and per feature group), the local
statistics side by side, the features that give them away most, and the reference: the same
judge on real held-out tunes (valid + test) against real training tunes, which should be near
0.5 (`judge.reference`). Real tunes: one of each group of duplicates (`judge.real_tunes`).
Figures go into BENCHMARKS.md; the issue's targets: AUC ≤ 0.75, no group above 0.80.

Several runs (``--run a,b,c``, trained with the same inputs) compose as one: at every step the
average of their odds (`AveragedOdds`), an ensemble. ``--seeds 0,1,2`` judges the same tunes
with several fold seeds and prints each verdict's AUC and their mean (the protocol of
BENCHMARKS.md's 400-tune figures: ``--tunes 400 --seeds 0,1,2``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

from folkrnn import judge  # noqa: E402
from folkrnn.dataset import load_dataset  # noqa: E402
from folkrnn.tables import Table  # noqa: E402

METERS = ("4/4", "6/8")


class AveragedOdds:
    """Several `StepModel`s of the same inputs as one: each step's odds are their average."""

    def __init__(self, step_models: list):
        self.models, self.inputs = step_models, step_models[0].inputs
        if any(m.inputs != self.inputs for m in step_models):
            raise SystemExit("the runs of an ensemble must read the same inputs")

    def initial_state(self, batch: int) -> list:
        return [m.initial_state(batch) for m in self.models]

    def step_ids(self, ids: np.ndarray, states: list) -> tuple[list, list]:
        hidden, states = zip(*(m.step_ids(ids, s) for m, s in zip(self.models, states)))
        return list(hidden), list(states)

    @staticmethod
    def _mean_odds(logits: list[np.ndarray]) -> np.ndarray:  # log of the mean probability
        log_probs = [z - logsumexp(z, axis=-1, keepdims=True) for z in logits]
        return logsumexp(log_probs, axis=0) - np.log(len(log_probs))

    def chord_logits(self, hidden: list) -> np.ndarray:
        return self._mean_odds([m.chord_logits(h) for m, h in zip(self.models, hidden)])

    def melody_logits(self, hidden: list, next_chord) -> np.ndarray:
        return self._mean_odds([m.melody_logits(h, next_chord)
                                for m, h in zip(self.models, hidden)])


def generate_set(run: str, count: int, bars: int, **settings) -> tuple[list, float]:
    """``count`` tunes, alternately 4/4 and 6/8 (seed = index); and seconds per tune.
    ``run``: a run's name, or several, comma-separated (`AveragedOdds`)."""
    from folkrnn.generate import generate_tune
    from folkrnn.model import load_step_model

    models = [load_step_model(name) for name in run.split(",")]
    step_model = models[0] if len(models) == 1 else AveragedOdds(models)
    started = time.perf_counter()
    tunes = [generate_tune(step_model, bars=bars, meter=METERS[seed % 2], seed=seed, **settings)
             for seed in range(count)]
    return tunes, (time.perf_counter() - started) / max(count, 1)


def markdown(table: Table) -> str:
    """A `Table` as a Markdown table (its caption above, in bold)."""
    def cell(value) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = [f"**{table.caption}**", "", "| " + " | ".join(table.header) + " |",
             "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines)


def report(verdict: judge.Verdict, title: str) -> None:
    print(f"### {title}\n")
    print(f"AUC {verdict.auc:.3f} ({verdict.model}; "
          + ", ".join(f"{k} {v:.3f}" for k, v in verdict.model_aucs.items())
          + f"), {verdict.sizes[0]} vs {verdict.sizes[1]} tunes\n")
    for table in (verdict.group_table(), verdict.local_table(), verdict.feature_table()):
        print(markdown(table) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="pretrained",
                        help="a trained run (folkrnn train --run NAME); default: the shipped model")
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--form", default=None, help="default: generate_tune's (AABB)")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--chord-temperature", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--copy-bias", type=float, default=None, help="inf: note for note")
    parser.add_argument("--echo-bias", type=float, default=None, help="0: no phrase echo")
    parser.add_argument("--seed", type=int, default=0, help="of the judge's folds")
    parser.add_argument("--seeds", default=None, help="several fold seeds, e.g. 0,1,2: the mean")
    args = parser.parse_args()

    settings = {k: v for k, v in [("form", args.form), ("temperature", args.temperature),
                                  ("chord_temperature", args.chord_temperature),
                                  ("top_k", args.top_k), ("top_p", args.top_p),
                                  ("copy_bias", args.copy_bias), ("echo_bias", args.echo_bias)]
                if v is not None}
    tuneset = load_dataset()
    tunes, seconds = generate_set(args.run, args.tunes, judge.CUT_BARS, **settings)
    print(f"run {args.run}: {args.tunes} tunes of {judge.CUT_BARS} bars (4/4 and 6/8), settings "
          f"{settings or 'defaults'}: {seconds * 1000:.0f} ms per tune\n")
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    verdicts = [judge.judge(judge.real_tunes(tuneset), tunes, seed=s) for s in seeds]
    verdict = verdicts[0]
    report(verdict, f"generated vs real (fold seed {seeds[0]})")
    if len(seeds) > 1:
        groups = {g: np.mean([v.by_group[g] for v in verdicts]) for g in judge.GROUPS}
        print(f"fold seeds {args.seeds}: AUC {' '.join(f'{v.auc:.3f}' for v in verdicts)}, "
              f"mean **{np.mean([v.auc for v in verdicts]):.3f}**; groups (mean) "
              + ", ".join(f"{g} {a:.2f}" for g, a in sorted(groups.items(), key=lambda i: -i[1]))
              + "\n")
    reference = judge.reference(tuneset, seed=seeds[0])
    report(reference, "reference: real held-out vs real training tunes")
    if args.tunes < 200:
        print(f"({args.tunes} tunes: fewer than the 200 the targets are set for; with few tunes "
              "the judge has little to learn from and reads low)")
    auc = float(np.mean([v.auc for v in verdicts]))
    worst = max(np.mean([v.by_group[g] for v in verdicts]) for g in judge.GROUPS)
    print(f"targets: AUC ≤ 0.75: {'met' if auc <= 0.75 else 'not met'} "
          f"({auc:.2f}); no group above 0.80: {'met' if worst <= 0.80 else 'not met'} "
          f"(highest {worst:.2f}); reference {reference.auc:.2f} "
          f"(judging took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
