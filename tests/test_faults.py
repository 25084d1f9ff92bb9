"""Training when the run folder can't be written: a full disk, a read-only folder.

Each case stops with one line naming the disk (or folder) and the run, keeps the last complete
epoch byte for byte, and resumes from it once the fault is gone (docs/robustness.md). The
full disk is a real 3 MB tmpfs and the read-only folder a tmpfs remounted read-only, both of
which need root; without root the read-only folder is a ``chmod a-w`` one instead.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from folkrnn import music, paths, runs
from folkrnn.listen import save_tune
from folkrnn.errors import FolkRNNError
from folkrnn.runs import TrainingState

from conftest import assert_one_line_error, folkrnn

ROOT = os.geteuid() == 0
WEIGHTS = "last.weights.h5", "best.weights.h5", "state.json", "history.csv"


def mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} is refused here ({result.stderr.strip()})")


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A small RAM disk mounted at ``folder`` for the block (root only)."""
    folder.mkdir(parents=True, exist_ok=True)
    mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """``folder`` can't be written during the block; yields what the error should say.

    Root ignores file permissions, so as root ``folder`` must be a mount point (a tmpfs) and is
    remounted read-only; otherwise its write permission is taken away.
    """
    if ROOT:
        mount("-o", "remount,ro", str(folder))
        try:
            yield "is read-only"
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield "is not a folder you may write to"
        finally:
            folder.chmod(0o755)


def fill(folder: Path, leave: int) -> Path:
    """Fill the disk of ``folder`` until only ``leave`` bytes are free."""
    filler = folder / "filler"
    with open(filler, "wb") as out:
        out.write(b"\0" * max(0, os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
                                 - leave))
    return filler


def snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in WEIGHTS}


@pytest.fixture
def home_on(dataset_home: Path, tmp_path: Path):
    """An empty FOLKRNN_HOME whose data/ are the session's prepared tunes."""
    (tmp_path / "data").symlink_to(dataset_home / "data")
    return tmp_path


@pytest.mark.skipif(not ROOT, reason="a full disk is a small tmpfs, and mounting one needs root")
def test_a_full_disk_stops_training_keeps_the_epoch_and_resumes(home_on):
    with tmpfs(home_on / "runs", "4M") as disk:
        assert folkrnn("train", "--run", "full", "--set", "epochs=1", home=home_on).returncode == 0
        kept = snapshot(disk / "full")
        filler = fill(disk, leave=300_000)  # less than one checkpoint (750 kB in smoke mode)
        result = folkrnn("train", "--run", "full", "--set", "epochs=2", home=home_on)
        assert_one_line_error(result, "run 'full'", f"the disk at {disk}", "is full",
                              "checkpoint of epoch 1 is kept", "run the same command again")
        assert result.returncode == 1  # not a crash (the segmentation fault of HDF5)
        assert snapshot(disk / "full") == kept
        assert not list((disk / "full").glob(".*tmp*"))
        filler.unlink()
        result = folkrnn("train", "--run", "full", "--set", "epochs=2", home=home_on)
        assert result.returncode == 0, result.stderr
        assert "resuming after epoch 1" in result.stdout
        state = json.loads((disk / "full" / "state.json").read_text())
        assert state["epoch"] == 2 and [row["epoch"] for row in state["history"]] == [1, 2]


def test_a_read_only_run_folder_stops_training_keeps_the_epoch_and_resumes(home_on):
    with tmpfs(home_on / "runs", "8M") if ROOT else contextlib.nullcontext(home_on / "runs"):
        assert folkrnn("train", "--run", "ro", "--set", "epochs=1", home=home_on).returncode == 0
        folder = home_on / "runs" / "ro"
        kept = snapshot(folder)
        with read_only(home_on / "runs" if ROOT else folder) as problem:
            for fresh in ([], ["--fresh"]):  # --fresh deletes nothing it can't replace
                result = folkrnn("train", "--run", "ro", "--set", "epochs=2", *fresh,
                                 home=home_on)
                assert_one_line_error(result, "run 'ro'", problem,
                                      "checkpoint of epoch 1 is kept", "make it writable")
                assert snapshot(folder) == kept
        result = folkrnn("train", "--run", "ro", "--set", "epochs=2", home=home_on)
        assert result.returncode == 0, result.stderr
        assert json.loads((folder / "state.json").read_text())["epoch"] == 2


def a_tune() -> music.Tune:
    melody = np.array([music.onset(67), music.HOLD] * 16)
    return music.Tune(melody, np.full(len(melody), music.parse_chord("G")), [(0, "4/4")], "G", "t")


@pytest.mark.skipif(not ROOT, reason="a full disk is a small tmpfs, and mounting one needs root")
def test_a_tune_saved_to_a_full_disk_is_one_clear_error(tmp_path):
    with tmpfs(tmp_path / "disk", "1M") as disk:
        fill(disk, leave=0)
        with pytest.raises(FolkRNNError, match=rf"can't write {re.escape(str(disk))}/t.wav: the disk at .*disk "
                                               r"\(0.0 of .* MB free\) is full: free some space"):
            save_tune(a_tune(), wav=disk / "t.wav")
        assert [p.name for p in disk.iterdir()] == ["filler"]


def test_a_tune_saved_to_a_read_only_folder_is_one_clear_error(tmp_path):
    folder = tmp_path / "out"
    with tmpfs(folder, "1M") if ROOT else contextlib.nullcontext(folder.mkdir()):
        with read_only(folder) as problem:
            with pytest.raises(FolkRNNError, match=f"can't write {folder}/t.mid: .*{problem}"):
                save_tune(a_tune(), midi=folder / "t.mid")
        assert list(folder.iterdir()) == []


# --- the run folder's writes, without training --------------------------------------------------
def save_next_epoch(run: str, state: TrainingState, weights: bytes) -> None:
    better = 1 / (state.epoch + 1)  # each epoch improves
    improved = state.end_epoch({"loss": 2 * better, "val_loss": 3 * better}, seconds=1.0)
    runs.save_epoch(run, state, weights, improved)


@pytest.fixture
def one_epoch(home) -> tuple[TrainingState, dict[str, bytes]]:
    """Run 'r' with one epoch saved: its state and files."""
    state = TrainingState()
    save_next_epoch("r", state, b"weights of epoch 1")
    return state, snapshot(runs.run_dir("r"))


def test_a_write_that_fails_replaces_nothing(one_epoch, monkeypatch):
    state, kept = one_epoch
    real, made = paths.tempfile.mkstemp, []

    def mkstemp_then_fail(*args, **kwargs):  # the disk fills up at the third file
        made.append(1)
        if len(made) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(paths.tempfile, "mkstemp", mkstemp_then_fail)
    with pytest.raises(FolkRNNError, match=r"run 'r' can't be saved .* is full; its checkpoint "
                                           r"of epoch 1 is kept: free some space on it"):
        save_next_epoch("r", state, b"weights of epoch 2")
    assert snapshot(runs.run_dir("r")) == kept
    assert not list(runs.run_dir("r").glob(".*tmp*"))
    assert runs.read_state("r").epoch == 1


def test_too_little_space_is_refused_before_anything_is_written(one_epoch, monkeypatch):
    state, kept = one_epoch
    monkeypatch.setattr(paths, "SPARE_BYTES", shutil.disk_usage(runs.run_dir("r")).free)
    with pytest.raises(FolkRNNError, match="is full; its checkpoint of epoch 1 is kept"):
        save_next_epoch("r", state, b"weights of epoch 2")
    assert snapshot(runs.run_dir("r")) == kept


def test_old_state_files_are_read(home):
    """state.json as the package wrote it before `TrainingState` (a plain dict) still loads."""
    folder = runs.run_dir("old")
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps(
        {"epoch": 3, "best_val_loss": 1.5, "best_epoch": 2, "wait": 1,
         "history": [{"epoch": e, "loss": 2.0, "val_loss": 1.5} for e in (1, 2, 3)]}))
    state = runs.read_state("old")
    assert (state.epoch, state.best_val_loss, state.best_epoch, state.wait) == (3, 1.5, 2, 1)
    assert [row["epoch"] for row in state.history] == [1, 2, 3]
