"""Music metrics: numbers that say whether generated tunes look like real ones.

Explained in notebook 04_test_model. `tune_metrics` measures one tune; `compare_metrics` puts
the mean ± standard deviation over generated tunes beside that over real tunes, and
`figures.plot_metrics` draws both distributions; `METRICS` lists them all. No single number says
"good tune"; what matters is whether the generated values sit where the real ones do.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from folkrnn import form, keys, music
from folkrnn.music import REST, Tune

MAJOR = (0, 2, 4, 5, 7, 9, 11)  # also covers natural minor and the modes (same pitch set)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


def _onset_pitches(tune: Tune) -> np.ndarray:
    return music.onset_pitches(tune.melody)


def scale_consistency(tune: Tune) -> float:
    """The largest share of notes that fit one major or harmonic minor scale (any tonic)."""
    pcs = _onset_pitches(tune) % 12
    if len(pcs) == 0:
        return math.nan
    counts = np.bincount(pcs, minlength=12)
    best = 0
    for shape in (MAJOR, HARMONIC_MINOR):
        for tonic in range(12):
            best = max(best, int(counts[[(tonic + i) % 12 for i in shape]].sum()))
    return best / len(pcs)


def pitch_class_entropy(tune: Tune) -> float:
    """Shannon entropy (bits) of how often each of the 12 pitch classes starts a note."""
    pcs = _onset_pitches(tune) % 12
    if len(pcs) == 0:
        return math.nan
    p = np.bincount(pcs, minlength=12) / len(pcs)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def chord_tone_ratio(tune: Tune) -> float:
    """Of the notes that start over a chord, the share whose pitch class belongs to it."""
    hits = total = 0
    for step in np.nonzero(music.is_onset(tune.melody))[0]:
        rq = music.chord_root_quality(int(tune.chords[step]))
        if rq is None:
            continue
        root, quality = rq
        total += 1
        pitch = music.event_pitch(tune.melody[step])
        hits += (pitch - root) % 12 in music.QUALITIES[quality]
    return hits / total if total else math.nan


def groove_consistency(tune: Tune) -> float:
    """1 − the mean Hamming distance between the onset patterns of adjacent bars of equal
    length (as a share of the bar). 1 = every bar has the same rhythm."""
    onsets = music.is_onset(tune.melody)
    distances = [np.mean(onsets[a:b] != onsets[c:d])
                 for (a, b), (c, d) in zip(tune.bars(), tune.bars()[1:]) if b - a == d - c]
    return 1.0 - float(np.mean(distances)) if distances else math.nan


def rest_rate(tune: Tune) -> float:
    """The share of steps on which no melody note sounds."""
    return float(np.mean(tune.melody == REST)) if len(tune) else math.nan


def repeated_note_rate(tune: Tune) -> float:
    """The share of notes (after the first) with the same pitch as the previous note."""
    pitches = _onset_pitches(tune)
    return float(np.mean(pitches[1:] == pitches[:-1])) if len(pitches) > 1 else math.nan


def repetition(tune: Tune) -> float:
    """The share of bars whose melody and chords repeat an earlier bar exactly.

    A tune in AABB form (each part played twice) scores about 0.5; a tune that never repeats
    a bar scores 0.
    """
    bars = tune.bars()
    if not bars:
        return math.nan
    seen: set[bytes] = set()
    repeats = 0
    for a, b in bars:
        key = tune.melody[a:b].tobytes() + b"|" + tune.chords[a:b].tobytes()
        repeats += key in seen
        seen.add(key)
    return repeats / len(bars)


def pitch_range(tune: Tune) -> float:
    """Highest minus lowest melody pitch, in semitones."""
    pitches = _onset_pitches(tune)
    return float(pitches.max() - pitches.min()) if len(pitches) else math.nan


def notes_per_bar(tune: Tune) -> float:
    """Melody onsets per bar."""
    bars = tune.bars()
    return float(np.sum(music.is_onset(tune.melody))) / len(bars) if bars else math.nan


def _bar_melodies(tune: Tune) -> list[bytes]:
    return [tune.melody[a:b].tobytes() for a, b in tune.bars()]


def repeated_bars(tune: Tune) -> float:
    """The share of bars whose melody (chords ignored) repeats an earlier bar exactly.

    A tune in AABB form scores about 0.5 (real Nottingham tunes: see BENCHMARKS.md).
    """
    seen: set[bytes] = set()
    repeats = 0
    bars = _bar_melodies(tune)
    for bar in bars:
        repeats += bar in seen
        seen.add(bar)
    return repeats / len(bars) if bars else math.nan


def aabb_form(tune: Tune, bars: int = 8, share: float = 0.75) -> float:
    """1.0 if the first ``bars`` full bars recur later in the tune, starting on a bar line,
    with at least ``share`` of their steps equal (a repeated part, second endings allowed).

    Steps where neither passage starts a note (both hold or rest) are left out, so that long
    notes held alike don't make different tunes look alike.
    """
    plan = form.Plan.of_tune(tune)
    if plan.total_bars < 2 * bars:
        return math.nan
    start, end = plan.bar_range(0)[0], plan.bar_range(bars - 1)[1]
    first = tune.melody[start:end]
    for later in range(bars, plan.total_bars - bars + 1):
        a = plan.bar_range(later)[0]
        other = tune.melody[a:a + len(first)]
        if len(other) < len(first):
            break
        counted = (first >= music.ONSET) | (other >= music.ONSET)
        if counted.any() and np.mean((other == first)[counted]) >= share:
            return 1.0
    return 0.0


def longest_repeat(tune: Tune, max_lag: int = form.PART_BARS) -> float:
    """The longest passage, in bars, that repeats an earlier one: the longest run of
    consecutive bars each equal (melody) to the bar the same distance (1..``max_lag`` bars)
    before. Capped at a part's length so that a 64-bar tune played twice does not count 32."""
    bars = _bar_melodies(tune)
    best = 0
    for lag in range(1, min(len(bars), max_lag + 1)):
        run = 0
        for i in range(lag, len(bars)):
            run = run + 1 if bars[i] == bars[i - lag] else 0
            best = max(best, run)
    return float(best)


def ends_on_tonic(tune: Tune) -> float:
    """1.0 if the last melody note's pitch class is the tonic of the estimated key
    (`keys.estimate_key`, the same estimate for real and generated tunes), else 0.0."""
    pitches = _onset_pitches(tune)
    if len(pitches) == 0:
        return math.nan
    tonic, _ = keys.key_tonic(keys.estimate_key(tune))
    return float(pitches[-1] % 12 == tonic)


def pitch_classes(tune: Tune) -> float:
    """How many of the 12 pitch classes the melody uses."""
    pitches = _onset_pitches(tune)
    return float(len(set(pitches % 12))) if len(pitches) else math.nan


YES_NO = "0 = no, 1 = yes"  # the unit of a metric that says yes or no of a tune


class Metric(NamedTuple):
    """A music metric: its function (whose name is the metric's), what it measures, and the unit
    of its value (the axis label of `figures.plot_metrics`; `YES_NO`: drawn as a share)."""

    measure: Callable[[Tune], float]
    description: str
    unit: str = "share"  # a share: 0 to 1


# Every metric, in the order of the tables and plots: the one list of them.
METRICS: dict[str, Metric] = {metric.measure.__name__: metric for metric in [
    Metric(scale_consistency, "share of notes in the best-fitting major or (harmonic) minor scale"),
    Metric(pitch_class_entropy, "entropy of the pitch-class histogram, in bits (0..3.58)", "bits"),
    Metric(chord_tone_ratio, "share of notes (over a chord) whose pitch class is in that chord"),
    Metric(groove_consistency, "1 - mean Hamming distance of onset patterns of adjacent bars",
           "1 - distance"),
    Metric(rest_rate, "share of steps that are rests"),
    Metric(repeated_note_rate, "share of notes with the same pitch as the note before"),
    Metric(repetition, "share of bars (melody and chords) repeating an earlier bar exactly"),
    Metric(pitch_range, "highest minus lowest melody pitch, in semitones", "semitones"),
    Metric(notes_per_bar, "melody onsets per bar", "notes"),
    Metric(repeated_bars, "share of bars whose melody repeats an earlier bar exactly"),
    Metric(aabb_form, "1 if the first 8 bars recur later (>= 75% of note steps equal), else 0",
           YES_NO),
    Metric(longest_repeat, "longest run of bars each equal to the bar 1..8 bars before, in bars",
           "bars"),
    Metric(ends_on_tonic, "1 if the last note is the tonic of the estimated key, else 0",
           YES_NO),
    Metric(pitch_classes, "number of different pitch classes used", "pitch classes"),
]}
DESCRIPTIONS = {name: metric.description for name, metric in METRICS.items()}  # for notebook 04


def tune_metrics(tune: Tune) -> dict[str, float]:
    """All metrics of one tune (NaN where a metric is undefined, e.g. no notes); notebook 04."""
    return {name: float(metric.measure(tune)) for name, metric in METRICS.items()}


# --- memorisation: passages copied from the training tunes -----------------------------------
def _interval_bars(tune: Tune) -> list[bytes]:
    """Each bar's melody with every onset replaced by its interval from the previous note, so
    that a transposed copy has the same keys (rests and holds kept as they are)."""
    melody = tune.melody.astype(np.int64).copy()
    onsets = np.nonzero(melody >= music.ONSET)[0]
    pitches = melody[onsets]
    melody[onsets] = 1000 + np.diff(pitches, prepend=pitches[:1])  # the first note: interval 0
    return [melody[a:b].tobytes() for a, b in tune.bars()]


class CopyIndex:
    """Every bar of a set of (training) tunes, to find the longest passage a new tune copies.

    ``longest_copy(tune)`` is the largest number of consecutive bars of ``tune`` that also
    follow each other in one indexed tune, in any transposition (bars compared by the intervals
    between their notes, rhythm included). Explained in notebook 04.
    """

    def __init__(self, tunes: list[Tune]):
        self.bars: dict[bytes, list[tuple[int, int]]] = {}
        for u, tune in enumerate(tunes):
            for j, key in enumerate(_interval_bars(tune)):
                self.bars.setdefault(key, []).append((u, j))

    def longest_copy(self, tune: Tune) -> float:
        """The longest copied passage of ``tune``, in bars (0 = no bar occurs in the index)."""
        best, runs = 0, {}
        for key in _interval_bars(tune):
            runs = {(u, j): runs.get((u, j - 1), 0) + 1 for u, j in self.bars.get(key, ())}
            best = max(best, max(runs.values(), default=0))
        return float(best)


class MetricRow(NamedTuple):
    """One line of `compare_metrics`: a metric's mean ± std over generated and real tunes."""

    metric: str
    generated_mean: float
    generated_std: float
    real_mean: float
    real_std: float


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = np.array([v for v in values if not math.isnan(v)])
    if len(finite) == 0:
        return math.nan, math.nan
    return float(finite.mean()), float(finite.std())


def metric_table(tunes: list[Tune]) -> dict[str, list[float]]:
    """Each metric's values over a list of tunes (notebook 04)."""
    per_tune = [tune_metrics(t) for t in tunes]
    return {name: [m[name] for m in per_tune] for name in METRICS}


def compare_metrics(generated: list[Tune], real: list[Tune]) -> list[MetricRow]:
    """Mean ± std of every metric over generated and over real tunes (notebook 04)."""
    gen, ref = metric_table(generated), metric_table(real)
    return [MetricRow(name, *_mean_std(gen[name]), *_mean_std(ref[name])) for name in METRICS]

