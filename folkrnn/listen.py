"""Hear and read a tune: what the notebooks call to play it, show its sheet music and save it.

Explained in notebook 01_collect_data (looking at and listening to real tunes) and
04_test_model (the generated ones). `audio` plays a tune inline, `sheet_music` shows it
engraved, `save_tune` writes MIDI, ABC and WAV files, and `backends_report` (``folkrnn
doctor``) says which synthesizer and engraver are in use. The work is done by one module per
job: `folkrnn.sound` (tempo, synthesizers, audio codecs, WAV), `folkrnn.repeats` (the written
form), `folkrnn.abc_notation` (ABC), and `folkrnn.engrave` (sheet music).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pretty_midi
from IPython.display import Audio, Pretty

from folkrnn import engrave, music, sound
from folkrnn.abc_notation import tune_to_abc
from folkrnn.engrave import SheetMusic
from folkrnn.music import Tune
from folkrnn.paths import write_atomic
from folkrnn.repeats import find_repeats


def audio(tune_or_pm: Tune | pretty_midi.PrettyMIDI, bpm: float | None = None,
          sample_rate: int = 22050) -> Audio:
    """An inline audio player (IPython ``Audio``) holding compressed audio
    (`sound.encode_audio`). ``bpm``: see `sound.tempo`. Explained in notebooks 01 and 04."""
    data, mime = sound.encode_audio(sound.waveform(tune_or_pm, bpm, sample_rate), sample_rate)
    player = Audio(data=data)
    player.mimetype = mime
    return player


def sheet_music(tune: Tune, title: str | None = None, bpm: float | None = None, *,
                engraver_name: str | None = None) -> SheetMusic | Pretty:
    """Sheet music to show inline (`engrave.SheetMusic`), engraved by verovio (or
    ``engraver_name="abcm2ps"``); the ABC text if neither is available. Explained in notebooks
    01 and 04."""
    abc = tune_to_abc(tune, title=title, bpm=bpm)
    heading = title or tune.name or "a folkrnn tune"
    name = engraver_name or engrave.engraver()
    if name == "verovio":
        svg = engrave.abc_to_svg_verovio(abc, find_repeats(tune).endings())
        return SheetMusic(svg, abc, heading)
    if name == "abcm2ps" and engrave.abcm2ps_available():
        return SheetMusic("".join(engrave.abc_to_svg(abc)), abc, heading)
    print("no engraver, so here is the ABC text: pip install verovio to see sheet music")
    return Pretty(abc)


def save_tune(tune: Tune, midi: str | Path | None = None, abc: str | Path | None = None,
              wav: str | Path | None = None, bpm: float | None = None,
              title: str | None = None) -> list[Path]:
    """Write the tune as MIDI, ABC and/or WAV (each file atomically, folders created), at the
    tempo of `sound.tempo` (``bpm`` beats a minute, by default from the meter).

    Returns the paths written. Used by ``folkrnn generate``; explained in notebook 04.
    """
    pace = sound.tune_tempo(tune, bpm)
    written = []
    if midi is not None:
        data = music.midi_bytes(music.tune_to_midi(tune, bpm=pace.quarter_bpm))
        written.append(write_atomic(Path(midi), lambda tmp: Path(tmp).write_bytes(data)))
    if abc is not None:
        text = tune_to_abc(tune, title=title, bpm=pace.bpm)
        written.append(write_atomic(Path(abc), lambda tmp: Path(tmp).write_text(text)))
    if wav is not None:
        written.append(sound.write_wav(tune, wav, pace.bpm))
    return written


# --- what is in use (folkrnn doctor) ---------------------------------------------------------
def _system(present: bool) -> str:
    """How an optional system tool stands."""
    if sound.system_tools_hidden():
        return "hidden by FOLKRNN_NO_SYSTEM_TOOLS=1"
    return "installed" if present else "not installed"


def _synthesizer_report() -> list[str]:
    font = sound.SOUNDFONT.name
    synth = sound.synthesizer()
    if synth == "midirenderer":
        return [f"audio: midirenderer with {font} (pip wheel): fiddle and guitar",
                f"  FluidSynth: {_system(sound.fluidsynth_available())}; not needed: it plays "
                "the same SoundFont and measures alike (BENCHMARKS.md)"]
    if synth == "fluidsynth":
        return [f"audio: FluidSynth (system library) with {font}: midirenderer is not installed",
                "  pip install midirenderer  for the same sound without a system library"]
    return ["audio: sine waves: no SoundFont synthesizer found "
            f"(midirenderer not installed, FluidSynth {_system(False)})",
            "  better: pip install midirenderer  (or pip install pyfluidsynth and "
            "apt-get install libfluidsynth3)"]


def _engraver_report() -> list[str]:
    name = engrave.engraver()
    if name == "verovio":
        return ["sheet music: verovio (pip wheel): SVG with chord symbols and repeats",
                f"  abcm2ps: {_system(engrave.abcm2ps_available())}; optional: "
                "sheet_music(tune, engraver_name='abcm2ps')"]
    if name == "abcm2ps":
        return ["sheet music: abcm2ps (system program): verovio is not installed",
                "  pip install verovio  for the default engraver (volta brackets)"]
    return ["sheet music: none, the ABC text is shown (verovio not installed, "
            f"abcm2ps {_system(False)})", "  better: pip install verovio"]


def _codec_report() -> str:
    if sound.soundfile is None:
        return "notebook audio: WAV, 10x larger: pip install soundfile for MP3"
    return (f"notebook audio: {sound.player_codec()} (soundfile {sound.soundfile.__version__}, "
            f"libsndfile {sound.soundfile.__libsndfile_version__})")


def backends_report() -> str:
    """Which synthesizer and engraver are in use, why, and how to get better ones (the text
    of ``folkrnn doctor``)."""
    abc2midi = "installed" if shutil.which("abc2midi") is not None else "not installed"
    lines = [*_synthesizer_report(), *_engraver_report(), _codec_report(),
             f"abc2midi (the tests use it): {abc2midi}"]
    return "\n".join(lines)
