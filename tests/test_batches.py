"""Training batches (folkrnn.batches): windows that cover every step once, packed with little
padding, transposed into the collection's keys, reproducible, and fed to Keras."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from folkrnn import batches, inputs, keys
from folkrnn.config import Config
from folkrnn.errors import FolkRNNError

NAMES = inputs.input_keys(Config())


def test_windows_cover_every_step_once_and_are_masked(tuneset):
    tunes = tuneset.valid[:10]
    epoch = list(batches.batch_windows(tunes, 64, 8, names=NAMES, shuffle=False))
    covered = sum((w["melody"] > 0).sum() for _, _, w in epoch)
    assert covered == sum(len(t) for t in tunes)
    # weights 1 / (real steps per batch): the batches' summed losses average to the NLL per step
    assert sum(w["melody"].sum() for _, _, w in epoch) == pytest.approx(len(epoch))
    first_inputs, targets, _ = epoch[0]
    assert set(first_inputs) == set(NAMES) and set(targets) == {"melody", "chord"}
    assert all(b[0]["melody"].shape[0] == 8 for b in epoch)  # one batch size throughout


def test_packing_leaves_little_padding_and_batches_no_longer_than_needed(tuneset):
    epoch = batches.Batcher(tuneset.train, NAMES, 128, 32, transpose=True).epoch(0)
    real = sum((w["melody"] > 0).sum() for _, _, w in epoch)
    slots = sum(w["melody"].size for _, _, w in epoch)
    assert real / slots > 0.9  # cut to 128 steps without packing, a fifth was padding
    lengths = {b[0]["melody"].shape[1] for b in epoch}
    assert max(lengths) == 128 and min(lengths) < 128
    assert all(n % batches.LENGTH_STEP == 0 for n in lengths)
    for _, _, weights in epoch:  # every batch is as long as its longest window
        assert weights["melody"][:, -batches.LENGTH_STEP:].any()


def test_batches_are_reproducible_with_a_seed_and_differ_between_epochs(tuneset):
    tunes = tuneset.valid[:10]
    a = batches.Batcher(tunes, NAMES, 32, 4, transpose=True, seed=3)
    b = batches.Batcher(tunes, NAMES, 32, 4, transpose=True, seed=3)
    first, again, other = a.epoch(0), b.epoch(0), a.epoch(1)
    assert all(np.array_equal(x[0]["melody"], y[0]["melody"]) for x, y in zip(first, again))
    assert not all(np.array_equal(x[0]["melody"], y[0]["melody"]) for x, y in zip(first, other))


def test_transposition_moves_inputs_and_targets_together_into_common_keys(tuneset):
    assert {"G", "D", "A"} <= batches.common_keys(tuneset.train)
    assert not batches.common_keys(tuneset.train) & {"Eb", "C#", "Ab", "Bbm"}
    tunes = tuneset.train[:60]
    common = batches.common_keys(tunes)  # the batcher's: the keys of the tunes it is given
    batcher = batches.Batcher(tunes, NAMES, 10_000, 1, transpose=True)
    windows = batcher.windows(np.random.default_rng(0))
    assert len({shift for *_, shift in windows}) > 1
    for index, start, end, shift in windows:
        tune = tunes[index]
        assert shift in batches.key_shifts(tune, common)
        assert shift == 0 or keys.transpose_key(tune.key, shift) in common
        inputs_, targets, weights = batcher._batch([(index, start, end, shift)])
        n = end - start
        assert (weights["melody"][0] > 0).sum() == n
        moved = tune.transpose(shift).slice(start, end) if start == 0 else None
        if moved is not None:  # the whole tune from its start: compare with Tune.transpose
            np.testing.assert_array_equal(targets["melody"][0, :n], moved.melody)
            np.testing.assert_array_equal(targets["chord"][0, :n], moved.chords)
        np.testing.assert_array_equal(inputs_["next_chord"][0, :n], targets["chord"][0, :n])
        np.testing.assert_array_equal(inputs_["melody"][0, 1:n], targets["melody"][0, :n - 1])


def test_transposition_favours_the_keys_the_collection_uses_most(tuneset):
    counts = collections.Counter(t.key for t in tuneset.train)
    g_tune = next(t for t in tuneset.train if t.key == "G" and 2 in batches.key_shifts(t, {"A"})
                  and -5 in batches.key_shifts(t, {"D"}))
    shifts = batches.key_shifts(g_tune, batches.common_keys(tuneset.train))
    p = dict(zip(shifts, batches.shift_weights(g_tune, shifts, counts)))
    assert abs(sum(p.values()) - 1) < 1e-9
    # D is a commoner key than A, so the move to D (a fourth down) is likelier than to A
    assert counts["D"] > counts["A"] and p[-5] > p[2]
    ratio = (counts["D"] / counts["A"]) ** batches.KEY_WEIGHT_POWER
    assert p[-5] / p[2] == pytest.approx(ratio)


def test_keep_register_favours_moves_that_keep_a_tune_where_the_collection_sits(tuneset):
    tunes = tuneset.train
    mean, sd = batches.collection_register(tunes)
    assert 65 < mean < 80 and 1 < sd < 5
    plain = batches.Batcher(tunes, NAMES, 128, 32, transpose=True)
    kept = batches.Batcher(tunes, NAMES, 128, 32, transpose=True, keep_register=True)
    assert kept.shifts == plain.shifts  # the same keys are possible, drawn differently

    def spread(batcher: batches.Batcher) -> float:
        """The standard deviation of the moved tunes' mean pitch, over a few epochs."""
        moved = [batches.mean_pitch(tunes[i]) + shift
                 for epoch in range(3) for i, start, _, shift in
                 batcher.windows(np.random.default_rng(epoch)) if start == 0]
        return float(np.std(moved))

    # a tune moved by a fourth sits out of the collection's register: with keep_register the
    # moved tunes spread about as widely as the tunes as written
    assert spread(plain) > 1.4 * sd and spread(kept) < 1.15 * sd
    far, near = max(plain.shifts[0], key=abs), min(plain.shifts[0], key=abs)
    weights = batches.register_weights(tunes[0], [far, near], (mean, sd))
    distance = abs(batches.mean_pitch(tunes[0]) + np.array([far, near]) - mean)
    assert (weights[0] < weights[1]) == (distance[0] > distance[1])


def test_training_windows_make_an_endless_tf_dataset(tuneset):
    tunes = tuneset.valid[:5]
    data = batches.training_windows(tunes, 16, 4, names=NAMES, batches=3)
    first_inputs, _, weights = next(iter(data))
    assert first_inputs["melody"].shape[0] == 4 and weights["melody"].dtype.name == "float32"
    assert len(list(data.take(7))) == 7  # endless
    valid = batches.validation_windows(tunes, 16, 4, names=NAMES)
    epoch = list(batches.batch_windows(tunes, 16, 4, names=NAMES, shuffle=False))
    assert int(valid.cardinality()) == len(epoch)


def test_no_tunes_is_a_clear_error():
    with pytest.raises(FolkRNNError, match="folkrnn prepare"):
        batches.training_windows([], 16, 4, names=NAMES)
