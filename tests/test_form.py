"""The form inputs (folkrnn.form): structure of a tune, lookback, and forms for generation."""
from __future__ import annotations

import numpy as np
import pytest

from folkrnn import form
from folkrnn.errors import FolkRNNError
from folkrnn.music import HOLD, NO_CHORD, REST, Tune, onset, parse_chord


def eighths(pitches, meter="4/4", chord="G") -> Tune:
    """A tune of eighth notes (None = an eighth rest), one chord throughout."""
    melody: list[int] = []
    for p in pitches:
        melody += [REST, REST] if p is None else [onset(p), HOLD]
    return Tune(melody, [parse_chord(chord)] * len(melody), [(0, meter)], "G", "t")


def test_plan_counts_bars_from_the_first_full_bar_after_a_pickup():
    pickup = [None] * 6 + [62, 64]  # a quarter-note pickup, padded with rests as in the MIDI
    tune = eighths(pickup + [67] * 8 * 16)  # then 16 full bars of 4/4
    tune.chords[:16] = NO_CHORD
    assert form.has_pickup(tune)
    s = form.Plan.of_tune(tune).structure()
    assert set(s["bar_in_part"][:16]) == {form.PICKUP} and set(s["part"][:16]) == {0}
    bar = lambda i: slice(16 * (i + 1), 16 * (i + 2))  # noqa: E731 (full bar i)
    assert set(s["bar_in_part"][bar(0)]) == {0} and set(s["bar_in_part"][bar(7)]) == {7}
    assert set(s["bar_in_part"][bar(8)]) == {0} and set(s["part"][bar(8)]) == {1}
    assert set(s["bars_left"][bar(15)]) == {0} and set(s["bars_left"][bar(14)]) == {1}
    assert set(s["bars_left"][bar(0)]) == {form.MAX_BARS_LEFT}  # 15 left, clipped


def test_no_pickup_when_the_tune_starts_on_the_downbeat():
    tune = eighths([67] * 8 * 4)
    assert not form.has_pickup(tune)
    assert form.Plan.of_tune(tune).structure()["bar_in_part"][0] == 0


def test_lookback_sees_the_bar_before_and_flags_a_repeat():
    bar_a, bar_b = [60, 62, 64, 65, 67, 65, 64, 62], [72, 71, 69, 67, 65, 64, 62, 60]
    tune = eighths(bar_a + bar_b + bar_a + bar_a)  # 4 bars of 16 steps
    bar_length = form.Plan.of_tune(tune).bar_length
    arrays = form.lookback_at(tune.melody, tune.chords, bar_length, np.arange(len(tune)), (1, 2))
    look1, look2 = arrays["lookback_melody_1"], arrays["lookback_melody_2"]
    assert (look1[:16] == REST).all() and (arrays["lookback_chord_1"][:16] == NO_CHORD).all()
    np.testing.assert_array_equal(look1[16:], tune.melody[:-16])
    np.testing.assert_array_equal(look2[32:], tune.melody[:-32])
    repeats = arrays["repeats"]
    # bar 3 (steps 32..47) repeats bar 1 (2 bars back): bit 1 once 4 steps have matched
    assert repeats[35] & 2 == 0 and all(repeats[t] & 2 for t in range(36, 48))
    # bar 4 repeats bar 3 (1 bar back): bit 0 from step 52 on
    assert all(repeats[t] & 1 for t in range(52, 64)) and not any(repeats[:48] & 1)


def test_knobs_and_forms_are_checked():
    assert form.parse_lookback("1,2,4,8") == (1, 2, 4, 8)
    assert form.parse_lookback("") == ()
    for bad in ("3", "1,1", "one"):
        with pytest.raises(FolkRNNError, match="lookback"):
            form.parse_lookback(bad)
    assert form.parse_form("aabb") == "AABB" and form.parse_form("free") == ""
    with pytest.raises(FolkRNNError, match="form"):
        form.parse_form("A-B")
    assert form.part_sources("AABA") == [None, 0, None, 0]
    assert form.part_sources("ABC") == [None, None, None]


def test_a_plan_says_its_length_as_a_musician_counts_it():
    tune = eighths([60 + i % 8 for i in range(16)])  # two bars of eighths
    assert form.Plan.of_tune(tune).length_in_words() == "2 bars"
    silent = Tune(np.r_[REST, tune.melody[1:]], np.r_[NO_CHORD, tune.chords[1:]])  # a pickup
    assert form.Plan.of_tune(silent).length_in_words() == "a pickup and 1 bar"


def test_repeats_are_told_apart_by_who_made_them():
    a, b = [60 + i for i in range(16)], [70 - i for i in range(16)]
    # bars x y x z, twice: an AA form of 4-bar parts. The form copies bars 5-7 (not the
    # ending, bar 8); bar 3 (= bar 1) and bar 8 (= bar 4, a second ending like the first) are
    # the model's own repeats.
    tune = eighths((a + a[:12] + [72] * 4) * 2)
    counts = form.repeated_bars_by_source(tune, "AA")
    assert counts == {"bars": 8, "copied by the form": 3, "repeated by the model": 2}
    assert form.repeated_bars_by_source(tune, "free") == {
        "bars": 8, "copied by the form": 0, "repeated by the model": 5}
    assert form.repeated_bars_by_source(eighths(a + b), "AB")["repeated by the model"] == 0
    # a repeat the model began anew (its first bar differs): every repeat is the model's
    declined = eighths(a + a[:12] + [72] * 4 + b + a[:12] + [72] * 4)
    assert form.repeated_bars_by_source(declined, "AA") == {
        "bars": 8, "copied by the form": 0, "repeated by the model": 3}
