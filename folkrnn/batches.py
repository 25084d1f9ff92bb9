"""Training batches: every tune's inputs cut into windows, packed into batches, fed to Keras.

Explained in notebook 02_build_model (windows) and 03_train_model (feeding the network fast).

* **Windows** (truncated backpropagation through time): each epoch, every training tune is cut
  into windows of at most ``seq_len`` steps, from a random offset, so that each step is seen
  once per epoch and window edges fall somewhere new every time.
* **Transposition** (``transpose``): each tune is moved by a random interval into another key
  that the collection's tunes are written in (`common_keys`), so the model learns the tunes in
  the keys folk players use (G, D, A, Em, ...), not in E♭ or C♯; each key is drawn in
  proportion to the square root of how many tunes are in it (`shift_weights`), so that the
  model writes in D and G most often, as the collection does, and still hears every tune in
  several keys. With ``keep_register``, each move is also weighted by how common the register
  it puts the tune in is (`register_weights`: a tune's mean pitch, against the collection's):
  a jig in G moved down a fourth into D sits lower than any real tune in D, and a model that
  hears such moves writes tunes whose register spreads twice as widely as the collection's
  (BENCHMARKS.md, round 3 session 3).
* **Packing**: windows are sorted by length and taken ``batch_size`` at a time; a batch is only
  as long as its longest window (rounded up to `LENGTH_STEP`). The short windows at the start
  and end of each tune share batches of their own instead of being padded to ``seq_len``,
  which left a fifth of every epoch's arithmetic on padding (BENCHMARKS.md). Rows of weight 0
  fill up the last batch, so every batch has ``batch_size`` rows: one batch shape that
  TensorFlow compiles once (a varying batch size made epochs twice as slow).
* **Weights**: packed batches hold different numbers of real steps, so a real step's sample
  weight is 1 / (the epoch's mean number of real steps per batch), and the model's loss sums
  (`model.compile_model`): every step weighs the same, and the mean of the batches' losses,
  which Keras reports, is the NLL per step. (A mean per batch read 0.49 where the NLL per
  step was 0.59: short-window batches counted as much as full ones.)
"""
from __future__ import annotations

import collections
import itertools
from typing import Iterator

import numpy as np

from folkrnn import inputs, keys, music
from folkrnn.errors import FolkRNNError
from folkrnn.music import Tune

LENGTH_STEP = 16  # batch lengths are multiples of this (a few shapes, little padding)
MAX_SHIFT = 6  # transpositions up to a tritone either way
KEY_WEIGHT_POWER = 0.5  # 1: keys as often as in the collection; 0: every common key alike
COMMON_KEY_SHARE = 0.01  # a key at least this share of the tunes are in is a common key
Batch = tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]


def common_keys(tunes: list[Tune]) -> set[str]:
    """The keys at least `COMMON_KEY_SHARE` of ``tunes`` are written in (the collection's
    keys: G, D, A, C, F, B♭, Am, Em, Dm)."""
    counts = collections.Counter(t.key for t in tunes)
    return {key for key, n in counts.items() if n >= COMMON_KEY_SHARE * len(tunes)}


def key_shifts(tune: Tune, allowed: set[str]) -> list[int]:
    """The transpositions (semitones) that keep the melody in range and move the tune into one
    of the ``allowed`` keys; 0 (the tune as written) is always one of them."""
    low, high = tune.pitch_shift_range()
    return [s for s in range(max(low, -MAX_SHIFT), min(high, MAX_SHIFT) + 1)
            if s == 0 or keys.transpose_key(tune.key, s) in allowed]


def shift_weights(tune: Tune, shifts: list[int], counts: collections.Counter) -> np.ndarray:
    """How likely each of ``shifts`` is: in proportion to how many tunes (``counts``) are in
    its key, to the power `KEY_WEIGHT_POWER`."""
    weights = np.array([counts[keys.transpose_key(tune.key, s)] for s in shifts], float)
    weights = weights ** KEY_WEIGHT_POWER
    weights = np.maximum(weights, 1.0)  # the tune's own key, however rare, stays possible
    return weights / weights.sum()


def mean_pitch(tune: Tune) -> float:
    """The register of a tune: the mean MIDI pitch of its notes (0 for a tune without any)."""
    pitches = music.onset_pitches(tune.melody)
    return float(pitches.mean()) if len(pitches) else 0.0


def register_weights(tune: Tune, shifts: list[int], register: tuple[float, float]) -> np.ndarray:
    """How common the register each of ``shifts`` moves the tune into is: the density of a
    normal distribution with the collection's ``register`` (mean and standard deviation of the
    tunes' `mean_pitch`) at the moved tune's mean pitch (unnormalised)."""
    mean, sd = register
    return np.exp(-0.5 * ((mean_pitch(tune) + np.array(shifts) - mean) / sd) ** 2)


def collection_register(tunes: list[Tune]) -> tuple[float, float]:
    """The mean and standard deviation of the ``tunes``' `mean_pitch` (tunes with notes)."""
    pitches = (music.onset_pitches(t.melody) for t in tunes)
    means = np.array([p.mean() for p in pitches if len(p)])
    return (float(means.mean()), max(float(means.std()), 1.0)) if len(means) else (0.0, 1.0)


def _normalised(weights: np.ndarray) -> np.ndarray:
    total = weights.sum()
    return weights / total if total > 0 else np.full(len(weights), 1 / len(weights))


class Batcher:
    """Cuts ``tunes`` into packed batches of the inputs ``names`` (see the module docstring).

    The inputs of every tune are computed once (`inputs.tune_arrays`); an epoch only cuts,
    moves and packs them.
    """

    def __init__(self, tunes: list[Tune], names: tuple[str, ...], seq_len: int,
                 batch_size: int, *, transpose: bool = False, keep_register: bool = False,
                 seed: int = 0):
        self.names, self.seq_len, self.batch_size, self.seed = names, seq_len, batch_size, seed
        self.arrays = [inputs.tune_arrays(t, names) for t in tunes]
        self.columns = list(self.arrays[0]) if self.arrays else []  # inputs and targets
        allowed, counts = common_keys(tunes), collections.Counter(t.key for t in tunes)
        self.shifts = [key_shifts(t, allowed) if transpose else [0] for t in tunes]
        self.shift_p = [shift_weights(t, s, counts) for t, s in zip(tunes, self.shifts)]
        if keep_register and transpose:
            register = collection_register(tunes)
            self.shift_p = [_normalised(p * register_weights(t, s, register))
                            for t, s, p in zip(tunes, self.shifts, self.shift_p)]
        self.moves = {k: inputs.moves_with(k) for k in self.columns}
        self.tables = inputs.shift_tables(MAX_SHIFT)

    def windows(self, rng: np.random.Generator | None) -> list[tuple[int, int, int, int]]:
        """``(tune, start, end, shift)`` of every window of an epoch; ``rng=None``: windows from
        each tune's first step, untransposed (validation)."""
        out = []
        for i, arrays in enumerate(self.arrays):
            length = len(arrays["melody"])
            offset = int(rng.integers(0, self.seq_len)) if rng is not None else 0
            starts = np.maximum(np.arange(-offset, length, self.seq_len), 0)
            shift = int(rng.choice(self.shifts[i], p=self.shift_p[i])) if rng is not None else 0
            ends = np.append(starts[1:], length)
            out += [(i, int(a), int(b), shift) for a, b in zip(starts, ends) if b > a]
        return out

    def epoch(self, epoch: int = 0, shuffle: bool = True) -> list[Batch]:
        """The packed batches of one epoch, in random order (``shuffle``) or in tune order.

        The same seed and epoch give the same batches (a resumed run sees the same data).
        """
        rng = np.random.default_rng([self.seed, epoch]) if shuffle else None
        windows = self.windows(rng)
        if rng is not None:
            windows = [windows[i] for i in rng.permutation(len(windows))]
        windows.sort(key=lambda w: -self._length(w[2] - w[1]))  # stable: random within a length
        groups = [windows[i:i + self.batch_size] for i in range(0, len(windows), self.batch_size)]
        order = rng.permutation(len(groups)) if rng is not None else range(len(groups))
        per_batch = sum(end - start for _, start, end, _ in windows) / len(groups)
        return [self._batch(groups[i], 1.0 / per_batch) for i in order]

    def _length(self, steps: int) -> int:
        return min(self.seq_len, -(-steps // LENGTH_STEP) * LENGTH_STEP)

    def _batch(self, windows: list[tuple[int, int, int, int]], weight: float = 1.0) -> Batch:
        length = self._length(max(end - start for _, start, end, _ in windows))
        batch = {k: np.zeros((self.batch_size, length), np.int32) for k in self.columns}
        weights = np.zeros((self.batch_size, length), np.float32)
        shift = np.zeros(self.batch_size, np.int64)
        for row, (tune, start, end, s) in enumerate(windows):
            for key, values in self.arrays[tune].items():
                batch[key][row, :end - start] = values[start:end]
            weights[row, :end - start], shift[row] = weight, s
        if shift.any():  # transpose every row at once, by table lookup
            for key, kind in self.moves.items():
                if kind is not None:
                    batch[key] = self.tables[kind][shift[:, None] + MAX_SHIFT, batch[key]]
        targets = {k: batch[t] for k, t in inputs.TARGETS.items()}
        return ({k: batch[k] for k in self.names}, targets, {k: weights for k in targets})


def batch_windows(tunes: list[Tune], seq_len: int, batch_size: int, *, names: tuple[str, ...],
                  seed: int = 0, epoch: int = 0, transpose: bool = False,
                  keep_register: bool = False, shuffle: bool = True) -> Iterator[Batch]:
    """One epoch of ``(inputs, targets, sample_weights)`` batches of the inputs ``names``
    (a model's: `inputs.input_keys(config)`); see `Batcher`."""
    yield from Batcher(tunes, names, seq_len, batch_size, transpose=transpose,
                       keep_register=keep_register, seed=seed).epoch(epoch, shuffle)


def _tf_dataset(generate, names: tuple[str, ...], batch_size: int, count: int | None = None):
    """A `tf.data.Dataset` of the batches ``generate()`` yields (any length, ``batch_size``
    rows). One tf.data thread and no autotuning: on 2 cores, more threads only take time
    from the training step (measured, BENCHMARKS.md)."""
    import tensorflow as tf  # noqa: PLC0415 (the numpy batches above need no TensorFlow)

    ints = tf.TensorSpec((batch_size, None), tf.int32)
    floats = tf.TensorSpec((batch_size, None), tf.float32)
    signature = ({k: ints for k in names}, {k: ints for k in inputs.TARGETS},
                 {k: floats for k in inputs.TARGETS})
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if count is not None:  # a known length lets Keras show validation progress
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.autotune.enabled = False
    return dataset.prefetch(2).with_options(options)


def training_windows(tunes: list[Tune], seq_len: int, batch_size: int, *,
                     names: tuple[str, ...], seed: int = 0, transpose: bool = True,
                     keep_register: bool = False, first_epoch: int = 0,
                     batches: int | None = None):
    """An endless `tf.data.Dataset` of shuffled training batches (see `Batcher`).

    Epoch e is drawn with seed ``(seed, e)`` and has exactly ``batches`` batches (default
    `steps_per_epoch`), so a resumed run from ``first_epoch`` sees the same data it would have.
    """
    if not tunes:
        raise FolkRNNError("no tunes to train on: run folkrnn prepare (or notebook 01) first")
    batcher = Batcher(tunes, names, seq_len, batch_size, transpose=transpose,
                      keep_register=keep_register, seed=seed)
    batches = batches or steps_per_epoch(tunes, seq_len, batch_size)

    def generate():
        for epoch in itertools.count(first_epoch):
            yield from itertools.islice(itertools.cycle(batcher.epoch(epoch)), batches)

    return _tf_dataset(generate, names, batch_size)


def validation_windows(tunes: list[Tune], seq_len: int, batch_size: int, *,
                       names: tuple[str, ...]):
    """One pass over ``tunes``, not transposed, as a `tf.data.Dataset` (the same every time)."""
    if not tunes:
        raise FolkRNNError("no validation tunes: run folkrnn prepare (or notebook 01) first")
    batches = Batcher(tunes, names, seq_len, batch_size).epoch(shuffle=False)
    return _tf_dataset(lambda: iter(batches), names, batch_size, count=len(batches))


def steps_per_epoch(tunes: list[Tune], seq_len: int, batch_size: int) -> int:
    """How many batches an epoch has: enough rows for the windows of an average epoch (a tune
    of n steps, cut from a random offset, gives n / seq_len + 1 windows on average)."""
    windows = sum(len(t) / seq_len + 1 for t in tunes)
    return max(1, int(np.ceil(windows / batch_size)))
