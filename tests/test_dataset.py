"""The dataset pipeline: prepare, split, cache and training windows."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from folkrnn import dataset, music


def test_prepare_keeps_at_least_980_tunes_split_80_10_10(tuneset):
    total = len(tuneset.all)
    assert total >= 980
    assert sum(tuneset.skipped.values()) + total == 1034
    assert 0.75 < len(tuneset.tunes["train"]) / total < 0.85
    assert 0.05 < len(tuneset.tunes["test"]) / total < 0.15
    assert tuneset.summary().startswith(f"kept {total} tunes")


def test_split_is_a_stable_function_of_the_name(tuneset):
    for split, tunes in tuneset.tunes.items():
        assert all(dataset.split_of(t.name) == split for t in tunes)
    # adding other names never moves a tune to another side
    before = {t.name: dataset.split_of(t.name) for t in tuneset.all}
    dataset.split_of("a-new-tune")
    assert before == {t.name: dataset.split_of(t.name) for t in tuneset.all}
    assert dataset.split_of("jigs1") == dataset.split_of("jigs1")


def _copy_some(midi_folder, target, n=12):
    target.mkdir(parents=True)
    for path in sorted(midi_folder.glob("*.mid"))[:n]:
        shutil.copy(path, target / path.name)
    return target


def test_cache_is_used_then_rebuilt_when_the_source_changes(midi_folder, home, monkeypatch):
    folder = _copy_some(midi_folder, home / "midi")
    first = dataset.prepare_dataset(folder)
    meta = dataset.cache_dir() / "tunes.json"
    stamp = meta.stat().st_mtime_ns
    assert dataset.prepare_dataset(folder).all == first.all
    assert meta.stat().st_mtime_ns == stamp  # warm: read, not rewritten
    (folder / sorted(os.listdir(folder))[0]).unlink()  # the source changes
    rebuilt = dataset.prepare_dataset(folder)
    assert len(rebuilt.all) + sum(rebuilt.skipped.values()) == 11
    assert meta.stat().st_mtime_ns != stamp


def test_cache_is_rebuilt_when_the_encoding_version_changes(midi_folder, home, monkeypatch):
    folder = _copy_some(midi_folder, home / "midi", n=5)
    dataset.prepare_dataset(folder)
    monkeypatch.setattr(dataset, "ENCODING_VERSION", dataset.ENCODING_VERSION + 1)
    assert dataset.load_cache(dataset.cache_dir()) is None
    dataset.prepare_dataset(folder)
    meta = json.loads((dataset.cache_dir() / "tunes.json").read_text())
    assert meta["encoding_version"] == dataset.ENCODING_VERSION


def test_cache_holds_no_pickle_and_a_vocabulary(midi_folder, home):
    dataset.prepare_dataset(_copy_some(midi_folder, home / "midi", n=5))
    with np.load(dataset.cache_dir() / "tunes.npz", allow_pickle=False) as npz:
        assert {"melody", "chords", "offsets"} <= set(npz.files)
    vocab = json.loads((dataset.cache_dir() / "vocab.json").read_text())
    assert len(vocab["melody"]) == music.MELODY_SIZE and vocab["chord"][0] == "N"
    assert not list(dataset.cache_dir().glob("*.tmp"))


def test_a_corrupt_cache_is_ignored_and_rebuilt(midi_folder, home):
    folder = _copy_some(midi_folder, home / "midi", n=5)
    dataset.prepare_dataset(folder)
    (dataset.cache_dir() / "tunes.npz").write_bytes(b"garbage")
    assert dataset.load_cache(dataset.cache_dir()) is None
    assert len(dataset.prepare_dataset(folder).all) >= 4


def test_tune_arrays_shift_targets_by_one_step(tuneset):
    tune = tuneset.tunes["train"][0]
    arrays = dataset.tune_arrays(tune)
    assert arrays["melody"][0] == music.REST and arrays["chord"][0] == music.NO_CHORD
    np.testing.assert_array_equal(arrays["melody"][1:], tune.melody[:-1])
    np.testing.assert_array_equal(arrays["target_melody"], tune.melody)
    np.testing.assert_array_equal(arrays["next_chord"], tune.chords)
    np.testing.assert_array_equal(arrays["position"], tune.positions)


def test_windows_cover_every_step_once_and_are_masked(tuneset):
    tunes = tuneset.tunes["valid"][:10]
    batches = list(dataset.batch_windows(tunes, 64, 8, shuffle=False))
    covered = sum(w["melody"].sum() for _, _, w in batches)
    assert covered == sum(len(t) for t in tunes)
    inputs, targets, weights = batches[0]
    assert set(inputs) == set(dataset.INPUT_KEYS) and set(targets) == {"melody", "chord"}
    assert inputs["melody"].shape == (8, 64)


def test_windows_are_reproducible_with_a_seed(tuneset):
    tunes = tuneset.tunes["valid"][:10]
    a = next(dataset.batch_windows(tunes, 32, 4, seed=3, transpose=True))
    b = next(dataset.batch_windows(tunes, 32, 4, seed=3, transpose=True))
    c = next(dataset.batch_windows(tunes, 32, 4, seed=4, transpose=True))
    assert np.array_equal(a[0]["melody"], b[0]["melody"])
    assert not np.array_equal(a[0]["melody"], c[0]["melody"])


def test_transposition_keeps_melody_and_chords_in_step(tuneset):
    tunes = tuneset.tunes["valid"][:20]
    windows = list(dataset._windows(tunes, 10_000, np.random.default_rng(0), transpose=True))
    assert len(windows) == len(tunes)  # one window per tune at this length
    shifts = set()
    for tune, (arrays, _) in zip(tunes, windows):
        onsets = tune.melody >= 2
        shift = int(arrays["target_melody"][onsets][0] - tune.melody[onsets][0])
        shifts.add(shift)
        np.testing.assert_array_equal(arrays["target_melody"], music.transpose_melody(tune.melody, shift))
        np.testing.assert_array_equal(arrays["target_chord"], music.transpose_chords(tune.chords, shift))
        assert arrays["target_melody"].max() < music.MELODY_SIZE
    assert len(shifts) > 1


def test_training_windows_make_a_tf_dataset(tuneset):
    tunes = tuneset.tunes["valid"][:5]
    data = dataset.training_windows(tunes, 16, 4, batches=3)
    inputs, targets, weights = next(iter(data))
    assert inputs["melody"].shape == (4, 16) and weights["melody"].dtype.name == "float32"
    assert len(list(data.take(7))) == 7  # endless
    valid = dataset.validation_windows(tunes, 16, 4)
    assert int(valid.cardinality()) == len(list(dataset.batch_windows(tunes, 16, 4)))


def test_no_tunes_is_a_clear_error():
    with pytest.raises(dataset.FolkRNNError, match="folkrnn prepare"):
        dataset.training_windows([], 16, 4)
