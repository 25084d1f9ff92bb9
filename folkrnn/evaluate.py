"""How good is the model? Log-likelihood and accuracy on held-out tunes, against baselines.

Explained in notebook 04_test_model. Every predictor – the LSTM and each baseline – plays the same
game as in training (`inputs.tune_arrays`): at each step it knows the true history of the tune
(with a silent step before the first one) and gives a probability to every melody event and every
chord class of the next step. From those probabilities we measure, averaged over all steps:

* ``melody_nll``, ``chord_nll``: the negative log-probability of the true event, in nats per step
  (lower is better); ``total_nll`` is their sum, the model's loss for the whole step;
* ``melody_acc``, ``chord_acc``: how often the likeliest event is the true one;
* ``*_sampled_acc``: how often ONE event drawn from the distribution (fixed seed) matches the truth,
  as in Yoav Zimmerman's music_rnn report (melody 64.15 %, harmony 91.57 %, overall 77.84 %).
  There each step held a sounding pitch, so the melody is compared by its SOUNDING pitch: a drawn
  ``hold`` means "the note of the true previous step goes on". ``overall_sampled_acc`` is the mean
  of the two (the report doesn't define it further; 64.15 and 91.57 average to 77.86).
* ``melody_onset_acc``, ``melody_onset_sampled_acc``: the same two accuracies counted only on the
  steps where a note starts (as Magenta reports it). Most melody steps are holds, easy to
  predict once the rhythm is known; the onsets are where the tune is decided.

The baselines, fitted on the training tunes; melody and chords are modelled independently, so the
total NLL is the sum of the two streams' NLLs:

* ``unigram``: how often each event occurs, ignoring the history (add-one smoothing);
* ``repeat``: "nothing changes": the note goes on (``hold`` after an onset or a hold, ``rest`` after
  a rest) and the chord stays. It gives that guess probability 1-ε and spreads ε evenly over the
  other events, ε being the fraction of training steps where the guess is wrong;
* ``ngram2`` … ``ngram5``: Markov chains that look at the previous 1…4 events, with interpolated
  Witten-Bell smoothing (each context mixes its counts with the next shorter context, trusting its
  own counts more the more often it was seen and the fewer different events followed it);
* ``ngram5_position``: the same 5-gram, whose longest context also holds the position in the bar
  and the meter of the step it predicts and, for the melody, that step's chord (as the
  factorised melody head sees it);
* ``ngram5_lookback``: the strongest Markov chain here, told all the LSTM is told, the music
  1, 2, 4 and 8 bars back and the repeat flags included: a product of experts, each a
  Witten-Bell chain with its own context (the ngram5_position chain, one chain per lag, one over
  all lags, one that hears the tune transposed to its last note or chord). Their distributions
  are multiplied, each raised to a weight that depends on which lags the tune is repeating,
  fitted on training tunes held out from the chains (`LookbackBaseline`).
"""
from __future__ import annotations

from typing import Iterable, Protocol

import numpy as np

from folkrnn import form, music
from folkrnn.dataset import SPLITS, TuneSet, load_dataset
from folkrnn.inputs import tune_arrays
from folkrnn.errors import FolkRNNError
from folkrnn.music import Tune

METRIC_KEYS = ("melody_nll", "chord_nll", "total_nll", "melody_acc", "chord_acc",
               "melody_sampled_acc", "chord_sampled_acc", "overall_sampled_acc",
               "melody_onset_acc", "melody_onset_sampled_acc")
BASELINE_NAMES = ("unigram", "repeat", "ngram2", "ngram3", "ngram4", "ngram5", "ngram5_position",
                  "ngram5_lookback")
SIDE_CODES = music.MAX_BAR_STEPS * len(music.METERS) * music.CHORD_SIZE + 1  # side codes < this


# --- baselines: one model per stream (melody events or chord classes) ---------------------------
class StreamModel(Protocol):
    """A model of one stream of ints: ``log_probs(seq)[t]`` predicts ``seq[t]`` from ``seq[:t]``."""

    size: int

    def fit(self, sequences: list[np.ndarray]) -> "StreamModel": ...

    def log_probs(self, sequence: np.ndarray) -> np.ndarray: ...


class Unigram:
    """Event frequencies, blind to the history; ``alpha`` is added to every count (add-one)."""

    def __init__(self, size: int, alpha: float = 1.0):
        self.size, self.alpha = size, alpha
        self.probs = np.full(size, 1.0 / size)

    def fit(self, sequences: list[np.ndarray]) -> "Unigram":
        counts = np.bincount(np.concatenate(sequences), minlength=self.size) + self.alpha
        self.probs = counts / counts.sum()
        return self

    def log_probs(self, sequence: np.ndarray) -> np.ndarray:
        return np.tile(np.log(self.probs), (len(sequence), 1))


class Repeat:
    """Guess ``follow[previous]`` with probability 1-ε, the other events share ε evenly.

    ``start`` is the silent step before the tune; ε is fitted as the fraction of wrong guesses.
    """

    def __init__(self, size: int, follow: np.ndarray, start: int = 0):
        self.size, self.follow, self.start = size, np.asarray(follow), start
        self.epsilon = 0.5

    def guesses(self, sequence: np.ndarray) -> np.ndarray:
        previous = np.concatenate([[self.start], sequence[:-1]]).astype(np.int64)
        return self.follow[previous]

    def fit(self, sequences: list[np.ndarray]) -> "Repeat":
        wrong = sum(int(np.sum(self.guesses(s) != s)) for s in sequences)
        steps = sum(len(s) for s in sequences)
        self.epsilon = float(np.clip(wrong / max(steps, 1), 1e-6, 1 - 1e-6))
        return self

    def log_probs(self, sequence: np.ndarray) -> np.ndarray:
        out = np.full((len(sequence), self.size), np.log(self.epsilon / (self.size - 1)))
        out[np.arange(len(sequence)), self.guesses(sequence)] = np.log(1 - self.epsilon)
        return out


class WittenBell:
    """P(event | context) over a chain of ever longer contexts, with interpolated Witten-Bell
    smoothing: P(w | h) = (c(h, w) + T(h) · P(w | h')) / (c(h) + T(h)), where c counts training
    steps, T(h) is the number of different events seen after h, and h' is the next shorter
    context; the recursion ends at the uniform distribution.

    A context is one integer code per step; ``contexts[j]`` holds the codes of the j-th shortest
    one (the first is usually the empty context, all zeros). Each must refine the one before.
    The (context, event) pairs seen in training are stored sorted by context, and as one row
    of probabilities per context where there are few contexts (`DENSE_LIMIT` numbers at most).
    """

    DENSE_LIMIT = 2 ** 20

    def __init__(self, size: int):
        self.size = size
        self.tables: list[dict[str, np.ndarray]] = []  # one per context length

    def fit(self, contexts: list[np.ndarray], targets: np.ndarray) -> "WittenBell":
        targets = np.asarray(targets, np.int64)
        self.tables = []
        for codes in contexts:
            pairs, counts = np.unique(np.asarray(codes, np.int64) * self.size + targets,
                                      return_counts=True)
            context = pairs // self.size
            first = np.flatnonzero(np.concatenate([[True], context[1:] != context[:-1]]))
            total = np.add.reduceat(counts, first) if len(pairs) else counts
            types = np.diff(np.append(first, len(pairs)))  # T(h): different events after h
            table = {"contexts": context[first], "first": first, "types": types,
                     "events": pairs % self.size,
                     "share": counts / np.repeat(total + types, types),  # c(h, w) / (c(h) + T(h))
                     "backoff": types / (total + types)}  # T(h) / (c(h) + T(h))
            if len(first) * self.size <= self.DENSE_LIMIT:  # few contexts: one row each
                table["rows"] = np.zeros((len(first), self.size))
                table["rows"][np.repeat(np.arange(len(first)), types), table["events"]] = \
                    table["share"]
            self.tables.append(table)
        return self

    def probs(self, contexts: list[np.ndarray]) -> np.ndarray:
        """P(event | context) for every step, shape (steps, size)."""
        probs = np.full((len(contexts[0]), self.size), 1.0 / self.size)
        for table, codes in zip(self.tables, contexts, strict=True):
            known = table["contexts"]
            if len(known) == 0:
                continue
            row = np.minimum(np.searchsorted(known, codes), len(known) - 1)
            seen = np.flatnonzero(known[row] == codes)
            row = row[seen]
            if "rows" in table:
                probs[seen] = probs[seen] * table["backoff"][row, None] + table["rows"][row]
                continue
            probs[seen] *= table["backoff"][row, None]
            first, types = table["first"][row], table["types"][row]
            step = np.repeat(seen, types)  # one entry per (step, event seen after its context)
            pair = np.arange(len(step)) + np.repeat(first - np.cumsum(types) + types, types)
            probs[step, table["events"][pair]] += table["share"][pair]
        return probs


class NGram:
    """A Markov chain of ``order - 1`` previous events, smoothed by `WittenBell`: its contexts
    are the empty one, then one more previous event each. Contexts reaching before the tune are
    filled with a start symbol (``size``), which is never predicted.
    """

    def __init__(self, order: int, size: int):
        self.order, self.size = order, size
        self.chain = WittenBell(size)

    def _context_codes(self, sequence: np.ndarray, side: np.ndarray | None = None
                       ) -> list[np.ndarray]:
        """One integer code per step for each context, shortest first: the empty context, one
        more previous event each, and last (with ``side``) all of them plus the side
        information. (Backing off from the side information first is clearly better than the
        other way round: 1.20 vs 1.34-1.48 nats on the validation tunes, BENCHMARKS.md.)"""
        k, n = self.order - 1, len(sequence)
        padded = np.concatenate([np.full(k, self.size), sequence]).astype(np.int64)
        codes = [np.zeros(n, np.int64)]
        for j in range(1, k + 1):  # add the event j steps back
            codes.append(codes[-1] * (self.size + 1) + padded[k - j:k - j + n])
        if side is not None:
            codes.append(codes[-1] * SIDE_CODES + np.asarray(side, np.int64) + 1)
        return codes

    def fit(self, sequences: list[np.ndarray], sides: list[np.ndarray] | None = None
            ) -> "NGram":
        per_sequence = [self._context_codes(s, None if sides is None else sides[i])
                        for i, s in enumerate(sequences)]
        contexts = [np.concatenate(c) for c in zip(*per_sequence)]
        self.chain.fit(contexts, np.concatenate(sequences))
        return self

    def log_probs(self, sequence: np.ndarray, side: np.ndarray | None = None) -> np.ndarray:
        return np.log(self.chain.probs(self._context_codes(sequence, side)))


class Baseline:
    """Two independent stream models, one for the melody and one for the chords."""

    def __init__(self, melody: StreamModel, chord: StreamModel):
        self.melody, self.chord = melody, chord

    def fit(self, tunes: list[Tune]) -> "Baseline":
        self.melody.fit([t.melody for t in tunes])
        self.chord.fit([t.chords for t in tunes])
        return self

    def log_probs(self, tune: Tune) -> tuple[np.ndarray, np.ndarray]:
        """Per step: (log P(melody event), log P(chord class)), shapes (T, 36) and (T, 37)."""
        return self.melody.log_probs(tune.melody), self.chord.log_probs(tune.chords)


def bar_context(tune: Tune) -> np.ndarray:
    """One code per step for where it falls: its position in the bar and its meter."""
    return tune.positions.astype(np.int64) * len(music.METERS) + tune.meter_ids


class PositionBaseline(Baseline):
    """N-grams told what the LSTM is told: the chord chain's longest context adds the position
    in the bar and the meter of the step it predicts; the melody chain's also adds that step's
    chord (as the factorised melody head sees it). `LookbackBaseline` adds the lookback."""

    def __init__(self, order: int):
        super().__init__(NGram(order, music.MELODY_SIZE), NGram(order, music.CHORD_SIZE))

    @staticmethod
    def _melody_side(tune: Tune) -> np.ndarray:
        return bar_context(tune) * music.CHORD_SIZE + tune.chords

    def fit(self, tunes: list[Tune]) -> "PositionBaseline":
        self.melody.fit([t.melody for t in tunes], [self._melody_side(t) for t in tunes])
        self.chord.fit([t.chords for t in tunes], [bar_context(t) for t in tunes])
        return self

    def log_probs(self, tune: Tune) -> tuple[np.ndarray, np.ndarray]:
        return (self.melody.log_probs(tune.melody, self._melody_side(tune)),
                self.chord.log_probs(tune.chords, bar_context(tune)))


# --- the Markov chain that sees the lookback: a product of experts ----------------------------
# The LSTM's inputs the lookback baseline reads besides the history (see `inputs.tune_arrays`).
LOOKBACK_INPUTS = ("next_chord", *(f"lookback_{kind}_{lag}" for lag in form.LOOKBACK_BARS
                                   for kind in ("melody", "chord")),
                   "repeats", *form.STRUCTURE_KEYS)
HISTORY = 4  # previous events and chords kept as features (the 5-gram's context)
RUN_BUCKETS = (0, 1, form.REPEAT_WINDOW, 8, 16, 32)  # run lengths told apart (4+: repeat flag)
MIDDLE_ONSET = music.ONSET + music.NUM_PITCHES // 2  # the "last note" before the first one
MOVED_MELODY_SIZE = music.ONSET + 2 * music.NUM_PITCHES - 1  # rest, hold, intervals -33..33


def feature_sizes() -> dict[str, int]:
    """How many values each feature of `step_features` takes (its ids are below this)."""
    m, c = music.MELODY_SIZE, music.CHORD_SIZE
    sizes = {"bar": music.MAX_BAR_STEPS * len(music.METERS), "next_chord": c,
             "repeats": 2 ** len(form.LOOKBACK_BARS), **form.NUM_IDS,
             "melody": m, "chord": c, "melody_moved": MOVED_MELODY_SIZE, "chord_moved": c,
             "step_before": 4, "interval_1": 2 * music.NUM_PITCHES, "interval_2":
             2 * music.NUM_PITCHES, "next_chord_moved": c, "chord_before_moved": c + 1,
             "chord_change_moved": c + 1, "note_over_chord": 13}
    for lag in form.LOOKBACK_BARS:
        sizes |= {f"lookback_melody_{lag}": m, f"lookback_chord_{lag}": c,
                  f"run_{lag}": len(RUN_BUCKETS)}
    for j in range(1, HISTORY + 1):  # with a start symbol before the tune
        sizes |= {f"melody_before_{j}": m + 1, f"chord_before_{j}": c + 1}
    return sizes


FEATURE_SIZES = feature_sizes()


def moved(stream: str, events: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``events`` transposed so that a reference sits at one fixed pitch: for the melody, onsets
    become intervals from the ``reference`` onset (rest and hold stay: ids below
    `MOVED_MELODY_SIZE`); for chords, the roots move down by the ``reference`` root (0-11)."""
    if stream == "melody":
        interval = events - reference + music.NUM_PITCHES - 1  # 0 .. 2 * NUM_PITCHES - 2
        return np.where(events >= music.ONSET, music.ONSET + interval, events)
    return music.transpose_chords(events, -reference)


def _last_where(values: np.ndarray, keep: np.ndarray, count: int, fill: int
                ) -> list[np.ndarray]:
    """For every step: the last ``count`` values before it where ``keep`` holds (latest first;
    ``fill`` when there are fewer)."""
    kept = np.flatnonzero(keep)
    seen = np.searchsorted(kept, np.arange(len(values)))  # kept steps before each step
    return [np.where(seen > j, values[kept[np.maximum(seen - 1 - j, 0)]], fill)
            for j in range(count)]


def run_length(equal: np.ndarray) -> np.ndarray:
    """For every step: how many steps in a row just before it are ``equal``."""
    steps = np.arange(len(equal))
    last_break = np.maximum.accumulate(np.where(equal, -1, steps))  # last unequal step <= t
    return np.concatenate([[0], (steps - last_break)[:-1]])


def step_features(tune: Tune) -> dict[str, np.ndarray]:
    """For every step of ``tune``, what is known when it is predicted, as small ints (sizes in
    `FEATURE_SIZES`), and the events to predict, ``melody`` and ``chord``:

    * the LSTM's `LOOKBACK_INPUTS`, ``bar`` (position in the bar and meter), and the previous
      events and chords ``melody_before_j``/``chord_before_j`` (start symbol before the tune);
    * ``run_L``: for how many steps in a row the melody has equalled the melody L bars earlier,
      in `RUN_BUCKETS` (the repeat flag says: at least 4);
    * for the experts that hear everything transposed (see `moved`): the events moved, the kind
      of step before, the intervals between the last three notes, the step's chord seen from
      the last note, the chord before and the one before its change seen from the chord before,
      and the last note's pitch class over the chord before (``note_over_chord``).
    """
    arrays = tune_arrays(tune, LOOKBACK_INPUTS)
    features = {name: arrays[name].astype(np.int64) for name in LOOKBACK_INPUTS}
    melody, chords = tune.melody.astype(np.int64), tune.chords.astype(np.int64)
    features |= {"melody": melody, "chord": chords, "bar": bar_context(tune).astype(np.int64)}
    for stream, events, size in (("melody", melody, music.MELODY_SIZE),
                                 ("chord", chords, music.CHORD_SIZE)):
        padded = np.concatenate([np.full(HISTORY, size), events])
        for j in range(1, HISTORY + 1):
            features[f"{stream}_before_{j}"] = padded[HISTORY - j:HISTORY - j + len(tune)]
    steps, bar_length = np.arange(len(tune)), form.Plan.of_tune(tune).bar_length
    for lag in form.LOOKBACK_BARS:
        equal = (melody == features[f"lookback_melody_{lag}"]) & (steps >= lag * bar_length)
        features[f"run_{lag}"] = np.searchsorted(RUN_BUCKETS, run_length(equal), "right") - 1
    # the experts that hear everything transposed: the melody from its last note ...
    notes = _last_where(melody, melody >= music.ONSET, 3, -1)
    last = np.where(notes[0] >= 0, notes[0], MIDDLE_ONSET)
    features["last_note"], features["melody_moved"] = last, moved("melody", melody, last)
    previous = features["melody_before_1"]  # its kind: rest, hold, note, or the tune's start
    features["step_before"] = np.where(previous == music.MELODY_SIZE, 3, np.minimum(previous, 2))
    for j in (1, 2):
        interval = notes[j - 1] - notes[j] + music.NUM_PITCHES
        features[f"interval_{j}"] = np.where(notes[j] >= 0, interval, 0)
    pitch_class = (last - music.ONSET + music.MIN_PITCH) % 12
    features["next_chord_moved"] = moved("chord", features["next_chord"], pitch_class)
    # ... and the chords from the chord before (its root; C if there is none)
    before = features["chord_before_1"]
    root = np.where((before >= 1) & (before < music.CHORD_SIZE), (before - 1) // 3, 0)
    features["chord_root_before"], features["chord_moved"] = root, moved("chord", chords, root)
    change = _last_where(chords, np.concatenate([[True], chords[1:] != chords[:-1]]), 2, -1)[1]
    features["chord_before_moved"] = np.where(before < music.CHORD_SIZE,
                                              moved("chord", before, root), music.CHORD_SIZE)
    features["chord_change_moved"] = np.where(change >= 0, moved("chord", change, root),
                                              music.CHORD_SIZE)
    features["note_over_chord"] = np.where(notes[0] >= 0, 1 + (pitch_class - root) % 12, 0)
    return features


def concatenate(features: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The `step_features` of several tunes as one long array per feature (each step's
    features stand alone, so the steps of all tunes can be counted together)."""
    return {name: np.concatenate([f[name] for f in features]) for name in features[0]}


def combine(features: dict[str, np.ndarray], names: tuple[str, ...],
            code: np.ndarray | None = None) -> np.ndarray:
    """One integer per step for the values of several features together (appended to
    ``code``, if given): like the digits of a number, each feature in its own base."""
    code = np.zeros(len(features["melody"]), np.int64) if code is None else code
    for name in names:
        code = code * FEATURE_SIZES[name] + features[name]
    return code


Levels = tuple[tuple[str, ...], ...]  # the features each context adds to the one before


class ContextChain:
    """A `WittenBell` chain over named features (`step_features`): the shortest context is
    empty, and each level adds its features to the one before; e.g. the levels
    ``(("run_8", "lookback_melody_8"), ("bar",))`` back off from (how long the tune has been
    repeating 8 bars back, the event then, the position in the bar) to the same without the
    position. ``target`` names the feature it predicts."""

    def __init__(self, target: str, levels: Levels):
        self.target, self.levels = target, levels
        size = FEATURE_SIZES[target]
        if np.prod([float(FEATURE_SIZES[n]) for level in levels for n in level]) * size >= 2**63:
            raise ValueError(f"the contexts {levels} are too long for one 64-bit code")
        self.chain = WittenBell(size)

    def _codes(self, features: dict[str, np.ndarray]) -> list[np.ndarray]:
        codes = [combine(features, ())]
        for level in self.levels:
            codes.append(combine(features, level, codes[-1]))
        return codes

    def fit(self, features: dict[str, np.ndarray]) -> "ContextChain":
        self.chain.fit(self._codes(features), features[self.target])
        return self

    def log_probs(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return np.log(self.chain.probs(self._codes(features)))


class MovedChain(ContextChain):
    """A chain that hears the tune transposed at every step (`moved`): the melody so that its
    last note is always the same pitch, the chords so that the chord before is always on C. It
    learns intervals and chord moves, so what it hears in G major serves in D major too; its
    predictions are moved back to the real pitches."""

    REFERENCE = {"melody": "last_note", "chord": "chord_root_before"}

    def __init__(self, stream: str, levels: Levels):
        super().__init__(f"{stream}_moved", levels)
        self.stream = stream

    def log_probs(self, features: dict[str, np.ndarray]) -> np.ndarray:
        probs = self.chain.probs(self._codes(features))
        size = FEATURE_SIZES[self.stream]
        reference = features[self.REFERENCE[self.stream]][:, None]
        events = moved(self.stream, np.arange(size)[None, :], reference)  # steps × events
        probs = probs[np.arange(len(probs))[:, None], events]
        return np.log(probs / probs.sum(axis=1, keepdims=True))


def position_chain(stream: str) -> Levels:
    """The ngram5_position chain: four previous events, then the position in the bar and
    meter (and, for the melody, the chord of the step)."""
    side = ("bar", "next_chord") if stream == "melody" else ("bar",)
    return (*((f"{stream}_before_{j}",) for j in range(1, HISTORY + 1)), side)


def lag_chain(stream: str, lag: int) -> Levels:
    """One expert per lag: for how long the tune has been repeating ``lag`` bars back, and the
    event there; then the previous event and the position in the bar (and, for the melody, the
    step's chord and the event two steps back)."""
    if stream == "melody":
        rest = (("bar", "melody_before_1"), ("next_chord",), ("melody_before_2",))
    else:
        rest = (("chord_before_1",), ("bar",))
    return ((f"run_{lag}", f"lookback_{stream}_{lag}"), *rest)


def all_lags_chain(stream: str) -> Levels:
    """One expert over all lags at once: which lags are repeating, then the events 8, 4, 1 and
    2 bars back, then the previous event and the position in the bar (and the step's chord)."""
    lookback = tuple((f"lookback_{stream}_{lag}",) for lag in (8, 4, 1, 2)
                     if lag in form.LOOKBACK_BARS)
    rest = ((("bar", "melody_before_1"), ("next_chord",)) if stream == "melody"
            else (("chord_before_1",), ("bar",)))
    return (("repeats",), *lookback, *rest)


def moved_chain(stream: str) -> Levels:
    """The expert of a `MovedChain`: for the melody, the kind of step before and the position
    in the bar, then the step's chord seen from the last note, then the last two intervals; for
    the chords, the chord before (seen from itself: its quality) and the position, then the last
    note over it, then the chord before its change."""
    if stream == "melody":
        return (("bar", "step_before"), ("next_chord_moved",), ("interval_1",), ("interval_2",))
    return (("chord_before_moved", "bar"), ("note_over_chord",), ("chord_change_moved",))


def lookback_experts(stream: str) -> list[ContextChain]:
    """The experts of ``stream`` in `LookbackBaseline`: the position 5-gram, one per lag, one
    over all lags, and one that hears the tune transposed (`MovedChain`)."""
    levels = [position_chain(stream), *(lag_chain(stream, lag) for lag in form.LOOKBACK_BARS),
              all_lags_chain(stream)]
    return [ContextChain(stream, l) for l in levels] + [MovedChain(stream, moved_chain(stream))]


def fit_weights(expert_log_probs: np.ndarray, targets: np.ndarray, center: np.ndarray,
                pull: float, iterations: int = 25) -> np.ndarray:
    """The weights λ maximising Σ log P(target) - pull/2 · |λ - center|², where
    P(w) ∝ Π_k P_k(w)^λ_k (``expert_log_probs``: experts × steps × events). The objective is
    concave: Newton's method, halving a step that doesn't improve it."""
    experts, steps, events = expert_log_probs.shape
    flat = expert_log_probs.reshape(experts, steps * events)
    at = np.arange(steps)
    chosen = expert_log_probs[:, at, targets]  # log P_k(true event): experts × steps

    def mixed(weights: np.ndarray) -> tuple[np.ndarray, float]:
        log_p = _log_softmax((weights @ flat).reshape(steps, events))
        return log_p, float(log_p[at, targets].sum() - pull / 2 * np.sum((weights - center) ** 2))

    weights = center.copy()
    log_p, best = mixed(weights)
    for _ in range(iterations):
        weighted = flat * np.exp(log_p).reshape(-1)
        expected = weighted.reshape(experts, steps, events).sum(axis=2)  # E[log P_k] per step
        gradient = (chosen - expected).sum(axis=1) - pull * (weights - center)
        covariance = weighted @ flat.T - expected @ expected.T
        step = np.linalg.solve(covariance + pull * np.eye(experts), gradient)
        while np.abs(step).max() > 1e-9:
            trial, value = mixed(weights + step)
            if value >= best:
                weights, log_p, best = weights + step, trial, value
                break
            step = step / 2
        if np.abs(step).max() < 1e-4:
            break
    return weights


class ExpertProduct:
    """One stream predicted by several `ContextChain` experts at once:
    P(w) ∝ Π_k P_k(w)^λ[g, k], where g is the value of the ``gate`` features at the step (e.g.
    which lags are repeating), so that each situation has its own trust in each expert."""

    def __init__(self, target: str, experts: list[ContextChain],
                 gate: tuple[str, ...] = ("repeats",)):
        self.target, self.gate, self.chains = target, gate, experts
        groups = int(np.prod([FEATURE_SIZES[name] for name in gate]))
        self.weights = np.full((groups, len(experts)), 1.0 / len(experts))

    def fit_chains(self, features: dict[str, np.ndarray]) -> "ExpertProduct":
        for chain in self.chains:
            chain.fit(features)
        return self

    def expert_log_probs(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """Every expert's log-probabilities: shape (experts, steps, events)."""
        return np.stack([chain.log_probs(features) for chain in self.chains])

    def fit_weights(self, features: dict[str, np.ndarray], pull: float = 50.0
                    ) -> "ExpertProduct":
        """λ for steps the chains have not seen, one set per gate value, each pulled towards the
        geometric mean of the experts (all λ equal) with a strength of ``pull`` nats, so that
        rare gate values stay near it."""
        log_probs, targets = self.expert_log_probs(features), features[self.target]
        mean = np.full(len(self.chains), 1 / len(self.chains))
        self.weights[:] = mean
        group = combine(features, self.gate)
        for value in np.unique(group):
            at = group == value
            self.weights[value] = fit_weights(log_probs[:, at], targets[at], mean, pull)
        return self

    def log_probs(self, features: dict[str, np.ndarray]) -> np.ndarray:
        weights = self.weights[combine(features, self.gate)]  # steps × experts
        return _log_softmax(np.einsum("ksv,sk->sv", self.expert_log_probs(features), weights))


class LookbackBaseline(Baseline):
    """``ngram5_lookback``: Markov chains that see what the LSTM sees, the lookback included.

    Each stream (melody, chords) is a product of experts (`ExpertProduct`). Every expert is a
    Witten-Bell chain with its own context: the ngram5_position chain; one chain per lag L (for
    how long the tune has been repeating L bars back, and the event there); one over all lags;
    and one that hears the tune transposed (`MovedChain`: intervals and chord moves, the same
    in every key). Each gives a distribution over the next event; we multiply them, each raised
    to a weight, and normalise. The weights depend on which lags are repeating (``gate``):
    while the tune repeats the bar 8 bars back, the 8-bar expert gets the most say. They are
    fitted on every ``held_out_every``-th training tune, held out from the chains (at most
    ``weight_steps`` of their steps); then the chains are refitted on all the training tunes.
    """

    def __init__(self, melody_experts: list[ContextChain] | None = None,
                 chord_experts: list[ContextChain] | None = None,
                 gate: tuple[str, ...] = ("repeats",), held_out_every: int = 4,
                 weight_steps: int = 20_000, seed: int = 0):
        super().__init__(
            ExpertProduct("melody", melody_experts or lookback_experts("melody"), gate),
            ExpertProduct("chord", chord_experts or lookback_experts("chord"), gate))
        self.held_out_every, self.weight_steps, self.seed = held_out_every, weight_steps, seed

    def fit(self, tunes: list[Tune]) -> "LookbackBaseline":
        per_tune = [step_features(t) for t in tunes]
        held_out = per_tune[::self.held_out_every]
        seen = concatenate([f for i, f in enumerate(per_tune) if i % self.held_out_every]
                           or held_out)
        unseen, everything = concatenate(held_out), concatenate(per_tune)
        steps = len(unseen["melody"])
        if steps > self.weight_steps:  # a random sample of the held-out steps is enough
            chosen = np.random.default_rng(self.seed).choice(steps, self.weight_steps,
                                                             replace=False)
            unseen = {name: values[chosen] for name, values in unseen.items()}
        for stream in (self.melody, self.chord):
            stream.fit_chains(seen).fit_weights(unseen).fit_chains(everything)
        return self

    def log_probs(self, tune: Tune) -> tuple[np.ndarray, np.ndarray]:
        features = step_features(tune)
        return self.melody.log_probs(features), self.chord.log_probs(features)


def keep_sounding() -> np.ndarray:
    """The repeat baseline's melody guess after each event: rest after rest, else hold."""
    follow = np.full(music.MELODY_SIZE, music.HOLD)
    follow[music.REST] = music.REST
    return follow


def make_baselines() -> dict[str, Baseline]:
    """The unfitted baselines, by name (see the module docstring)."""
    m, c = music.MELODY_SIZE, music.CHORD_SIZE
    baselines = {"unigram": Baseline(Unigram(m), Unigram(c)),
                 "repeat": Baseline(Repeat(m, keep_sounding(), music.REST),
                                    Repeat(c, np.arange(c), music.NO_CHORD))}
    for n in range(2, 6):
        baselines[f"ngram{n}"] = Baseline(NGram(n, m), NGram(n, c))
    baselines["ngram5_position"] = PositionBaseline(5)
    baselines["ngram5_lookback"] = LookbackBaseline()
    return baselines


def fit_baselines(train_tunes: list[Tune]) -> dict[str, Baseline]:
    """Every baseline fitted on the training tunes (a couple of seconds). Notebook 04."""
    return {name: b.fit(train_tunes) for name, b in make_baselines().items()}


# --- scoring -----------------------------------------------------------------------------------
def sounding(melody: np.ndarray) -> np.ndarray:
    """The sounding pitch at each step as an onset event id (``REST`` = silence).

    An onset sounds its pitch, a hold sounds the pitch of the note it continues, a rest nothing.
    """
    melody = np.asarray(melody, np.int64)
    steps = np.arange(len(melody))
    last = np.maximum.accumulate(np.where(melody != music.HOLD, steps, -1))  # last non-hold step
    out = np.where(last >= 0, melody[np.maximum(last, 0)], music.REST)
    return np.where(out == music.HOLD, music.REST, out)


def sampled_sounding(events: np.ndarray, true_melody: np.ndarray) -> np.ndarray:
    """The sounding pitch of drawn ``events``, a hold continuing the TRUE previous step."""
    previous = np.concatenate([[music.REST], sounding(true_melody)[:-1]])
    return np.where(events >= 2, events, np.where(events == music.HOLD, previous, music.REST))


def _draw(log_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from the distributions ``exp(log_probs)``."""
    cdf = np.cumsum(np.exp(log_probs), axis=1)
    u = rng.random(len(cdf))[:, None] * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=1), log_probs.shape[1] - 1)


def score(tunes: list[Tune], predictions: Iterable[tuple[np.ndarray, np.ndarray]],
          seed: int = 0) -> dict[str, float]:
    """The metrics (see the module docstring) of per-tune (melody, chord) log-probabilities."""
    rng = np.random.default_rng(seed)
    sums = dict.fromkeys(METRIC_KEYS, 0.0)
    steps = onset_steps = 0
    for tune, (melody_lp, chord_lp) in zip(tunes, predictions, strict=True):
        melody, chords = tune.melody.astype(np.int64), tune.chords.astype(np.int64)
        at = np.arange(len(tune))
        sums["melody_nll"] -= melody_lp[at, melody].sum()
        sums["chord_nll"] -= chord_lp[at, chords].sum()
        best = melody_lp.argmax(axis=1)
        onsets = music.is_onset(melody)
        sums["melody_acc"] += np.sum(best == melody)
        sums["melody_onset_acc"] += np.sum(best[onsets] == melody[onsets])
        sums["chord_acc"] += np.sum(chord_lp.argmax(axis=1) == chords)
        events = _draw(melody_lp, rng)
        sums["melody_sampled_acc"] += np.sum(sampled_sounding(events, melody) == sounding(melody))
        sums["melody_onset_sampled_acc"] += np.sum(events[onsets] == melody[onsets])
        sums["chord_sampled_acc"] += np.sum(_draw(chord_lp, rng) == chords)
        steps += len(tune)
        onset_steps += int(onsets.sum())
    if steps == 0:
        raise FolkRNNError("no steps to evaluate: the split has no tunes; run folkrnn prepare "
                           "(or notebook 01) first")
    out = {k: float(v) / steps for k, v in sums.items()}
    for key in ("melody_onset_acc", "melody_onset_sampled_acc"):
        out[key] = float(sums[key]) / max(onset_steps, 1)
    out["total_nll"] = out["melody_nll"] + out["chord_nll"]
    out["overall_sampled_acc"] = (out["melody_sampled_acc"] + out["chord_sampled_acc"]) / 2
    return {k: round(out[k], 4) for k in METRIC_KEYS}


def evaluate_baselines(train_tunes: list[Tune], tunes: list[Tune], seed: int = 0
                       ) -> dict[str, dict[str, float]]:
    """The metrics of every baseline, fitted on ``train_tunes``, on ``tunes``. Notebook 04."""
    return {name: score(tunes, (b.log_probs(t) for t in tunes), seed)
            for name, b in fit_baselines(train_tunes).items()}


# --- the network -------------------------------------------------------------------------------
def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def model_log_probs(model, tunes: list[Tune], batch_size: int = 16
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per tune: the model's (melody, chord) log-probabilities over whole tunes.

    Tunes of similar length are batched together and padded at the end; the LSTM reads left to
    right, so padding never changes the outputs of real steps, which are the only ones kept.
    """
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(tunes)
    order = np.argsort([len(t) for t in tunes], kind="stable")
    for first in range(0, len(order), batch_size):
        chosen = order[first:first + batch_size]
        keys = [t.name for t in model.inputs]  # the inputs this model reads
        arrays = [tune_arrays(tunes[i], keys) for i in chosen]
        width = max(len(a["melody"]) for a in arrays)
        inputs = {k: np.zeros((len(chosen), width), np.int32) for k in keys}
        for row, a in enumerate(arrays):
            for k in keys:
                inputs[k][row, :len(a[k])] = a[k]
        logits = model.predict_on_batch(inputs)
        melody, chord = _log_softmax(logits["melody"]), _log_softmax(logits["chord"])
        for row, i in enumerate(chosen):
            n = len(tunes[i])
            out[i] = (melody[row, :n], chord[row, :n])
    return out  # type: ignore[return-value]


def evaluate_model(model, tunes: list[Tune], seed: int = 0, batch_size: int = 16
                   ) -> dict[str, float]:
    """The metrics of any Keras model with the folkrnn input/output contract. Notebook 04."""
    return score(tunes, model_log_probs(model, tunes, batch_size), seed)


def evaluate(model, tuneset: TuneSet, split: str = "test", seed: int = 0) -> dict:
    """The model and every baseline (fitted on the training tunes) on one split (notebook 04).

    ``{"model": M, "baselines": {"unigram": M, ...}, "split", "tunes", "steps"}`` with M the
    metrics dict (see the module docstring).
    """
    if split not in SPLITS:
        raise FolkRNNError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    tunes = tuneset.tunes[split]
    return {"split": split, "tunes": len(tunes), "steps": int(sum(len(t) for t in tunes)),
            "model": evaluate_model(model, tunes, seed),
            "baselines": evaluate_baselines(tuneset.train, tunes, seed)}


def evaluate_run(run_name: str, split: str = "test", seed: int = 0) -> dict:
    """`evaluate` of a trained run's best checkpoint, as `folkrnn evaluate --json` prints it."""
    from folkrnn.model import load_run  # here, so that the baselines never load TensorFlow

    model, _ = load_run(run_name, compile=False)
    return {"run": run_name, **evaluate(model, load_dataset(), split, seed)}


# --- showing the report ------------------------------------------------------------------------
def report_table(report: dict) -> list[dict]:
    """One row per predictor (the model first, then the baselines): name and metrics."""
    rows = [{"name": "model", **report["model"]}] if "model" in report else []
    rows += [{"name": name, **m} for name, m in report.get("baselines", {}).items()]
    return rows


def format_report(report: dict) -> str:
    """The report as a text table for the terminal (NLL in nats per step, accuracies in %)."""
    columns = [("melody_nll", "mel NLL"), ("chord_nll", "chord NLL"), ("total_nll", "total NLL"),
               ("melody_acc", "mel acc"), ("melody_onset_acc", "onset acc"),
               ("chord_acc", "chord acc"),
               ("melody_sampled_acc", "mel smp"), ("chord_sampled_acc", "chord smp"),
               ("overall_sampled_acc", "all smp")]
    title = (f"run {report.get('run', '?')} on the {report.get('split', '?')} split: "
             f"{report.get('tunes', '?')} tunes, {report.get('steps', '?')} steps")
    lines = [title, f"{'':16}" + "".join(f"{label:>11}" for _, label in columns)]
    for row in report_table(report):
        cells = [f"{row[k]:11.3f}" if k.endswith("nll") else f"{100 * row[k]:10.1f}%"
                 for k, _ in columns]
        lines.append(f"{row['name']:16}" + "".join(cells))
    lines.append("NLL: nats per step, lower is better; acc: argmax; onset: steps where a note "
                 "starts; smp: one sampled event (melody by sounding pitch)")
    return "\n".join(lines)
