"""The judge (folkrnn.judge): features of a hand-built tune, tunes cut to one length, and the
classifier two-sample test on real tunes against real tunes and against obvious fakes."""
from __future__ import annotations

import math

import numpy as np
import pytest

from folkrnn import judge, music
from folkrnn.errors import FolkRNNError
from folkrnn.music import HOLD, REST, Tune

C, G7 = music.parse_chord("C"), music.parse_chord("G7")


def tune_of(bars: list[list[tuple[int, int]]], chords: list[list[tuple[int, int]]],
            meter: str = "4/4") -> Tune:
    """A tune from bars of (pitch or REST, steps) notes and bars of (chord, steps)."""
    melody: list[int] = []
    for bar in bars:
        for pitch, steps in bar:
            melody += ([REST] * steps if pitch == REST
                       else [music.onset(pitch)] + [HOLD] * (steps - 1))
    chord_steps = [chord for bar in chords for chord, steps in bar for _ in range(steps)]
    return Tune(melody, chord_steps, [(0, meter)])


# C D E F G in a 4/4 bar (quarter, two 8ths, two quarters) over C then G7 from the off-beat
# 8th at step 10; the bar twice, then a whole-note C.
PHRASE = [(72, 4), (74, 2), (76, 2), (77, 4), (79, 4)]
HAND_BUILT = tune_of([PHRASE, PHRASE, [(72, 16)]], [[(C, 10), (G7, 6)]] * 2 + [[(C, 16)]])


def test_features_of_a_hand_built_tune():
    f = judge.tune_features(HAND_BUILT)
    # intervals: +2 +2 +1 +2, -7, +2 +2 +1 +2, -7
    assert f["stepwise_share"] == pytest.approx(0.8)
    assert f["leaps"] == pytest.approx(0.2)
    assert f["mean_abs_interval"] == pytest.approx(2.8)
    assert f["repeated_notes"] == 0 and f["ascending_share"] == pytest.approx(0.8)
    # onsets at 0, 4, 6, 8, 12 in two bars of three; only the downbeat in the last
    assert f["onset_44_at_00"] == 1 and f["onset_44_at_06"] == pytest.approx(2 / 3)
    assert f["onset_44_at_02"] == 0 and math.isnan(f["onset_68_at_00"])
    assert math.isnan(f["sounds_six_eight"])
    # chord changes at steps 10 (off the beat), 16 (bar line), 26 (off), 32 (bar line)
    assert f["offbeat_chord_changes"] == pytest.approx(0.5)
    assert f["chord_changes_per_bar"] == pytest.approx(4 / 3)
    assert f["bars_changing_chord_inside"] == pytest.approx(2 / 3)
    # chord tones: C, E over C and G over G7 in each phrase, the last C: 7 of 11 notes
    assert f["chord_tones"] == pytest.approx(7 / 11)
    # lengths: 6 quarters, 4 eighths, 1 whole note
    assert f["notes_quarter"] == pytest.approx(6 / 11) and f["notes_8th"] == pytest.approx(4 / 11)
    assert f["notes_half_or_longer"] == pytest.approx(1 / 11)
    assert f["mean_note_length"] == pytest.approx(48 / 11)
    # in C: the tonic starts 3 of 11 notes, and the tune ends on it
    assert f["degree_00"] == pytest.approx(3 / 11) and f["ends_on_tonic"] == 1
    assert f["pitch_range"] == 7 and f["lowest"] == 72
    # bar 2 repeats bar 1, bar 3 repeats nothing
    assert f["bars_repeating_one_of_7_before"] == pytest.approx(0.5)
    assert set(f) == set(judge.feature_groups())


def test_six_eight_feel_tells_jig_rhythm_from_waltz_rhythm():
    jig = [(74, 4), (76, 2), (78, 4), (79, 2)]  # quarter-eighth, quarter-eighth
    waltz = [(74, 4), (76, 4), (78, 4)]  # three quarters: 3/4 in a 6/8 bar
    chords = [[(C, 12)]] * 4
    jig_f = judge.tune_features(tune_of([jig] * 4, chords, "6/8"))
    waltz_f = judge.tune_features(tune_of([waltz] * 4, chords, "6/8"))
    assert jig_f["sounds_six_eight"] == 1 and jig_f["six_eight_lean"] == pytest.approx(0.5)
    assert waltz_f["sounds_six_eight"] == 0 and waltz_f["six_eight_lean"] == pytest.approx(-1)
    assert math.isnan(jig_f["onset_44_at_00"]) and jig_f["onset_68_at_06"] == 1


def test_tunes_of_different_lengths_are_cut_to_the_same_length():
    bar = [(72, 4), (74, 4), (76, 4), (77, 4)]
    pickup = [(REST, 12), (71, 4)]
    long = tune_of([pickup] + [bar] * 40, [[(music.NO_CHORD, 16)]] + [[(C, 16)]] * 40)
    real = tune_of([pickup] + [bar] * 32, [[(music.NO_CHORD, 16)]] + [[(C, 16)]] * 32)
    short = tune_of([bar] * 20, [[(C, 16)]] * 20)
    cut = judge.cut(long)
    assert len(cut.bars()) == 32 and len(cut) == 32 * 16
    assert cut.melody[0] == music.onset(72)  # the pickup bar is dropped
    assert len(judge.cut(real)) == len(cut) and len(judge.cut(short).bars()) == 20
    waltz = Tune(np.zeros(48 * 20), np.zeros(48 * 20), [(0, "3/4")])
    kept = judge.comparable([long, real, short, waltz])  # 41 bars and 3/4 left out
    assert [len(t.bars()) for t in kept] == [32, 20]


def test_balance_gives_both_sets_the_same_meters_and_lengths():
    reel = Tune(np.zeros(16), np.zeros(16), [(0, "4/4")])
    jig = Tune(np.zeros(12), np.zeros(12), [(0, "6/8")])
    real, other = judge.balance([reel] * 30 + [jig] * 10, [reel] * 5 + [jig] * 5)
    assert len(other) == 10 and sum(judge.family_of(t) == "6/8" for t in real) == 10
    assert sum(judge.family_of(t) == "4/4" for t in real) == 10
    short_reel = Tune(np.zeros(32), np.zeros(32), [(0, "4/4")])  # 2 bars: only one set has it
    real, other = judge.balance([reel] * 30 + [short_reel] * 10, [reel] * 8 + [jig] * 4)
    assert {judge.stratum(t) for t in real + other} == {("4/4", 1)}  # the 2-bar reels, the jigs out
    assert (len(real), len(other)) == (30, 8)


def test_too_few_comparable_tunes_is_a_readable_error():
    waltz = Tune(np.zeros(48 * 20), np.zeros(48 * 20), [(0, "3/4")])
    with pytest.raises(FolkRNNError, match="4/4 or 6/8"):
        judge.judge([HAND_BUILT] * 20, [waltz] * 20)


# --- the judge on real tunes -----------------------------------------------------------------
def test_real_tunes_keep_one_of_each_group_of_duplicates(tuneset):
    names = {t.name for t in judge.real_tunes(tuneset)}
    assert all(len(names & set(group)) == 1 for group in tuneset.duplicates)
    assert len(names) == len(tuneset.all) - sum(len(g) - 1 for g in tuneset.duplicates)



@pytest.fixture(scope="module")
def real(tuneset) -> list[Tune]:
    """Real tunes in random order, each cut to 32 bars."""
    tunes = judge.comparable(judge.real_tunes(tuneset))
    return [tunes[i] for i in np.random.default_rng(0).permutation(len(tunes))]


def shuffled_bars(tune: Tune, rng: np.random.Generator) -> Tune:
    """The tune with its full bars in a random order (every bar kept as it is)."""
    bars = [bar for bar in tune.bars() if bar[1] - bar[0] == tune.bars()[0][1]]
    order = rng.permutation(len(bars))
    steps = np.concatenate([np.arange(*bars[i]) for i in order])
    return Tune(tune.melody[steps], tune.chords[steps], tune.meters, tune.key)


def late_chords(tune: Tune) -> Tune:
    """The tune with every chord an 8th note late: each change falls off the beat."""
    chords = np.concatenate([tune.chords[:2], tune.chords[:-2]])
    return Tune(tune.melody, chords, tune.meters, tune.key)


def test_real_against_real_is_near_chance(real):
    verdict = judge.judge(real[:100], real[100:200])
    assert abs(verdict.auc - 0.5) < 0.12, verdict
    assert max(verdict.by_group.values()) < 0.7, verdict


def test_a_different_meter_mix_gives_nothing_away(real):
    reels = [t for t in real if judge.family_of(t) == "4/4"]
    jigs = [t for t in real if judge.family_of(t) == "6/8"]
    first, second = judge.balance(reels[:60] + jigs[:20], reels[60:80] + jigs[20:80])
    reel_shares = [np.mean([judge.family_of(t) == "4/4" for t in kept]) for kept in (first, second)]
    assert reel_shares[0] > 0.65 and abs(reel_shares[0] - reel_shares[1]) < 0.03  # was 0.25
    verdict = judge.judge(reels[:60] + jigs[:20], reels[60:80] + jigs[20:80])
    assert verdict.sizes == (len(first), len(second)) and len(second) > 20
    assert verdict.auc < 0.7, verdict  # 0.8 when the meters are left unbalanced


def test_a_different_length_mix_gives_nothing_away(real):
    short = [t for t in real if len(t.bars()) < 32]
    full = [t for t in real if len(t.bars()) == 32]
    verdict = judge.judge(full[:60] + short[:40], full[60:160])
    assert verdict.sizes[0] == 60  # the short tunes have no partner of their length: left out
    assert verdict.auc < 0.65, verdict  # 0.60 when the lengths are left unbalanced


def test_shuffled_bars_are_told_apart_by_their_repetition(real):
    rng = np.random.default_rng(0)
    verdict = judge.judge(real[:60], [shuffled_bars(t, rng) for t in real[60:120]])
    assert verdict.auc > 0.8 and verdict.by_group["repetition"] > 0.8, verdict
    assert verdict.by_group["onsets"] < 0.7, verdict  # the rhythm inside bars is unchanged


def test_late_chords_are_told_apart_by_where_chords_change(real):
    verdict = judge.judge(real[:60], [late_chords(t) for t in real[60:120]])
    assert verdict.auc > 0.95 and verdict.by_group["chord_changes"] > 0.95, verdict
    for melody_only in ("intervals", "register", "onsets"):
        assert verdict.by_group[melody_only] < 0.7, verdict
    offbeat = {r.name: r for r in verdict.features}["offbeat_chord_changes"]
    assert offbeat.other_mean > 0.9 and offbeat.real_mean < 0.1
    assert verdict.give_aways(1)[0].group == "chord_changes"
