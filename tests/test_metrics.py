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
    assert list(values) == list(metrics.METRICS) == list(metrics.DESCRIPTIONS)
    assert all(isinstance(v, float) for v in values.values())


def test_compare_metrics_gives_mean_and_std_ignoring_undefined_values():
    generated = [tune_of([60, 60]), tune_of([60, 62])]  # repeated-note rates 1 and 0
    real = [tune_of([60, 62, 64]), tune_of([None])]  # 0, and undefined (no notes)
    rows = {r.metric: r for r in metrics.compare_metrics(generated, real)}
    row = rows["repeated_note_rate"]
    assert (row.generated_mean, row.generated_std) == (0.5, 0.5)
    assert (row.real_mean, row.real_std) == (0.0, 0.0)


# --- form metrics (issue: generated tunes must have the form of folk tunes) -------------------
A_PART = [60, 62, 64, 65, 67, 65, 64, 62]  # one note per half bar of 4/4: 4 bars
B_PART = [72, 71, 69, 67, 65, 64, 62, 60]


def test_repeated_bars_ignores_chords_and_counts_later_copies():
    aabb = tune_of(A_PART + A_PART + B_PART + B_PART, length=8)  # 16 bars
    assert metrics.repeated_bars(aabb) == 0.5
    other_chords = tune_of(A_PART + A_PART, length=8, chords=["C"] * 8 + ["G"] * 8)
    assert metrics.repeated_bars(other_chords) == 0.5  # melody repeats; chords don't matter
    assert metrics.repeated_bars(tune_of(list(range(60, 76)), length=16)) == 0.0


def test_aabb_form_allows_a_second_ending_but_not_a_new_part():
    part = [60 + i for i in range(16)]  # 8 bars of two half notes
    ending = part[:-2] + [72, 72]  # the last bar changed: 7 of 8 bars equal
    assert metrics.aabb_form(tune_of(part + ending + part[::-1] * 2, length=8)) == 1.0
    new = [70 - i for i in range(16)]
    assert metrics.aabb_form(tune_of(part + new + new[::-1] + part[:8] + new[:8],
                                     length=8)) == 0.0
    assert math.isnan(metrics.aabb_form(tune_of(part, length=8)))  # too short to tell


def test_longest_repeat_counts_the_bars_of_a_repeated_passage():
    part = [60 + i for i in range(16)]  # 8 different bars
    ending = part[:-2] + [50 + 22, 72]
    assert metrics.longest_repeat(tune_of(part + ending, length=8)) == 7.0
    assert metrics.longest_repeat(tune_of(part, length=8)) == 0.0
    assert metrics.longest_repeat(tune_of([60] * 8, length=8)) == 3.0  # 4 equal bars


def test_ends_on_tonic_uses_the_estimated_key():
    assert metrics.ends_on_tonic(tune_of(C_MAJOR + [64, 62, 60], length=4)) == 1.0
    assert metrics.ends_on_tonic(tune_of(C_MAJOR + [64, 62], length=4)) == 0.0
    assert math.isnan(metrics.ends_on_tonic(tune_of([None])))


def test_pitch_classes_counts_octaves_once():
    assert metrics.pitch_classes(tune_of([60, 72, 64, 76, 67])) == 3.0
    assert math.isnan(metrics.pitch_classes(tune_of([None])))


def test_copy_index_finds_the_longest_copied_passage_in_any_key():
    training = tune_of([60 + i for i in range(16)], length=8)  # 8 bars
    index = metrics.CopyIndex([training, tune_of([70, 70, 70, 70], length=8)])
    copy = tune_of([55, 57] + [62 + i for i in range(10)] + [40 + 19, 60], length=8)
    # bars 3-6 (64..71) are training bars 3-6 a whole tone up; bar 2 (62, 63) enters by another
    # interval (+5) and bar 7 leaves the line, so 4 bars are copied
    assert index.longest_copy(copy) == 4.0
    assert index.longest_copy(training) == 8.0
    assert index.longest_copy(tune_of([84, 60, 83, 61], length=8)) == 0.0
