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
    assert 0.75 < len(tuneset.train) / total < 0.85
    assert 0.05 < len(tuneset.test) / total < 0.15
    assert tuneset.summary().startswith(f"kept {total} tunes")


def test_duplicates_sit_on_one_side_of_the_split(tuneset):
    split = {t.name: name for name, tunes in tuneset.tunes.items() for t in tunes}
    for pair in (["reelsa-c22", "reelsm-q24"], ["hpps24", "hpps25"], ["jigs155", "jigs156"],
                 ["jigs282", "jigs283"]):
        assert any(set(pair) <= set(group) for group in tuneset.duplicates), pair
        assert split[pair[0]] == split[pair[1]], pair
    grouped = {name for group in tuneset.duplicates for name in group}
    for group in tuneset.duplicates:
        assert len({split[name] for name in group}) == 1, group
    assert all(split[n] == dataset.split_of(n) for n in split if n not in grouped)
    assert "duplicate groups" in tuneset.summary()


def _bar_patterns(tune: music.Tune) -> list[tuple[int, ...]]:
    """Each bar with two or more notes, its pitches relative to its first note (any key)."""
    patterns = []
    for start, end in tune.bars():
        bar = tune.melody[start:end].astype(int)
        onsets = bar >= music.ONSET
        if onsets.sum() >= 2:
            patterns.append(tuple(np.where(onsets, bar - bar[onsets][0] + 100, bar)))
    return patterns


def test_no_test_tune_shares_most_of_its_bars_with_a_training_tune(tuneset):
    # A measure independent of the fingerprint the split uses. The old split by name alone
    # failed it: all 49 bars of test tune reelsm-q24 are bars of training tune reelsa-c22.
    training = [(t.name, set(_bar_patterns(t))) for t in tuneset.train]
    for tune in tuneset.test:
        bars = _bar_patterns(tune)
        for name, seen in training:
            shared = sum(bar in seen for bar in bars)
            assert shared <= len(bars) / 2, f"{tune.name} repeats {shared}/{len(bars)} bars of {name}"


def test_adding_tunes_moves_no_tune_and_a_copy_joins_its_original(tuneset):
    tunes = tuneset.all
    before, _ = dataset.assign_splits(tunes)
    test_tune = tuneset.test[0]
    low, high = test_tune.pitch_shift_range()
    copy = test_tune.transpose(high if high else low)  # the same tune in another key
    copy.name = "zz-a-copy"
    new = music.Tune(np.array([music.onset(60)] * 64), np.zeros(64), [(0, "4/4")], "C", "aa-new")
    after, groups = dataset.assign_splits(tunes + [copy, new])
    assert all(after[name] == split for name, split in before.items())
    assert after["zz-a-copy"] == "test" and [test_tune.name, "zz-a-copy"] in groups
    assert after["aa-new"] == dataset.split_of("aa-new")


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
    tune = tuneset.train[0]
    arrays = dataset.tune_arrays(tune)
    assert arrays["melody"][0] == music.REST and arrays["chord"][0] == music.NO_CHORD
    np.testing.assert_array_equal(arrays["melody"][1:], tune.melody[:-1])
    np.testing.assert_array_equal(arrays["target_melody"], tune.melody)
    np.testing.assert_array_equal(arrays["next_chord"], tune.chords)
    np.testing.assert_array_equal(arrays["position"], tune.positions)


def test_windows_cover_every_step_once_and_are_masked(tuneset):
    tunes = tuneset.valid[:10]
    batches = list(dataset.batch_windows(tunes, 64, 8, shuffle=False))
    covered = sum(w["melody"].sum() for _, _, w in batches)
    assert covered == sum(len(t) for t in tunes)
    inputs, targets, weights = batches[0]
    assert set(inputs) == set(dataset.INPUT_KEYS) and set(targets) == {"melody", "chord"}
    assert inputs["melody"].shape == (8, 64)


def test_windows_are_reproducible_with_a_seed(tuneset):
    tunes = tuneset.valid[:10]
    a = next(dataset.batch_windows(tunes, 32, 4, seed=3, transpose=True))
    b = next(dataset.batch_windows(tunes, 32, 4, seed=3, transpose=True))
    c = next(dataset.batch_windows(tunes, 32, 4, seed=4, transpose=True))
    assert np.array_equal(a[0]["melody"], b[0]["melody"])
    assert not np.array_equal(a[0]["melody"], c[0]["melody"])


def test_transposition_keeps_melody_and_chords_in_step(tuneset):
    tunes = tuneset.valid[:20]
    windows = list(dataset._windows(tunes, 10_000, np.random.default_rng(0), transpose=True))
    assert len(windows) == len(tunes)  # one window per tune at this length
    shifts = set()
    for tune, (arrays, _) in zip(tunes, windows):
        onsets = music.is_onset(tune.melody)
        shift = int(arrays["target_melody"][onsets][0] - tune.melody[onsets][0])
        shifts.add(shift)
        np.testing.assert_array_equal(arrays["target_melody"], music.transpose_melody(tune.melody, shift))
        np.testing.assert_array_equal(arrays["target_chord"], music.transpose_chords(tune.chords, shift))
        assert arrays["target_melody"].max() < music.MELODY_SIZE
    assert len(shifts) > 1


def test_training_windows_make_a_tf_dataset(tuneset):
    tunes = tuneset.valid[:5]
    data = dataset.training_windows(tunes, 16, 4, batches=3)
    inputs, targets, weights = next(iter(data))
    assert inputs["melody"].shape == (4, 16) and weights["melody"].dtype.name == "float32"
    assert len(list(data.take(7))) == 7  # endless
    valid = dataset.validation_windows(tunes, 16, 4)
    assert int(valid.cardinality()) == len(list(dataset.batch_windows(tunes, 16, 4)))


def test_no_tunes_is_a_clear_error():
    with pytest.raises(dataset.FolkRNNError, match="folkrnn prepare"):
        dataset.training_windows([], 16, 4)
