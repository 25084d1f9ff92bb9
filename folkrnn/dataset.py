"""The dataset: encode every tune once, split it without duplicates across the split, cache it.

Explained in notebook 01_collect_data. `prepare_dataset` encodes all MIDI files (in parallel),
splits them by a stable hash of the file name (train/valid/test ≈ 80/10/10, copies of one tune
kept on one side) and caches the arrays as ``npz`` + JSON (no pickle). The cache is rebuilt when
the MIDI files or `ENCODING_VERSION` change. The model's inputs are `folkrnn.inputs`; the
training batches `folkrnn.batches`.
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

import numpy as np

from folkrnn import music, paths, runs
from folkrnn.download import midi_files
from folkrnn.errors import FolkRNNError
from folkrnn.paths import write_atomic
from folkrnn.music import Tune

ENCODING_VERSION = 2  # bump when the representation changes: old caches are rebuilt
SPLITS = ("train", "valid", "test")


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

    runs.write_vocab(folder)  # the names behind the ids, as beside every run's weights
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
