"""Bad and unusual MIDI input: each file encodes, or fails with one readable TuneError."""
from __future__ import annotations

import io

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from folkrnn import music
from folkrnn.music import HOLD, TuneError, onset


def midi_file(tracks: list[list[mido.Message]], kind: int = 1, tpb: int = 480) -> bytes:
    midi = mido.MidiFile(type=kind, ticks_per_beat=tpb)
    for messages in tracks:
        midi.tracks.append(mido.MidiTrack(messages))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def notes(pitches: list[int | tuple[int, ...]], ticks: int = 120, channel: int = 0,
          start: int = 0) -> list[mido.Message]:
    """A track playing each pitch (or chord) for ``ticks``, one after another."""
    out, wait = [], start
    for item in pitches:
        chord = item if isinstance(item, tuple) else (item,)
        for i, p in enumerate(chord):
            out.append(mido.Message("note_on", channel=channel, note=p, velocity=80,
                                    time=wait if i == 0 else 0))
        wait = 0
        for i, p in enumerate(chord):
            out.append(mido.Message("note_off", channel=channel, note=p, time=ticks if i == 0 else 0))
    return out


CHORD_TRACK = notes([(48, 52, 55)] * 4, ticks=480, channel=1)


def encode(data: bytes, **kwargs) -> music.Tune:
    return music.midi_to_tune(music.load_midi(data), **kwargs)


@pytest.mark.parametrize("data", [b"", b"\x00" * 64, b"MThd\x00\x00\x00\x06\x00\x01",
                                  bytes(np.random.default_rng(0).integers(0, 256, 999, np.uint8))])
def test_unreadable_bytes_give_one_clear_error(data):
    with pytest.raises(TuneError, match="not a readable MIDI file") as error:
        encode(data)
    assert error.value.reason == "unreadable"
    assert "\n" not in str(error.value)


def test_truncated_file_is_unreadable():
    whole = midi_file([notes([67, 69, 71, 72]), CHORD_TRACK])
    with pytest.raises(TuneError, match="truncated"):
        encode(whole[: len(whole) // 2])


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(music.FolkRNNError, match="no such file"):
        music.read_tune(tmp_path / "nope.mid")


@pytest.mark.parametrize("kind", [1, 2])
def test_type_1_and_2_files_with_two_tracks(kind):
    tune = encode(midi_file([notes([67, 69, 71, 72]), CHORD_TRACK], kind=kind))
    assert list(tune.melody[:4]) == [onset(67), onset(69), onset(71), onset(72)]
    assert music.chord_name(tune.chords[0]) == "C"


def test_type_0_file_with_melody_and_chords_on_two_channels():
    merged = mido.merge_tracks([mido.MidiTrack(notes([67, 69, 71, 72])),
                                mido.MidiTrack(CHORD_TRACK)])
    tune = encode(midi_file([list(merged)], kind=0))
    assert list(tune.melody[:4]) == [onset(67), onset(69), onset(71), onset(72)]
    assert music.chord_name(tune.chords[0]) == "C"


@pytest.mark.parametrize("tracks, reason", [
    ([notes([36, 38, 42], channel=9)], "no notes"),  # drums only
    ([[mido.MetaMessage("track_name", name="silence")]], "no notes"),
    ([notes([67, 69])], "no chord track"),  # melody only
    ([notes([(67, 71), 69]), CHORD_TRACK], "polyphonic melody"),
    ([notes([67, 100]), CHORD_TRACK], "pitch out of range"),
])
def test_files_that_do_not_fit_say_why(tracks, reason):
    with pytest.raises(TuneError) as error:
        encode(midi_file(tracks))
    assert error.value.reason == reason


def test_melody_only_is_accepted_when_chords_are_optional():
    tune = encode(midi_file([notes([67, 69])]), require_chords=False)
    assert set(tune.chords) == {music.NO_CHORD} and tune.melody[0] == onset(67)


def test_three_tracks_take_the_highest_as_melody():
    bass = notes([36, 43, 36, 43], ticks=480, channel=2)
    tune = encode(midi_file([bass, CHORD_TRACK, notes([72, 74, 76])]))
    assert tune.melody[0] == onset(72) and music.chord_name(tune.chords[0]) == "C"


def test_tempo_changes_do_not_move_the_grid():
    melody = [mido.MetaMessage("set_tempo", tempo=400_000)] + notes([67, 69])
    melody.insert(3, mido.MetaMessage("set_tempo", tempo=700_000))
    tune = encode(midi_file([melody, CHORD_TRACK]))
    assert list(tune.melody[:2]) == [onset(67), onset(69)]


def test_meter_changes_and_a_5_4_tune():
    meta = [mido.MetaMessage("time_signature", numerator=5, denominator=4),
            mido.MetaMessage("time_signature", numerator=3, denominator=4, time=480 * 5)]
    tune = encode(midi_file([meta + notes([67] * 8, ticks=480), CHORD_TRACK]))
    assert tune.meters == [(0, "5/4"), (20, "3/4")]
    assert list(tune.positions[18:22]) == [18, 19, 0, 1]


def test_unsupported_meter_is_a_reason():
    meta = [mido.MetaMessage("time_signature", numerator=7, denominator=16)]
    with pytest.raises(TuneError) as error:
        encode(midi_file([meta + notes([67]), CHORD_TRACK]))
    assert error.value.reason == "unsupported meter"


def test_a_very_long_tune():
    tune = encode(midi_file([notes([67, 69] * 2600, ticks=240), CHORD_TRACK]))
    assert len(tune) == 5200 * 2 and tune.melody[1] == HOLD
    with pytest.raises(TuneError, match="more than"):
        encode(midi_file([notes([67] * 3000, ticks=480), CHORD_TRACK]), max_steps=10_000)


pitch_lists = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 12), st.integers(40, 100)),
                       min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(melody=pitch_lists, chords=pitch_lists)
# a melody no higher than its chords' voicing: its own MIDI file names the tracks (found once)
@example(melody=[(0, 1, 55)], chords=[(0, 1, 55)])
@example(melody=[(0, 1, 40)], chords=[(0, 1, 55)])
def test_generated_midi_encodes_or_fails_cleanly(melody, chords):
    tracks = []
    for items, channel in ((melody, 0), (chords, 1)):
        events = []
        for start, length, pitch in items:  # in 32nd notes: off-grid and overlapping on purpose
            events.append((start * 60, "note_on", pitch))
            events.append(((start + length) * 60, "note_off", pitch))
        events.sort()
        track, now = [], 0
        for tick, kind, pitch in events:
            track.append(mido.Message(kind, channel=channel, note=pitch, time=tick - now))
            now = tick
        tracks.append(track)
    try:
        tune = encode(midi_file(tracks))
    except TuneError as error:
        assert error.reason in {"polyphonic melody", "pitch out of range", "no notes",
                                "no chord track", "unreadable"}
        return
    assert tune.melody.min() >= 0 and tune.melody.max() < music.MELODY_SIZE
    assert tune.chords.min() >= 0 and tune.chords.max() < music.CHORD_SIZE
    fixed = music.normalise(tune)
    assert music.midi_to_tune(music.load_midi(music.midi_bytes(music.tune_to_midi(fixed))),
                              require_chords=False) == fixed


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_escape_as_library_errors(data):
    try:
        encode(b"MThd" + data if data[:1] == b"\x00" else data, require_chords=False)
    except TuneError:
        pass
