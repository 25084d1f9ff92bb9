"""Baselines: Markov chains and simpler guessers, fitted on the training tunes.

Explained in notebook 04_test_model; scored by `folkrnn.evaluate` on held-out tunes. melody and chords are modelled independently, so the
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
  fitted on training tunes held out from the chains (`folkrnn.experts.LookbackBaseline`).
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from folkrnn import music
from folkrnn.music import Tune

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


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log(softmax(logits)) along the last axis, computed stably in float64."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
