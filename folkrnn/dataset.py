"""The dataset pipeline: encode every tune once, split, cache, and cut training windows.

Explained in notebook 02_build_model (windows) and 01_collect_data (split and cache).

* `prepare_dataset` encodes all MIDI files (in parallel), splits them by a stable hash of the file
  name (train/valid/test ≈ 80/10/10) and caches the arrays as ``npz`` + JSON (no pickle). The cache
  is rebuilt when the MIDI files or `ENCODING_VERSION` change.
* `tune_arrays` turns one tune into model inputs and targets (the model sees step t and predicts
  step t+1); `training_windows` cuts those into a shuffled, optionally transposed `tf.data`
  pipeline.
"""
from __future__ import annotations

import collections
import hashlib
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from folkrnn import form, music, paths
from folkrnn.download import midi_files
from folkrnn.errors import FolkRNNError
from folkrnn.paths import write_atomic
from folkrnn.music import Tune

ENCODING_VERSION = 2  # bump when the representation changes: old caches are rebuilt
SPLITS = ("train", "valid", "test")
BASE_INPUT_KEYS = ("melody", "chord", "position", "meter", "next_chord")
# every model input `tune_arrays` makes; a model of a given Config reads `input_keys(config)`
INPUT_KEYS = BASE_INPUT_KEYS + form.lookback_keys(form.LOOKBACK_BARS) + form.STRUCTURE_KEYS
TARGET_KEYS = ("melody", "chord")


def split_of(name: str) -> str:
    """``train``, ``valid`` or ``test`` for a tune name: a stable hash, never a random draw."""
    bucket = int(hashlib.sha1(name.encode()).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 90 else "test"


# --- duplicates: the same tune under two names must not sit on both sides of the split --------
SHINGLE_NOTES = 6  # notes per melody fragment compared between tunes
# Tunes sharing at least this share of their fragments are one tune. Measured on the collection:
# 147 pairs share 10-20% (common figures), 11 share 20-30%, then versions of one tune from 30% up
# (hpps28/hpps29 43%, reelsa-c22/reelsm-q24 100%); see BENCHMARKS.md.
DUPLICATE_SHARE = 0.3
COMMON_FRAGMENT = 40  # fragments found in more tunes than this (scales, arpeggios) don't count


def melody_fingerprint(tune: Tune) -> set[tuple[int, ...]]:
    """The tune's melody as a set of overlapping fragments of `SHINGLE_NOTES` notes.

    A fragment lists the interval and the time from each note to the next, so it is the same
    in any key: a tune and its transposition have the same fingerprint.
    """
    notes = music.melody_notes(tune.melody)
    steps = [(b[2] - a[2], b[0] - a[0]) for a, b in zip(notes, notes[1:])]
    return {tuple(v for step in steps[i:i + SHINGLE_NOTES] for v in step)
            for i in range(len(steps) - SHINGLE_NOTES + 1)}


def duplicate_groups(tunes: list[Tune]) -> list[list[str]]:
    """Groups (of two or more names) of tunes that share most of their melody.

    Two tunes are the same tune when at least `DUPLICATE_SHARE` of the fragments of the
    shorter one (see `melody_fingerprint`) occur in the other; groups are closed under that
    relation (if A≈B and B≈C, all three are one group).
    """
    prints = [melody_fingerprint(t) for t in tunes]
    holders: dict[tuple[int, ...], list[int]] = collections.defaultdict(list)
    for i, fragments in enumerate(prints):
        for fragment in fragments:
            holders[fragment].append(i)
    shared: collections.Counter[tuple[int, int]] = collections.Counter()
    for owners in holders.values():
        if 1 < len(owners) <= COMMON_FRAGMENT:
            shared.update(itertools.combinations(owners, 2))
    parent = list(range(len(tunes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for (a, b), count in shared.items():
        if count >= DUPLICATE_SHARE * max(1, min(len(prints[a]), len(prints[b]))):
            parent[root(a)] = root(b)
    groups: dict[int, list[str]] = collections.defaultdict(list)
    for i, tune in enumerate(tunes):
        groups[root(i)].append(tune.name)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def assign_splits(tunes: list[Tune]) -> tuple[dict[str, str], list[list[str]]]:
    """The split of every tune by name, and the duplicate groups found (see `duplicate_groups`).

    A tune's split is `split_of` its name; the members of a duplicate group all take the split
    of the group's first name. So the split depends on content only through duplicates: adding
    an unrelated file moves no tune.
    """
    splits = {t.name: split_of(t.name) for t in tunes}
    groups = duplicate_groups(tunes)
    for group in groups:
        for name in group:
            splits[name] = split_of(group[0])
    return splits, groups


@dataclass
class TuneSet:
    """The encoded collection: tunes per split, the count of skipped files per reason, and the
    groups of duplicate tunes (kept on one side of the split)."""

    tunes: dict[str, list[Tune]]
    skipped: dict[str, int] = field(default_factory=dict)
    duplicates: list[list[str]] = field(default_factory=list)

    @property
    def train(self) -> list[Tune]:
        return self.tunes["train"]

    @property
    def valid(self) -> list[Tune]:
        return self.tunes["valid"]

    @property
    def test(self) -> list[Tune]:
        return self.tunes["test"]

    @property
    def all(self) -> list[Tune]:
        return [t for s in SPLITS for t in self.tunes[s]]

    def summary(self) -> str:
        """``kept N tunes`` and the split, duplicate and skip counts, as `folkrnn prepare`
        prints them."""
        sizes = ", ".join(f"{s} {len(self.tunes[s])}" for s in SPLITS)
        copies = sum(len(g) for g in self.duplicates)
        lines = [f"kept {len(self.all)} tunes ({sizes})",
                 f"found {len(self.duplicates)} duplicate groups ({copies} tunes that share most "
                 f"of their melody), each kept on one side of the split"]
        lines += [f"skipped {n} tunes: {reason}" for reason, n in sorted(self.skipped.items())]
        return "\n".join(lines)


def _encode_file(path: str) -> Tune | tuple[str, str]:
    try:
        return music.read_tune(path)
    except music.TuneError as error:
        return error.reason, str(error)


def encode_files(files: list[Path], workers: int | None = None) -> TuneSet:
    """Encode MIDI files into a `TuneSet` (skipping, with a reason, those that don't fit)."""
    workers = workers or min(os.cpu_count() or 1, 4)
    names = [str(f) for f in files]
    if workers > 1 and len(names) > 50:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_encode_file, names, chunksize=32))
    else:
        results = [_encode_file(n) for n in names]
    kept = [r for r in results if isinstance(r, Tune)]
    skipped = collections.Counter(r[0] for r in results if not isinstance(r, Tune))
    splits, groups = assign_splits(kept)
    tunes: dict[str, list[Tune]] = {s: [] for s in SPLITS}
    for tune in kept:
        tunes[splits[tune.name]].append(tune)
    return TuneSet(tunes, dict(skipped), groups)


def _source_digest(files: list[Path]) -> str:
    split_rule = f"{SHINGLE_NOTES} {DUPLICATE_SHARE} {COMMON_FRAGMENT}"  # a new rule, a new split
    digest = hashlib.sha256(f"encoding {ENCODING_VERSION} duplicates {split_rule}".encode())
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where the encoded arrays are cached."""
    return paths.data_dir() / "cache"


def save_cache(tuneset: TuneSet, folder: Path, source: str) -> None:
    """Write the tunes as ``tunes.npz`` (arrays) + ``tunes.json`` (names, keys, meters, splits)."""
    folder.mkdir(parents=True, exist_ok=True)
    tunes = tuneset.all
    offsets = np.cumsum([0] + [len(t) for t in tunes])
    arrays = {"melody": np.concatenate([t.melody for t in tunes]) if tunes else np.zeros(0),
              "chords": np.concatenate([t.chords for t in tunes]) if tunes else np.zeros(0),
              "offsets": offsets}
    meta = {"encoding_version": ENCODING_VERSION, "source": source, "skipped": tuneset.skipped,
            "duplicates": tuneset.duplicates,
            "tunes": [{"name": t.name, "key": t.key, "meters": t.meters, "split": split}
                      for split in SPLITS for t in tuneset.tunes[split]]}

    def write_npz(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    write_atomic(folder / "vocab.json",
                  lambda tmp: Path(tmp).write_text(json.dumps(music.vocabularies(), indent=1)))
    write_atomic(folder / "tunes.npz", write_npz)
    write_atomic(folder / "tunes.json", lambda tmp: Path(tmp).write_text(json.dumps(meta)))


def load_cache(folder: Path, source: str | None = None) -> TuneSet | None:
    """The cached `TuneSet`, or None if missing, stale (other source or version) or unreadable."""
    try:
        meta = json.loads((folder / "tunes.json").read_text())
        if meta["encoding_version"] != ENCODING_VERSION or (source and meta["source"] != source):
            return None
        with np.load(folder / "tunes.npz", allow_pickle=False) as npz:
            melody, chords, offsets = npz["melody"], npz["chords"], npz["offsets"]
    except (OSError, ValueError, KeyError):
        return None
    tunes: dict[str, list[Tune]] = {s: [] for s in SPLITS}
    for i, info in enumerate(meta["tunes"]):
        a, b = offsets[i], offsets[i + 1]
        tunes[info["split"]].append(Tune(melody[a:b], chords[a:b], [tuple(m) for m in info["meters"]],
                                         info["key"], info["name"]))
    return TuneSet(tunes, meta["skipped"], meta.get("duplicates", []))


def prepare_dataset(midi_folder: Path | None = None, *, force: bool = False) -> TuneSet:
    """Encode, split and cache the collection (or load the cache when it is up to date)."""
    files = midi_files(midi_folder)
    source = _source_digest(files)
    if not force:
        cached = load_cache(cache_dir(), source)
        if cached is not None:
            return cached
    tuneset = encode_files(files)
    if not tuneset.all:
        raise FolkRNNError(f"none of the {len(files)} MIDI files could be encoded: "
                           f"{tuneset.skipped}; check the data folder or run folkrnn download again")
    save_cache(tuneset, cache_dir(), source)
    return tuneset


def load_dataset() -> TuneSet:
    """The prepared tunes: from the cache if present (fast), else prepared now."""
    cached = load_cache(cache_dir())
    return cached if cached is not None else prepare_dataset()


# --- model inputs ----------------------------------------------------------------------------
def tune_arrays(tune: Tune, lags: tuple[int, ...] = form.LOOKBACK_BARS
                ) -> dict[str, np.ndarray]:
    """Inputs and targets of one tune for next-step prediction (explained in notebook 02).

    A silent step (rest, no chord) is put before the tune, so step 0 is predicted too. At each
    step t the model sees what sounded at t (``melody``, ``chord``) and what is known of t+1 in
    advance (``position``, ``meter``; ``next_chord`` for the melody head, teacher-forced), and
    learns ``target_melody`` and ``target_chord`` of step t+1. The form inputs of step t+1
    (lookback for ``lags``, and structure; see `folkrnn.form`) come too; a model reads
    `input_keys(config)`, and its lags are ``form.lags_in(input_keys(config))``.
    """
    melody = np.concatenate([[music.REST], tune.melody]).astype(np.int32)
    chords = np.concatenate([[music.NO_CHORD], tune.chords]).astype(np.int32)
    return {"melody": melody[:-1], "chord": chords[:-1],
            "position": tune.positions.astype(np.int32), "meter": tune.meter_ids.astype(np.int32),
            "next_chord": chords[1:], **form.form_arrays(tune, lags),
            "target_melody": melody[1:], "target_chord": chords[1:]}


def input_keys(config) -> tuple[str, ...]:
    """The inputs a model of ``config`` reads: the base ones, then the form inputs it asks for
    (``lookback``, ``structure``; see `folkrnn.form`)."""
    keys = BASE_INPUT_KEYS + form.lookback_keys(form.parse_lookback(config.lookback))
    return keys + (form.STRUCTURE_KEYS if config.structure else ())


def _transposed(arrays: dict[str, np.ndarray], shift: int) -> dict[str, np.ndarray]:
    out = dict(arrays)
    for key in arrays:
        if key in ("melody", "target_melody") or key.startswith("lookback_melody"):
            out[key] = music.transpose_melody(arrays[key], shift)
        elif key in ("chord", "next_chord", "target_chord") or key.startswith("lookback_chord"):
            out[key] = music.transpose_chords(arrays[key], shift)
    return out


def _window_starts(length: int, seq_len: int, rng: np.random.Generator) -> np.ndarray:
    offset = int(rng.integers(0, seq_len))
    return np.maximum(np.arange(-offset, length, seq_len), 0)


def _windows(tunes: list[Tune], seq_len: int, rng: np.random.Generator, transpose: bool,
             lags: tuple[int, ...] = form.LOOKBACK_BARS
             ) -> Iterator[tuple[dict[str, np.ndarray], int]]:
    """One epoch of windows covering every step once, each with its valid length."""
    for tune in tunes:
        arrays = tune_arrays(tune, lags)
        if transpose:
            low, high = tune.pitch_shift_range()
            arrays = _transposed(arrays, int(rng.integers(max(low, -6), min(high, 6) + 1)))
        starts = _window_starts(len(tune), seq_len, rng)
        ends = np.append(starts[1:], len(tune))
        for start, end in zip(starts, ends):
            if end > start:
                yield {k: v[start:end] for k, v in arrays.items()}, end - start


def batch_windows(tunes: list[Tune], seq_len: int, batch_size: int, *, seed: int = 0,
                  epoch: int = 0, transpose: bool = False, shuffle: bool = True,
                  keys: tuple[str, ...] = INPUT_KEYS) -> Iterator[tuple[dict, dict, dict]]:
    """One epoch of ``(inputs, targets, sample_weights)`` numpy batches, padded and masked.

    ``inputs`` holds the model inputs ``keys`` (a model's: `input_keys(config)`). Every batch
    has ``batch_size`` rows: the last one is filled up with rows of weight 0, which the
    (weighted) loss and metrics ignore. One fixed shape lets TensorFlow compile one fast
    training step: with a varying batch size, an epoch took twice as long (BENCHMARKS.md).

    Windows are shuffled (``shuffle``) and transposed by a random shift that keeps the melody in
    range (``transpose``); a seed and epoch number make the order reproducible.
    """
    rng = np.random.default_rng([seed, epoch])
    windows = list(_windows(tunes, seq_len, rng, transpose, form.lags_in(keys)))
    order = rng.permutation(len(windows)) if shuffle else np.arange(len(windows))
    for first in range(0, len(order), batch_size):
        chosen = [windows[i] for i in order[first:first + batch_size]]
        batch = {k: np.zeros((batch_size, seq_len), np.int32) for k in chosen[0][0]}
        mask = np.zeros((batch_size, seq_len), np.float32)
        for row, (arrays, length) in enumerate(chosen):
            for key, values in arrays.items():
                batch[key][row, :length] = values
            mask[row, :length] = 1
        inputs = {k: batch[k] for k in keys}
        targets = {k: batch["target_" + k] for k in TARGET_KEYS}
        yield inputs, targets, {k: mask for k in TARGET_KEYS}


def _tf_dataset(generate, seq_len: int, batch_size: int, count: int | None = None,
                keys: tuple[str, ...] = INPUT_KEYS):
    """A prefetching `tf.data.Dataset` of the (batch_size, seq_len) batches ``generate()``
    yields."""
    import tensorflow as tf

    ints = tf.TensorSpec((batch_size, seq_len), tf.int32)
    floats = tf.TensorSpec((batch_size, seq_len), tf.float32)
    signature = ({k: ints for k in keys}, {k: ints for k in TARGET_KEYS},
                 {k: floats for k in TARGET_KEYS})
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if count is not None:  # a known length lets Keras show validation progress
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    return dataset.prefetch(2)


def training_windows(tunes: list[Tune], seq_len: int, batch_size: int, *, seed: int = 0,
                     transpose: bool = True, first_epoch: int = 0, batches: int | None = None,
                     keys: tuple[str, ...] = INPUT_KEYS):
    """An endless `tf.data.Dataset` of shuffled training batches (see `batch_windows`).

    Epoch e is drawn with seed ``(seed, e)`` and has exactly ``batches`` batches (default
    `steps_per_epoch`), so a resumed run from ``first_epoch`` sees the same data it would have.
    """
    if not tunes:
        raise FolkRNNError("no tunes to train on: run folkrnn prepare (or notebook 01) first")
    batches = batches or steps_per_epoch(tunes, seq_len, batch_size)

    def generate():
        for epoch in itertools.count(first_epoch):
            yield from itertools.islice(itertools.cycle(batch_windows(
                tunes, seq_len, batch_size, seed=seed, epoch=epoch, transpose=transpose,
                keys=keys)), batches)

    return _tf_dataset(generate, seq_len, batch_size, keys=keys)


def validation_windows(tunes: list[Tune], seq_len: int, batch_size: int,
                       keys: tuple[str, ...] = INPUT_KEYS):
    """One pass over ``tunes`` in order, not transposed, as a `tf.data.Dataset`."""
    if not tunes:
        raise FolkRNNError("no validation tunes: run folkrnn prepare (or notebook 01) first")

    def generate():
        return batch_windows(tunes, seq_len, batch_size, shuffle=False, keys=keys)

    return _tf_dataset(generate, seq_len, batch_size, count=sum(1 for _ in generate()),
                       keys=keys)


def steps_per_epoch(tunes: list[Tune], seq_len: int, batch_size: int) -> int:
    """How many batches `batch_windows` yields per epoch (the same every epoch, up to one)."""
    windows = sum(len(t) // seq_len + 1 for t in tunes)
    return max(1, windows // batch_size)
