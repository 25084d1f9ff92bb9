"""Hear and read a tune: audio, ABC notation, sheet music, and saving to files.

Explained in notebook 01_collect_data (looking at and listening to real tunes) and
04_test_model (the generated ones). Optional tools make it nicer and are used when present:

* FluidSynth (``pip install pyfluidsynth`` + the system library ``libfluidsynth3``) plays the
  tune with real instrument sounds (pretty_midi's General MIDI sound font); without it the
  audio is pretty_midi's sine-wave synthesis;
* ``abcm2ps`` draws sheet music from the ABC text; ``abc2midi`` is only used by the tests.

``make system-deps`` installs the Debian packages (``libfluidsynth3 abcmidi abcm2ps``).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import pretty_midi

from folkrnn import music
from folkrnn.errors import FolkRNNError
from folkrnn.paths import write_atomic
from folkrnn.music import NO_CHORD, Tune

SYSTEM_DEPS_HINT = "make system-deps (or apt-get install libfluidsynth3 abcmidi abcm2ps)"


def _bar_starts(tune: Tune) -> list[int]:
    return [int(i) for i in np.nonzero(tune.positions == 0)[0]]


def _chord_changes(tune: Tune) -> list[tuple[int, int, int]]:
    """``(start, end, chord)`` runs of one chord (not split at bar lines; no-chord included)."""
    runs: list[tuple[int, int, int]] = []
    for i, chord in enumerate(tune.chords):
        if runs and runs[-1][2] == chord:
            runs[-1] = (runs[-1][0], i + 1, int(chord))
        else:
            runs.append((i, i + 1, int(chord)))
    return runs


# --- audio -----------------------------------------------------------------------------------
def fluidsynth_available() -> bool:
    """True when pyfluidsynth and the system FluidSynth library can be loaded (notebook 01)."""
    try:
        import fluidsynth  # noqa: F401
        from pretty_midi import fluidsynth as pretty_midi_fluidsynth
    except (ImportError, OSError):
        return False
    return bool(getattr(pretty_midi_fluidsynth, "_HAS_FLUIDSYNTH", True))


def waveform(tune_or_pm: Tune | pretty_midi.PrettyMIDI, bpm: float = 120.0,
             sample_rate: int = 22050, *, quiet: bool = False) -> np.ndarray:
    """The tune as audio samples in [-1, 1]: FluidSynth if available, else sine waves
    (with a one-line hint how to get the better sound). Explained in notebook 01."""
    pm = tune_or_pm if isinstance(tune_or_pm, pretty_midi.PrettyMIDI) else \
        music.tune_to_midi(tune_or_pm, bpm=bpm)
    samples = None
    if fluidsynth_available():
        try:
            samples = pm.fluidsynth(fs=sample_rate)
        except (ImportError, OSError, RuntimeError):  # a broken FluidSynth install
            samples = None
    if samples is None:
        if not quiet:
            print("sine-wave sound: for real instruments run  pip install pyfluidsynth  and  "
                  "apt-get install libfluidsynth3  (or make system-deps)")
        samples = pm.synthesize(fs=sample_rate)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    return (samples / peak if peak > 0 else samples).astype(np.float32)


def audio(tune_or_pm: Tune | pretty_midi.PrettyMIDI, bpm: float = 120.0,
          sample_rate: int = 22050):
    """An inline audio player (IPython ``Audio``) for a tune. Explained in notebooks 01 and 04."""
    from IPython.display import Audio

    return Audio(waveform(tune_or_pm, bpm, sample_rate), rate=sample_rate)


def write_wav(tune: Tune, path: str | Path, bpm: float = 120.0, sample_rate: int = 22050) -> Path:
    """Write the tune as a 16-bit mono WAV file (atomically). Explained in notebook 04."""
    samples = waveform(tune, bpm, sample_rate)
    pcm = (np.clip(samples, -1, 1) * 32767 * 0.9).astype("<i2").tobytes()

    def write(tmp: str) -> None:
        with wave.open(tmp, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(pcm)

    return write_atomic(Path(path), write)


# --- ABC notation ----------------------------------------------------------------------------
# Key signatures as a count of sharps (> 0) or flats (< 0), for every key `music.KEY_NAMES` holds.
_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7,
           "F": -1, "Bb": -2, "Eb": -3, "Ab": -4, "Db": -5, "Gb": -6}
_FIFTHS.update({k + "m": v - 3 for k, v in _FIFTHS.items()})
_FIFTHS.update({"G#m": 5, "D#m": 6, "A#m": 7, "Ebm": -6})
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_LENGTHS = (24, 16, 12, 8, 6, 4, 3, 2, 1)  # note values written without tuplets (in 16ths)


def key_signature(key: str) -> dict[str, int]:
    """The alteration (+1 sharp, -1 flat, 0) the key signature gives each letter A..G
    (used for ABC notation, notebook 04)."""
    fifths = _FIFTHS[key]
    order = "FCGDAEB" if fifths >= 0 else "BEADGCF"
    altered = set(order[:abs(fifths)])
    return {letter: (1 if fifths > 0 else -1) if letter in altered else 0 for letter in _LETTER_PC}


def spell(pitch: int, key: str) -> tuple[str, int, int]:
    """``(letter, alteration, octave)`` of a MIDI pitch, spelled in ``key``.

    Notes of the key's scale keep the key's spelling; other notes use sharps in sharp keys and
    flats in flat keys. ``octave`` is the scientific octave of the letter (C4 = middle C).
    Used for ABC notation (notebook 04).
    """
    signature = key_signature(key)
    pc = pitch % 12
    options = [(l, a) for l, a in signature.items() if (_LETTER_PC[l] + a) % 12 == pc]
    if not options:
        sharp = _FIFTHS[key] >= 0
        options = [(l, 0) for l, p in _LETTER_PC.items() if p == pc]
        options += [(l, 1 if sharp else -1) for l, p in _LETTER_PC.items()
                    if (p + (1 if sharp else -1)) % 12 == pc]
    letter, alteration = options[0]
    octave = (pitch - alteration) // 12 - 1
    return letter, alteration, octave


def _abc_pitch(letter: str, octave: int) -> str:
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter + "," * (4 - octave)


def _lengths(steps: int) -> list[int]:
    """Split a duration into note values that need no tuplets (greedy, largest first)."""
    parts = []
    while steps > 0:
        part = next(n for n in _LENGTHS if n <= steps)
        parts.append(part)
        steps -= part
    return parts


def _beat(meter: str) -> int:
    """Steps per beat, for beaming: a dotted quarter in 6/8-like meters, else the denominator."""
    num, den = (int(x) for x in meter.split("/"))
    if den == 8 and num % 3 == 0 and num > 3:
        return 6
    return 16 // den


class _Bar:
    """Accidentals already written in the current bar (ABC carries them to the bar line)."""

    def __init__(self, key: str):
        self.signature = key_signature(key)
        self.touched: set[str] = set()

    def note(self, pitch: int, key: str) -> str:
        letter, alteration, octave = spell(pitch, key)
        # Write the accidental when the key signature would get it wrong, and on every later
        # note of the same letter in this bar (correct whether a reader applies accidentals
        # per octave or per letter).
        text = _abc_pitch(letter, octave)
        if alteration != self.signature[letter] or letter in self.touched:
            self.touched.add(letter)
            text = {1: "^", -1: "_", 0: "="}[alteration] + text
        return text


def _chord_symbol(chord: int) -> str:
    return '"^N.C."' if chord == NO_CHORD else f'"{music.chord_name(chord)}"'


def _segments(tune: Tune) -> list[tuple[int, int, int | None, bool]]:
    """The tune cut at bar lines, chord changes and note boundaries:
    ``(start, end, pitch or None for a rest, tied to the next segment)``."""
    cuts = set(_bar_starts(tune)) | {s for s, _, _ in _chord_changes(tune)} | {len(tune)}
    notes = {start: (end, pitch) for start, end, pitch in music.melody_notes(tune.melody)}
    out: list[tuple[int, int, int | None, bool]] = []
    step = 0
    while step < len(tune):
        if step in notes:
            end, pitch = notes[step]
            bounds = sorted(c for c in cuts if step < c < end) + [end]
            for a, b in zip([step] + bounds[:-1], bounds):
                out.append((a, b, pitch, b < end))
            step = end
        else:
            end = step + 1
            while end < len(tune) and end not in notes and end not in cuts:
                end += 1
            out.append((step, end, None, False))
            step = end
    return out


def tune_to_abc(tune: Tune, title: str | None = None, bpm: float = 120.0) -> str:
    """The tune in ABC notation (16th-note unit, chord symbols, meter changes, ties).

    Every accidental the key signature does not give is written out (with ``=`` naturals), and
    repeated on later notes of that letter in the bar. Notes held over a bar line or a chord
    change are split and tied (``-``). Explained in notebook 04.
    """
    if tune.key not in _FIFTHS:
        raise FolkRNNError(f"the key {tune.key!r} has no ABC key signature: use music.key_name")
    positions, chords = tune.positions, tune.chords
    meter_at = dict(tune.meters)
    meter = tune.meters[0][1]
    header = ["X:1", f"T:{title or tune.name or 'folkrnn tune'}", f"M:{meter}", "L:1/16",
              f"Q:1/4={round(bpm)}", f"K:{tune.key}"]
    body, bar, line_start, chord = "", _Bar(tune.key), 0, NO_CHORD
    for start, end, pitch, tied in _segments(tune):
        parts = _lengths(end - start)
        step = start
        for i, length in enumerate(parts):
            if step > 0 and positions[step] == 0:  # a new bar
                line_bars = int(np.sum(positions[line_start:step] == 0))
                if line_bars >= 4 or step - line_start >= 64:  # 4 bars (3 long ones) a line
                    body, line_start = body + " |\n", step
                else:
                    body += " | "
                bar = _Bar(tune.key)
                if step in meter_at:
                    meter = meter_at[step]
                    body += f"[M:{meter}] "
            elif step > 0 and positions[step] % _beat(meter) == 0:
                body += " "  # a space breaks the beam at each beat
            if chords[step] != chord:
                chord = int(chords[step])
                body += _chord_symbol(chord)
            body += "z" if pitch is None else bar.note(pitch, tune.key)
            body += str(length) if length > 1 else ""
            if pitch is not None and (tied or i < len(parts) - 1):
                body += "-"
            step += length
    if len(tune):  # complete the last bar with rests (as sheet music and abc2midi expect)
        missing = music.steps_per_bar(meter) - 1 - int(positions[-1])
        body += "".join(f" z{n}" if n > 1 else " z" for n in _lengths(missing))
    return "\n".join(header) + "\n" + body.rstrip() + " |]\n"


# --- sheet music -----------------------------------------------------------------------------
def abc_to_svg(abc: str) -> list[str]:
    """Engrave ABC text with ``abcm2ps``; the SVG text of each image (FolkRNNError if it fails).

    One tight image (``-g``) for most tunes; very long tunes overflow abcm2ps's buffer there, so
    they are laid out as pages (``-v``) instead. Used by `sheet_music` (notebooks 01 and 04).
    """
    if shutil.which("abcm2ps") is None:
        raise FolkRNNError("abcm2ps is not installed: apt-get install abcm2ps "
                           "(or make system-deps)")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "tune.abc"
        source.write_text(abc)
        for flag in ("-g", "-v"):
            result = subprocess.run(["abcm2ps", flag, "-q", "-O", str(Path(folder) / flag[1]),
                                     str(source)], capture_output=True, text=True, timeout=60)
            pages = sorted(Path(folder).glob(flag[1] + "*.svg"))
            if result.returncode == 0 and pages:
                return [page.read_text() for page in pages]
        raise FolkRNNError(f"abcm2ps could not engrave the tune: {result.stderr.strip()[-300:]}")


def sheet_music(tune: Tune, title: str | None = None, bpm: float = 120.0):
    """Sheet music to show inline (IPython ``SVG``) via abcm2ps; without abcm2ps, the ABC text
    (with a one-line hint how to install it). Explained in notebooks 01 and 04."""
    from IPython.display import HTML, SVG, Pretty

    abc = tune_to_abc(tune, title=title, bpm=bpm)
    if shutil.which("abcm2ps") is None:
        print("no abcm2ps, so here is the ABC text: apt-get install abcm2ps (or make system-deps) "
              "to see sheet music")
        return Pretty(abc)
    pages = abc_to_svg(abc)
    return SVG(pages[0]) if len(pages) == 1 else HTML("".join(pages))


# --- saving ----------------------------------------------------------------------------------
def save_tune(tune: Tune, midi: str | Path | None = None, abc: str | Path | None = None,
              wav: str | Path | None = None, bpm: float = 120.0,
              title: str | None = None) -> list[Path]:
    """Write the tune as MIDI, ABC and/or WAV (each file atomically, folders created).

    Returns the paths written. Used by ``folkrnn generate``; explained in notebook 04.
    """
    if not bpm > 0:
        raise FolkRNNError(f"bpm={bpm} must be greater than 0, e.g. 120")
    written = []
    if midi is not None:
        data = music.midi_bytes(music.tune_to_midi(tune, bpm=bpm))
        written.append(write_atomic(Path(midi), lambda tmp: Path(tmp).write_bytes(data)))
    if abc is not None:
        text = tune_to_abc(tune, title=title, bpm=bpm)
        written.append(write_atomic(Path(abc), lambda tmp: Path(tmp).write_text(text)))
    if wav is not None:
        written.append(write_wav(tune, wav, bpm))
    return written
