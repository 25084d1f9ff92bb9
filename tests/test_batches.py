"""Training batches (folkrnn.batches): windows that cover every step once, packed with little
padding, transposed into the collection's keys, reproducible, and fed to Keras."""
from __future__ import annotations

import numpy as np
import pytest

from folkrnn import batches, inputs, music
from folkrnn.config import Config
from folkrnn.errors import FolkRNNError

NAMES = inputs.input_keys(Config())


def test_windows_cover_every_step_once_and_are_masked(tuneset):
    tunes = tuneset.valid[:10]
    epoch = list(batches.batch_windows(tunes, 64, 8, names=NAMES, shuffle=False))
    covered = sum(w["melody"].sum() for _, _, w in epoch)
    assert covered == sum(len(t) for t in tunes)
    first_inputs, targets, _ = epoch[0]
    assert set(first_inputs) == set(NAMES) and set(targets) == {"melody", "chord"}
    assert all(b[0]["melody"].shape[0] == 8 for b in epoch)  # one batch size throughout


def test_packing_leaves_little_padding_and_batches_no_longer_than_needed(tuneset):
    epoch = batches.Batcher(tuneset.train, NAMES, 128, 32, transpose=True).epoch(0)
    real = sum(w["melody"].sum() for _, _, w in epoch)
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
    tunes = tuneset.train[:60]
    keys = batches.common_keys(tuneset.train)
    assert {"G", "D", "A"} <= keys and not keys & {"Eb", "C#", "Ab", "Bbm"}
    batcher = batches.Batcher(tunes, NAMES, 10_000, len(tunes), transpose=True)
    rng = np.random.default_rng(0)
    windows = batcher.windows(rng)
    assert len(windows) == len(tunes)  # one window per tune at this length
    assert len({shift for *_, shift in windows}) > 1
    for tune, window in zip(tunes, windows):
        assert window[3] in batches.key_shifts(tune, keys)
        assert window[3] == 0 or music.transpose_key(tune.key, window[3]) in keys
    (epoch,) = batcher.epoch(0)  # the same rows through the batch path, in packed order
    inputs_, targets, weights = epoch
    for row in range(len(tunes)):
        n = int(weights["melody"][row].sum())
        tune = next(t for t in tunes if len(t) == n and
                    np.array_equal(music.is_onset(t.melody), music.is_onset(targets["melody"][row, :n])))
        shift = int(targets["melody"][row, :n][music.is_onset(tune.melody)][0]
                    - tune.melody[music.is_onset(tune.melody)][0])
        np.testing.assert_array_equal(targets["melody"][row, :n], music.transpose_melody(tune.melody, shift))
        np.testing.assert_array_equal(targets["chord"][row, :n], music.transpose_chords(tune.chords, shift))
        np.testing.assert_array_equal(inputs_["next_chord"][row, :n], targets["chord"][row, :n])
        np.testing.assert_array_equal(inputs_["melody"][row, 1:n], targets["melody"][row, :n - 1])


def test_training_windows_make_an_endless_tf_dataset(tuneset):
    tunes = tuneset.valid[:5]
    data = batches.training_windows(tunes, 16, 4, names=NAMES, batches=3)
    first_inputs, _, weights = next(iter(data))
    assert first_inputs["melody"].shape[0] == 4 and weights["melody"].dtype.name == "float32"
    assert len(list(data.take(7))) == 7  # endless
    valid = batches.validation_windows(tunes, 16, 4, names=NAMES)
    assert int(valid.cardinality()) == len(list(batches.batch_windows(tunes, 16, 4, names=NAMES,
                                                                      shuffle=False)))


def test_no_tunes_is_a_clear_error():
    with pytest.raises(FolkRNNError, match="folkrnn prepare"):
        batches.training_windows([], 16, 4, names=NAMES)
