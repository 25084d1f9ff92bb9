"""Hear and read a tune: tempo, audio, ABC notation, sheet music, and saving to files.

Explained in notebook 01_collect_data (looking at and listening to real tunes) and
04_test_model (the generated ones). Everything works with ``pip install`` alone:

* **tempo**: `tempo` picks beats a minute from the meter (a jig's beat is a dotted quarter);
* **sound**: ``midirenderer`` (a self-contained wheel) plays the MIDI with the General MIDI
  SoundFont that pretty_midi ships (``TimGM6mb.sf2``): fiddle melody, guitar chords. Without it
  (no wheel for the platform), FluidSynth (``pyfluidsynth`` + the system ``libfluidsynth3``) plays
  the same font; sine waves are the last resort. The notebook player embeds MP3 (Ogg Vorbis if
  libsndfile has no MP3), about 25 kbit/s, so executed notebooks stay small;
* **ABC** (`tune_to_abc`): written as a folk musician writes it: a pickup bar, repeated parts as
  ``|: … :|`` with ``[1``/``[2`` endings, found from the notes themselves (`find_repeats`);
* **sheet music** (`sheet_music`): engraved by ``verovio`` (a wheel) as inline SVG, volta
  brackets and chord symbols included; ``abcm2ps`` is used only when asked for.

``folkrnn doctor`` says which backends are in use. ``FOLKRNN_NO_SYSTEM_TOOLS=1`` hides the
optional system tools (FluidSynth, abcm2ps), to check the pip-only path. ``abc2midi`` is only
used by the tests. BENCHMARKS.md ("Listening backends") compares the synthesizers.
"""
from __future__ import annotations

import html
import io
import os
import shutil
import subprocess
import tempfile
import wave
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pretty_midi

from folkrnn import music
from folkrnn.keys import KEY_FIFTHS, key_signature, spell
from folkrnn.errors import FolkRNNError
from folkrnn.music import HOLD, NO_CHORD, Tune
from folkrnn.paths import write_atomic

SOUNDFONT = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"  # General MIDI, in pretty_midi


def _system_tools_hidden() -> bool:
    return os.environ.get("FOLKRNN_NO_SYSTEM_TOOLS") == "1"


# --- tempo -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tempo:
    """``bpm`` beats a minute, a beat lasting ``beat`` 16th-note steps (6: a dotted quarter)."""

    bpm: float
    beat: int

    @property
    def quarter_bpm(self) -> float:
        """Quarter notes a minute: the tempo a MIDI file stores."""
        return self.bpm * self.beat / music.STEPS_PER_QUARTER

    @property
    def abc(self) -> str:
        """The ABC ``Q:`` value, e.g. ``3/8=110`` (dotted quarter = 110)."""
        beat = Fraction(self.beat, 16)
        return f"{beat.numerator}/{beat.denominator}={round(self.bpm)}"


def tempo(meter: str, bpm: float | None = None) -> Tempo:
    """The tempo to play a tune in ``meter``: ``bpm`` beats a minute, by default one that suits
    the dance. Explained in notebook 01.

    The beat is the dotted quarter in compound meters (6/8 jigs, 9/8 slip jigs, 12/8, 3/8),
    the half note in 2/2 and 3/2, else the quarter. Defaults: 110 dotted quarters a minute for
    jigs (330 eighth notes), 100 half notes for 2/2 and 3/2, 120 quarters for 4/4 reels and
    hornpipes, 2/4 polkas and 3/4 waltzes: the 100–120 of a dance band, slow enough to follow.
    """
    num, den = music.meter_fraction(meter)
    if den == 8 and num % 3 == 0:
        beat, default = 6, 110.0
    elif den == 2:
        beat, default = 8, 100.0
    else:
        beat, default = 16 // den, 120.0
    if bpm is None:
        bpm = default
    if not bpm > 0:
        raise FolkRNNError(f"bpm={bpm} must be greater than 0, e.g. {default:g}")
    return Tempo(float(bpm), beat)


def tune_tempo(tune: Tune, bpm: float | None = None) -> Tempo:
    """`tempo` of the tune's first meter."""
    return tempo(tune.meters[0][1], bpm)


# --- audio -----------------------------------------------------------------------------------
def fluidsynth_available() -> bool:
    """True when pyfluidsynth and the system FluidSynth library can be loaded (and are not
    hidden by ``FOLKRNN_NO_SYSTEM_TOOLS=1``)."""
    if _system_tools_hidden():
        return False
    try:
        import fluidsynth  # noqa: F401
        from pretty_midi import fluidsynth as pretty_midi_fluidsynth
    except (ImportError, OSError):
        return False
    return bool(getattr(pretty_midi_fluidsynth, "_HAS_FLUIDSYNTH", True))


def midirenderer_available() -> bool:
    """True when the ``midirenderer`` wheel (a SoundFont synthesizer) can be imported."""
    try:
        import midirenderer  # noqa: F401
    except ImportError:
        return False
    return SOUNDFONT.exists()


def synthesizer() -> str:
    """The synthesizer `waveform` uses: ``midirenderer``, ``fluidsynth`` or ``sine``.

    midirenderer and FluidSynth play the same SoundFont and measure alike (BENCHMARKS.md), so
    the pip wheel comes first: the same sound everywhere, no system library needed.
    """
    if midirenderer_available():
        return "midirenderer"
    return "fluidsynth" if fluidsynth_available() else "sine"


def _smooth(n: int) -> int:
    """The smallest number >= n with no prime factor above 5 (a fast FFT length)."""
    best = 1 << max(n - 1, 0).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            candidate = power35
            while candidate < n:
                candidate *= 2
            best = min(best, candidate)
            power35 *= 3
        power5 *= 5
    return best


def _resample(samples: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling through the Fourier transform, the signal padded with silence
    to a length whose transform is fast."""
    if rate == new_rate or len(samples) == 0:
        return samples
    ratio = Fraction(new_rate, rate)
    blocks = _smooth(-(-len(samples) // ratio.denominator))
    padded = np.zeros(blocks * ratio.denominator)
    padded[:len(samples)] = samples
    n = blocks * ratio.numerator
    spectrum = np.fft.rfft(padded)[: n // 2 + 1]
    out = np.fft.irfft(spectrum, n) * (n / len(padded))
    return out[:round(len(samples) * ratio)]


def _midirenderer(pm: pretty_midi.PrettyMIDI, sample_rate: int) -> np.ndarray:
    import midirenderer

    # midirenderer stops at the last event: a silent controller change 1 s later lets the
    # last notes ring out.
    tail = pretty_midi.ControlChange(110, 0, pm.get_end_time() + 1.0)
    track = pm.instruments[0].control_changes if pm.instruments else []
    track.append(tail)
    try:
        midi = music.midi_bytes(pm)
    finally:
        track.remove(tail)
    data = midirenderer.render_wave_from(SOUNDFONT.read_bytes(), midi)
    with wave.open(io.BytesIO(data)) as wav:
        channels, rate = wav.getnchannels(), wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    mono = pcm.reshape(-1, channels).mean(axis=1) / 32768.0
    return _resample(mono, rate, sample_rate)


def waveform(tune_or_pm: Tune | pretty_midi.PrettyMIDI, bpm: float | None = None,
             sample_rate: int = 22050, *, quiet: bool = False) -> np.ndarray:
    """The tune as audio samples in [-1, 1], by `synthesizer` (a one-line hint when it falls
    back to sine waves). ``bpm``: see `tempo`. Explained in notebook 01."""
    if isinstance(tune_or_pm, pretty_midi.PrettyMIDI):
        pm = tune_or_pm
    else:
        pm = music.tune_to_midi(tune_or_pm, bpm=tune_tempo(tune_or_pm, bpm).quarter_bpm)
    players = [(midirenderer_available, lambda: _midirenderer(pm, sample_rate)),
               (fluidsynth_available, lambda: pm.fluidsynth(fs=sample_rate))]
    samples = None
    for available, play in players:
        if samples is None and available():
            try:
                samples = play()
            except (ImportError, OSError, RuntimeError, ValueError):  # a broken install
                samples = None
    if samples is None:
        if not quiet:
            print("sine-wave sound: for real instruments run  pip install midirenderer  "
                  "(see folkrnn doctor)")
        samples = pm.synthesize(fs=sample_rate)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    return (samples / peak if peak > 0 else samples).astype(np.float32)


def encode_audio(samples: np.ndarray, sample_rate: int) -> tuple[bytes, str]:
    """Compress samples for a notebook player: ``(bytes, MIME type)``.

    MP3 (every browser plays it), else Ogg Vorbis, else WAV if libsndfile offers neither.
    About 25 kbit/s: a 32-bar reel is ~0.2 MB instead of 3 MB of WAV (BENCHMARKS.md).
    """
    samples = np.clip(samples, -1, 1).astype(np.float32) * 0.9
    try:
        import soundfile

        formats = soundfile.available_formats()
        for fmt, subtype, mime in (("MP3", "MPEG_LAYER_III", "audio/mpeg"),
                                   ("OGG", "VORBIS", "audio/ogg")):
            if fmt in formats:
                buffer = io.BytesIO()
                soundfile.write(buffer, samples, sample_rate, format=fmt, subtype=subtype,
                                compression_level=0.99)
                return buffer.getvalue(), mime
    except (ImportError, OSError, RuntimeError, TypeError):  # old libsndfile: plain WAV below
        pass
    return _wav_bytes(samples, sample_rate), "audio/wav"


def _wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def audio(tune_or_pm: Tune | pretty_midi.PrettyMIDI, bpm: float | None = None,
          sample_rate: int = 22050):
    """An inline audio player (IPython ``Audio``) holding compressed audio (`encode_audio`).
    ``bpm``: see `tempo`. Explained in notebooks 01 and 04."""
    from IPython.display import Audio

    data, mime = encode_audio(waveform(tune_or_pm, bpm, sample_rate), sample_rate)
    player = Audio(data=data)
    player.mimetype = mime
    return player


def write_wav(tune: Tune, path: str | Path, bpm: float | None = None,
              sample_rate: int = 22050) -> Path:
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


# --- repeats: the written form of a tune -----------------------------------------------------
@dataclass(frozen=True)
class Part:
    """Bars ``start .. start+length`` (indexes into `Form.bars`), written once; if ``repeat``,
    played twice: the second time from bar ``start+length``, its last ``ending`` bars being
    the second ending (the first pass's last ``ending`` bars are the first ending)."""

    start: int
    length: int
    repeat: bool = False
    ending: int = 0

    def played(self) -> list[int]:
        """The bars in the order they are played (the second time through, the first time's
        bars stand for the equal ones that follow them in the tune)."""
        once = list(range(self.start, self.start + self.length))
        if not self.repeat:
            return once
        second = range(self.start + 2 * self.length - self.ending, self.start + 2 * self.length)
        return once + once[:self.length - self.ending] + list(second)


@dataclass(frozen=True)
class Form:
    """How a tune is written: ``bars`` as ``(start, end)`` steps (the first one starts after
    the ``pickup`` steps of leading silence it drops) and the ``parts`` covering them in order."""

    bars: list[tuple[int, int]]
    parts: list[Part]
    pickup: int = 0

    def written(self) -> list[tuple[int, str]]:
        """``(bar, role)`` in writing order; role ``body``, ``ending1`` or ``ending2``."""
        out = []
        for part in self.parts:
            body = part.length - part.ending
            out += [(part.start + i, "body") for i in range(body)]
            out += [(part.start + body + i, "ending1") for i in range(part.ending)]
            if part.ending:
                out += [(part.start + 2 * part.length - part.ending + i, "ending2")
                        for i in range(part.ending)]
        return out

    def played(self) -> list[int]:
        """The bars in playing order (a repeated part's bars twice: `Part.played`)."""
        return [bar for part in self.parts for bar in part.played()]


PART_LENGTHS = (16, 12, 8, 4)  # bars of a part, tried in this order


def _bars_equal(steps: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two bars hold the same events; ``steps``: one row per step (melody, chord,
    meter, position)."""
    return a[1] - a[0] == b[1] - b[0] and np.array_equal(steps[a[0]:a[1]], steps[b[0]:b[1]])


def _repeat_at(tune: Tune, steps: np.ndarray, bars: list[tuple[int, int]], i: int
               ) -> Part | None:
    """A part repeated from bar ``i``: the next ``L`` bars equal the ``L`` before, or all but
    the last ``k <= L/4`` of them (first and second endings). Where a note is held into the
    first differing bar, the endings start earlier (up to half the part). None if there is
    none."""
    for length in PART_LENGTHS:
        if i + 2 * length > len(bars):
            continue
        same = 0
        while same < length and _bars_equal(steps, bars[i + same], bars[i + length + same]):
            same += 1
        if length - same > max(1, length // 4):
            continue
        for ending in range(length - same, max(1, length // 2) + 1):
            body = length - ending
            # No note may be held into a bar the player jumps to, or out of one it jumps from.
            joints = [bars[j][0] if j < len(bars) else len(tune)
                      for j in (i, i + length, i + body, i + length + body)]
            if body > 0 and all(s >= len(tune) or tune.melody[s] != HOLD for s in joints):
                return Part(i, length, True, ending)
    return None


def find_repeats(tune: Tune) -> Form:
    """The tune's written form, found from its content: a pickup (the first bar starts with
    at least half a bar of silence) and parts played twice (`Part`), straight bars between.

    Works on real and generated tunes alike: a part is repeated when the next 16, 12, 8 or 4 bars
    equal it, or equal it except for their last bar(s) (first and second endings); no note may
    be held into a bar the player jumps to or from. A tune without repeats is written straight.
    Explained in notebook 04.
    """
    bars = tune.bars()
    pickup = 0
    if len(bars) >= 2:
        start, end = bars[0]
        sounding = np.nonzero((tune.melody[start:end] != music.REST)
                              | (tune.chords[start:end] != NO_CHORD))[0]
        silence = int(sounding[0]) if len(sounding) else end - start
        if 2 * silence >= end - start and silence < end - start:
            pickup = silence
            bars[0] = (start + silence, end)
    steps = np.stack([tune.melody, tune.chords, tune.meter_ids, tune.positions], axis=1)
    parts: list[Part] = []
    i = 1 if pickup else 0
    if pickup:
        parts.append(Part(0, 1))
    while i < len(bars):
        part = _repeat_at(tune, steps, bars, i)
        if part is None:
            if parts and not parts[-1].repeat:
                parts[-1] = Part(parts[-1].start, parts[-1].length + 1)
            else:
                parts.append(Part(i, 1))
            i += 1
        else:
            parts.append(part)
            i += 2 * part.length
    return Form(bars, parts, pickup)


# --- ABC notation ----------------------------------------------------------------------------
_LENGTHS = (24, 16, 12, 8, 6, 4, 3, 2, 1)  # note values written without tuplets (in 16ths)
GCHORD_OFF, GCHORD_ON = "[I:MIDI=gchordoff]", "[I:MIDI=gchordon]"  # abc2midi: stop/resume chords


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


def _abc_length(steps: int) -> str:
    """The ABC length of ``steps`` 16th notes with the unit ``L:1/8``: ``""`` for an eighth,
    ``/`` for a 16th, ``3/2`` for a dotted eighth, ``2`` for a quarter, …"""
    length = Fraction(steps, 2)
    if length.denominator == 1:
        return "" if length == 1 else str(length.numerator)
    return "/" if length == Fraction(1, 2) else f"{length.numerator}/{length.denominator}"


def _beat(meter: str) -> int:
    """Steps per beam group: a dotted quarter in 6/8-like meters, else the denominator."""
    num, den = music.meter_fraction(meter)
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


def _chord_change(tune: Tune, step: int, before: set[int], off: bool) -> tuple[str, bool]:
    """What to write at ``step`` when the chord in effect may be one of ``before`` (and
    abc2midi's accompaniment may be ``off``): nothing, a chord symbol (switching the
    accompaniment on again if needed), or "N.C." switching it off. Also the new ``off``."""
    chord = int(tune.chords[step])
    if before <= {chord}:
        return "", off
    if chord == NO_CHORD:
        return ('"^N.C."' + GCHORD_OFF, True) if before - {NO_CHORD} else ("", off)
    return (GCHORD_ON if off else "") + f'"{music.chord_name(chord)}"', False


def _ends_without_chords(tune: Tune, start: int, end: int, before: set[int], off: bool) -> bool:
    """Whether abc2midi's chords may be switched off at the end of the bar."""
    chords = tune.chords[start:end]
    if np.any(chords != NO_CHORD):
        return bool(chords[-1] == NO_CHORD)
    return off or bool(before - {NO_CHORD})


def _abc_bar(tune: Tune, positions: np.ndarray, start: int, end: int, chords_before: set[int],
             off: bool) -> str:
    """One bar's notes, cut at chord changes; notes held over the bar line end with a tie.
    ``chords_before``, ``off``: what may sound as the bar starts (see `_chord_change`)."""
    melody, key = tune.melody, tune.key
    beat = _beat(music.METERS[tune.meter_ids[start]])
    pitches: dict[int, int] = {}  # the pitch sounding at each step of the bar
    for note_start, note_end, pitch in music.melody_notes(melody[:end]):
        for s in range(max(note_start, start), min(note_end, end)):
            pitches[s] = pitch
    bar, text, step = _Bar(key), "", start
    while step < end:
        stop = step + 1
        while (stop < end and tune.chords[stop] == tune.chords[step]
               and pitches.get(stop) == pitches.get(step) and melody[stop] < music.ONSET):
            stop += 1
        pitch = pitches.get(step)
        tied = pitch is not None and stop < len(tune) and melody[stop] == HOLD
        parts = _lengths(stop - step)
        for i, length in enumerate(parts):
            if step > start and positions[step] % beat == 0:
                text += " "  # a space breaks the beam at each beat
            if i == 0:
                before = chords_before if step == start else {int(tune.chords[step - 1])}
                change, off = _chord_change(tune, step, before, off)
                text += change
            text += "z" if pitch is None else bar.note(pitch, key)
            text += _abc_length(length)
            if pitch is not None and (tied or i < len(parts) - 1):
                text += "-"
            step += length
    return text


def _bar_line(before: str, after: str) -> str:
    """The bar line between a bar ending as ``before`` and one starting as ``after``."""
    close = ":|" if before == "repeat" else "|"
    if after == "start":
        return ":|:" if close == ":|" else "|:"
    if after == "ending1":
        return "|[1"
    if after == "ending2":
        return ":|[2"
    return close


def _ways_in(tune: Tune, form: Form) -> tuple[dict[int, set[int]], dict[int, bool],
                                                dict[int, set[int]]]:
    """For every bar, over all the ways into it (a repeated part is entered from the bar
    before it and from its own end): the chords that may sound as it starts, whether
    abc2midi's chords may be switched off, and the meters that may be in effect."""
    played, meters = form.played(), tune.meter_ids
    before: dict[int, set[int]] = {bar: set() for bar in played}  # the bars played just before
    for previous, bar in zip(played, played[1:]):
        before[bar].add(previous)
    ends = {bar: form.bars[bar][1] - 1 for bar in played}
    chords = {bar: {int(tune.chords[ends[b]]) for b in before[bar]} for bar in played}
    if played:
        chords[played[0]].add(NO_CHORD)  # nothing sounds before the first bar
    off_after = dict.fromkeys(played, False)
    changed = True
    while changed:  # only ever turns False to True, so it ends
        changed = False
        for bar in played:
            off = any(off_after[b] for b in before[bar])
            if _ends_without_chords(tune, *form.bars[bar], chords[bar], off) > off_after[bar]:
                off_after[bar] = changed = True
    off_before = {bar: any(off_after[b] for b in before[bar]) for bar in played}
    meters_before = {bar: {int(meters[ends[b]]) for b in before[bar]} for bar in played}
    return chords, off_before, meters_before


def _lay_out(form: Form, texts: list[str]) -> str:
    """The bars' texts (in writing order) joined by bar lines and repeat signs, four bars (or
    64 steps) a line, a new line for each repeated part."""
    starts = {p.start for p in form.parts if p.repeat}
    ends = {p.start + p.length - 1 for p in form.parts if p.repeat}
    endings = {p.start + p.length - p.ending: "ending1" for p in form.parts if p.ending}
    endings.update({p.start + 2 * p.length - p.ending: "ending2" for p in form.parts if p.ending})
    lines, line, bars, steps, previous = [], "", 0, 0, -1
    for index, ((bar, _), text) in enumerate(zip(form.written(), texts)):
        opening = "start" if bar in starts else endings.get(bar, "")
        if index:
            closing = "repeat" if previous in ends else ""
            token = _bar_line(closing, opening)
            breaks = (bars > 0 and opening not in ("ending1", "ending2")
                      and (opening == "start" or closing or bars >= 4 or steps >= 64))
            if breaks and token in ("|:", ":|:"):  # a repeated part starts a line with |:
                lines.append(line + (" :|" if token == ":|:" else ""))
                line, bars, steps = "|: ", 0, 0
            elif breaks:
                lines.append(f"{line} {token}")
                line, bars, steps = "", 0, 0
            else:
                line += f" {token} "
        elif opening == "start":
            line = "|: "
        line += text
        bars += bar > 0 or not form.pickup  # the pickup does not count
        steps += form.bars[bar][1] - form.bars[bar][0]
        previous = bar
    if form.bars:
        line += " :|" if previous in ends else " |]"
    lines.append(line)
    return "\n".join(l.strip() for l in lines if l.strip())


def tune_to_abc(tune: Tune, title: str | None = None, bpm: float | None = None) -> str:
    """The tune in ABC notation as a folk musician writes it. Explained in notebook 04.

    Pickup bar, repeated parts as ``|: … :|`` with ``[1``/``[2`` endings (`find_repeats`),
    eighth-note unit (``L:1/8``: ``c2`` a quarter, ``c/`` a 16th), chord symbols, meter
    changes, ties, tempo ``Q:`` from `tempo`. Every
    accidental the key signature does not give is written out (with ``=`` naturals), and
    repeated on later notes of that letter in the bar. Notes held over a bar line or a chord
    change are split and tied (``-``). The last bar is completed with rests.
    """
    if tune.key not in KEY_FIFTHS:
        raise FolkRNNError(f"the key {tune.key!r} has no ABC key signature: use keys.key_name")
    form = find_repeats(tune)
    meters, positions = tune.meter_ids, tune.positions
    chords_in, off_in, meters_in = _ways_in(tune, form)
    texts = []
    for bar, _ in form.written():
        start, end = form.bars[bar]
        meter = f"[M:{music.METERS[meters[start]]}] " if meters_in[bar] - {meters[start]} else ""
        texts.append(meter + _abc_bar(tune, positions, start, end, chords_in[bar], off_in[bar]))
    if texts:  # complete the last bar with rests (as sheet music and abc2midi expect)
        start, end = form.bars[form.written()[-1][0]]
        missing = music.steps_per_bar(music.METERS[meters[start]]) - (end - start)
        texts[-1] += "".join(f" z{_abc_length(n)}" for n in _lengths(missing))
    header = ["X:1", f"T:{title or tune.name or 'folkrnn tune'}", f"M:{tune.meters[0][1]}",
              "L:1/8", f"Q:{tune_tempo(tune, bpm).abc}", f"K:{tune.key}"]
    return "\n".join(header) + "\n" + _lay_out(form, texts) + "\n"


# --- sheet music -----------------------------------------------------------------------------
def verovio_available() -> bool:
    """True when the ``verovio`` wheel (the default engraver) can be imported."""
    try:
        import verovio  # noqa: F401
    except ImportError:
        return False
    return True


def abcm2ps_available() -> bool:
    """True when the ``abcm2ps`` program is installed (and not hidden by
    ``FOLKRNN_NO_SYSTEM_TOOLS=1``)."""
    return not _system_tools_hidden() and shutil.which("abcm2ps") is not None


def engraver() -> str:
    """The engraver `sheet_music` uses by default: ``verovio``, else ``abcm2ps``, else ``abc``
    (the ABC text)."""
    if verovio_available():
        return "verovio"
    return "abcm2ps" if abcm2ps_available() else "abc"


def _mei_endings(mei: str, endings: list[tuple[int, int, str]]) -> str:
    """Wrap measures ``first..last`` (0-based) of verovio's MEI in ``<ending n=…>`` elements:
    verovio's ABC reader keeps ``|:`` and ``:|`` but drops ``[1``/``[2``."""
    namespace = "http://www.music-encoding.org/ns/mei"
    ET.register_namespace("", namespace)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.fromstring(mei)
    section = root.find(f".//{{{namespace}}}section")
    if section is None:
        return mei
    measures = [m for m in section if m.tag == f"{{{namespace}}}measure"]
    for first, last, number in sorted(endings, reverse=True):
        if last >= len(measures):
            continue
        wrapped = measures[first:last + 1]
        ending = ET.Element(f"{{{namespace}}}ending", {"n": number, "label": f"{number}."})
        index = list(section).index(wrapped[0])
        for measure in wrapped:
            section.remove(measure)
            ending.append(measure)
        section.insert(index, ending)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def abc_to_svg_verovio(abc: str, endings: list[tuple[int, int, str]] = (),
                       width: int = 2100) -> str:
    """Engrave ABC text with verovio: one SVG (chord symbols, repeats; ``endings`` as
    ``(first measure, last measure, "1")`` become volta brackets). Used by `sheet_music`."""
    import verovio

    verovio.enableLog(verovio.LOG_OFF)  # not its notes on ABC features it ignores (Q:)
    toolkit = verovio.toolkit()
    options = {"pageWidth": width, "pageHeight": 60000, "adjustPageHeight": True, "scale": 40,
               "footer": "none", "breaks": "auto", "pageMarginTop": 20, "pageMarginBottom": 20,
               "svgFormatRaw": True}  # no indentation: half the size
    toolkit.setOptions({**options, "inputFrom": "abc"})
    if not toolkit.loadData(abc):
        raise FolkRNNError(f"verovio could not read the ABC text: {toolkit.getLog()[-300:]}")
    if endings:
        toolkit.setOptions({**options, "inputFrom": "mei"})
        toolkit.loadData(_mei_endings(toolkit.getMEI(), list(endings)))
    return toolkit.renderToSVG(1)


def abc_to_svg(abc: str) -> list[str]:
    """Engrave ABC text with ``abcm2ps``; the SVG text of each image (FolkRNNError if it fails).

    One tight image (``-g``) for most tunes; very long tunes overflow abcm2ps's buffer there, so
    they are laid out as pages (``-v``) instead. Used by `sheet_music` with
    ``engraver="abcm2ps"``.
    """
    if not abcm2ps_available():
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


def _measure_endings(form: Form) -> list[tuple[int, int, str]]:
    """``(first, last, "1"/"2")`` measure numbers (in writing order) of every ending."""
    out, written = [], form.written()
    for role, number in (("ending1", "1"), ("ending2", "2")):
        run: list[int] = []
        for index, (_, r) in enumerate(written + [(-1, "")]):
            if r == role and (not run or run[-1] == index - 1):
                run.append(index)
            elif run:
                out.append((run[0], run[-1], number))
                run = [index] if r == role else []
    return out


@dataclass(frozen=True, repr=False)
class SheetMusic:
    """Engraved sheet music. Jupyter shows it as inline SVG, and an HTML export keeps it inline
    (as ``text/html``: nbconvert would turn an ``image/svg+xml`` output into an ``<img>``);
    its plain-text form is the ABC."""

    svg: str  # the SVG text (several images one after another for abcm2ps pages)
    abc: str  # the ABC text it was engraved from
    title: str

    @property
    def data(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"SheetMusic({self.title!r}, {len(self.svg):,} characters of SVG)"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(self.abc)

    def _repr_html_(self) -> str:
        label = html.escape(f"Sheet music of {self.title}", quote=True)
        return f'<div class="folkrnn-sheet-music" role="img" aria-label="{label}">{self.svg}</div>'


def sheet_music(tune: Tune, title: str | None = None, bpm: float | None = None, *,
                engraver_name: str | None = None):
    """Sheet music to show inline (`SheetMusic`), engraved by verovio (or ``engraver_name=
    "abcm2ps"``); the ABC text if neither is available. Explained in notebooks 01 and 04."""
    from IPython.display import Pretty

    abc = tune_to_abc(tune, title=title, bpm=bpm)
    heading = title or tune.name or "a folkrnn tune"
    name = engraver_name or engraver()
    if name == "verovio":
        svg = abc_to_svg_verovio(abc, _measure_endings(find_repeats(tune)))
        return SheetMusic(svg, abc, heading)
    if name == "abcm2ps" and abcm2ps_available():
        return SheetMusic("".join(abc_to_svg(abc)), abc, heading)
    print("no engraver, so here is the ABC text: pip install verovio to see sheet music")
    return Pretty(abc)


# --- saving ----------------------------------------------------------------------------------
def save_tune(tune: Tune, midi: str | Path | None = None, abc: str | Path | None = None,
              wav: str | Path | None = None, bpm: float | None = None,
              title: str | None = None) -> list[Path]:
    """Write the tune as MIDI, ABC and/or WAV (each file atomically, folders created), at the
    tempo of `tempo` (``bpm`` beats a minute, by default from the meter).

    Returns the paths written. Used by ``folkrnn generate``; explained in notebook 04.
    """
    pace = tune_tempo(tune, bpm)
    written = []
    if midi is not None:
        data = music.midi_bytes(music.tune_to_midi(tune, bpm=pace.quarter_bpm))
        written.append(write_atomic(Path(midi), lambda tmp: Path(tmp).write_bytes(data)))
    if abc is not None:
        text = tune_to_abc(tune, title=title, bpm=pace.bpm)
        written.append(write_atomic(Path(abc), lambda tmp: Path(tmp).write_text(text)))
    if wav is not None:
        written.append(write_wav(tune, wav, pace.bpm))
    return written


# --- what is in use --------------------------------------------------------------------------
def backends_report() -> str:
    """Which synthesizer and engraver are in use, why, and how to get better ones (the text
    of ``folkrnn doctor``)."""
    hidden = _system_tools_hidden()

    def system(present: bool) -> str:
        return ("hidden by FOLKRNN_NO_SYSTEM_TOOLS=1" if hidden
                else "installed" if present else "not installed")

    lines = []
    synth = synthesizer()
    if synth == "midirenderer":
        lines.append(f"audio: midirenderer with {SOUNDFONT.name} (pip wheel): fiddle and guitar")
        lines.append(f"  FluidSynth: {system(fluidsynth_available())}; not needed: it plays the "
                     "same SoundFont and measures alike (BENCHMARKS.md)")
    elif synth == "fluidsynth":
        lines.append(f"audio: FluidSynth (system library) with {SOUNDFONT.name}: midirenderer "
                     "is not installed")
        lines.append("  pip install midirenderer  for the same sound without a system library")
    else:
        lines.append("audio: sine waves: no SoundFont synthesizer found "
                     f"(midirenderer not installed, FluidSynth {system(False)})")
        lines.append("  better: pip install midirenderer  (or pip install pyfluidsynth and "
                     "apt-get install libfluidsynth3)")
    name = engraver()
    if name == "verovio":
        lines.append("sheet music: verovio (pip wheel): SVG with chord symbols and repeats")
        lines.append(f"  abcm2ps: {system(abcm2ps_available())}; optional: "
                     "sheet_music(tune, engraver_name='abcm2ps')")
    elif name == "abcm2ps":
        lines.append("sheet music: abcm2ps (system program): verovio is not installed")
        lines.append("  pip install verovio  for the default engraver (volta brackets)")
    else:
        lines.append("sheet music: none, the ABC text is shown (verovio not installed, "
                     f"abcm2ps {system(False)})")
        lines.append("  better: pip install verovio")
    try:
        import soundfile

        codecs = [f for f in ("MP3", "OGG") if f in soundfile.available_formats()]
        lines.append(f"notebook audio: {codecs[0] if codecs else 'WAV'} (soundfile "
                     f"{soundfile.__version__}, libsndfile {soundfile.__libsndfile_version__})")
    except (ImportError, OSError):
        lines.append("notebook audio: WAV, 10x larger: pip install soundfile for MP3")
    abc2midi = shutil.which("abc2midi") is not None
    lines.append(f"abc2midi (the tests use it): {'installed' if abc2midi else 'not installed'}")
    return "\n".join(lines)
