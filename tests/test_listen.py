"""Listening: tempo and sound (folkrnn.sound), repeats (folkrnn.repeats), ABC notation
(folkrnn.abc_notation), sheet music (folkrnn.engrave), and what the notebooks call
(folkrnn.listen: audio, sheet_music, save_tune, the doctor)."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import wave
import zipfile
from pathlib import Path

import matplotlib
import numpy as np
import pretty_midi
import pytest
import soundfile
from conftest import offline_zip
from IPython.core.formatters import DisplayFormatter

from folkrnn import abc_notation, cli, engrave, listen, music, repeats, sound
from folkrnn.errors import FolkRNNError
from folkrnn.music import HOLD, REST, Tune, chord_class, onset, parse_chord
from folkrnn.verify import (abc_round_trip, assert_same_music, harmonics_and_attack,
                            one_note)

matplotlib.use("Agg")


def require_tool(name: str) -> None:
    """Skip when an optional tool is missing, but FAIL if FOLKRNN_REQUIRE_TOOLS=1 (CI)."""
    found = (sound.fluidsynth_available() if name == "fluidsynth"
             else shutil.which(name) is not None)
    if found:
        return
    message = f"{name} is not installed (make system-deps, pip install pyfluidsynth)"
    if os.environ.get("FOLKRNN_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def real_tune(name: str) -> Tune:
    """A tune of the offline dataset copy, read straight from the zip archive."""
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


def assert_expands_to(form: repeats.Form, tune: Tune) -> None:
    """Playing the form's bars in order gives back the tune (after the pickup's silence)."""
    for events in (tune.melody, tune.chords):
        played = np.concatenate([events[a:b] for a, b in (form.bars[i] for i in form.played())])
        assert np.array_equal(played, events[form.pickup:])


def random_tune(rng: np.random.Generator, bars: int, meter: str = "4/4", key: str = "G",
                no_chord: float = 0.0) -> Tune:
    """Random notes and a chord per half bar (no chord with probability ``no_chord``)."""
    length = bars * music.steps_per_bar(meter)
    spec, total = [], 0
    while total < length:
        size = min(int(rng.choice([1, 2, 2, 4, 4, 6, 8])), length - total)
        spec.append((int(rng.integers(60, 80)) if rng.random() > 0.1 else None, size))
        total += size
    half = music.steps_per_bar(meter) // 2
    chords = rng.integers(1, music.CHORD_SIZE, length // half + 1)
    chords[rng.random(len(chords)) < no_chord] = music.NO_CHORD
    melody = notes(*spec)
    return Tune(melody, np.repeat(chords, half)[:length], [(0, meter)], key, "random")


def joined(*tunes: Tune) -> Tune:
    """Tunes played one after another (the first one's meter and key)."""
    return Tune(np.concatenate([t.melody for t in tunes]),
                np.concatenate([t.chords for t in tunes]), tunes[0].meters, tunes[0].key, "joined")


def aabb(rng: np.random.Generator, bars: int = 8, meter: str = "4/4", pickup: int = 0,
         endings: bool = True, no_chord: float = 0.0) -> Tune:
    """A tune made as AABB: each part played twice, the second time with its own last bar
    (if ``endings``), after an optional pickup of ``pickup`` steps. Random bars, no note held
    over a bar line (a part the player jumps back to cannot start by holding a note)."""
    spb = music.steps_per_bar(meter)
    parts = []
    for _ in range(2):
        body = joined(*(random_tune(rng, 1, meter, no_chord=no_chord) for _ in range(bars)))
        again = joined(body.slice(0, (bars - 1) * spb), random_tune(rng, 1, meter))
        parts += [body, again if endings else body]
    tune = joined(*parts)
    if pickup:
        lead = notes((None, spb - pickup), (int(rng.integers(60, 80)), pickup))
        tune = joined(Tune(lead, np.zeros(spb), [(0, meter)]), tune)
    return music.normalise(tune)


# --- tempo -----------------------------------------------------------------------------------
@pytest.mark.parametrize("meter, beat, bpm, quarter_bpm, abc", [
    ("6/8", 6, 110, 165, "3/8=110"),  # a jig: 110 dotted quarters, not 110 quarters
    ("9/8", 6, 110, 165, "3/8=110"),  # a slip jig
    ("4/4", 4, 120, 120, "1/4=120"),  # a reel
    ("3/4", 4, 120, 120, "1/4=120"),  # a waltz
    ("2/2", 8, 100, 200, "1/2=100"),
])
def test_the_default_tempo_suits_the_meter(meter, beat, bpm, quarter_bpm, abc):
    pace = sound.tempo(meter)
    assert (pace.beat, pace.bpm, pace.quarter_bpm, pace.abc) == (beat, bpm, quarter_bpm, abc)
    assert sound.tempo(meter, 90).bpm == 90


def test_a_jig_is_written_and_played_at_its_tempo(tmp_path):
    jig = real_tune("jigs1")
    assert "\nQ:3/8=110\n" in abc_notation.tune_to_abc(jig)
    listen.save_tune(jig, midi=tmp_path / "jig.mid", abc=tmp_path / "jig.abc", bpm=100)
    _, tempi = pretty_midi.PrettyMIDI(str(tmp_path / "jig.mid")).get_tempo_changes()
    assert tempi[0] == pytest.approx(150)  # 100 dotted quarters = 150 quarters a minute
    assert "Q:3/8=100" in (tmp_path / "jig.abc").read_text()


# --- ABC -------------------------------------------------------------------------------------
def test_abc_of_a_hand_built_tune_is_exact():
    abc = abc_notation.tune_to_abc(hand_built(), title="Test", bpm=100)
    header, body = abc.split("K:G\n")
    assert header.splitlines() == ["X:1", "T:Test", "M:4/4", "L:1/8", "Q:1/4=100"]
    # F natural needs "=" in G (F# in the key signature), the second F natural repeats it,
    # F sharp after it in the same bar needs "^"; the e held over the bar line is tied.
    # Lengths in eighth notes (L:1/8), as folk musicians write: G2 is a quarter note.
    assert body.strip() == '"G"G2 =F=F ^Fz e2- | "D7"e2 f2 c2- "Em"c2 |]'


@pytest.mark.parametrize("steps, text", [(1, "/"), (2, ""), (3, "3/2"), (4, "2"), (6, "3"),
                                         (12, "6"), (24, "12")])
def test_lengths_are_written_in_eighth_notes(steps, text):
    assert abc_notation._abc_length(steps) == text


def test_meter_changes_and_octaves_in_abc():
    melody = notes((55, 4), (60, 4), (72, 4), (84, 4), (88, 6), (None, 6))
    tune = Tune(melody, np.zeros(len(melody)), [(0, "4/4"), (16, "6/8")], "C", "t")
    body = abc_notation.tune_to_abc(tune).split("K:C\n")[1]
    assert body.strip() == "G,2 C2 c2 c'2 | [M:6/8] e'3 z3 |]"


def test_a_tune_in_aabb_form_is_written_with_repeats_endings_and_a_pickup():
    """Two 4-bar parts, each played twice with a different last bar, after a quarter-note
    pickup: written once each, as |: … |[1 … :|[2 … |."""
    a, a1, a2 = (67, 16), (69, 16), (71, 16)  # one whole note per bar
    b, b1, b2 = (72, 16), (74, 16), (76, 16)
    spec = ([(None, 12), (62, 4)] + [a] * 3 + [a1] + [a] * 3 + [a2]
            + [b] * 3 + [b1] + [b] * 3 + [b2])
    melody = notes(*spec)
    chords = np.full(len(melody), parse_chord("G"))
    chords[:16] = music.NO_CHORD
    tune = Tune(melody, chords, [(0, "4/4")], "G", "aabb")
    form = repeats.find_repeats(tune)
    assert form.pickup == 12
    Part = repeats.Part
    assert form.parts == [Part(0, 1), Part(1, 4, True, 1), Part(9, 4, True, 1)]
    assert form.played() == [0, 1, 2, 3, 4, 1, 2, 3, 8, 9, 10, 11, 12, 9, 10, 11, 16]
    assert_expands_to(form, tune)
    body = abc_notation.tune_to_abc(tune).split("K:G\n")[1]
    assert body.strip() == (
        'D2 |: "G"G8 | G8 | G8 |[1 A8 :|[2 B8\n'
        "|: c8 | c8 | c8 |[1 d8 :|[2 e8 |]")


def test_a_part_played_twice_the_same_has_no_endings():
    rng = np.random.default_rng(1)
    tune = aabb(rng, bars=8, meter="6/8", endings=False)
    form = repeats.find_repeats(tune)
    assert [(p.length, p.repeat, p.ending) for p in form.parts] == [(8, True, 0), (8, True, 0)]
    abc = abc_notation.tune_to_abc(tune)
    assert abc.count("|:") == 2 and abc.count(":|") == 2 and "[1" not in abc


def test_a_tune_without_repeats_is_written_straight():
    tune = random_tune(np.random.default_rng(2), bars=16)
    form = repeats.find_repeats(tune)
    assert not any(p.repeat for p in form.parts) and form.pickup == 0
    abc = abc_notation.tune_to_abc(tune)
    assert ":" not in abc.split("K:G\n")[1].replace('"', "")
    assert abc.count(" | ") + abc.count(" |\n") == 15  # 16 bars


def test_a_note_held_into_a_repeated_part_is_not_folded(tmp_path):
    """Two equal 4-bar parts that both start by holding the note before them: a player
    jumping back could not hold it, so they are not written as one repeated part (and the
    tune still plays right)."""
    part = np.concatenate([[HOLD] * 4, notes((64, 12), (65, 16), (67, 16), (69, 16))])
    melody = np.concatenate([notes((None, 12), (62, 4)), part, part, notes((67, 16))])
    chords = np.full(len(melody), parse_chord("C"))
    chords[:12] = music.NO_CHORD
    tune = Tune(melody, chords, [(0, "4/4")], "C", "held")
    form = repeats.find_repeats(tune)
    assert form.pickup == 12 and not any(p.repeat and p.start == 1 for p in form.parts)
    assert_expands_to(form, tune)
    require_tool("abc2midi")
    assert_same_music(abc_round_trip(tune, tmp_path), tune)


def test_endings_start_earlier_when_a_note_is_held_into_the_first_one(tmp_path):
    """The first time, the last bar but one holds its note into the last bar; the second time
    it does not: the endings take both bars, so no tie crosses a repeat sign."""
    six = [note for i in range(6) for note in ((60 + i, 8), (64 + i, 8))]
    melody = notes(*six, (66, 8), (70, 16), (71, 8), *six, (66, 8), (70, 8), (72, 16))
    tune = Tune(melody, np.full(len(melody), parse_chord("C")), [(0, "4/4")], "C", "held")
    form = repeats.find_repeats(tune)
    assert form.parts == [repeats.Part(0, 8, True, 2)]
    assert_expands_to(form, tune)
    require_tool("abc2midi")
    assert_same_music(abc_round_trip(tune, tmp_path), tune)


@pytest.mark.parametrize("name, repeated_parts", [
    ("jigs1", 2),  # pickup, two parts with first and second endings
    ("ashover1", 2),  # meter changes (3/4, 2/4) inside repeated parts
    ("hpps16", 1),  # a hornpipe
    ("slip1", 2),  # 9/8
    ("morris1", 3),
    ("playford1", 2),
    ("reelsa-c54", 2),  # no chord at the start of a repeated part
    ("reelsa-c11", 0),  # no repeats: written straight
])
def test_abc2midi_plays_the_repeats_as_our_midi_does(name, repeated_parts, tmp_path):
    """abc2midi's expansion of the ABC gives the same notes (pitches, onsets, durations) and
    chords as music.tune_to_midi, for real tunes with and without repeats."""
    require_tool("abc2midi")
    tune = real_tune(name)
    assert sum(p.repeat for p in repeats.find_repeats(tune).parts) == repeated_parts
    written = abc_notation.tune_to_abc(tune)
    assert written.count("|:") == repeated_parts
    assert len(music.melody_notes(tune.melody)) > 50
    assert_same_music(abc_round_trip(tune, tmp_path), tune)


@pytest.mark.parametrize("seed, meter, pickup, endings", [
    (0, "4/4", 0, True), (1, "6/8", 2, True), (2, "3/4", 4, False), (3, "9/8", 0, True),
    (4, "2/4", 2, False),
])
def test_abc2midi_plays_generated_aabb_tunes_as_our_midi_does(seed, meter, pickup, endings,
                                                               tmp_path):
    """Random AABB tunes (as the form model makes them), some chords missing mid-tune."""
    require_tool("abc2midi")
    tune = aabb(np.random.default_rng(seed), 8, meter, pickup, endings, no_chord=0.15)
    form = repeats.find_repeats(tune)
    assert sum(p.repeat for p in form.parts) == 2 and form.pickup == (
        music.steps_per_bar(meter) - pickup if pickup else 0)
    assert_expands_to(form, tune)
    assert_same_music(abc_round_trip(tune, tmp_path), tune)


def test_bars_without_chords_silence_abc2midis_chords(tmp_path):
    """A chord, four bars without one (N.C. switches abc2midi's chords off), a chord again,
    in a part played twice."""
    require_tool("abc2midi")
    melody = notes(*[(60 + i, 8) for i in range(8)])
    chords = np.repeat([parse_chord(c) for c in "G G N N N N D D".split()], 8)
    part = Tune(melody, chords, [(0, "2/4")], "G", "no chords")
    tune = joined(part, part)
    assert sum(p.repeat for p in repeats.find_repeats(tune).parts) == 1
    abc = abc_notation.tune_to_abc(tune)
    assert abc.count(abc_notation.GCHORD_OFF) == 1 and abc.count(abc_notation.GCHORD_ON) == 1
    assert_same_music(abc_round_trip(tune, tmp_path), tune)


@pytest.mark.parametrize("meter", music.METERS)
def test_abc2midi_plays_random_tunes_in_every_meter(meter, tmp_path):
    """Random events (notes held over bar lines and chord changes, rests, missing chords),
    then the same with a 4-bar part played three times."""
    require_tool("abc2midi")
    rng = np.random.default_rng(music.METERS.index(meter))
    events = [REST, HOLD, HOLD, onset(62), onset(67), onset(71), onset(74)]
    melody = rng.choice(events, 8 * music.steps_per_bar(meter))
    chords = np.repeat(rng.integers(0, music.CHORD_SIZE, len(melody) // 4 + 1), 4)
    loose = music.normalise(Tune(melody, chords[:len(melody)], [(0, meter)], "D", "loose"))
    part = random_tune(rng, 4, meter, no_chord=0.2)
    thrice = music.normalise(joined(part, part, part))
    assert any(p.repeat for p in repeats.find_repeats(thrice).parts)
    for tune in (loose, thrice):
        assert_same_music(abc_round_trip(tune, tmp_path), tune)


def test_abc2midi_reads_back_the_hand_built_melody(tmp_path):
    require_tool("abc2midi")
    tune = hand_built()
    assert_same_music(abc_round_trip(tune, tmp_path), tune)


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


def test_chord_class_names_used_in_abc_are_readable_by_abc2midi(tmp_path):
    """Every chord name we write (sharps, flats, m, 7) is accepted and played by abc2midi."""
    require_tool("abc2midi")
    chords = [chord_class(root, q) for root in range(12) for q in ("", "m", "7")]
    melody = notes(*[(67, 4)] * len(chords))
    tune = Tune(melody, np.repeat(chords, 4), [(0, "4/4")], "C", "chords")
    assert_same_music(abc_round_trip(tune, tmp_path), tune)


# --- sheet music -----------------------------------------------------------------------------
def test_verovio_draws_chord_symbols_repeats_and_endings():
    tune = real_tune("jigs1")
    abc = abc_notation.tune_to_abc(tune)
    shown = listen.sheet_music(tune)
    assert isinstance(shown, engrave.SheetMusic) and shown.abc == abc
    inline = shown._repr_html_()  # text/html, so that an HTML export keeps the <svg> inline
    assert inline.startswith('<div class="folkrnn-sheet-music" role="img" aria-label="Sheet music')
    assert "<svg" in inline and "<img" not in inline
    bundle, _ = DisplayFormatter().format(shown)
    assert bundle["text/plain"] == abc  # not the SVG a second time
    chord_symbols = re.findall(r'"([A-G][#b]?m?7?)"', abc)
    assert shown.data.count('class="harm"') == len(chord_symbols) > 10
    assert shown.data.count('class="voltaBracket"') == 4  # [1 and [2 of both parts
    assert shown.data.count('class="ending') == 4


def test_abcm2ps_engraves_the_abc_when_asked():
    require_tool("abcm2ps")
    pages = engrave.abc_to_svg(abc_notation.tune_to_abc(real_tune("jigs1")))
    assert len(pages) == 1 and "<svg" in pages[0]
    shown = listen.sheet_music(hand_built(), engraver_name="abcm2ps")
    assert isinstance(shown, engrave.SheetMusic) and "<svg" in shown._repr_html_()


def test_very_long_tunes_are_engraved_as_pages():
    require_tool("abcm2ps")
    long = random_tune(np.random.default_rng(4), bars=200)
    pages = engrave.abc_to_svg(abc_notation.tune_to_abc(long))
    assert len(pages) >= 2 and all("<svg" in p for p in pages)


def test_sheet_music_without_an_engraver_shows_the_abc(monkeypatch, capsys):
    monkeypatch.setattr(engrave, "verovio_available", lambda: False)
    monkeypatch.setenv("FOLKRNN_NO_SYSTEM_TOOLS", "1")
    shown = listen.sheet_music(hand_built())
    assert shown.data.startswith("X:1")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "pip install verovio" in out


# --- audio -----------------------------------------------------------------------------------
def decode(data: bytes) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(data))
    return samples, rate


def test_the_pip_synthesizer_plays_a_real_instrument(capsys):
    """midirenderer: harmonics and a bowed attack, where sine waves have neither."""
    assert sound.synthesizer() == "midirenderer"
    samples = sound.waveform(one_note(), bpm=120)
    share, attack = harmonics_and_attack(samples, 22050)
    assert share > 0.05 and attack >= 0.02, (share, attack)
    sine = music.tune_to_midi(one_note(), bpm=120).synthesize(fs=22050)
    sine_share, sine_attack = harmonics_and_attack(sine, 22050)
    assert sine_share < 0.01 and sine_attack < 0.02, (sine_share, sine_attack)
    assert capsys.readouterr().out == ""


def test_the_player_holds_compressed_audio_of_the_whole_tune():
    tune = real_tune("jigs1")
    player = listen.audio(tune)
    assert player.mimetype == "audio/mpeg" and 'type="audio/mpeg"' in player._repr_html_()
    samples, rate = decode(player.data)
    seconds = len(tune) / 6 * 60 / 110  # 110 dotted quarters (6 steps) a minute
    assert rate == 22050 and seconds <= len(samples) / rate <= seconds + 2
    assert len(player.data) < seconds * 30_000 / 8  # under 30 kbit/s (WAV: 353 kbit/s)


def test_audio_with_fluidsynth_is_a_full_length_waveform(monkeypatch, capsys):
    require_tool("fluidsynth")
    monkeypatch.setattr(sound, "midirenderer_available", lambda: False)
    assert sound.synthesizer() == "fluidsynth"
    samples = sound.waveform(one_note(), bpm=120, sample_rate=16000)
    assert len(samples) >= 2 * 16000
    assert harmonics_and_attack(samples, 16000)[0] > 0.05
    assert capsys.readouterr().out == ""  # no hint when FluidSynth works


def test_audio_falls_back_to_sine_waves_with_a_one_line_hint(monkeypatch, capsys):
    monkeypatch.setattr(sound, "midirenderer_available", lambda: False)
    monkeypatch.setattr(sound, "fluidsynth_available", lambda: False)
    assert sound.synthesizer() == "sine"
    tune = hand_built()
    samples = sound.waveform(tune, bpm=120, sample_rate=8000)
    assert len(samples) >= len(tune) * 60 / 120 / 4 * 8000
    assert np.abs(samples).max() == pytest.approx(1.0)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "pip install midirenderer" in out
    assert len(decode(listen.audio(tune, sample_rate=8000).data)[0]) > 0


PIP_ONLY = """
import os, sys
sys.modules["fluidsynth"] = None  # pyfluidsynth cannot be imported
import shutil
from folkrnn import engrave, listen, music, sound
from test_listen import harmonics_and_attack, one_note, real_tune
assert shutil.which("abcm2ps") is None, "abcm2ps is still on the PATH"
assert not sound.fluidsynth_available() and not engrave.abcm2ps_available()
print(sound.synthesizer(), engrave.engraver())
share, attack = harmonics_and_attack(sound.waveform(one_note(), bpm=120), 22050)
print(f"{share:.3f} {attack:.2f}")
shown = listen.sheet_music(real_tune("jigs1"))
print(type(shown).__name__, shown.data.count('class="harm"'), shown.data.count("voltaBracket"))
"""


def test_pip_alone_gives_real_instruments_and_sheet_music(tmp_path):
    """With FluidSynth and abcm2ps out of reach (not importable, not on the PATH, and hidden
    by FOLKRNN_NO_SYSTEM_TOOLS=1), sound is still a real instrument and sheet music SVG."""
    env = {**os.environ, "FOLKRNN_NO_SYSTEM_TOOLS": "1", "PATH": str(Path(sys.executable).parent),
           "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run([sys.executable, "-c", PIP_ONLY], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "midirenderer verovio"
    share, attack = (float(x) for x in lines[1].split())
    assert share > 0.05 and attack >= 0.02
    kind, chords, voltas = lines[2].split()
    assert kind == "SheetMusic" and int(chords) > 10 and int(voltas) >= 4


def test_doctor_names_the_backends_and_how_to_get_better_ones(monkeypatch, capsys):
    monkeypatch.setenv("FOLKRNN_NO_SYSTEM_TOOLS", "1")
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "audio: midirenderer" in out and "sheet music: verovio" in out
    assert "notebook audio: MP3" in out
    monkeypatch.setattr(sound, "midirenderer_available", lambda: False)
    monkeypatch.setattr(engrave, "verovio_available", lambda: False)
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "audio: sine waves" in out and "pip install midirenderer" in out
    assert "sheet music: none" in out and "pip install verovio" in out


# --- saving ----------------------------------------------------------------------------------
def _wav_frames(data: bytes) -> tuple[int, int]:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes(), wav.getframerate()


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

    monkeypatch.setattr(sound.wave, "open", broken)
    with pytest.raises(FolkRNNError, match="disk full"):  # one readable line, no traceback
        listen.save_tune(hand_built(), wav=tmp_path / "t.wav")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bpm", [0, -5, 10_000, float("nan")])
def test_save_tune_rejects_a_bad_tempo(tmp_path, bpm):
    with pytest.raises(FolkRNNError, match="beats a minute"):
        listen.save_tune(hand_built(), midi=tmp_path / "t.mid", bpm=bpm)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
