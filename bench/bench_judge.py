"""Can a classifier tell generated tunes from real ones? The judge (`folkrnn.judge`) on a run.

    .venv/bin/python bench/bench_judge.py --run NAME [--tunes 200] [--form free]
        [--temperature T] [--chord-temperature T] [--top-k K] [--top-p P] [--copy-bias B]
        [--echo-bias B] [--seed 0]

Generates ``--tunes`` tunes with `generate_tune` (half in 4/4, half in 6/8, seeds 0, 1, …,
the package defaults unless options are given) and prints, as Markdown: the cross-validated AUC
of the judge telling them from the real tunes (overall and per feature group), the local
statistics side by side, the features that give them away most, and the reference: the same
judge on real held-out tunes (valid + test) against real training tunes, which should be near
0.5 (`judge.reference`). Real tunes: one of each group of duplicates (`judge.real_tunes`).
Figures go into BENCHMARKS.md; the issue's targets: AUC ≤ 0.75, no group above 0.80.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from folkrnn import judge  # noqa: E402
from folkrnn.dataset import load_dataset  # noqa: E402
from folkrnn.tables import Table  # noqa: E402

METERS = ("4/4", "6/8")


def generate_set(run: str, count: int, bars: int, **settings) -> tuple[list, float]:
    """``count`` tunes, alternately 4/4 and 6/8 (seed = index); and seconds per tune."""
    from folkrnn.generate import generate_tune
    from folkrnn.model import load_step_model

    step_model = load_step_model(run)
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
    parser.add_argument("--run", required=True, help="a trained run (folkrnn train --run NAME)")
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--form", default=None, help="default: generate_tune's (AABB)")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--chord-temperature", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--copy-bias", type=float, default=None, help="inf: note for note")
    parser.add_argument("--echo-bias", type=float, default=None, help="0: no phrase echo")
    parser.add_argument("--seed", type=int, default=0, help="of the judge's folds")
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
    verdict = judge.judge(judge.real_tunes(tuneset), tunes, seed=args.seed)
    report(verdict, "generated vs real")
    reference = judge.reference(tuneset, seed=args.seed)
    report(reference, "reference: real held-out vs real training tunes")
    worst = max(verdict.by_group.values())
    print(f"targets: AUC ≤ 0.75: {'met' if verdict.auc <= 0.75 else 'not met'} "
          f"({verdict.auc:.2f}); no group above 0.80: {'met' if worst <= 0.80 else 'not met'} "
          f"(highest {worst:.2f}); reference {reference.auc:.2f} "
          f"(judging took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
