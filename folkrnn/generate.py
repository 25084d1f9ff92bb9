"""Compose a tune with a trained model, one 16th-note step at a time.

Explained in notebook 04_test_model. `sample_tune` is the sampler: at every step the model gives
a probability for each chord and each melody event of the next step; we draw one of each
(chord first, then the melody given that chord), feed them back in, and go on. The LSTM state is
carried from step to step, so each step costs one small numpy computation (`model.StepModel`).

`generate_tune` is what a learner and ``folkrnn generate`` call: it checks the user-facing
knobs once (length, meter, key, chords, prime, ``temperature``: below 1 safer and more
repetitive, above 1 wilder; ``top_k``: draw only among the k likeliest events), lays out the
tune and calls `sample_tune`, which trusts its arguments.

With a ``form`` (default ``AABB``) the tune is written part by part: the form decides which
8-bar parts repeat and that every part ends on a cadence; the model writes the notes, knowing
through its form inputs (`folkrnn.form`) where it is in the tune and what it played 1, 2, 4 and
8 bars before.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from folkrnn import form as form_lib
from folkrnn import keys, music
from folkrnn.dataset import load_dataset
from folkrnn.errors import FolkRNNError
from folkrnn.inputs import inputs_at
from folkrnn.music import HOLD, NO_CHORD, REST, Tune

if TYPE_CHECKING:  # the sampler needs only numpy: importing it must not load TensorFlow
    from folkrnn.model import StepModel

DEFAULT_BARS = 32  # length of a generated tune (four 8-bar parts)
# The sampling defaults, chosen with the judge (bench/bench_sampling.py; BENCHMARKS.md,
# "Round 3, session 4"): the melody at temperature 1 (the model's own
# probabilities) from the nucleus of 99% (the implausible tail cut off), no top-k; a repeated
# part offered with a bias of 2.5 nats on its first bar (the model decides whether to play it
# again; the collection's tunes begin their second and fourth parts as the first and third in
# 92% and 83% of them); chords change only on beats (a rule).
DEFAULT_TEMPERATURE = 1.0  # of the melody
DEFAULT_CHORD_TEMPERATURE = 1.0
DEFAULT_TOP_K = 0
DEFAULT_TOP_P = 0.99
DEFAULT_COPY_BIAS = 2.5  # nats added to the first bar of a repeated part (math.inf: note for note)
DEFAULT_PART_CADENCES = False  # True: every part's last bar redrawn for a cadence, not only the last
DEFAULT_CONTRAST_BIAS = 2.0  # nats taken, in a new part, from the part before's note onsets
DEFAULT_ECHO_BIAS = 2.0  # nats added, in a part's bars 5-6, to the notes of its bars 1-2
DEFAULT_CHORDS_ON_BEATS = True
DEFAULT_PICKUP = True  # a pickup bar first, the model's notes in it (83% of real tunes have one)
DEFAULT_PRIME_BARS = 4  # bars of a prime tune the model continues
MAX_BARS = 512  # longer requests are refused: they would take minutes and fill the screen
MAX_STEPS = MAX_BARS * music.MAX_BAR_STEPS


# --- sampling ----------------------------------------------------------------------------------
def sample_event(logits: np.ndarray, temperature: float, top_k: int,
                 rng: np.random.Generator, top_p: float = 1.0) -> int:
    """Draw one index from ``softmax(logits / temperature)``, among the ``top_k`` likeliest
    (0 = all) and the fewest likeliest whose probabilities add up to ``top_p`` (nucleus
    sampling; 1 = all). Logits of ``-inf`` are never drawn."""
    scaled = np.asarray(logits, np.float64) / temperature
    if 0 < top_k < len(scaled):
        cutoff = np.partition(scaled, -top_k)[-top_k]
        scaled[scaled < cutoff] = -np.inf
    probs = np.exp(scaled - scaled.max())
    if top_p < 1.0:  # keep the likeliest events until they make up top_p
        order = np.argsort(-probs)
        before = np.cumsum(probs[order]) - probs[order]  # probability of the likelier ones
        probs[order[before >= top_p * probs.sum()]] = 0.0
    cumulative = probs.cumsum()
    index = int(cumulative.searchsorted(rng.random() * cumulative[-1], side="right"))
    return min(index, len(scaled) - 1)


def blank_tune(steps: int, meters: str | Sequence[tuple[int, str]]) -> Tune:
    """A silent tune of ``steps`` steps in ``meters``: the layout a sampler fills in."""
    meters = [(0, meters)] if isinstance(meters, str) else [m for m in meters if m[0] < steps]
    return Tune(np.zeros(steps), np.zeros(steps), meters)


def one_blas_thread():
    """Run numpy's matrix products on one thread while sampling (`threadpoolctl`).

    Sampling multiplies one small vector by a matrix per step; BLAS threads cost more than
    they save there, and on a busy machine they made each product 20x slower (measured,
    BENCHMARKS.md).
    """
    return threadpool_limits(limits=1, user_api="blas")


class _Writer:
    """One tune being written step by step: the events so far, the LSTM state, the inputs."""

    def __init__(self, step_model: "StepModel", plan: form_lib.Plan, rng: np.random.Generator,
                 temperature: tuple[float, float], top_k: int, top_p: float, copy_bias: float,
                 chords_on_beats: bool, contrast_bias: float = 0.0):
        self.model, self.plan, self.rng = step_model, plan, rng
        self.melody_t, self.chord_t = temperature
        self.top_k, self.top_p, self.copy_bias = top_k, top_p, copy_bias
        self.contrast_bias = contrast_bias
        # the chord rule: between beats the chord goes on (real tunes change chord off the
        # beat at 0.2% of their changes; the model, composing freely, at 12%: BENCHMARKS.md)
        self.may_change = (form_lib.on_beats(plan.positions, plan.meter_ids) if chords_on_beats
                           else np.ones(len(plan.positions), bool))
        self.melody = np.zeros(len(plan.positions), np.int64)
        self.chords = np.zeros(len(plan.positions), np.int64)
        self.states = step_model.initial_state(1)

    def write(self, t: int, chord: int | None = None, event: int | None = None,
              prefer: tuple[int, int] | None = None, bias: float | None = None,
              avoid: int | None = None) -> None:
        """Write step t: the given chord and event, or ones drawn from the model; ``prefer``:
        the (event, chord) of the music being repeated, whose logits get ``bias`` more
        (default ``copy_bias``; an infinite bias copies them); ``avoid``: a note onset whose
        logit gets ``contrast_bias`` less (the earlier part's, in a new part)."""
        previous = (int(self.melody[t - 1]), int(self.chords[t - 1])) if t else (REST, NO_CHORD)
        bias = self.copy_bias if bias is None else bias
        if prefer is not None and math.isinf(bias):
            chord = prefer[1] if chord is None else chord
            event, prefer = prefer[0], None
        ids = inputs_at(self.melody, self.chords, self.plan, np.array([t]), self.model.inputs)
        hidden, self.states = self.model.step_ids(ids, self.states)
        if chord is None and t and not self.may_change[t]:
            chord = previous[1]
        if chord is None:
            logits = np.array(self.model.chord_logits(hidden)[0], np.float64)
            if prefer is not None:
                logits[prefer[1]] += bias
            chord = sample_event(logits, self.chord_t, self.top_k, self.rng, self.top_p)
        if event is None:
            logits = np.array(self.model.melody_logits(hidden, np.array([chord]))[0], np.float64)
            if prefer is not None:
                logits[prefer[0]] += bias
            if avoid is not None and music.is_onset(avoid):
                logits[avoid] -= self.contrast_bias
            if previous[0] == REST:  # nothing to hold
                logits[HOLD] = -np.inf
            event = sample_event(logits, self.melody_t, self.top_k, self.rng, self.top_p)
        elif event == HOLD and previous[0] == REST:
            event = REST  # a copied part that starts with a tie: nothing to hold here
        self.melody[t], self.chords[t] = event, chord

    def tonic(self, end: int) -> int | None:
        """The tonic pitch class of the melody before step ``end`` (None before any note)."""
        durations = keys.pitch_class_durations(music.melody_notes(self.melody[:end]))
        return keys.key_tonic(keys.key_of(durations))[0] if durations.any() else None


def sample_tune(step_model: "StepModel", layout: Tune, *, seed: int = 0,
                temperature: tuple[float, float] = (1.0, 1.0), top_k: int = 0,
                top_p: float = 1.0, chords: np.ndarray | None = None,
                prime: Tune | None = None, name: str | None = None, form: str = form_lib.FREE,
                copy_bias: float = math.inf, echo_bias: float = 0.0, contrast_bias: float = 0.0,
                chords_on_beats: bool = False, ending_bars: int = 1, candidates: int = 8,
                part_cadences: bool = True, pickup: bool = False) -> Tune:
    """Sample a tune with the length and meters of ``layout`` (explained in notebook 04).

    * ``temperature``: ``(melody, chord)``; ``top_k``: 0 = all events; ``top_p``: nucleus
      sampling (1 = all events).
    * ``chords_on_beats``: a rule: the chord may change only where a beat starts
      (`form.beat_steps`); between beats the chord of the step before goes on.
    * ``chords``: a chord class for every step: the chords are not sampled but given (with the
      factorised model the melody head sees exactly these chords). Prime steps keep their own.
    * ``prime``: its steps are fed in first (teacher forcing) and kept; sampling continues
      after them.
    * ``pickup``: the layout's first bar is a pickup bar (without a prime; a prime brings its
      own): its downbeat is silent, as every pickup bar of the collection is, and the model
      writes the notes leading into the first full bar (usually one or two). A pickup the
      model leaves silent is dropped.
    * ``form``: ``free`` (the model writes every step) or part letters such as ``AABB``: the
      full bars are cut into that many equal parts. What the FORM imposes: (1) a part whose
      letter came before is offered again: in its first bar the event and chord of the earlier
      part get ``copy_bias`` more log-probability (``inf``: copied); if the model plays that
      bar as before, the part goes on note for note (the collection's repeats are written out
      so: bars 1-7 equal in 97-100% of its AABB tunes), else the model writes it as a new part;
      its last ``ending_bars`` bar(s) the model writes anew, a note onset of the earlier
      ending at the same place getting ``contrast_bias`` less (a second ending differs from
      the first in about 80% of real repeats); (2) in a new part, bars 5 and 6 are offered
      bars 1 and 2 the same way, with ``echo_bias`` (0: not offered; `form.PHRASE_ECHO`: the
      second phrase starting like the first), and bar 7 the part before's bar 7
      (`form.CADENCE_ECHO`: a B part closing as A did); at its other steps a note onset equal
      to the one at the same place in the part before gets ``contrast_bias`` less (a B part
      that is not the A part again); (3) the last bar of every part (with
      ``part_cadences=False``, of the last part only) is drawn up to ``candidates`` times
      until its last note is the tonic or the dominant (for the tune's last bar, the tonic of
      the key heard in the whole tune); if no draw does, the last one stays (no note is moved:
      where the model ends every draw elsewhere, the key estimate is usually what is wrong).
      Everything else, repetition inside a part included, the model chose.

    A hold right after a rest (or at the start) is impossible and never drawn. The same seed
    gives the same tune. The result goes through `music.normalise` (trailing silence dropped),
    and its ``key`` is the estimated one (`keys.estimate_key`). Arguments are trusted: user
    input is checked by `generate_tune`.
    """
    letters = form_lib.parse_form(form)
    primed = 0 if prime is None else len(prime)
    pickup = form_lib.has_pickup(prime) if prime is not None else pickup
    plan = form_lib.Plan.of(layout, pickup=pickup)
    writer = _Writer(step_model, plan, np.random.default_rng(seed), temperature, top_k, top_p,
                     copy_bias, chords_on_beats, contrast_bias)

    def write_step(t: int, copy_from: int | None = None, bias: float | None = None,
                   avoid_from: int | None = None) -> None:
        if t < primed:
            writer.write(t, int(prime.chords[t]), int(prime.melody[t]))
            return
        if t == 0 and pickup:  # a pickup bar: silent on its downbeat, by definition
            writer.write(t, NO_CHORD, REST)
            return
        given = int(chords[t]) if chords is not None else None
        prefer = None if copy_from is None else (int(writer.melody[copy_from]),
                                                 int(writer.chords[copy_from]))
        avoid = None if avoid_from is None else int(writer.melody[avoid_from])
        writer.write(t, given, prefer=prefer, bias=bias, avoid=avoid)

    with one_blas_thread():
        if letters and plan.total_bars >= len(letters):
            _write_parts(writer, plan, letters, write_step, primed, ending_bars,
                         candidates, echo_bias, part_cadences)
        else:
            for t in range(len(layout)):
                write_step(t)
    tune = Tune(writer.melody, writer.chords, layout.meters, "C", name or f"generated-seed{seed}")
    first_bar = plan.bar_range(0)[0] if plan.total_bars else 0
    if pickup and not primed and not music.is_onset(tune.melody[:first_bar]).any():
        tune = tune.slice(first_bar, len(tune))  # a silent pickup: no pickup at all
    tune = music.normalise(tune)
    tune.key = keys.estimate_key(tune)
    return tune


def _write_parts(writer: _Writer, plan: form_lib.Plan, letters: str, write_step, primed: int,
                 ending_bars: int, candidates: int, echo_bias: float, part_cadences: bool
                 ) -> None:
    """Write the tune part by part, as `sample_tune` describes under ``form``."""
    bounds = form_lib.part_bounds(plan, len(letters))
    for t in range(plan.bar_range(0)[0]):  # a pickup bar
        write_step(t)
    for index, source in enumerate(form_lib.part_sources(letters)):
        first_bar, end_bar = bounds[index]
        a, b = plan.bar_range(first_bar)[0], plan.bar_range(end_bar - 1)[1]
        ending = plan.bar_range(end_bar - max(1, min(ending_bars, end_bar - first_bar)))[0]
        same_place = _same_place(plan, bounds, source, a)
        if source is None:
            _write_new_part(writer, plan, bounds, index, a, ending, write_step, echo_bias)
        else:  # rule 1: the earlier part offered again
            decided = min(plan.bar_range(first_bar)[1], ending)  # by the part's first bar
            for t in range(a, decided):
                write_step(t, same_place(t))
            begun = _start(plan, bounds, source)
            if np.array_equal(writer.melody[a:decided], writer.melody[begun:begun + decided - a]):
                for t in range(decided, ending):  # begun as before: played again, note for note
                    write_step(t, same_place(t), math.inf)
            else:  # begun anew: a new part
                _write_new_part(writer, plan, bounds, index, decided, ending, write_step,
                                echo_bias)
        final = index == len(letters) - 1

        def write_ending(t: int) -> None:  # a second ending avoids the first ending's notes
            write_step(t, avoid_from=same_place(t))
        if ending < primed or not (final or part_cadences):
            for t in range(ending, b):
                write_ending(t)
        else:
            _write_cadence(writer, ending, b, write_ending, final, candidates)
    for t in range(plan.bar_range(plan.total_bars - 1)[1], len(writer.melody)):
        write_step(t)  # steps after the last full bar (a length that is not whole bars)


def _start(plan: form_lib.Plan, bounds: list[tuple[int, int]], part: int) -> int:
    """The first step of part ``part``."""
    return plan.bar_range(bounds[part][0])[0]


def _same_place(plan: form_lib.Plan, bounds: list[tuple[int, int]], source: int | None, a: int):
    """For a part starting at step ``a`` that plays part ``source`` again: step t -> the step
    at the same place in ``source`` (None beyond its end, or without a source)."""
    if source is None:
        return lambda t: None
    offset, end = _start(plan, bounds, source) - a, plan.bar_range(bounds[source][1] - 1)[1]
    return lambda t: t + offset if t + offset < end else None


def _write_new_part(writer: _Writer, plan: form_lib.Plan, bounds: list[tuple[int, int]],
                    index: int, a: int, ending: int, write_step, echo_bias: float) -> None:
    """Steps a..ending of part ``index`` written as a new part (`sample_tune`, rule 2)."""
    first_bar, end_bar = bounds[index]
    before = bounds[index - 1][0] if index else None  # the first bar of the part before
    echoes = form_lib.echo_sources(first_bar, end_bar, before) if echo_bias > 0 else {}
    for t in range(a, ending):
        bar = int(plan.bar[t])
        place = t - plan.bar_range(bar)[0]
        if bar in echoes:  # offered the bar it echoes
            write_step(t, plan.bar_range(echoes[bar])[0] + place, echo_bias)
        elif before is not None:  # avoiding the part before's note at the same place
            write_step(t, avoid_from=plan.bar_range(before + bar - first_bar)[0] + place)
        else:
            write_step(t)


def _write_cadence(writer: _Writer, a: int, b: int, write_step, final: bool,
                   candidates: int) -> None:
    """Write steps a..b (a part's last bar) up to ``candidates`` times, until the last note is
    the tonic or the dominant of the key heard before the bar or, for the tune's last bar
    (``final``), the tonic of the key heard in the whole tune, that bar included (the key a
    listener hears at the end). If none does, the last draw stays: the model's own ending."""
    tonic = writer.tonic(a)
    tonic_or_dominant = set() if tonic is None else {tonic, (tonic + 7) % 12}
    saved = writer.states
    for _ in range(max(candidates, 1)):
        writer.states = saved
        for t in range(a, b):
            write_step(t)
        pitches = music.onset_pitches(writer.melody[:b])
        wanted = {writer.tonic(b)} if final else tonic_or_dominant
        if len(pitches) and pitches[-1] % 12 in wanted:
            return


# --- keys --------------------------------------------------------------------------------------
def to_key(tune: Tune, key: str) -> Tune:
    """Transpose a tune so that its estimated key becomes ``key`` (explained in notebook 04).

    Same mode (both major or both minor): the tonics are matched. The mode is the tune's own, so
    if the modes differ the tune moves to the relative key instead (the same key signature as
    ``key``: asking for Em turns a major tune into G major). Of the shifts up to an octave
    either way, the one leaving the fewest notes outside the melody range (then the smallest)
    is used; notes still outside are moved by an octave into the range.
    """
    key = keys.key_name(key)
    (root, minor) = keys.key_tonic(keys.estimate_key(tune))
    target, want_minor = keys.key_tonic(key)
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
    moved.key = keys.estimate_key(moved)
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


def progression_steps(progression: list[list[int]], layout: Tune, pickup: bool = False
                      ) -> np.ndarray:
    """A chord class per step of ``layout``: the progression bar by bar, repeated to the end,
    from the first full bar (a ``pickup`` bar has no chord)."""
    out = np.zeros(len(layout), np.int64)
    for bar, (start, end) in enumerate(layout.bars()[int(pickup):]):
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
def _temperatures(temperature: float | tuple[float, float],
                  chord_temperature: float | None = None) -> tuple[float, float]:
    """``(melody, chord)`` temperatures from a pair, or from the melody's and the chord's
    (default `DEFAULT_CHORD_TEMPERATURE`); each finite and > 0."""
    if isinstance(temperature, (tuple, list)):
        if chord_temperature is not None:
            raise FolkRNNError("give the chord temperature once: as chord_temperature or as "
                               "the second of a (melody, chord) temperature pair")
        pair = tuple(temperature)
    else:
        chord = DEFAULT_CHORD_TEMPERATURE if chord_temperature is None else chord_temperature
        pair = (temperature, chord)
    if len(pair) != 2:
        raise FolkRNNError(f"temperature {temperature!r}: give one number, or a pair (melody, "
                           "chord)")
    for name, value in zip(("temperature", "chord temperature"), pair):
        if not (math.isfinite(float(value)) and float(value) > 0):
            raise FolkRNNError(f"{name} {value!r} must be a number greater than 0 (e.g. 1.0; "
                               "lower is safer, higher is wilder)")
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
                  temperature: float | tuple[float, float] = DEFAULT_TEMPERATURE,
                  chord_temperature: float | None = None, top_k: int = DEFAULT_TOP_K,
                  top_p: float = DEFAULT_TOP_P, seed: int = 0,
                  form: str = form_lib.DEFAULT_FORM, copy_bias: float = DEFAULT_COPY_BIAS,
                  echo_bias: float = DEFAULT_ECHO_BIAS,
                  contrast_bias: float = DEFAULT_CONTRAST_BIAS,
                  chords_on_beats: bool = DEFAULT_CHORDS_ON_BEATS,
                  part_cadences: bool = DEFAULT_PART_CADENCES,
                  pickup: bool = DEFAULT_PICKUP) -> Tune:
    """A new tune from a trained model (``folkrnn generate``; explained in notebook 04).

    ``step_model``: `model.load_step_model(run)`. ``form``: which 8-bar parts repeat
    (``AABB``, ``AB``, ``AABA``, ``ABC``, …; ``free``: the model alone decides; see
    `sample_tune` for what the form imposes). Length: ``steps``, or ``bars`` of ``meter``
    (default: 8 bars per part of the form, 32 bars for ``free``), prime included; a prime that
    opens with a pickup adds that bar, and so does ``pickup`` (the default, without a prime:
    83% of the collection's tunes open with one) when the length is given in bars; the model
    writes its notes. ``meter`` defaults to the prime's, else 4/4.
    ``chords``: see `parse_progression` (one chord per bar, repeated). ``prime``: see
    `load_prime`. ``key``: the tune is transposed afterwards into that key (see `to_key`); as
    chords given with ``chords`` would move too, both together are refused. ``temperature``:
    of the melody, or a ``(melody, chord)`` pair; ``chord_temperature``: of the chords
    (default `DEFAULT_CHORD_TEMPERATURE`).
    """
    pair = _temperatures(temperature, chord_temperature)
    letters = form_lib.parse_form(form)
    if top_k < 0:
        raise FolkRNNError(f"top_k={top_k} must be 0 (all events) or a positive number")
    if not 0 < top_p <= 1:
        raise FolkRNNError(f"top_p={top_p} must be in (0, 1] (1 = all events)")
    if not copy_bias >= 0:
        raise FolkRNNError(f"copy_bias={copy_bias} must be 0 or more (inf: repeat parts "
                           "note for note)")
    if not 0 <= contrast_bias < math.inf:
        raise FolkRNNError(f"contrast_bias={contrast_bias} must be a number from 0 (0: a new "
                           "part may take the notes of the part before)")
    if not echo_bias >= 0:
        raise FolkRNNError(f"echo_bias={echo_bias} must be 0 or more (0: no echo, inf: bars 5-6 "
                           "of each new part repeat bars 1-2 note for note)")
    if key is not None:
        key = keys.key_name(key)
        if chords is not None:
            raise FolkRNNError("--key and --chords together: the chords already fix the key; "
                               "write the chords in the key you want and leave out --key")
    progression = parse_progression(chords) if chords is not None else None
    prime_tune = load_prime(prime) if prime is not None else None
    meter = meter or (prime_tune.meters[-1][1] if prime_tune is not None else "4/4")
    if bars is None and steps is None:
        bars = form_lib.PART_BARS * len(letters) if letters else DEFAULT_BARS
    if prime_tune is not None:  # a prime brings its own pickup, or none
        pickup = form_lib.has_pickup(prime_tune)
    pickup = pickup and bars is not None  # a length in steps is exact
    steps = _length(steps, bars, music.steps_per_bar(meter))
    first_meter = prime_tune.meters[0][1] if prime_tune is not None else meter
    steps += music.steps_per_bar(first_meter) if pickup else 0
    if prime_tune is not None and len(prime_tune) >= steps:
        raise FolkRNNError(f"the prime has {len(prime_tune)} steps but the tune is to have only "
                           f"{steps}: ask for more --bars/--steps or use a shorter prime")
    layout = blank_tune(steps, _meters(meter, prime_tune))
    given = progression_steps(progression, layout, pickup) if progression is not None else None
    tune = sample_tune(step_model, layout, seed=seed, temperature=pair, top_k=top_k,
                       top_p=top_p, chords=given, prime=prime_tune, form=form,
                       copy_bias=copy_bias, echo_bias=echo_bias, contrast_bias=contrast_bias,
                       chords_on_beats=chords_on_beats, part_cadences=part_cadences,
                       pickup=pickup)
    return to_key(tune, key) if key is not None else tune
