"""Benchmark: the baselines on the real tunes (fitted on train, scored on a split), and their cost.

    FOLKRNN_HOME=... python bench/bench_baselines.py [test|valid|train] [--split-by-name]

Prints the metrics table of `folkrnn.evaluate` for every baseline, the time to fit and score them,
and the total NLL an LSTM needs to be 25 % below the best n-gram (30 % below the best Markov
chain: the ratio target). ``--split-by-name`` scores on round 1's split (by file name alone, with
duplicate tunes on both sides), to show how much the duplicates flattered every model.
"""
from __future__ import annotations

import sys
import time

from folkrnn import evaluate
from folkrnn.dataset import SPLITS, TuneSet, load_dataset, split_of


def main(split: str = "test", *flags: str) -> None:
    tuneset = load_dataset()
    if "--split-by-name" in flags:
        tuneset = TuneSet({s: [t for t in tuneset.all if split_of(t.name) == s] for s in SPLITS})
    train, tunes = tuneset.train, tuneset.tunes[split]
    start = time.perf_counter()
    baselines = evaluate.fit_baselines(train)
    fitted = time.perf_counter()
    report = {"run": "(baselines only)", "split": split, "tunes": len(tunes),
              "steps": sum(len(t) for t in tunes),
              "baselines": {name: evaluate.score(tunes, (b.log_probs(t) for t in tunes))
                            for name, b in baselines.items()}}
    scored = time.perf_counter()
    print(evaluate.format_report(report))
    repeat = baselines["repeat"]
    print(f"repeat baseline: epsilon melody {repeat.melody.epsilon:.4f}, "
          f"chord {repeat.chord.epsilon:.4f}")
    best = min((m["total_nll"], name) for name, m in report["baselines"].items()
               if name.startswith("ngram"))
    print(f"best Markov chain: {best[1]} at {best[0]:.3f} nats/step; "
          f"LSTM target (ratio 0.70): {0.70 * best[0]:.3f}")
    print(f"fit on {sum(len(t) for t in train)} training steps: {fitted - start:.2f} s; "
          f"scoring {report['steps']} steps: {scored - fitted:.2f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
