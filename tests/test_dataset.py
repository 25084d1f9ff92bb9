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


