"""Piano roll, audio, ABC notation, sheet music and saving (folkrnn.listen)."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import wave
import zipfile
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from folkrnn import listen, music
from folkrnn.music import HOLD, REST, Tune, chord_class, onset, parse_chord

matplotlib.use("Agg")


def require_tool(name: str) -> None:
    """Skip when an optional tool is missing, but FAIL if FOLKRNN_REQUIRE_TOOLS=1 (CI)."""
    found = (listen.fluidsynth_available() if name == "fluidsynth"
             else shutil.which(name) is not None)
    if found:
        return
    message = f"{name} is not installed (make system-deps, pip install pyfluidsynth)"
    if os.environ.get("FOLKRNN_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def real_tune(name: str) -> Tune:
    """A tune of the offline dataset copy, read straight from the zip archive."""
    from conftest import offline_zip

    with zipfile.ZipFile(offline_zip()) as archive:
        data = archive.read(f"nottingham-dataset-master/MIDI/{name}.mid")
    return music.midi_to_tune(music.load_midi(data), name)


def notes(*spec: tuple[int | None, int]) -> np.ndarray:
    """Melody events from (pitch or None for a rest, length in steps) pairs."""
    events: list[int] = []
    for pitch, length in spec:
        events += [REST] * length if pitch is None else [onset(pitch)] + [HOLD] * (length - 1)
    return np.array(events)


def hand_built() -> Tune:
    """Two bars of 4/4 in G with accidentals, a rest, a tie over the bar line and 3 chords."""
    melody = notes((67, 4), (65, 2), (65, 2), (66, 2), (None, 2), (76, 8), (78, 4), (72, 8))
    chords = [parse_chord("G")] * 16 + [parse_chord("D7")] * 12 + [parse_chord("Em")] * 4
    return Tune(melody, chords, [(0, "4/4")], "G", "hand built")


def abc_round_trip(tune: Tune, tmp_path: Path) -> Tune:
    """ABC of the tune → abc2midi → MIDI → Tune (melody only)."""
    source, midi = tmp_path / "tune.abc", tmp_path / "tune.mid"
    source.write_text(listen.tune_to_abc(tune))
    result = subprocess.run(["abc2midi", str(source), "-o", str(midi)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Error" not in result.stdout + result.stderr, result.stdout + result.stderr
    return music.read_tune(midi, require_chords=False)


# --- ABC -------------------------------------------------------------------------------------
def test_abc_of_a_hand_built_tune_is_exact():
    abc = listen.tune_to_abc(hand_built(), title="Test", bpm=100)
    header, body = abc.split("K:G\n")
    assert header.splitlines() == ["X:1", "T:Test", "M:4/4", "L:1/16", "Q:1/4=100"]
    # F natural needs "=" in G (F# in the key signature), the second F natural repeats it,
    # F sharp after it in the same bar needs "^"; the e held over the bar line is tied.
    assert body.strip() == '"G"G4 =F2=F2 ^F2z2 e4- | "D7"e4 f4 c4- "Em"c4 |]'


@pytest.mark.parametrize("pitch, key, expected", [
    (61, "Eb", ("D", -1, 4)),  # a chromatic note in a flat key is spelled flat
    (61, "D", ("C", 1, 4)),  # C# is in D major
    (60, "C#", ("B", 1, 3)),  # B# in C# major, one letter-octave below C4
    (66, "Bb", ("G", -1, 4)),  # F# is spelled Gb in a flat key
    (70, "F", ("B", -1, 4)),
])
def test_pitches_are_spelled_in_the_key(pitch, key, expected):
    assert listen.spell(pitch, key) == expected


def test_key_signatures_have_the_right_number_of_accidentals():
    assert sum(listen.key_signature("D").values()) == 2
    assert sum(listen.key_signature("Gm").values()) == -2
    assert listen.key_signature("Em") == listen.key_signature("G")
    assert all(k in listen._FIFTHS for k in music.KEY_NAMES)


def test_meter_changes_and_octaves_in_abc():
    melody = notes((55, 4), (60, 4), (72, 4), (84, 4), (88, 6), (None, 6))
    tune = Tune(melody, np.zeros(len(melody)), [(0, "4/4"), (16, "6/8")], "C", "t")
    body = listen.tune_to_abc(tune).split("K:C\n")[1]
    assert body.strip() == "G,4 C4 c4 c'4 | [M:6/8] e'6 z6 |]"


def test_abc2midi_reads_back_the_hand_built_melody(tmp_path):
    require_tool("abc2midi")
    tune = hand_built()
    back = abc_round_trip(tune, tmp_path)
    assert music.melody_notes(back.melody) == music.melody_notes(tune.melody)


@pytest.mark.parametrize("name", ["ashover1", "jigs1", "morris1", "slip1", "playford1"])
def test_abc2midi_reads_back_real_tunes(name, tmp_path):
    """Meter changes (ashover1), 6/8, 9/8 and minor keys: same notes after ABC → MIDI."""
    require_tool("abc2midi")
    tune = real_tune(name)
    back = abc_round_trip(tune, tmp_path)
    assert len(music.melody_notes(tune.melody)) > 50
    assert music.melody_notes(back.melody) == music.melody_notes(tune.melody)


def test_abc2midi_reads_back_chromatic_melodies_in_every_key(tmp_path):
    """Random chromatic notes: accidentals carried to the bar line must never change a pitch."""
    require_tool("abc2midi")
    rng = np.random.default_rng(0)
    for key in music.KEY_NAMES:
        spec = [(int(rng.integers(55, 89)) if rng.random() > 0.1 else None,
                 int(rng.integers(1, 10))) for _ in range(40)]
        melody = notes(*spec)
        chords = np.repeat(rng.integers(0, music.CHORD_SIZE, len(melody) // 8 + 1), 8)
        tune = music.normalise(Tune(melody, chords[:len(melody)], [(0, "4/4")], key, key))
        back = abc_round_trip(tune, tmp_path)
        assert music.melody_notes(back.melody) == music.melody_notes(tune.melody), key


def test_abcm2ps_engraves_the_abc():
    require_tool("abcm2ps")
    pages = listen.abc_to_svg(listen.tune_to_abc(real_tune("jigs1")))
    assert len(pages) == 1 and "<svg" in pages[0]
    shown = listen.sheet_music(hand_built())
    assert type(shown).__name__ == "SVG" and "<svg" in shown.data


def test_very_long_tunes_are_engraved_as_pages():
    require_tool("abcm2ps")
    tune = real_tune("jigs1")
    long = Tune(np.tile(tune.melody, 8), np.tile(tune.chords, 8), tune.meters, tune.key)
    pages = listen.abc_to_svg(listen.tune_to_abc(long))
    assert len(pages) >= 2 and all("<svg" in p for p in pages)


def test_sheet_music_without_abcm2ps_shows_the_abc(monkeypatch, capsys):
    monkeypatch.setattr(listen.shutil, "which", lambda name: None)
    shown = listen.sheet_music(hand_built())
    assert shown.data.startswith("X:1")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "abcm2ps" in out


# --- audio -----------------------------------------------------------------------------------
def _wav_frames(data: bytes) -> tuple[int, int]:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes(), wav.getframerate()


def test_audio_with_fluidsynth_is_a_full_length_waveform(capsys):
    require_tool("fluidsynth")
    tune = hand_built()
    player = listen.audio(tune, bpm=120, sample_rate=16000)
    frames, rate = _wav_frames(player.data)
    seconds = len(tune) * 60 / 120 / 4
    assert rate == 16000 and frames >= seconds * rate
    assert capsys.readouterr().out == ""  # no hint when FluidSynth works


def test_audio_falls_back_to_sine_waves_with_a_one_line_hint(monkeypatch, capsys):
    monkeypatch.setattr(listen, "fluidsynth_available", lambda: False)
    tune = hand_built()
    samples = listen.waveform(tune, bpm=120, sample_rate=8000)
    assert len(samples) >= len(tune) * 60 / 120 / 4 * 8000
    assert np.abs(samples).max() == pytest.approx(1.0)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "pip install pyfluidsynth" in out
    player = listen.audio(tune, sample_rate=8000)
    assert _wav_frames(player.data)[0] > 0


# --- saving ----------------------------------------------------------------------------------
def test_save_tune_writes_midi_abc_and_wav(tmp_path):
    tune = hand_built()
    folder = tmp_path / "new" / "folder"
    written = listen.save_tune(tune, midi=folder / "t.mid", abc=folder / "t.abc",
                               wav=folder / "t.wav", bpm=90)
    assert written == [folder / "t.mid", folder / "t.abc", folder / "t.wav"]
    assert music.read_tune(folder / "t.mid") == tune
    assert "Q:1/4=90" in (folder / "t.abc").read_text()
    frames, rate = _wav_frames((folder / "t.wav").read_bytes())
    assert rate == 22050 and frames >= len(tune) * 60 / 90 / 4 * rate
    assert sorted(p.name for p in folder.iterdir()) == ["t.abc", "t.mid", "t.wav"]


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(listen.wave, "open", broken)
    with pytest.raises(OSError):
        listen.save_tune(hand_built(), wav=tmp_path / "t.wav")
    assert list(tmp_path.iterdir()) == []


def test_save_tune_rejects_a_bad_tempo(tmp_path):
    with pytest.raises(music.FolkRNNError, match="bpm"):
        listen.save_tune(hand_built(), midi=tmp_path / "t.mid", bpm=0)


def test_chord_class_names_used_in_abc_are_readable_by_abc2midi(tmp_path):
    """Every chord name we write (sharps, flats, m, 7) is accepted by abc2midi."""
    require_tool("abc2midi")
    chords = [chord_class(root, q) for root in range(12) for q in ("", "m", "7")]
    melody = notes(*[(67, 4)] * len(chords))
    tune = Tune(melody, np.repeat(chords, 4), [(0, "4/4")], "C", "chords")
    abc_round_trip(tune, tmp_path)  # asserts no "Error" in abc2midi's output
