"""Note and key names, key signatures and spelling in a key (folkrnn.keys)."""
from __future__ import annotations

import pytest

from folkrnn import keys, music
from folkrnn.errors import FolkRNNError


@pytest.mark.parametrize("pitch, key, expected", [
    (61, "Eb", ("D", -1, 4)),  # a chromatic note in a flat key is spelled flat
    (61, "D", ("C", 1, 4)),  # C# is in D major
    (60, "C#", ("B", 1, 3)),  # B# in C# major, one letter-octave below C4
    (66, "Bb", ("G", -1, 4)),  # F# is spelled Gb in a flat key
    (70, "F", ("B", -1, 4)),
])
def test_pitches_are_spelled_in_the_key(pitch, key, expected):
    assert keys.spell(pitch, key) == expected


def test_every_spelling_sounds_the_pitch_it_spells():
    for key in keys.KEY_NAMES:
        for pitch in range(music.MIN_PITCH, music.MAX_PITCH + 1):
            letter, alteration, octave = keys.spell(pitch, key)
            assert 12 * (octave + 1) + keys.pitch_class(letter) + alteration == pitch, (key, pitch)


def test_key_signatures_have_the_right_number_of_accidentals():
    assert sum(keys.key_signature("D").values()) == 2
    assert sum(keys.key_signature("Gm").values()) == -2
    assert keys.key_signature("Em") == keys.key_signature("G")
    assert all(k in keys.KEY_FIFTHS for k in keys.KEY_NAMES)


@pytest.mark.parametrize("typed, name", [
    ("G", "G"), (" em ", "Em"), ("bb", "Bb"), ("Db", "C#"), ("A#", "Bb"), ("Cb", "B"),
    ("Abm", "G#m"), ("D#m", "Ebm"), ("Ebm", "Ebm"), ("Gbm", "F#m"), ("G#", "Ab"),
])
def test_key_names_are_normalised_to_the_ones_midi_numbers(typed, name):
    assert keys.key_name(typed) == name
    assert name in keys.KEY_NAMES


@pytest.mark.parametrize("bad", ["H", "m", "", "Bbb", "C##", "Gmaj"])
def test_unknown_key_names_give_a_clear_error(bad):
    with pytest.raises(FolkRNNError, match="unknown key"):
        keys.key_name(bad)


def test_chords_and_keys_read_note_names_alike():
    """One alias map: an enharmonic root means the same pitch class in a chord and in a key."""
    for alias, name in keys.NOTE_ALIASES.items():
        assert keys.pitch_class(alias) == keys.pitch_class(name)
        assert music.parse_chord(alias + "m") == music.parse_chord(name + "m")
        assert keys.key_tonic(keys.key_name(alias + "m")) == (keys.pitch_class(name), True)


def test_transposing_a_key_keeps_its_mode():
    assert keys.transpose_key("G", 2) == "A" and keys.transpose_key("Em", -3) == "C#m"
    assert all(keys.transpose_key(k, 12) == k for k in keys.KEY_NAMES)
