"""Form: what a folk tune is made of, as inputs the model can see at every step.

Explained in notebook 02_build_model (the inputs) and 04_test_model (generating with form).
A folk tune is built from 8-bar parts, each usually played twice (AABB); about half its bars
equal the bar 8 bars earlier. An LSTM is told none of this and forgets what it played 8 bars
ago, so we hand it two kinds of extra input for the step it is about to predict:

* **lookback** (as in Magenta's lookback_rnn, which uses 1 and 2 bars): the melody event and
  chord at the same position 1, 2, 4 and 8 bars back, and whether the last beat (`REPEAT_WINDOW`
  steps) of the tune repeated the music that many bars before (one bit per lag, packed into one
  id). Copying a bar is then as easy as copying an input.
* **structure**: the bar within its 8-bar part (0..7), which part (0, 1, 2, …) and how many bars
  remain until the end. All three are known in advance when generating: we choose the length.

Bars are counted from the first full bar. A **pickup** (an opening bar that is silent on its
downbeat, as the Nottingham MIDI files pad an anacrusis with rests) gets its own
``bar_in_part`` value `PICKUP` and belongs to part 0, so that the first full bar is bar 0 of
part 0 both with and without a pickup. Tunes whose parts are not 8 bars long (e.g. 12-bar or
16-bar strains, odd lengths) still see an 8-bar grid counted from the first full bar; the
``bars_left`` input still marks the true end. The same layout (`Plan`) and the same function
(`lookback_at`) serve training (every step of a finished tune) and generation (one step at a
time); `folkrnn.inputs` names these inputs for the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from folkrnn import music
from folkrnn.errors import FolkRNNError
from folkrnn.music import NO_CHORD, REST, Tune

PART_BARS = 8  # bars in one part (phrase) of a folk tune
# A part's second phrase often starts like its first: bar 5 of a real part equals bar 1 in 57%
# of the parts, bar 6 bar 2 in 43% (BENCHMARKS.md). Bar within a part -> the bar it echoes.
PHRASE_ECHO = {4: 0, 5: 1}
# A new part often closes as the part before did: bar 7 of a real B part equals bar 7 of the A
# part in 30% of the tunes, bar 8 in 46% (1-3% for its first bars). Bar of a new part -> the
# bar of the part before it echoes.
CADENCE_ECHO = {6: 6}
LOOKBACK_BARS = (1, 2, 4, 8)  # lags (in bars) the lookback inputs may use
REPEAT_WINDOW = 4  # steps (a quarter note) that must match for "the tune is repeating lag L"
PICKUP = PART_BARS  # bar_in_part of a pickup bar (0..7 are the bars of a part)
MAX_PART = 7  # parts beyond the 8th share the last id
MAX_BARS_LEFT = 8  # bars_left is clipped here (8 = "8 or more")
NUM_IDS = {"bar_in_part": PART_BARS + 1, "part": MAX_PART + 1, "bars_left": MAX_BARS_LEFT + 1}
STRUCTURE_ABOUT = {"bar_in_part": "the bar within its 8-bar part (8: a pickup bar)",
                   "part": "which part of the tune (0, 1, 2, ...)",
                   "bars_left": "bars left until the end (8: eight or more)"}
STRUCTURE_KEYS = tuple(STRUCTURE_ABOUT)


def parse_lookback(text: str | tuple[int, ...]) -> tuple[int, ...]:
    """The lags of a ``lookback`` knob: ``"1,2,4,8"`` → ``(1, 2, 4, 8)``; ``""`` → ``()``."""
    if isinstance(text, (tuple, list)):
        lags = tuple(int(x) for x in text)
    else:
        try:
            lags = tuple(int(x) for x in str(text).replace(" ", "").split(",") if x)
        except ValueError:
            lags = (-1,)
    if any(lag not in LOOKBACK_BARS for lag in lags) or len(set(lags)) != len(lags):
        raise FolkRNNError(f"lookback={text!r}: give distinct bar lags from "
                           f"{','.join(map(str, LOOKBACK_BARS))} separated by commas "
                           "(e.g. 1,2,4,8), or an empty string for none")
    return tuple(sorted(lags))


def lags_in(keys) -> tuple[int, ...]:
    """The lookback lags whose inputs are among ``keys`` (e.g. a model's input names)."""
    prefix = "lookback_melody_"
    return tuple(sorted(int(k[len(prefix):]) for k in keys if k.startswith(prefix)))


def beat_steps(meter: str) -> int:
    """Steps in one beat (a count) of ``meter``: a dotted quarter in 6/8, 9/8 and 12/8, else
    one note of the meter's unit (a quarter in 4/4 and 3/4, a half in 2/2)."""
    count, unit = music.meter_fraction(meter)
    return 6 if unit == 8 and count % 3 == 0 and count > 3 else 16 // unit


def on_beats(positions: np.ndarray, meter_ids: np.ndarray) -> np.ndarray:
    """True at the steps that start a beat (`beat_steps`)."""
    beats = np.array([beat_steps(m) for m in music.METERS])
    return np.asarray(positions) % beats[np.asarray(meter_ids)] == 0


# --- the layout of a tune: where every step sits -------------------------------------------------
def has_pickup(tune: Tune) -> bool:
    """True if the tune opens with a pickup: a first bar that is silent on its downbeat."""
    bar = music.steps_per_bar(tune.meters[0][1])
    return len(tune) > bar and tune.melody[0] == REST and tune.chords[0] == NO_CHORD


@dataclass
class Plan:
    """The layout of a tune known before any note is written: meters, bars, parts.

    ``positions``/``meter_ids`` as in `Tune`; ``bar_length[t]``: steps per bar at step t;
    ``bar[t]``: the bar number counted from the first full bar (-1 for a pickup bar).
    """

    positions: np.ndarray
    meter_ids: np.ndarray
    bar_length: np.ndarray
    bar: np.ndarray
    total_bars: int  # full bars (the pickup not counted)
    _structure: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, layout: Tune, pickup: bool = False) -> "Plan":
        """The plan of ``layout`` (only its length and meters matter) with or without pickup."""
        positions = layout.positions.astype(np.int64)
        lengths = np.array([music.steps_per_bar(m) for m in music.METERS])
        bar = np.cumsum(positions == 0) - 1 - int(pickup)
        total = int(bar[-1]) + 1 if len(bar) else 0
        meter_ids = layout.meter_ids.astype(np.int64)
        return cls(positions, meter_ids, lengths[meter_ids], bar, max(total, 0))

    @classmethod
    def of_tune(cls, tune: Tune) -> "Plan":
        """The plan of a real tune (pickup detected with `has_pickup`)."""
        return cls.of(tune, has_pickup(tune))

    def length_in_words(self) -> str:
        """The length as a musician counts it: "a pickup and 32 bars", or "32 bars"."""
        pickup = "a pickup and " if len(self.bar) and self.bar[0] < 0 else ""
        return f"{pickup}{self.total_bars} bar{'' if self.total_bars == 1 else 's'}"

    def structure(self) -> dict[str, np.ndarray]:
        """``bar_in_part``, ``part`` and ``bars_left`` ids of every step (see the module doc);
        computed once per plan (the sampler asks at every step)."""
        if not self._structure:
            self._structure.update(self._compute_structure())
        return self._structure

    def _compute_structure(self) -> dict[str, np.ndarray]:
        bar = self.bar
        pickup = bar < 0
        bar_in_part = np.where(pickup, PICKUP, np.maximum(bar, 0) % PART_BARS)
        part = np.minimum(np.maximum(bar, 0) // PART_BARS, MAX_PART)
        bars_left = np.clip(self.total_bars - 1 - np.maximum(bar, 0), 0, MAX_BARS_LEFT)
        return {"bar_in_part": bar_in_part.astype(np.int32), "part": part.astype(np.int32),
                "bars_left": bars_left.astype(np.int32)}

    def bar_range(self, index: int) -> tuple[int, int]:
        """``(first step, end step)`` of full bar ``index`` (0 = the first full bar)."""
        steps = np.nonzero(self.bar == index)[0]
        if len(steps) == 0:
            raise IndexError(f"the plan has no bar {index}")
        return int(steps[0]), int(steps[-1]) + 1


# --- lookback: the music 1, 2, 4, 8 bars before ------------------------------------------------
def lookback_at(melody: np.ndarray, chords: np.ndarray, bar_length: np.ndarray,
                steps: np.ndarray, lags: tuple[int, ...] = LOOKBACK_BARS) -> dict[str, np.ndarray]:
    """The lookback inputs for predicting each of ``steps`` (all of a finished tune in training,
    one at a time while composing; only the melody and chords before each step are read).

    ``lookback_melody_L`` / ``lookback_chord_L``: the event and chord ``L`` bars before the step
    (rest / no chord before the tune starts); bit i of ``repeats``: whether each of the
    `REPEAT_WINDOW` steps before it equals the melody ``lags[i]`` bars before that step.
    """
    steps = np.asarray(steps, np.int64)
    lag = np.asarray(lags, np.int64)[:, None]
    back = steps - lag * bar_length[steps]  # (lags, steps)
    valid = back >= 0
    out: dict[str, np.ndarray] = {}
    melody_back = np.where(valid, melody[np.maximum(back, 0)], REST)
    chord_back = np.where(valid, chords[np.maximum(back, 0)], NO_CHORD)
    for i, l in enumerate(lags):
        out[f"lookback_melody_{l}"], out[f"lookback_chord_{l}"] = melody_back[i], chord_back[i]
    earlier = steps - np.arange(1, REPEAT_WINDOW + 1)[:, None]  # (window, steps)
    at = np.maximum(earlier, 0)
    their_back = earlier[None] - lag[:, :, None] * bar_length[at][None]  # (lags, window, steps)
    equal = (earlier >= 0) & (their_back >= 0) & (melody[at] == melody[np.maximum(their_back, 0)])
    repeating = equal.all(axis=1)  # (lags, steps)
    out["repeats"] = (repeating << np.arange(len(lags))[:, None]).sum(axis=0)
    return out


# --- forms for generation: which parts repeat ------------------------------------------------------
DEFAULT_FORM = "AABB"
FREE = "free"
FORMS = ("AABB", "AB", "AABA", "ABC", "AABBCC", FREE)  # examples offered by the composer


def parse_form(text: str) -> str:
    """The part letters of a form such as ``AABB``, ``AB``, ``AABA``, ``ABC``; ``""`` for
    ``free`` (no parts imposed: the model alone decides what repeats)."""
    letters = str(text).strip()
    if letters.lower() == FREE:
        return ""
    if not letters or not letters.isalpha() or not letters.isascii() or len(letters) > 16:
        raise FolkRNNError(f"form {text!r}: write the parts as letters, one per part, a letter "
                           "again for a repeated part (e.g. AABB, AB, AABA, ABC), or free")
    return letters.upper()


def part_sources(letters: str) -> list[int | None]:
    """For each part, the index of the earlier part it repeats (same letter), else None."""
    first: dict[str, int] = {}
    sources: list[int | None] = []
    for i, letter in enumerate(letters):
        sources.append(first.get(letter))
        first.setdefault(letter, i)
    return sources


def part_bounds(plan: Plan, parts: int) -> list[tuple[int, int]]:
    """``(first bar, end bar)`` of each of ``parts`` equal parts of the plan's full bars
    (the last part takes any bars left over)."""
    size = max(plan.total_bars // parts, 1)
    bounds = [(i * size, (i + 1) * size) for i in range(parts)]
    bounds[-1] = (bounds[-1][0], max(plan.total_bars, bounds[-1][0] + 1))
    return bounds


def echo_sources(first_bar: int, end_bar: int, before: int | None = None) -> dict[int, int]:
    """The bars of a new part (full bars ``first_bar`` to ``end_bar``) that the form offers to
    echo an earlier bar: of the same part (`PHRASE_ECHO`) and, if the part before it starts at
    bar ``before``, of that part (`CADENCE_ECHO`): ``{bar: the bar it echoes}``."""
    echoes = {first_bar + k: first_bar + source for k, source in PHRASE_ECHO.items()}
    if before is not None:
        echoes |= {first_bar + k: before + source for k, source in CADENCE_ECHO.items()}
    return {bar: source for bar, source in echoes.items()
            if bar < end_bar - 1}  # never the part's last bar (its cadence)


def repeated_bars_by_source(tune: Tune, form: str, ending_bars: int = 1,
                            phrase_echo: bool = True) -> dict[str, int]:
    """Of the full bars of a tune generated with ``form`` (after any pickup), how many repeat an
    earlier bar where the form offered it (the repeated parts, and with ``phrase_echo`` the
    echoed bars of `echo_sources`), and how many the model repeated by itself.

    Notebook 04 shows this beside the same count for ``form="free"``.
    """
    plan = Plan.of_tune(tune)
    bars = [tune.melody[slice(*plan.bar_range(i))].tobytes() for i in range(plan.total_bars)]
    letters = parse_form(form)
    copied: set[int] = set()
    if letters and plan.total_bars >= len(letters):
        bounds = part_bounds(plan, len(letters))
        for index, source in enumerate(part_sources(letters)):
            first, end = bounds[index]
            if source is not None and bars[first] == bars[bounds[source][0]]:  # played again
                copied.update(range(first, end - max(1, min(ending_bars, end - first))))
            elif phrase_echo:  # a new part, or a repeat the model began anew
                copied.update(echo_sources(first, end, bounds[index - 1][0] if index else None))
    repeats = [i for i, bar in enumerate(bars) if bar in bars[:i]]
    return {"bars": len(bars), "copied by the form": sum(i in copied for i in repeats),
            "repeated by the model": sum(i not in copied for i in repeats)}
