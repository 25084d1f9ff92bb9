"""Compose a tune with a trained model, one 16th-note step at a time.

Explained in notebook 04_test_model. `sample_tune` is the sampler: at every step the model gives
a probability for each chord and each melody event of the next step; we draw one of each
(chord first, then the melody given that chord), feed them back in, and go on. The LSTM state is
carried from step to step, so each step costs one small numpy computation (`model.StepModel`).

Knobs: ``temperature`` (below 1: safer, more repetitive; above 1: wilder), ``top_k`` (draw only
among the k likeliest events), a ``prime`` (a tune whose opening the model continues), given
``chords`` (the model writes a melody over your progression) and the ``meter``.
`generate_from_run` is the same with a trained run and user-facing arguments (``folkrnn
generate``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from folkrnn import music
from folkrnn.config import smoke
from folkrnn.errors import FolkRNNError
from folkrnn.music import HOLD, NO_CHORD, REST, Tune

DEFAULT_BARS = 16  # length of a generated tune (4 in smoke mode)
DEFAULT_PRIME_BARS = 4  # bars of a prime tune the model continues (2 in smoke mode)

# Krumhansl–Kessler key profiles: how well each pitch class (from the tonic) fits a key.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


# --- sampling ----------------------------------------------------------------------------------
def _temperatures(temperature: float | tuple[float, float]) -> tuple[float, float]:
    """``(melody, chord)`` temperatures from one number or a pair; each must be > 0."""
    pair = (tuple(temperature) if isinstance(temperature, (tuple, list))
            else (temperature, temperature))
    if len(pair) != 2 or not all(float(t) > 0 for t in pair):
        raise FolkRNNError(f"temperature {temperature!r} must be greater than 0 (e.g. 1.0; "
                           "lower is safer, higher is wilder), or a pair (melody, chord)")
    return float(pair[0]), float(pair[1])


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


def _meter_list(meter: str | Sequence[tuple[int, str]],
                prime: Tune | None) -> list[tuple[int, str]]:
    """Time signatures of the whole tune: the prime's, then ``meter`` from the prime's end."""
    if isinstance(meter, str):
        music.steps_per_bar(meter)  # FolkRNNError for an unsupported meter
        if prime is None or len(prime) == 0:
            return [(0, meter)]
        meters = list(prime.meters)
        return meters if meters[-1][1] == meter else meters + [(len(prime), meter)]
    meters = [(int(s), str(m)) for s, m in meter]
    for _, m in meters:
        music.steps_per_bar(m)
    return meters


def sample_tune(step_model, *, steps: int, meter: str | Sequence[tuple[int, str]] = "4/4",
                seed: int = 0, temperature: float | tuple[float, float] = 1.0, top_k: int = 0,
                chords: Sequence[int] | np.ndarray | None = None, prime: Tune | None = None,
                name: str | None = None) -> Tune:
    """Sample a tune of ``steps`` steps (explained in notebook 04).

    * ``step_model``: a `folkrnn.model.StepModel`; ONE ``step`` per time step, state carried.
    * ``meter``: a meter such as ``"6/8"``, or ``[(first step, meter), ...]``. With a prime,
      a single meter takes over where the prime ends (the prime keeps its own).
    * ``temperature``: one number, or ``(melody, chord)``; ``top_k``: 0 = all events.
    * ``chords``: a chord class for every step: the chords are not sampled but given (with the
      factorised model the melody head sees exactly these chords). Prime steps keep their own.
    * ``prime``: its steps are fed in first (teacher forcing) and kept; sampling continues
      after them. ``steps`` counts the prime too.

    A hold right after a rest (or at the start) is impossible and never drawn. The same seed
    gives the same tune. The result goes through `music.normalise` (trailing silence dropped),
    and its ``key`` is the estimated one (`estimate_key`).
    """
    melody_t, chord_t = _temperatures(temperature)
    if top_k < 0:
        raise FolkRNNError(f"top_k={top_k} must be 0 (all events) or a positive number")
    if steps < 1:
        raise FolkRNNError(f"steps={steps}: ask for at least one step")
    primed = 0 if prime is None else len(prime)
    if primed >= steps:
        raise FolkRNNError(f"the prime has {primed} steps, as many as the {steps} requested: "
                           "ask for a longer tune or use a shorter prime")
    meters = _meter_list(meter, prime)
    layout = Tune(np.zeros(steps), np.zeros(steps), [m for m in meters if m[0] < steps] or
                  [(0, meters[0][1])])
    positions, meter_ids = layout.positions, layout.meter_ids
    if chords is not None:
        chords = np.asarray(chords, dtype=np.int64)
        if len(chords) < steps or chords.min() < 0 or chords.max() >= music.CHORD_SIZE:
            raise FolkRNNError(f"chords must give a chord class (0..{music.CHORD_SIZE - 1}) for "
                               f"each of the {steps} steps")
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
    tune.key = estimate_key(tune)
    return tune


# --- keys --------------------------------------------------------------------------------------
def estimate_key(tune: Tune) -> str:
    """The key whose Krumhansl–Kessler profile best correlates with the melody's pitch classes
    (weighted by duration): the Krumhansl–Schmuckler algorithm. Explained in notebook 04."""
    histogram = np.zeros(12)
    for start, end, pitch in music.melody_notes(tune.melody):
        histogram[pitch % 12] += end - start
    if not histogram.any():
        return "C"
    scores = []
    for minor, profile in enumerate((MAJOR_PROFILE, MINOR_PROFILE)):
        for tonic in range(12):
            scores.append((np.corrcoef(histogram, np.roll(profile, tonic))[0, 1], minor, tonic))
    _, minor, tonic = max(scores, key=lambda s: (np.nan_to_num(s[0], nan=-2), -s[1], -s[2]))
    return music.KEY_NAMES[tonic + 12 * minor]


def _key_root(key: str) -> tuple[int, bool]:
    index = music.KEY_NAMES.index(key)
    return index % 12, index >= 12


def to_key(tune: Tune, key: str) -> Tune:
    """Transpose a tune so that its estimated key becomes ``key`` (explained in notebook 04).

    Same mode (both major or both minor): the tonics are matched. The mode is the tune's own, so
    if the modes differ the tune moves to the relative key instead (the same key signature as
    ``key``: asking for Em turns a major tune into G major). Of the shifts up to an octave
    either way, the one leaving the fewest notes outside the melody range (then the smallest)
    is used; notes still outside are moved by an octave into the range.
    """
    key = music.key_name(key)
    (root, minor), (target, want_minor) = _key_root(estimate_key(tune)), _key_root(key)
    if minor != want_minor:
        target = (target + 3) % 12 if want_minor else (target - 3) % 12
    shift = (target - root + 6) % 12 - 6  # -6..5
    pitches = tune.melody[tune.melody >= 2].astype(int) - 2 + music.MIN_PITCH

    def outside(s: int) -> int:
        return int(np.sum((pitches + s < music.MIN_PITCH) | (pitches + s > music.MAX_PITCH)))

    shift = min((shift, shift - 12, shift + 12), key=lambda s: (outside(s), abs(s)))
    melody = tune.melody.astype(int)
    notes = melody >= 2
    shifted = melody[notes] + shift
    shifted[shifted < 2] += 12 * ((2 - shifted[shifted < 2] + 11) // 12)
    top = music.MELODY_SIZE - 1
    shifted[shifted > top] -= 12 * ((shifted[shifted > top] - top + 11) // 12)
    melody[notes] = shifted
    moved = Tune(melody, music.transpose_chords(tune.chords, shift), tune.meters, tune.key,
                 tune.name)
    moved.key = estimate_key(moved)
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


def chord_steps(progression: list[list[int]], layout: Tune) -> np.ndarray:
    """A chord class per step of ``layout``: the progression bar by bar, repeated to the end."""
    out = np.zeros(len(layout), np.int64)
    starts = [int(s) for s in np.nonzero(layout.positions == 0)[0]] + [len(layout)]
    for bar, (start, end) in enumerate(zip(starts[:-1], starts[1:])):
        names = progression[bar % len(progression)]
        bounds = [start + (end - start) * i // len(names) for i in range(len(names) + 1)]
        for chord, a, b in zip(names, bounds[:-1], bounds[1:]):
            out[a:b] = chord
    return out


# --- primes ------------------------------------------------------------------------------------
def load_prime(prime: str | Path | Tune, bars: int | None = None) -> Tune:
    """The opening ``bars`` bars of a prime (default 4; 2 in smoke mode).

    ``prime`` is a `Tune`, a MIDI file (its chord track is optional: without one the prime
    has no chords and the model continues from "no chord"), or ``test:NAME`` / ``test:3`` for
    a held-out test tune by name or number.
    """
    bars = smoke(DEFAULT_PRIME_BARS, 2) if bars is None else bars
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
    starts = np.nonzero(tune.positions == 0)[0]
    end = int(starts[bars]) if len(starts) > bars else len(tune)
    return tune.slice(0, end)


def _test_tune(key: str) -> Tune:
    from folkrnn.dataset import load_dataset

    tunes = load_dataset().tunes["test"]
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


# --- from a trained run ------------------------------------------------------------------------
def _step_model(run):
    """A StepModel from a run name, a (keras model, config) pair, or a StepModel."""
    from folkrnn.model import StepModel, load_run

    if hasattr(run, "step") and hasattr(run, "initial_state"):  # a StepModel (or look-alike)
        return run
    if isinstance(run, (tuple, list)):
        return StepModel(*run)
    return StepModel(*load_run(str(run)))


def generate_from_run(run, steps: int | None = None, bars: int | None = None, seed: int = 0,
                      temperature: float | tuple[float, float] = 1.0, top_k: int = 0,
                      meter: str | None = None, key: str | None = None,
                      chords: str | Sequence[str] | None = None,
                      prime: str | Path | Tune | None = None) -> Tune:
    """A new tune from a trained run (``folkrnn generate``; explained in notebook 04).

    ``run``: a run name, a ``(model, config)`` pair or a `StepModel`. Length: ``steps``, or
    ``bars`` of ``meter``, else 16 bars (4 in smoke mode), prime included. ``meter`` defaults
    to the prime's, else 4/4. ``chords``: see `parse_progression` (one chord per bar,
    repeated). ``prime``: see `load_prime`. ``key``: the tune is transposed afterwards into
    that key (see `to_key`); as chords given with ``chords`` would move too, both together are
    refused.
    """
    _temperatures(temperature)
    if top_k < 0:
        raise FolkRNNError(f"top_k={top_k} must be 0 (all events) or a positive number")
    if steps is not None and bars is not None:
        raise FolkRNNError("give the length as steps or as bars, not both")
    if key is not None:
        key = music.key_name(key)
        if chords is not None:
            raise FolkRNNError("--key and --chords together: the chords already fix the key; "
                               "write the chords in the key you want and leave out --key")
    progression = parse_progression(chords) if chords is not None else None
    prime_tune = load_prime(prime) if prime is not None else None
    if meter is None:
        meter = prime_tune.meters[-1][1] if prime_tune is not None else "4/4"
    bar_steps = music.steps_per_bar(meter)
    if steps is None:
        steps = (bars if bars is not None else smoke(DEFAULT_BARS, 4)) * bar_steps
    if steps < 1:
        raise FolkRNNError(f"length {steps} steps: ask for at least one step (or bar)")
    if prime_tune is not None and len(prime_tune) >= steps:
        raise FolkRNNError(f"the prime has {len(prime_tune)} steps but the tune is to have only "
                           f"{steps}: ask for more --bars/--steps or use a shorter prime")
    meters = _meter_list(meter, prime_tune)
    given = None
    if progression is not None:
        layout = Tune(np.zeros(steps), np.zeros(steps), [m for m in meters if m[0] < steps])
        given = chord_steps(progression, layout)
    tune = sample_tune(_step_model(run), steps=steps, meter=meters, seed=seed,
                       temperature=temperature, top_k=top_k, chords=given, prime=prime_tune)
    return to_key(tune, key) if key is not None else tune
