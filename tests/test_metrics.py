"""Music metrics on hand-built tunes whose values are known (folkrnn.metrics)."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from folkrnn import metrics
from folkrnn.music import HOLD, NO_CHORD, REST, Tune, onset, parse_chord

matplotlib.use("Agg")
C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def tune_of(pitches, length=2, chords=None, meter="4/4") -> Tune:
    """Notes of equal length (None = rest), one chord name for all or one per note."""
    melody: list[int] = []
    for p in pitches:
        melody += [REST] * length if p is None else [onset(p)] + [HOLD] * (length - 1)
    names = chords if isinstance(chords, list) else [chords] * len(pitches)
    steps = [NO_CHORD if n is None else parse_chord(n) for n in names for _ in range(length)]
    return Tune(melody, steps, [(0, meter)], "C", "t")


def test_scale_consistency():
    assert metrics.scale_consistency(tune_of(C_MAJOR)) == 1.0
    assert metrics.scale_consistency(tune_of(range(60, 72))) == pytest.approx(7 / 12)
    # A harmonic minor melody (G#) fits its own scale completely.
    assert metrics.scale_consistency(tune_of([69, 71, 72, 74, 76, 77, 80, 81])) == 1.0
    assert math.isnan(metrics.scale_consistency(tune_of([None, None])))


def test_pitch_class_entropy():
    assert metrics.pitch_class_entropy(tune_of([60, 72, 60])) == 0.0  # one pitch class
    assert metrics.pitch_class_entropy(tune_of([60, 62, 60, 62])) == pytest.approx(1.0)
    assert metrics.pitch_class_entropy(tune_of(range(60, 72))) == pytest.approx(math.log2(12))


def test_chord_tone_ratio_counts_only_notes_over_a_chord():
    tune = tune_of([60, 64, 67, 62, 61], chords=["C", "C", "C", "C", None])
    assert metrics.chord_tone_ratio(tune) == pytest.approx(3 / 4)
    seventh = tune_of([67, 71, 74, 77, 60], chords="G7")  # F is the 7th of G7, C is not
    assert metrics.chord_tone_ratio(seventh) == pytest.approx(4 / 5)
    assert math.isnan(metrics.chord_tone_ratio(tune_of([60, 62])))


def test_groove_consistency():
    same = tune_of([60, 62, 64, 65] * 4, length=4)  # every bar: onsets on the 4 beats
    assert metrics.groove_consistency(same) == 1.0
    # bar 1: 16 sixteenths; bar 2: one whole note -> 15 of 16 steps differ
    busy_then_long = tune_of([60] * 16 + [62], length=1)
    melody = np.concatenate([busy_then_long.melody[:17], [HOLD] * 15])
    two_bars = Tune(melody, np.zeros(32), [(0, "4/4")])
    assert metrics.groove_consistency(two_bars) == pytest.approx(1 - 15 / 16)
    assert math.isnan(metrics.groove_consistency(tune_of([60], length=16)))  # one bar only


def test_rest_and_repeated_note_rates():
    assert metrics.rest_rate(tune_of([60, None, 62, None])) == 0.5
    assert metrics.repeated_note_rate(tune_of([60, 60, 62, 62])) == pytest.approx(2 / 3)
    assert metrics.repeated_note_rate(tune_of([60, 62, 64])) == 0.0


def test_repetition_of_bars():
    a, b = [60, 62, 64, 65], [67, 65, 64, 62]
    aabb = tune_of(a + a + b + b, length=4, chords="C")
    assert metrics.repetition(aabb) == 0.5
    abab = tune_of(a + b + a + b + a + b, length=4, chords="C")
    assert metrics.repetition(abab) == pytest.approx(4 / 6)
    assert metrics.repetition(tune_of(list(range(60, 76)), length=4, chords="C")) == 0.0
    # the same melody over other chords is not a repeat
    other_chords = tune_of(a + a, length=4, chords=["C"] * 4 + ["G"] * 4)
    assert metrics.repetition(other_chords) == 0.0


def test_range_and_density():
    tune = tune_of([60, 67, 72, 64], length=8)  # two bars of 4/4, two notes each
    assert metrics.pitch_range(tune) == 12
    assert metrics.notes_per_bar(tune) == 2.0


def test_tune_metrics_has_every_metric():
    values = metrics.tune_metrics(tune_of(C_MAJOR, chords="C"))
    assert list(values) == metrics.METRICS == list(metrics.DESCRIPTIONS)
    assert all(isinstance(v, float) for v in values.values())


def test_compare_metrics_gives_mean_and_std_ignoring_undefined_values():
    generated = [tune_of([60, 60]), tune_of([60, 62])]  # repeated-note rates 1 and 0
    real = [tune_of([60, 62, 64]), tune_of([None])]  # 0, and undefined (no notes)
    rows = {r.metric: r for r in metrics.compare_metrics(generated, real)}
    row = rows["repeated_note_rate"]
    assert (row.generated_mean, row.generated_std) == (0.5, 0.5)
    assert (row.real_mean, row.real_std) == (0.0, 0.0)
    table = metrics.format_comparison(list(rows.values()))
    assert "repeated_note_rate" in table and "0.500 ± 0.500" in table
