"""Benchmark: the baselines on the real tunes (fitted on train, scored on a split), and their cost.

    FOLKRNN_HOME=... python bench/bench_baselines.py [test|valid|train] [--split-by-name]
    FOLKRNN_HOME=... python bench/bench_baselines.py valid --lookback-variants

Prints the metrics table of `folkrnn.evaluate` for every baseline, the time to fit and score them,
and the total NLL an LSTM needs to be 30 % below the best Markov chain (the ratio target).
``--split-by-name`` scores on round 1's split (by file name alone, with duplicate tunes on both
sides), to show how much the duplicates flattered every model. ``--lookback-variants`` compares
versions of ``ngram5_lookback`` (which experts, what the weights depend on) instead: the table
in BENCHMARKS.md, "Markov chains that see the lookback". Pick variants on ``valid``, never on
``test``.
"""
from __future__ import annotations

import sys
import time

from folkrnn import evaluate, form
from folkrnn.baselines import Baseline, PositionBaseline
from folkrnn.dataset import SPLITS, TuneSet, load_dataset, split_of
from folkrnn.experts import (ContextChain, LookbackBaseline, MovedChain, all_lags_chain,
                             lag_chain, moved_chain, position_chain)


def lookback_variants() -> dict[str, Baseline]:
    """Versions of the lookback baseline, built up expert by expert to the default."""

    def experts(lags: bool = True, all_lags: bool = True, moved: bool = True) -> dict:
        chosen = {}
        for stream in ("melody", "chord"):
            levels = [position_chain(stream)]
            levels += [lag_chain(stream, lag) for lag in form.LOOKBACK_BARS] if lags else []
            levels += [all_lags_chain(stream)] if all_lags else []
            chains = [ContextChain(stream, level) for level in levels]
            chains += [MovedChain(stream, moved_chain(stream))] if moved else []
            chosen[f"{stream}_experts"] = chains
        return chosen

    return {
        "position 5-gram alone (ngram5_position)": PositionBaseline(5),
        "× one expert per lag, one set of weights":
            LookbackBaseline(**experts(all_lags=False, moved=False), gate=()),
        "× one expert per lag, weights by repeats":
            LookbackBaseline(**experts(all_lags=False, moved=False)),
        "× the all-lags expert": LookbackBaseline(**experts(moved=False)),
        "× the transposed expert (ngram5_lookback)": LookbackBaseline(),
        "  without the per-lag experts": LookbackBaseline(**experts(lags=False)),
        "  one set of weights": LookbackBaseline(gate=()),
        "  weights by repeats and bar in part":
            LookbackBaseline(gate=("repeats", "bar_in_part")),
        "  weights fitted on 40,000 steps": LookbackBaseline(weight_steps=40_000),
    }


def show_variants(train: list, tunes: list) -> None:
    print(f"{'variant':46}{'mel NLL':>9}{'chord NLL':>10}{'total':>8}{'onset acc':>10}"
          f"{'fit s':>7}{'score s':>8}")
    for name, baseline in lookback_variants().items():
        start = time.process_time()
        baseline.fit(train)
        fitted = time.process_time()
        m = evaluate.score(tunes, (baseline.log_probs(t) for t in tunes))
        scored = time.process_time()
        print(f"{name:46}{m['melody_nll']:9.3f}{m['chord_nll']:10.3f}{m['total_nll']:8.3f}"
              f"{100 * m['melody_onset_acc']:9.1f}%{fitted - start:7.1f}{scored - fitted:8.1f}",
              flush=True)
    print("times: CPU seconds of this process")


def main(split: str = "test", *flags: str) -> None:
    tuneset = load_dataset()
    if "--split-by-name" in flags:
        tuneset = TuneSet({s: [t for t in tuneset.all if split_of(t.name) == s] for s in SPLITS})
    train, tunes = tuneset.train, tuneset.tunes[split]
    if "--lookback-variants" in flags:
        return show_variants(train, tunes)
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
          f"LSTM target (ratio 0.62): {0.62 * best[0]:.3f}")
    print(f"fit on {sum(len(t) for t in train)} training steps: {fitted - start:.2f} s; "
          f"scoring {report['steps']} steps: {scored - fitted:.2f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
