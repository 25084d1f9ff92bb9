"""How good is the model? Log-likelihood and accuracy on held-out tunes, against baselines.

Explained in notebook 04_test_model. Every predictor – the LSTM and each baseline – plays the same
game as in training (`inputs.tune_arrays`): at each step it knows the true history of the tune
(with a silent step before the first one) and gives a probability to every melody event and every
chord class of the next step. From those probabilities we measure, averaged over all steps:

* ``melody_nll``, ``chord_nll``: the negative log-probability of the true event, in nats per step
  (lower is better); ``total_nll`` is their sum, the model's loss for the whole step;
* ``melody_acc``, ``chord_acc``: how often the likeliest event is the true one;
* ``*_sampled_acc``: how often ONE event drawn from the distribution (fixed seed) matches the truth,
  as in Yoav Zimmerman's music_rnn report (melody 64.15 %, harmony 91.57 %, overall 77.84 %).
  There each step held a sounding pitch, so the melody is compared by its SOUNDING pitch: a drawn
  ``hold`` means "the note of the true previous step goes on". ``overall_sampled_acc`` is the mean
  of the two (the report doesn't define it further; 64.15 and 91.57 average to 77.86).
* ``melody_onset_acc``, ``melody_onset_sampled_acc``: the same two accuracies counted only on the
  steps where a note starts (as Magenta reports it). Most melody steps are holds, easy to
  predict once the rhythm is known; the onsets are where the tune is decided.

The baselines, fitted on the training tunes, are `folkrnn.baselines` (unigram, repeat, the
n-grams, ``ngram5_position``) and `folkrnn.experts` (``ngram5_lookback``).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from folkrnn import music
from folkrnn.baselines import Baseline, NGram, PositionBaseline, Repeat, Unigram, log_softmax
from folkrnn.dataset import SPLITS, TuneSet, load_dataset
from folkrnn.errors import FolkRNNError
from folkrnn.experts import LookbackBaseline
from folkrnn.inputs import tune_arrays
from folkrnn.music import Tune

METRIC_KEYS = ("melody_nll", "chord_nll", "total_nll", "melody_acc", "chord_acc",
               "melody_sampled_acc", "chord_sampled_acc", "overall_sampled_acc",
               "melody_onset_acc", "melody_onset_sampled_acc")
BASELINE_NAMES = ("unigram", "repeat", "ngram2", "ngram3", "ngram4", "ngram5", "ngram5_position",
                  "ngram5_lookback")


def keep_sounding() -> np.ndarray:
    """The repeat baseline's melody guess after each event: rest after rest, else hold."""
    follow = np.full(music.MELODY_SIZE, music.HOLD)
    follow[music.REST] = music.REST
    return follow


def make_baselines() -> dict[str, Baseline]:
    """The unfitted baselines, by name (see the module docstring)."""
    m, c = music.MELODY_SIZE, music.CHORD_SIZE
    baselines = {"unigram": Baseline(Unigram(m), Unigram(c)),
                 "repeat": Baseline(Repeat(m, keep_sounding(), music.REST),
                                    Repeat(c, np.arange(c), music.NO_CHORD))}
    for n in range(2, 6):
        baselines[f"ngram{n}"] = Baseline(NGram(n, m), NGram(n, c))
    baselines["ngram5_position"] = PositionBaseline(5)
    baselines["ngram5_lookback"] = LookbackBaseline()
    return baselines


def fit_baselines(train_tunes: list[Tune]) -> dict[str, Baseline]:
    """Every baseline fitted on the training tunes (a couple of seconds). Notebook 04."""
    return {name: b.fit(train_tunes) for name, b in make_baselines().items()}


# --- scoring -----------------------------------------------------------------------------------
def sounding(melody: np.ndarray) -> np.ndarray:
    """The sounding pitch at each step as an onset event id (``REST`` = silence).

    An onset sounds its pitch, a hold sounds the pitch of the note it continues, a rest nothing.
    """
    melody = np.asarray(melody, np.int64)
    steps = np.arange(len(melody))
    last = np.maximum.accumulate(np.where(melody != music.HOLD, steps, -1))  # last non-hold step
    out = np.where(last >= 0, melody[np.maximum(last, 0)], music.REST)
    return np.where(out == music.HOLD, music.REST, out)


def sampled_sounding(events: np.ndarray, true_melody: np.ndarray) -> np.ndarray:
    """The sounding pitch of drawn ``events``, a hold continuing the TRUE previous step."""
    previous = np.concatenate([[music.REST], sounding(true_melody)[:-1]])
    return np.where(events >= 2, events, np.where(events == music.HOLD, previous, music.REST))


def _draw(log_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from the distributions ``exp(log_probs)``."""
    cdf = np.cumsum(np.exp(log_probs), axis=1)
    u = rng.random(len(cdf))[:, None] * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=1), log_probs.shape[1] - 1)


def score(tunes: list[Tune], predictions: Iterable[tuple[np.ndarray, np.ndarray]],
          seed: int = 0) -> dict[str, float]:
    """The metrics (see the module docstring) of per-tune (melody, chord) log-probabilities."""
    rng = np.random.default_rng(seed)
    sums = dict.fromkeys(METRIC_KEYS, 0.0)
    steps = onset_steps = 0
    for tune, (melody_lp, chord_lp) in zip(tunes, predictions, strict=True):
        melody, chords = tune.melody.astype(np.int64), tune.chords.astype(np.int64)
        at = np.arange(len(tune))
        sums["melody_nll"] -= melody_lp[at, melody].sum()
        sums["chord_nll"] -= chord_lp[at, chords].sum()
        best = melody_lp.argmax(axis=1)
        onsets = music.is_onset(melody)
        sums["melody_acc"] += np.sum(best == melody)
        sums["melody_onset_acc"] += np.sum(best[onsets] == melody[onsets])
        sums["chord_acc"] += np.sum(chord_lp.argmax(axis=1) == chords)
        events = _draw(melody_lp, rng)
        sums["melody_sampled_acc"] += np.sum(sampled_sounding(events, melody) == sounding(melody))
        sums["melody_onset_sampled_acc"] += np.sum(events[onsets] == melody[onsets])
        sums["chord_sampled_acc"] += np.sum(_draw(chord_lp, rng) == chords)
        steps += len(tune)
        onset_steps += int(onsets.sum())
    if steps == 0:
        raise FolkRNNError("no steps to evaluate: the split has no tunes; run folkrnn prepare "
                           "(or notebook 01) first")
    out = {k: float(v) / steps for k, v in sums.items()}
    for key in ("melody_onset_acc", "melody_onset_sampled_acc"):
        out[key] = float(sums[key]) / max(onset_steps, 1)
    out["total_nll"] = out["melody_nll"] + out["chord_nll"]
    out["overall_sampled_acc"] = (out["melody_sampled_acc"] + out["chord_sampled_acc"]) / 2
    return {k: round(out[k], 4) for k in METRIC_KEYS}


def evaluate_baselines(train_tunes: list[Tune], tunes: list[Tune], seed: int = 0
                       ) -> dict[str, dict[str, float]]:
    """The metrics of every baseline, fitted on ``train_tunes``, on ``tunes``. Notebook 04."""
    return {name: score(tunes, (b.log_probs(t) for t in tunes), seed)
            for name, b in fit_baselines(train_tunes).items()}


# --- the network -------------------------------------------------------------------------------
def model_log_probs(model, tunes: list[Tune], batch_size: int = 16
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per tune: the model's (melody, chord) log-probabilities over whole tunes.

    Tunes of similar length are batched together and padded at the end; the LSTM reads left to
    right, so padding never changes the outputs of real steps, which are the only ones kept.
    """
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(tunes)
    order = np.argsort([len(t) for t in tunes], kind="stable")
    for first in range(0, len(order), batch_size):
        chosen = order[first:first + batch_size]
        keys = [t.name for t in model.inputs]  # the inputs this model reads
        arrays = [tune_arrays(tunes[i], keys) for i in chosen]
        width = max(len(a["melody"]) for a in arrays)
        inputs = {k: np.zeros((len(chosen), width), np.int32) for k in keys}
        for row, a in enumerate(arrays):
            for k in keys:
                inputs[k][row, :len(a[k])] = a[k]
        logits = model.predict_on_batch(inputs)
        melody, chord = log_softmax(logits["melody"]), log_softmax(logits["chord"])
        for row, i in enumerate(chosen):
            n = len(tunes[i])
            out[i] = (melody[row, :n], chord[row, :n])
    return out  # type: ignore[return-value]


def evaluate_model(model, tunes: list[Tune], seed: int = 0, batch_size: int = 16
                   ) -> dict[str, float]:
    """The metrics of any Keras model with the folkrnn input/output contract. Notebook 04."""
    return score(tunes, model_log_probs(model, tunes, batch_size), seed)


def evaluate(model, tuneset: TuneSet, split: str = "test", seed: int = 0) -> dict:
    """The model and every baseline (fitted on the training tunes) on one split (notebook 04).

    ``{"model": M, "baselines": {"unigram": M, ...}, "split", "tunes", "steps"}`` with M the
    metrics dict (see the module docstring).
    """
    if split not in SPLITS:
        raise FolkRNNError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    tunes = tuneset.tunes[split]
    return {"split": split, "tunes": len(tunes), "steps": int(sum(len(t) for t in tunes)),
            "model": evaluate_model(model, tunes, seed),
            "baselines": evaluate_baselines(tuneset.train, tunes, seed)}


def evaluate_run(run_name: str, split: str = "test", seed: int = 0) -> dict:
    """`evaluate` of a trained run's best checkpoint, as `folkrnn evaluate --json` prints it."""
    from folkrnn.model import load_run  # here, so that the baselines never load TensorFlow

    model, _ = load_run(run_name, compile=False)
    return {"run": run_name, **evaluate(model, load_dataset(), split, seed)}


# --- showing the report ------------------------------------------------------------------------
def report_table(report: dict) -> list[dict]:
    """One row per predictor (the model first, then the baselines): name and metrics."""
    rows = [{"name": "model", **report["model"]}] if "model" in report else []
    rows += [{"name": name, **m} for name, m in report.get("baselines", {}).items()]
    return rows


def format_report(report: dict) -> str:
    """The report as a text table for the terminal (NLL in nats per step, accuracies in %)."""
    columns = [("melody_nll", "mel NLL"), ("chord_nll", "chord NLL"), ("total_nll", "total NLL"),
               ("melody_acc", "mel acc"), ("melody_onset_acc", "onset acc"),
               ("chord_acc", "chord acc"),
               ("melody_sampled_acc", "mel smp"), ("chord_sampled_acc", "chord smp"),
               ("overall_sampled_acc", "all smp")]
    title = (f"run {report.get('run', '?')} on the {report.get('split', '?')} split: "
             f"{report.get('tunes', '?')} tunes, {report.get('steps', '?')} steps")
    lines = [title, f"{'':16}" + "".join(f"{label:>11}" for _, label in columns)]
    for row in report_table(report):
        cells = [f"{row[k]:11.3f}" if k.endswith("nll") else f"{100 * row[k]:10.1f}%"
                 for k, _ in columns]
        lines.append(f"{row['name']:16}" + "".join(cells))
    lines.append("NLL: nats per step, lower is better; acc: argmax; onset: steps where a note "
                 "starts; smp: one sampled event (melody by sounding pitch)")
    return "\n".join(lines)
