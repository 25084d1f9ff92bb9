"""ABC notation: a tune written as a folk musician writes it, in the text format of folk music.

Explained in notebook 04_test_model. `tune_to_abc` writes a pickup bar, the repeated parts as
``|: … :|`` with ``[1``/``[2`` endings (found by `folkrnn.repeats`), eighth-note lengths, ties,
chord symbols, meter changes and the tempo; notes are spelled in the key (`folkrnn.keys`).
``abc2midi`` plays it back note for note (the tests check that); `folkrnn.engrave` engraves it.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from folkrnn import music
from folkrnn.errors import FolkRNNError
from folkrnn.form import beat_steps
from folkrnn.keys import KEY_FIFTHS, key_signature, spell
from folkrnn.music import HOLD, NO_CHORD, Tune
from folkrnn.repeats import Form, find_repeats
from folkrnn.sound import tune_tempo

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


def _sounding(melody: np.ndarray, start: int, end: int) -> dict[int, int]:
    """The pitch sounding at each step of ``start..end`` that is not silent."""
    pitches = {}
    for note_start, note_end, pitch in music.melody_notes(melody[:end]):
        for step in range(max(note_start, start), min(note_end, end)):
            pitches[step] = pitch
    return pitches


def _next_change(tune: Tune, pitches: dict[int, int], step: int, end: int) -> int:
    """The first step after ``step`` (at most ``end``) where the chord or the sounding pitch
    changes, or a note starts."""
    stop = step + 1
    while (stop < end and tune.chords[stop] == tune.chords[step]
           and pitches.get(stop) == pitches.get(step) and tune.melody[stop] < music.ONSET):
        stop += 1
    return stop


def _abc_bar(tune: Tune, positions: np.ndarray, start: int, end: int, chords_before: set[int],
             off: bool) -> str:
    """One bar's notes, cut at chord changes; notes held over the bar line end with a tie.
    ``chords_before``, ``off``: what may sound as the bar starts (see `_chord_change`)."""
    melody, key = tune.melody, tune.key
    beat = beat_steps(music.METERS[tune.meter_ids[start]])
    pitches = _sounding(melody, start, end)
    bar, text, step = _Bar(key), "", start
    while step < end:
        stop = _next_change(tune, pitches, step, end)
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


def _bars_before(form: Form) -> dict[int, set[int]]:
    """For every bar, the bars played just before it (a repeated part is entered from the bar
    before it and from its own end)."""
    played = form.played()
    before: dict[int, set[int]] = {bar: set() for bar in played}
    for previous, bar in zip(played, played[1:]):
        before[bar].add(previous)
    return before


def _ways_in(tune: Tune, form: Form) -> tuple[dict[int, set[int]], dict[int, bool],
                                                dict[int, set[int]]]:
    """For every bar, over all the ways into it (`_bars_before`): the chords that may sound as
    it starts, whether abc2midi's chords may be switched off, and the meters that may be in
    effect."""
    played, before = form.played(), _bars_before(form)
    last_step = {bar: form.bars[bar][1] - 1 for bar in played}
    chords = {bar: {int(tune.chords[last_step[b]]) for b in before[bar]} for bar in played}
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
    meters = tune.meter_ids
    meters_before = {bar: {int(meters[last_step[b]]) for b in before[bar]} for bar in played}
    return chords, off_before, meters_before


def _openings(form: Form) -> dict[int, str]:
    """What the bars that open something open: ``start`` (a repeated part), ``ending1`` or
    ``ending2``."""
    openings = {}
    for part in form.parts:
        if part.ending:
            openings[part.start + part.length - part.ending] = "ending1"
            openings[part.start + 2 * part.length - part.ending] = "ending2"
    openings.update({part.start: "start" for part in form.parts if part.repeat})
    return openings


class _Lines:
    """ABC text being laid out: four bars (or 64 steps) a line, and a new line for each
    repeated part, which starts its line with ``|:``."""

    def __init__(self, first_opening: str):
        self.lines: list[str] = []
        self.line = "|: " if first_opening == "start" else ""
        self.bars = self.steps = 0

    def add(self, text: str, counts: bool, steps: int) -> None:
        """A bar's text (``counts``: whether it counts towards the four bars a line)."""
        self.line += text
        self.bars += counts
        self.steps += steps

    def bar_line(self, closing: str, opening: str) -> None:
        """The bar line after the last bar added, on this line or ending it."""
        token = _bar_line(closing, opening)
        if not self._breaks(closing, opening):
            self.line += f" {token} "
        elif token in ("|:", ":|:"):
            self._next_line(self.line + (" :|" if token == ":|:" else ""), "|: ")
        else:
            self._next_line(f"{self.line} {token}", "")

    def _breaks(self, closing: str, opening: str) -> bool:
        if self.bars == 0 or opening in ("ending1", "ending2"):
            return False
        return opening == "start" or closing == "repeat" or self.bars >= 4 or self.steps >= 64

    def _next_line(self, finished: str, start: str) -> None:
        self.lines.append(finished)
        self.line, self.bars, self.steps = start, 0, 0

    def text(self, final_bar_line: str) -> str:
        """All the lines, the last one closed by ``final_bar_line``."""
        lines = self.lines + [self.line + final_bar_line]
        return "\n".join(line.strip() for line in lines if line.strip())


def _lay_out(form: Form, texts: list[str]) -> str:
    """The bars' texts (in writing order) joined by bar lines and repeat signs, four bars (or
    64 steps) a line, a new line for each repeated part."""
    written = [bar for bar, _ in form.written()]
    openings = [_openings(form).get(bar, "") for bar in written]
    repeat_ends = {part.start + part.length - 1 for part in form.parts if part.repeat}
    closings = ["repeat" if bar in repeat_ends else "" for bar in written]
    lines = _Lines(openings[0] if written else "")
    for index, (bar, text) in enumerate(zip(written, texts)):
        if index:
            lines.bar_line(closings[index - 1], openings[index])
        start, end = form.bars[bar]
        lines.add(text, counts=bar > 0 or not form.pickup, steps=end - start)  # not the pickup
    if not written:
        return lines.text("")
    return lines.text(" :|" if closings[-1] else " |]")


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
