"""The run folder ``runs/NAME``: the one place that names its files, writes and reads them.

Explained in notebook 03_train_model. A training run writes:

    config.json        the hyperparameters (`Config`)
    vocab.json         the names behind every integer id (`music.vocabularies`)
    best.weights.h5    the weights with the lowest validation loss so far
    last.weights.h5    the weights after the last complete epoch, with Adam's state (to resume)
    state.json         how far training got (`TrainingState`): epochs done, best validation
                       loss, early-stopping counter, history
    history.csv        one row of losses and accuracies per epoch
    logs/              TensorBoard logs (tensorboard --logdir runs)
    .lock              held while a process trains the run (released when it ends or is killed)

`train.train_model` calls `open_run` once and `save_epoch` after every epoch. Each epoch's files
are written all or nothing, ``state.json`` last (`paths.write_files`), so a run killed at any
moment, a full disk or a read-only folder keeps the last complete epoch, and another process can
read the folder while training goes on.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import fcntl
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from folkrnn import music, paths
from folkrnn.config import Config, with_added_later
from folkrnn.errors import FolkRNNError

CONFIG_FILE, VOCAB_FILE, STATE_FILE = "config.json", "vocab.json", "state.json"
BEST_WEIGHTS, LAST_WEIGHTS = "best.weights.h5", "last.weights.h5"
HISTORY_FILE, LOG_DIR, LOCK_FILE = "history.csv", "logs", ".lock"
RUN_FILES = (CONFIG_FILE, VOCAB_FILE, BEST_WEIGHTS, LAST_WEIGHTS, STATE_FILE, HISTORY_FILE)
EXTENDABLE = ("epochs", "patience", "max_minutes")  # may change when a run is resumed
PRETRAINED_RUN = "pretrained"  # the model shipped with folkrnn (`folkrnn.pretrained`), not a folder

History = list[dict[str, float]]  # one dict per epoch: {"epoch": 1, "loss": ..., ...}


@dataclass
class TrainingState:
    """How far a run has trained; saved as ``state.json`` after every epoch."""

    epoch: int = 0  # complete epochs
    best_val_loss: float | None = None
    best_epoch: int = 0
    wait: int = 0  # epochs since the best one (early stopping)
    history: History = field(default_factory=list)

    def end_epoch(self, logs: dict[str, float], seconds: float) -> bool:
        """Record a finished epoch; True if its validation loss is the best so far."""
        self.epoch += 1
        self.history.append({"epoch": self.epoch, **logs, "seconds": round(seconds, 2)})
        if self.best_val_loss is None or logs["val_loss"] < self.best_val_loss:
            self.best_val_loss, self.best_epoch, self.wait = logs["val_loss"], self.epoch, 0
            return True
        self.wait += 1
        return False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainingState":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def run_dir(run_name: str) -> Path:
    """The folder of run ``run_name`` (it may not exist yet)."""
    return paths.run_dir(run_name)


def log_dir(run_name: str) -> Path:
    """The run's TensorBoard log folder."""
    return run_dir(run_name) / LOG_DIR


def _train_it(run_name: str) -> str:
    return f"train it first: folkrnn train --run {run_name} (or notebook 03)"


def _read_json(path: Path, fix: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise FolkRNNError(f"{path} is unreadable ({error}): {fix}") from None


# --- the vocabulary, beside every set of arrays that uses its ids ------------------------------
def write_vocab(folder: Path) -> None:
    """Write ``vocab.json`` (the names behind every id) into a run folder or the dataset cache."""
    text = json.dumps(music.vocabularies(), indent=1)
    paths.write_atomic(folder / VOCAB_FILE, lambda path: Path(path).write_text(text))


def check_vocab(folder: Path, fix: str) -> None:
    """Refuse a folder whose ids mean other things than this version's (an older encoding)."""
    if not (folder / VOCAB_FILE).exists():
        raise FolkRNNError(f"{folder} has no {VOCAB_FILE}: {fix}")
    if _read_json(folder / VOCAB_FILE, fix) != music.vocabularies():
        raise FolkRNNError(f"run {folder.name!r} was trained with another vocabulary (an older "
                           f"encoding of the tunes): {fix}")


# --- reading a run ----------------------------------------------------------------------------
def read_config(run_name: str) -> Config:
    """The config of a trained run, checked against this version's vocabulary."""
    folder = run_dir(run_name)
    if not (folder / CONFIG_FILE).exists():
        raise FolkRNNError(f"no trained run {run_name!r} in {folder.parent}: {_train_it(run_name)}")
    retrain = f"retrain it with folkrnn train --run {run_name} --fresh"
    check_vocab(folder, retrain)
    values = _read_json(folder / CONFIG_FILE, retrain)
    try:
        return Config.from_dict(values)
    except (FolkRNNError, TypeError) as error:
        raise FolkRNNError(f"run {run_name!r} has an unusable {CONFIG_FILE} ({error}): "
                           f"{retrain}") from None


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


def read_state(run_name: str) -> TrainingState:
    """How far the run has trained (a new state if it has not finished an epoch)."""
    path = run_dir(run_name) / STATE_FILE
    if not path.exists():
        return TrainingState()
    fix = "start over with --fresh or choose another --run name"
    return TrainingState.from_dict(_read_json(path, fix))


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


# --- writing a run ----------------------------------------------------------------------------
def open_run(run_name: str, config: Config, fresh: bool = False) -> TrainingState:
    """Check the run folder against ``config``, write its config and vocabulary, and return
    how far it has trained (a new state if it is new).

    A folder trained with other hyperparameters (except `EXTENDABLE` ones) or another
    vocabulary is an error, and nothing in it is touched. ``fresh`` clears it first.
    """
    folder = run_dir(run_name)
    try:
        if fresh:
            for name in RUN_FILES:
                (folder / name).unlink(missing_ok=True)
            shutil.rmtree(folder / LOG_DIR, ignore_errors=True)
        if (folder / CONFIG_FILE).exists():
            _check_same_run(folder, config)
        for leftover in folder.glob(".*.tmp*"):  # from a run killed while writing
            leftover.unlink(missing_ok=True)
    except OSError as error:
        raise _stopped(run_name, paths.WriteFailed(folder / CONFIG_FILE, error), fresh) from None
    state = read_state(run_name)
    try:
        paths.write_atomic(folder / CONFIG_FILE,
                           lambda path: Path(path).write_text(config.to_json()))
        write_vocab(folder)
    except paths.WriteFailed as error:
        raise _stopped(run_name, error, fresh) from None
    return state


def _check_same_run(folder: Path, config: Config) -> None:
    fix = (f"choose another --run name, or pass --fresh to start {folder.name!r} over "
           f"(deletes its checkpoints)")
    saved = with_added_later(_read_json(folder / CONFIG_FILE, fix))
    wanted = json.loads(config.to_json())
    changed = [f"{k}={saved.get(k)!r} (now {wanted.get(k)!r})"
               for k in sorted(set(saved) | set(wanted))
               if k not in EXTENDABLE and saved.get(k) != wanted.get(k)]
    if changed:
        raise FolkRNNError(f"run {folder.name!r} was trained with other hyperparameters: "
                           f"{', '.join(changed)}; {fix}")
    check_vocab(folder, fix)


def save_epoch(run_name: str, state: TrainingState, weights: bytes, improved: bool) -> None:
    """Save a finished epoch: the last weights (``weights``: a ``.weights.h5`` file's bytes),
    the best ones too if it ``improved``, the history, then ``state.json`` as the commit.

    All or nothing: if the disk is full or the folder can't be written, the previous epoch's
    files stay as they were and the error says how to resume from them.
    """
    folder = run_dir(run_name)
    files = {folder / LAST_WEIGHTS: weights}
    if improved:
        files[folder / BEST_WEIGHTS] = weights
    files[folder / HISTORY_FILE] = history_csv(state.history).encode()
    files[folder / STATE_FILE] = state.to_json().encode()
    try:
        paths.write_files(files)
    except paths.WriteFailed as error:
        raise _stopped(run_name, error) from None


def _stopped(run_name: str, error: paths.WriteFailed, fresh: bool = False) -> FolkRNNError:
    """The error of a run that can't write its folder: what is wrong, what is kept, the fix."""
    try:
        done = read_state(run_name).epoch
    except FolkRNNError:
        done = 0
    kept = (f"its checkpoint of epoch {done} is kept" if done else "it has no complete epoch")
    then = "resume" if done and not fresh else "start"
    return FolkRNNError(f"run {run_name!r} can't be saved in {run_dir(run_name)}: "
                        f"{error.problem}; {kept}: {error.fix}, then run the same command again "
                        f"to {then}")


@contextlib.contextmanager
def training_lock(run_name: str) -> Iterator[None]:
    """Hold the run's lock while training: a second trainer of the same run gets a clear error.

    An OS file lock (``flock``): the kernel releases it when the process ends, even after
    ``kill -9``, so a crashed run never leaves it stuck.
    """
    if run_name == PRETRAINED_RUN:
        raise FolkRNNError(f"--run {PRETRAINED_RUN} is the model shipped with folkrnn, which "
                           "always wins under that name: train under another name, e.g. --run mine")
    folder = run_dir(run_name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK_FILE, "a+b", buffering=0)  # unbuffered: errors show here
    except OSError as error:
        raise _stopped(run_name, paths.WriteFailed(folder / LOCK_FILE, error)) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().decode(errors="replace").strip() or "another process"
            raise FolkRNNError(f"run {run_name!r} is busy: {holder} is training it; wait for it "
                               f"to finish (or stop it), or choose another --run name") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()}".encode())
        except OSError as error:
            raise _stopped(run_name, paths.WriteFailed(folder / LOCK_FILE, error)) from None
        yield
    finally:
        handle.close()  # closing releases the lock
