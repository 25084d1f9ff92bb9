"""How surprised is the model by real tunes, and by its own? Two checks for issue 18.

    .venv/bin/python bench/bench_surprise.py [--run NAME] [--tunes 200]

1. **Surprise per tune.** The model's NLL per step (melody + chord), averaged over each tune:
   for the real held-out tunes (valid + test) and for ``--tunes`` tunes of the default
   generation and of ``form="free"`` (half 4/4, half 6/8, seeds 0, 1, …), all cut to 32 bars as
   the judge cuts them (`judge.comparable`). Tunes the model finds less surprising than real
   ones, and alike in that, are "a little too sure and too plain" (notebook 04).
2. **What the judge makes of it.** The judge's out-of-fold probability that a tune is generated
   (boosted trees, fold seed 0, default generation against the real tunes), by quarter of the
   model's surprise, within each set.
3. **A state run long.** Training reads windows of ``seq_len`` steps from a zero state, while
   composing runs one state through the whole tune. The NLL of the held-out tunes read whole
   against the same steps read in fresh windows, by where the step is: if the long-run state
   drifted, the late steps would score worse whole.

Figures in BENCHMARKS.md ("Round 3, session 6").
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from scipy.special import log_softmax  # noqa: E402

from folkrnn import judge  # noqa: E402
from folkrnn.dataset import load_dataset  # noqa: E402
from folkrnn.evaluate import model_log_probs  # noqa: E402
from folkrnn.inputs import tune_arrays  # noqa: E402
from folkrnn.music import Tune  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from bench_judge import generate_set  # noqa: E402


def step_nll(tune: Tune, log_probs: tuple[np.ndarray, np.ndarray], start: int = 0
             ) -> np.ndarray:
    """Per step from ``start``: the NLL of the tune's melody event and chord under
    ``log_probs`` (melody, chord), as `evaluate.model_log_probs` gives them."""
    melody, chord = log_probs
    at = np.arange(len(melody))
    return -(melody[at, tune.melody[start:start + len(at)].astype(int)]
             + chord[at, tune.chords[start:start + len(at)].astype(int)])


def surprise(model, tunes: list[Tune]) -> np.ndarray:
    """Per tune: the model's mean NLL per step, melody and chord together."""
    return np.array([step_nll(tune, log_probs).mean()
                     for tune, log_probs in zip(tunes, model_log_probs(model, tunes))])


def window_log_probs(model, tune: Tune, keys: list[str], start: int, stop: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The log-probabilities of steps ``start``..``stop``, read from a zero state at ``start``."""
    arrays = tune_arrays(tune, keys)
    logits = model.predict_on_batch({k: arrays[k][None, start:stop].astype(np.int32)
                                     for k in keys})
    return log_softmax(logits["melody"][0], -1), log_softmax(logits["chord"][0], -1)


def judged_by_surprise(model, real: list[Tune], generated: list[Tune]) -> None:
    """The judge's out-of-fold P(generated) by quarter of surprise, real and generated apart."""
    from scipy.stats import spearmanr
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    real, generated = judge.balance(real, generated)
    x = judge.feature_matrix(real + generated)
    y = np.array([0] * len(real) + [1] * len(generated))
    folds = StratifiedKFold(judge.FOLDS, shuffle=True, random_state=0)
    p = cross_val_predict(judge.classifiers(0)["boosted trees"], x, y, cv=folds,
                          method="predict_proba")[:, 1]
    s = surprise(model, real + generated)
    print("\nthe judge's P(generated), by quarter of the model's surprise (least → most)\n")
    print("| tunes | 1st | 2nd | 3rd | 4th | Spearman ρ |\n|---|" + "---:|" * 5)
    for label, chosen in (("real", y == 0), ("generated", y == 1)):
        quarter = np.searchsorted(np.quantile(s[chosen], [0.25, 0.5, 0.75]), s[chosen])
        means = [p[chosen][quarter == q].mean() for q in range(4)]
        print(f"| {label} | " + " | ".join(f"{m:.2f}" for m in means)
              + f" | {spearmanr(s[chosen], p[chosen])[0]:+.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="pretrained",
                        help="a trained run; default: the shipped model")
    parser.add_argument("--tunes", type=int, default=200)
    args = parser.parse_args()
    from folkrnn.model import load_run

    model, config = load_run(args.run, compile=False)
    tuneset = load_dataset()
    held_out = tuneset.tunes["valid"] + tuneset.tunes["test"]
    sets = {"real held-out": judge.comparable(judge.real_tunes(tuneset, ("valid", "test")))}
    for label, settings in (("default generation", {}), ("form free", {"form": "free"})):
        sets[label] = judge.comparable(generate_set(args.run, args.tunes, judge.CUT_BARS,
                                                    **settings)[0])
    print(f"run {args.run}: mean NLL per step of each tune, cut as the judge cuts it (at most "
          f"{judge.CUT_BARS} bars)\n")
    print("| tunes | n | mean | sd | 10% | 25% | median | 75% | 90% |\n|---|" + "---:|" * 8)
    for label, tunes in sets.items():
        s = surprise(model, tunes)
        print(f"| {label} | {len(s)} | {s.mean():.3f} | {s.std():.3f} | "
              + " | ".join(f"{q:.3f}" for q in np.percentile(s, [10, 25, 50, 75, 90])) + " |")
    judged_by_surprise(model, judge.comparable(judge.real_tunes(tuneset)),
                       sets["default generation"])

    window, keys = config.seq_len, [i.name for i in model.inputs]
    whole = [step_nll(tune, log_probs)
             for tune, log_probs in zip(held_out, model_log_probs(model, held_out))]
    fresh = [np.concatenate([step_nll(tune, window_log_probs(model, tune, keys, a, a + window), a)
                             for a in range(0, len(tune), window)]) for tune in held_out]
    where = [np.arange(len(tune)) for tune in held_out]
    whole, fresh, where = map(np.concatenate, (whole, fresh, where))
    print(f"\nheld-out tunes read whole vs in fresh {window}-step windows (NLL per step)\n")
    print("| steps | n | whole tune | fresh windows |\n|---|---:|---:|---:|")
    for a, b in ((0, window), (window, 2 * window), (2 * window, 4 * window),
                 (4 * window, 8 * window), (8 * window, None)):
        chosen = (where >= a) & (where < b if b else True)
        if chosen.any():
            print(f"| {a}–{b or ''} | {chosen.sum()} | {whole[chosen].mean():.4f} | "
                  f"{fresh[chosen].mean():.4f} |")
    print(f"| all | {len(whole)} | {whole.mean():.4f} | {fresh.mean():.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
