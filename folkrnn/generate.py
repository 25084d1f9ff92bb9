"""Compose a tune with a trained model, one 16th-note step at a time.

Explained in notebook 04_test_model. `sample_tune` is the sampler: at every step the model gives
a probability for each chord and each melody event of the next step; we draw one of each
(chord first, then the melody given that chord), feed them back in, and go on. The LSTM state is
carried from step to step, so each step costs one small numpy computation (`model.StepModel`).

`generate_tune` is what a learner and ``folkrnn generate`` call: it checks the user-facing
knobs once (length, meter, key, chords, prime, ``temperature``: below 1 safer and more
repetitive, above 1 wilder; ``top_k``: draw only among the k likeliest events), lays out the
tune and calls `sample_tune`, which trusts its arguments.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from folkrnn import music
from folkrnn.errors import FolkRNNError
from folkrnn.music import HOLD, NO_CHORD, REST, Tune

if TYPE_CHECKING:  # the sampler needs only numpy: importing it must not load TensorFlow
    from folkrnn.model import StepModel

DEFAULT_BARS = 16  # length of a generated tune
DEFAULT_PRIME_BARS = 4  # bars of a prime tune the model continues
MAX_BARS = 512  # longer requests are refused: they would take minutes and fill the screen
MAX_STEPS = MAX_BARS * music.MAX_BAR_STEPS


# --- sampling ----------------------------------------------------------------------------------
def sample_event(logits: np.ndarray, temperature: float, top_k: int,
                 rng: np.random.Generator) -> int:
    """Draw one index from ``softmax(logits / temperature)``, among the ``top_k`` likeliest
    (0 = all). Logits of ``-inf`` are never drawn."""
    scaled = np.asarray(logits, np.float64) / temperature
    if 0 < top_k < len(scaled):
        cutoff = np.partition(scaled, -top_k)[-top_k]
        scaled[scaled < cutoff] = -np.inf
    cumulative = np.exp(scaled - scaled.max()).cumsum()
    index = int(cumulative.searchsorted(rng.random() * cumulative[-1], side="right"))
    return min(index, len(scaled) - 1)


def blank_tune(steps: int, meters: str | Sequence[tuple[int, str]]) -> Tune:
    """A silent tune of ``steps`` steps in ``meters``: the layout a sampler fills in."""
    meters = [(0, meters)] if isinstance(meters, str) else [m for m in meters if m[0] < steps]
    return Tune(np.zeros(steps), np.zeros(steps), meters)


def sample_tune(step_model: "StepModel", layout: Tune, *, seed: int = 0,
                temperature: tuple[float, float] = (1.0, 1.0), top_k: int = 0,
                chords: np.ndarray | None = None, prime: Tune | None = None,
                name: str | None = None) -> Tune:
    """Sample a tune with the length and meters of ``layout`` (explained in notebook 04).

    * ``temperature``: ``(melody, chord)``; ``top_k``: 0 = all events.
    * ``chords``: a chord class for every step: the chords are not sampled but given (with the
      factorised model the melody head sees exactly these chords). Prime steps keep their own.
    * ``prime``: its steps are fed in first (teacher forcing) and kept; sampling continues
      after them.

    A hold right after a rest (or at the start) is impossible and never drawn. The same seed
    gives the same tune. The result goes through `music.normalise` (trailing silence dropped),
    and its ``key`` is the estimated one (`music.estimate_key`). Arguments are trusted: user
    input is checked by `generate_tune`.
    """
    melody_t, chord_t = temperature
    steps, primed = len(layout), 0 if prime is None else len(prime)
    positions, meter_ids = layout.positions, layout.meter_ids
    rng = np.random.default_rng(seed)
    melody = np.zeros(steps, np.int64)
    chord_out = np.zeros(steps, np.int64)
    previous_melody, previous_chord = REST, NO_CHORD
    states = step_model.initial_state(1)
    for t in range(steps):
        hidden, states = step_model.step(np.array([previous_melody]), np.array([previous_chord]),
                                         positions[t:t + 1], meter_ids[t:t + 1], states)
        if t < primed:
            chord, event = int(prime.chords[t]), int(prime.melody[t])
        else:
            chord = (int(chords[t]) if chords is not None else
                     sample_event(step_model.chord_logits(hidden)[0], chord_t, top_k, rng))
            logits = np.array(step_model.melody_logits(hidden, np.array([chord]))[0], np.float64)
            if previous_melody == REST:  # nothing to hold
                logits[HOLD] = -np.inf
            event = sample_event(logits, melody_t, top_k, rng)
        melody[t], chord_out[t] = event, chord
        previous_melody, previous_chord = event, chord
    tune = Tune(melody, chord_out, layout.meters, "C", name or f"generated-seed{seed}")
    tune = music.normalise(tune)
    tune.key = music.estimate_key(tune)
    return tune


# --- keys --------------------------------------------------------------------------------------
def to_key(tune: Tune, key: str) -> Tune:
    """Transpose a tune so that its estimated key becomes ``key`` (explained in notebook 04).

    Same mode (both major or both minor): the tonics are matched. The mode is the tune's own, so
    if the modes differ the tune moves to the relative key instead (the same key signature as
    ``key``: asking for Em turns a major tune into G major). Of the shifts up to an octave
    either way, the one leaving the fewest notes outside the melody range (then the smallest)
    is used; notes still outside are moved by an octave into the range.
    """
    key = music.key_name(key)
    (root, minor) = music.key_tonic(music.estimate_key(tune))
    target, want_minor = music.key_tonic(key)
    if minor != want_minor:
        target = (target + 3) % 12 if want_minor else (target - 3) % 12
    shift = (target - root + 6) % 12 - 6  # -6..5
    pitches = music.onset_pitches(tune.melody)

    def outside(s: int) -> int:
        return int(np.sum((pitches + s < music.MIN_PITCH) | (pitches + s > music.MAX_PITCH)))

    shift = min((shift, shift - 12, shift + 12), key=lambda s: (outside(s), abs(s)))
    melody = tune.melody.astype(int)
    notes = music.is_onset(melody)
    shifted = melody[notes] + shift
    low, top = music.ONSET, music.MELODY_SIZE - 1
    shifted[shifted < low] += 12 * ((low - shifted[shifted < low] + 11) // 12)
    shifted[shifted > top] -= 12 * ((shifted[shifted > top] - top + 11) // 12)
    melody[notes] = shifted
    moved = Tune(melody, music.transpose_chords(tune.chords, shift), tune.meters, tune.key,
                 tune.name)
    moved.key = music.estimate_key(moved)
    return moved


# --- chords ------------------------------------------------------------------------------------
def parse_progression(chords: str | Sequence[str]) -> list[list[int]]:
    """Chord classes per bar from ``"G D Em C"`` (one bar each, whitespace- or comma-separated)
    or a list of names. A bar may hold several chords joined by ``/``, sharing the bar
    equally: ``"G D/G Em C"``. Unknown names raise `FolkRNNError`."""
    bars = chords.replace(",", " ").split() if isinstance(chords, str) else list(chords)
    if not bars:
        raise FolkRNNError('no chords given: write one chord per bar, e.g. "G D Em C"')
    return [[music.parse_chord(name) for name in str(bar).split("/")] for bar in bars]


def progression_steps(progression: list[list[int]], layout: Tune) -> np.ndarray:
    """A chord class per step of ``layout``: the progression bar by bar, repeated to the end."""
    out = np.zeros(len(layout), np.int64)
    for bar, (start, end) in enumerate(layout.bars()):
        names = progression[bar % len(progression)]
        bounds = [start + (end - start) * i // len(names) for i in range(len(names) + 1)]
        for chord, a, b in zip(names, bounds[:-1], bounds[1:]):
            out[a:b] = chord
    return out


# --- primes ------------------------------------------------------------------------------------
def load_prime(prime: str | Path | Tune, bars: int = DEFAULT_PRIME_BARS) -> Tune:
    """The opening ``bars`` bars of a prime.

    ``prime`` is a `Tune`, a MIDI file (its chord track is optional: without one the prime
    has no chords and the model continues from "no chord"), or ``test:NAME`` / ``test:3`` for
    a held-out test tune by name or number.
    """
    if bars < 1:
        raise FolkRNNError(f"prime bars={bars} must be at least 1")
    if isinstance(prime, Tune):
        tune = prime
    elif str(prime).startswith("test:"):
        tune = _test_tune(str(prime)[5:])
    else:
        try:
            tune = music.read_tune(prime, require_chords=False)
        except music.TuneError as error:
            raise FolkRNNError(f"the prime {prime} can't be used: {error}") from None
    starts = tune.bar_starts
    end = starts[bars] if len(starts) > bars else len(tune)
    return tune.slice(0, end)


def _test_tune(key: str) -> Tune:
    from folkrnn.dataset import load_dataset

    tunes = load_dataset().test
    if key.isdigit():
        if int(key) >= len(tunes):
            raise FolkRNNError(f"--prime test:{key}: there are only {len(tunes)} test tunes "
                               f"(test:0 .. test:{len(tunes) - 1})")
        return tunes[int(key)]
    for tune in tunes:
        if tune.name == key:
            return tune
    examples = ", ".join(t.name for t in tunes[:5])
    raise FolkRNNError(f"--prime test:{key}: no test tune of that name; try a number "
                       f"(test:0) or a name such as {examples}")


# --- the user-facing call --------------------------------------------------------------------
def _temperatures(temperature: float | tuple[float, float]) -> tuple[float, float]:
    """``(melody, chord)`` temperatures from one number or a pair; each finite and > 0."""
    pair = (tuple(temperature) if isinstance(temperature, (tuple, list))
            else (temperature, temperature))
    if len(pair) != 2 or not all(math.isfinite(float(t)) and float(t) > 0 for t in pair):
        raise FolkRNNError(f"temperature {temperature!r} must be a number greater than 0 (e.g. "
                           "1.0; lower is safer, higher is wilder), or a pair (melody, chord)")
    return float(pair[0]), float(pair[1])


def _meters(meter: str, prime: Tune | None) -> list[tuple[int, str]]:
    """Time signatures of the whole tune: the prime's, then ``meter`` from the prime's end."""
    music.steps_per_bar(meter)  # FolkRNNError for an unsupported meter
    if prime is None or len(prime) == 0:
        return [(0, meter)]
    meters = list(prime.meters)
    return meters if meters[-1][1] == meter else meters + [(len(prime), meter)]


def _length(steps: int | None, bars: int | None, bar_steps: int) -> int:
    if steps is not None and bars is not None:
        raise FolkRNNError("give the length as steps or as bars, not both")
    if bars is not None and not 1 <= bars <= MAX_BARS:
        raise FolkRNNError(f"bars={bars}: ask for 1 to {MAX_BARS} bars")
    steps = steps if steps is not None else (bars or DEFAULT_BARS) * bar_steps
    if not 1 <= steps <= MAX_STEPS:
        raise FolkRNNError(f"steps={steps}: ask for 1 to {MAX_STEPS} steps ({MAX_BARS} long bars)")
    return steps


def generate_tune(step_model: "StepModel", *, bars: int | None = None, steps: int | None = None,
                  meter: str | None = None, key: str | None = None,
                  chords: str | Sequence[str] | None = None,
                  prime: str | Path | Tune | None = None,
                  temperature: float | tuple[float, float] = 1.0, top_k: int = 0,
                  seed: int = 0) -> Tune:
    """A new tune from a trained model (``folkrnn generate``; explained in notebook 04).

    ``step_model``: `model.load_step_model(run)`. Length: ``steps``, or ``bars`` of ``meter``
    (default 16 bars), prime included. ``meter`` defaults to the prime's, else 4/4.
    ``chords``: see `parse_progression` (one chord per bar, repeated). ``prime``: see
    `load_prime`. ``key``: the tune is transposed afterwards into that key (see `to_key`); as
    chords given with ``chords`` would move too, both together are refused. ``temperature``:
    one number, or ``(melody, chord)``.
    """
    pair = _temperatures(temperature)
    if top_k < 0:
        raise FolkRNNError(f"top_k={top_k} must be 0 (all events) or a positive number")
    if key is not None:
        key = music.key_name(key)
        if chords is not None:
            raise FolkRNNError("--key and --chords together: the chords already fix the key; "
                               "write the chords in the key you want and leave out --key")
    progression = parse_progression(chords) if chords is not None else None
    prime_tune = load_prime(prime) if prime is not None else None
    meter = meter or (prime_tune.meters[-1][1] if prime_tune is not None else "4/4")
    steps = _length(steps, bars, music.steps_per_bar(meter))
    if prime_tune is not None and len(prime_tune) >= steps:
        raise FolkRNNError(f"the prime has {len(prime_tune)} steps but the tune is to have only "
                           f"{steps}: ask for more --bars/--steps or use a shorter prime")
    layout = blank_tune(steps, _meters(meter, prime_tune))
    given = progression_steps(progression, layout) if progression is not None else None
    tune = sample_tune(step_model, layout, seed=seed, temperature=pair, top_k=top_k,
                       chords=given, prime=prime_tune)
    return to_key(tune, key) if key is not None else tune
