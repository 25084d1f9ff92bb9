"""The representation: MIDI <-> Tune round trip, chord recognition, meters, transposition."""
from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from folkrnn import music
from folkrnn.errors import FolkRNNError
from folkrnn.music import HOLD, NO_CHORD, REST, Tune, chord_class, onset


def reencode(tune: Tune) -> Tune:
    """Tune -> MIDI bytes -> Tune, through a real file's bytes."""
    return music.midi_to_tune(music.load_midi(music.midi_bytes(music.tune_to_midi(tune))))


def test_round_trip_on_every_tune_of_the_dataset(midi_folder):
    files = sorted(midi_folder.glob("*.mid"))
    assert len(files) == 1034
    kept, mismatched = 0, []
    for path in files:
        try:
            tune = music.read_tune(path)
        except music.TuneError:
            continue
        kept += 1
        if reencode(tune) != tune:
            mismatched.append(path.name)
    assert kept >= 980
    assert mismatched == []


def test_hold_and_repeated_onset_are_different_notes():
    repeated = Tune([onset(67), onset(67), HOLD, REST], [chord_class(7, "")] * 4)
    held = Tune([onset(67), HOLD, HOLD, REST], [chord_class(7, "")] * 4)
    assert music.melody_notes(repeated.melody) == [(0, 1, 67), (1, 3, 67)]
    assert music.melody_notes(held.melody) == [(0, 3, 67)]
    assert reencode(repeated) == repeated and reencode(held) == held


@pytest.mark.parametrize("pitches, name", [
    ([60, 64, 67], "C"), ([57, 60, 64], "Am"), ([57, 61, 64, 67], "A7"),  # A7, not C#dim
    ([64, 67, 72], "C"), ([55, 60, 64], "C"),  # inversions
    ([48, 55, 60, 64, 67, 72], "C"),  # doubled notes
    ([62, 66, 69, 72], "D7"), ([59, 62, 65], "G7"),  # Bdim folds into G7
    ([52, 55, 59, 62], "Em"), ([60, 64, 67, 71], "C"),  # Em7 -> Em, Cmaj7 -> C
    ([], "N"),
])
def test_chord_recognition(pitches, name):
    assert music.chord_name(music.recognise_chord(pitches)) == name


@pytest.mark.parametrize("name", ["G", "Em", "D7", "F#m", "Bb", "C#7", "N"])
def test_chord_names_parse_back(name):
    assert music.chord_name(music.parse_chord(name)) == name


def test_chord_aliases_fold():
    assert music.parse_chord("Am7") == music.parse_chord("Am")
    assert music.parse_chord("Db") == music.parse_chord("C#")
    assert music.parse_chord("Bdim") == music.parse_chord("G7")


@pytest.mark.parametrize("bad", ["H", "Gx", "", "Em9b"])
def test_unknown_chord_names_give_a_clear_error(bad):
    with pytest.raises(FolkRNNError, match="unknown chord"):
        music.parse_chord(bad)


def test_positions_follow_meter_changes():
    tune = Tune(np.zeros(30), np.zeros(30), [(0, "6/8"), (24, "2/4")])
    assert list(tune.positions[:13]) == list(range(12)) + [0]
    assert list(tune.positions[24:30]) == [0, 1, 2, 3, 4, 5]
    assert set(tune.meter_ids[24:]) == {music.METERS.index("2/4")}
    assert reencode(Tune([onset(60)] + [HOLD] * 29, [1] * 30, tune.meters)).meters == tune.meters


def test_unsupported_meter_is_named():
    with pytest.raises(FolkRNNError, match="unsupported meter '7/16'"):
        music.steps_per_bar("7/16")


def test_vectors_are_two_one_hots():
    tune = Tune([onset(60), HOLD, REST], [chord_class(0, ""), chord_class(0, ""), NO_CHORD])
    vectors = tune.vectors()
    assert vectors.shape == (3, music.MELODY_SIZE + music.CHORD_SIZE)
    assert (vectors.sum(axis=1) == 2).all()
    assert vectors[0, onset(60)] == 1 and vectors[2, music.MELODY_SIZE + NO_CHORD] == 1


def test_transpose_moves_melody_and_chord_roots_together():
    tune = Tune([onset(60), HOLD], [chord_class(0, "7"), NO_CHORD], key="C")
    up = tune.transpose(2)
    assert list(up.melody) == [onset(62), HOLD]
    assert list(up.chords) == [chord_class(2, "7"), NO_CHORD]
    assert up.key == "D"
    assert tune.transpose(-3).key == "A"
    with pytest.raises(ValueError):
        Tune([onset(music.MAX_PITCH)], [1]).transpose(1)


def _two_track_midi(melody_notes, chord_notes=((0, 4, [48, 52, 55]),)) -> pretty_midi.PrettyMIDI:
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120)
    melody, chords = pretty_midi.Instrument(0), pretty_midi.Instrument(0)
    beat = 0.5
    for start, end, pitch in melody_notes:
        melody.notes.append(pretty_midi.Note(90, pitch, start * beat, end * beat))
    for start, end, pitches in chord_notes:
        chords.notes += [pretty_midi.Note(80, p, start * beat, end * beat) for p in pitches]
    pm.instruments = [melody, chords]
    return pm


def test_triplets_are_snapped_to_the_grid():
    third = 1 / 3
    tune = music.midi_to_tune(_two_track_midi([(0, third, 67), (third, 2 * third, 69),
                                                (2 * third, 1, 71), (1, 2, 72)]))
    # quarter-note triplet eighths land on steps 0, 1 and 3
    assert list(tune.melody[:5]) == [onset(67), onset(69), HOLD, onset(71), onset(72)]


def test_overlapping_melody_notes_are_cut_at_the_next_onset():
    tune = music.midi_to_tune(_two_track_midi([(0, 2, 67), (1, 2, 69)]))
    assert list(tune.melody[:8]) == [onset(67)] + [HOLD] * 3 + [onset(69)] + [HOLD] * 3


@pytest.mark.parametrize("notes, reason", [
    ([(0, 1, 67), (0, 1, 71)], "polyphonic melody"),
    ([(0, 1, 100)], "pitch out of range"),
])
def test_tunes_that_do_not_fit_are_skipped_with_a_reason(notes, reason):
    with pytest.raises(music.TuneError) as error:
        music.midi_to_tune(_two_track_midi(notes))
    assert error.value.reason == reason


def test_missing_chord_track_is_a_reason_unless_allowed():
    pm = _two_track_midi([(0, 1, 67)], chord_notes=())
    with pytest.raises(music.TuneError) as error:
        music.midi_to_tune(pm)
    assert error.value.reason == "no chord track"
    assert set(music.midi_to_tune(pm, require_chords=False).chords) == {NO_CHORD}


def test_normalise_makes_any_event_sequence_round_trip():
    rng = np.random.default_rng(0)
    tune = Tune(rng.integers(0, music.MELODY_SIZE, 200), rng.integers(0, music.CHORD_SIZE, 200),
                [(0, "3/4")], key="Em")
    tune.melody[-5:], tune.chords[-5:] = REST, NO_CHORD
    fixed = music.normalise(tune)
    assert len(fixed) <= 195
    assert reencode(fixed) == fixed
