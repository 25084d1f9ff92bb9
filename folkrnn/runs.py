"""The run folder ``runs/NAME``: the one place that names its files and reads them back.

Explained in notebook 03_train_model. A training run writes:

    config.json        the hyperparameters (`Config`)
    vocab.json         the names behind every integer id (`music.vocabularies`)
    best.weights.h5    the weights with the lowest validation loss so far
    last.weights.h5    the weights after the last complete epoch, with Adam's state (to resume)
    state.json         epochs done, best validation loss, early-stopping counter, history
    history.csv        one row of losses and accuracies per epoch
    logs/              TensorBoard logs (tensorboard --logdir runs)
    .lock              held while a process trains the run (released when it ends or is killed)

Every file is replaced atomically (`paths.write_atomic`), so a run killed at any moment keeps its
last complete epoch and another process can read the folder while training goes on.
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
from pathlib import Path
from typing import Iterator

from folkrnn import music, paths
from folkrnn.config import Config
from folkrnn.errors import FolkRNNError

CONFIG_FILE, VOCAB_FILE, STATE_FILE = "config.json", "vocab.json", "state.json"
BEST_WEIGHTS, LAST_WEIGHTS = "best.weights.h5", "last.weights.h5"
HISTORY_FILE, LOG_DIR, LOCK_FILE = "history.csv", "logs", ".lock"
RUN_FILES = (CONFIG_FILE, VOCAB_FILE, BEST_WEIGHTS, LAST_WEIGHTS, STATE_FILE, HISTORY_FILE)

History = list[dict[str, float]]  # one dict per epoch: {"epoch": 1, "loss": ..., ...}


def run_dir(run_name: str) -> Path:
    """The folder of run ``run_name`` (it may not exist yet)."""
    return paths.run_dir(run_name)


def _train_it(run_name: str) -> str:
    return f"train it first: folkrnn train --run {run_name} (or notebook 03)"


def read_config(run_name: str) -> Config:
    """The config of a trained run, checked against this version's vocabulary."""
    folder = run_dir(run_name)
    if not (folder / CONFIG_FILE).exists():
        raise FolkRNNError(f"no trained run {run_name!r} in {folder.parent}: {_train_it(run_name)}")
    retrain = f"retrain it with folkrnn train --run {run_name} --fresh"
    try:
        config = Config.from_dict(json.loads((folder / CONFIG_FILE).read_text()))
        vocab = json.loads((folder / VOCAB_FILE).read_text())
    except (OSError, ValueError, TypeError) as error:
        raise FolkRNNError(f"run {run_name!r} has an unreadable {CONFIG_FILE} or {VOCAB_FILE} "
                           f"({error}): {retrain}") from None
    if vocab != music.vocabularies():
        raise FolkRNNError(f"run {run_name!r} was trained with another vocabulary (an older "
                           f"encoding): {retrain}")
    return config


def weights_file(run_name: str, checkpoint: str = "best") -> Path:
    """The weights to load: ``best`` (falls back to ``last``) or ``last``."""
    if checkpoint not in ("best", "last"):
        raise FolkRNNError(f"checkpoint {checkpoint!r}: choose 'best' or 'last'")
    folder = run_dir(run_name)
    names = [BEST_WEIGHTS, LAST_WEIGHTS] if checkpoint == "best" else [LAST_WEIGHTS]
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise FolkRNNError(f"run {run_name!r} has no saved weights yet: {_train_it(run_name)}")


def read_history(run_name: str) -> History:
    """The run's history, one dict per epoch (empty before the first epoch ends)."""
    path = run_dir(run_name) / HISTORY_FILE
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [{k: (int(float(v)) if k == "epoch" else float(v)) for k, v in row.items()}
                for row in csv.DictReader(fh)]


def history_csv(history: History) -> str:
    """The history as CSV text, one row per epoch."""
    out = io.StringIO()
    columns = list(dict.fromkeys(k for row in history for k in row))
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    writer.writerows(history)
    return out.getvalue()


@contextlib.contextmanager
def training_lock(run_name: str) -> Iterator[None]:
    """Hold the run's lock while training: a second trainer of the same run gets a clear error.

    An OS file lock (``flock``): the kernel releases it when the process ends, even after
    ``kill -9``, so a crashed run never leaves it stuck.
    """
    folder = run_dir(run_name)
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise FolkRNNError(f"run {run_name!r} is busy: {holder} is training it; wait for it "
                               f"to finish (or stop it), or choose another --run name") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
