"""Repeats: how a tune is written down, its parts played twice written once between repeat
signs, with first and second endings.

`find_repeats` finds the written `Form` of a tune from its notes alone, real or generated; the
ABC notation (`folkrnn.abc_notation`) and the sheet music (`folkrnn.engrave`) are written from
it. Explained in notebook 04_test_model. (The form a tune is *composed* in, its parts and what
they copy, is `folkrnn.form`.)
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from folkrnn.music import HOLD, NO_CHORD, REST, Tune


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

    def endings(self) -> list[tuple[int, int, str]]:
        """``(first, last, "1"/"2")``: where each first and second ending starts and ends, as
        0-based positions in `written` order (the measures of the sheet music)."""
        runs = []
        roles = enumerate(role for _, role in self.written())
        for role, run in itertools.groupby(roles, key=lambda position: position[1]):
            if role in ("ending1", "ending2"):
                positions = [index for index, _ in run]
                runs.append((positions[0], positions[-1], role[-1]))
        return sorted(runs, key=lambda run: (run[2], run[0]))  # the first endings first


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
        ending = _ending_length(tune, bars, i, length, shortest=length - same)
        if ending is not None:
            return Part(i, length, True, ending)
    return None


def _ending_length(tune: Tune, bars: list[tuple[int, int]], i: int, length: int,
                   shortest: int) -> int | None:
    """The bars of the endings of a part of ``length`` bars from bar ``i`` played twice: the
    fewest, from ``shortest`` up to half the part, such that no note is held into a bar the
    player jumps to, or out of one it jumps from. None if every choice holds a note over."""
    for ending in range(shortest, max(1, length // 2) + 1):
        body = length - ending
        joints = [bars[j][0] if j < len(bars) else len(tune)
                  for j in (i, i + length, i + body, i + length + body)]
        if body > 0 and all(s >= len(tune) or tune.melody[s] != HOLD for s in joints):
            return ending
    return None


def _pickup(tune: Tune, bars: list[tuple[int, int]]) -> int:
    """The steps of silence the first bar starts with, if they are at least half of it (and
    the tune has more than one bar), else 0: a pickup bar."""
    if len(bars) < 2:
        return 0
    start, end = bars[0]
    sounding = np.nonzero((tune.melody[start:end] != REST)
                          | (tune.chords[start:end] != NO_CHORD))[0]
    silence = int(sounding[0]) if len(sounding) else end - start
    return silence if 2 * silence >= end - start and silence < end - start else 0


def find_repeats(tune: Tune) -> Form:
    """The tune's written form, found from its content: a pickup (the first bar starts with
    at least half a bar of silence) and parts played twice (`Part`), straight bars between.

    Works on real and generated tunes alike: a part is repeated when the next 16, 12, 8 or 4 bars
    equal it, or equal it except for their last bar(s) (first and second endings); no note may
    be held into a bar the player jumps to or from. A tune without repeats is written straight.
    Explained in notebook 04.
    """
    bars = tune.bars()
    pickup = _pickup(tune, bars)
    if pickup:
        bars[0] = (bars[0][0] + pickup, bars[0][1])
    steps = np.stack([tune.melody, tune.chords, tune.meter_ids, tune.positions], axis=1)
    parts = [Part(0, 1)] if pickup else []  # the pickup bar, written straight
    i = 1 if pickup else 0
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
