"""``ngram5_lookback``: the Markov chain told all the LSTM is told, as a product of experts.

Explained in notebook 04_test_model (a baseline beside the LSTM; `folkrnn.baselines` has the
simpler ones). Each expert is a Witten-Bell chain with its own context: the ngram5_position
chain, one chain per lookback lag, one over all lags, one that hears the tune transposed to its
last note or chord. Their distributions are multiplied, each raised to a weight that depends on
which lags the tune is repeating, fitted on training tunes held out from the chains.
"""
from __future__ import annotations

import numpy as np

from folkrnn import form, music
from folkrnn.baselines import Baseline, WittenBell, bar_context, log_softmax
from folkrnn.inputs import tune_arrays
from folkrnn.music import Tune


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
        log_p = log_softmax((weights @ flat).reshape(steps, events))
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
        return log_softmax(np.einsum("ksv,sk->sv", self.expert_log_probs(features), weights))


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
