"""Training: fit the model on the training tunes, keep checkpoints, resume after an interruption.

Explained in notebook 03_train_model. Everything a run writes goes into ``runs/NAME/`` (the files
are listed in `folkrnn.runs`). Each file is written to a temporary file first and then renamed,
so a run killed at any moment (even with ``kill -9``) keeps its last complete epoch, and another
process can load the newest checkpoint while training goes on. Running the same command again
resumes from there; a second process asked to train the same run while the first still does
stops with a clear error (`runs.training_lock`).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from folkrnn import music, runs
from folkrnn.config import Config
from folkrnn.dataset import TuneSet, load_dataset, steps_per_epoch, training_windows
from folkrnn.dataset import input_keys, validation_windows
from folkrnn.errors import FolkRNNError
from folkrnn.model import build_model, load_weights_strictly
from folkrnn.paths import write_atomic
from folkrnn.runs import (BEST_WEIGHTS, CONFIG_FILE, HISTORY_FILE, LAST_WEIGHTS, LOG_DIR,
                          RUN_FILES, STATE_FILE, VOCAB_FILE, History)

EXTENDABLE = ("epochs", "patience", "max_minutes")  # may change when a run is resumed


def train_model(config: Config, run_name: str, *, tunes: TuneSet | None = None,
                fresh: bool = False, callbacks: tuple = (), verbose: Any = "auto",
                catch_interrupt: bool = True) -> History:
    """Train ``config`` into ``runs/RUN_NAME`` (or resume it); return the history, one dict
    per epoch (as `runs.read_history` reads it back).

    ``tunes`` defaults to the prepared dataset; ``fresh`` deletes the run's checkpoints and
    starts over; ``callbacks`` are extra Keras callbacks (e.g. a live plot in notebook 03).
    Training stops after ``config.epochs`` epochs, when the validation loss has not improved
    for ``config.patience`` epochs, or before an epoch that would end after
    ``config.max_minutes``. Ctrl-C (or interrupting the notebook cell) stops cleanly and
    returns the history so far (``catch_interrupt=False``: says how to resume, then re-raises).
    """
    started = time.monotonic()  # the time limit counts loading and building too
    with runs.training_lock(run_name):
        return _train(config, run_name, tunes, fresh, callbacks, verbose, catch_interrupt,
                      started)


def _train(config: Config, run_name: str, tunes: TuneSet | None, fresh: bool, callbacks: tuple,
           verbose: Any, catch_interrupt: bool, started: float) -> History:
    folder = runs.run_dir(run_name)
    state = open_run(folder, config, fresh)
    tunes = tunes if tunes is not None else load_dataset()
    train, valid = training_tunes(tunes, config), tunes.valid
    if not train or not valid:
        raise FolkRNNError("no training or validation tunes: run folkrnn prepare (notebook 01)")
    done = _finished(state, config)
    if done:
        print(f"run {run_name!r}: {done}; nothing to do (raise --set epochs=N or patience=N "
              f"to train on, or pass --fresh to start over)")
        return state["history"]

    keras.utils.set_random_seed(config.seed + state["epoch"])
    model = build_model(config)
    if state["epoch"]:
        _restore(model, folder)
        print(f"run {run_name!r}: resuming after epoch {state['epoch']}")
    batches = steps_per_epoch(train, config.seq_len, config.batch_size)
    checkpoints = Checkpoints(folder, config, state, started)
    try:
        model.fit(training_windows(train, config.seq_len, config.batch_size, seed=config.seed,
                                   transpose=config.transpose, first_epoch=state["epoch"],
                                   batches=batches, keys=input_keys(config)),
                  steps_per_epoch=batches, epochs=config.epochs, initial_epoch=state["epoch"],
                  validation_data=validation_windows(valid, config.seq_len, config.batch_size,
                                                    keys=input_keys(config)),
                  shuffle=False, verbose=verbose,
                  callbacks=[checkpoints, *_tensorboard(folder), *callbacks])
    except KeyboardInterrupt:
        kept = f"keeps the checkpoint of epoch {state['epoch']}" if state["epoch"] else (
            "has no complete epoch yet")
        print(f"\ninterrupted: runs/{run_name} {kept}; run the same command (or notebook "
              f"cell) again to resume")
        if not catch_interrupt:
            raise
        return state["history"]
    if checkpoints.nan_epoch:
        kept = f"the checkpoint of epoch {state['epoch']} is kept" if state["epoch"] else ""
        raise FolkRNNError(
            f"loss became NaN at epoch {checkpoints.nan_epoch}: lower learning_rate (it is "
            f"{config.learning_rate}) and start again, e.g. folkrnn train --run {run_name} "
            f"--fresh --set learning_rate={config.learning_rate / 3:.2g}"
            + (f"; {kept}" if kept else ""))
    print(f"run {run_name!r}: {checkpoints.stop_reason or _finished(state, config)}; best "
          f"val_loss {state['best_val_loss']:.4f} at epoch {state['best_epoch']}")
    return state["history"]


def _tensorboard(folder: Path) -> list[keras.callbacks.Callback]:
    """TensorBoard logs in ``runs/NAME/logs`` if the tensorboard package is installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        print("(no TensorBoard logs: pip install tensorboard to get them)")
        return []
    return [keras.callbacks.TensorBoard(str(folder / LOG_DIR), write_graph=False,
                                        profile_batch=0)]


def training_tunes(tunes: TuneSet, config: Config) -> list:
    """The training tunes, or the first ``config.max_tunes`` of them by name."""
    train = tunes.train
    return sorted(train, key=lambda t: t.name)[:config.max_tunes] if config.max_tunes else train


# --- the run folder ---------------------------------------------------------------------------
def _new_state() -> dict:
    return {"epoch": 0, "best_val_loss": None, "best_epoch": 0, "wait": 0, "history": []}


def open_run(folder: Path, config: Config, fresh: bool = False) -> dict:
    """Check a run folder against ``config`` and return its training state (new if none).

    A folder trained with other hyperparameters (except `EXTENDABLE` ones) or another
    vocabulary is an error, and nothing in it is touched. ``fresh`` clears it first.
    """
    if fresh:
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / LOG_DIR, ignore_errors=True)
    state = _new_state()
    if (folder / CONFIG_FILE).exists():
        _check_same_run(folder, config)
        if (folder / STATE_FILE).exists():
            state = _read_json(folder, STATE_FILE)
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".*.tmp*"):  # from a run killed while writing
        leftover.unlink(missing_ok=True)
    write_atomic(folder / CONFIG_FILE, lambda path: Path(path).write_text(config.to_json()))
    write_atomic(folder / VOCAB_FILE,
                 lambda path: Path(path).write_text(json.dumps(music.vocabularies(), indent=1)))
    return state


def _read_json(folder: Path, name: str) -> Any:
    try:
        return json.loads((folder / name).read_text())
    except (OSError, ValueError) as error:
        raise FolkRNNError(f"{folder / name} is unreadable ({error}): start over with --fresh "
                           f"or choose another --run name") from None


def _check_same_run(folder: Path, config: Config) -> None:
    fix = (f"choose another --run name, or pass --fresh to start {folder.name!r} over "
           f"(deletes its checkpoints)")
    saved = _read_json(folder, CONFIG_FILE)
    wanted = json.loads(config.to_json())
    changed = [f"{k}={saved.get(k)!r} (now {wanted.get(k)!r})"
               for k in sorted(set(saved) | set(wanted))
               if k not in EXTENDABLE and saved.get(k) != wanted.get(k)]
    if changed:
        raise FolkRNNError(f"run {folder.name!r} was trained with other hyperparameters: "
                           f"{', '.join(changed)}; {fix}")
    if not (folder / VOCAB_FILE).exists() or _read_json(folder, VOCAB_FILE) != music.vocabularies():
        raise FolkRNNError(f"run {folder.name!r} was trained with another vocabulary (an older "
                           f"encoding of the tunes); {fix}")


def _finished(state: dict, config: Config) -> str:
    """Why a run with this state needs no more training ('' if it does)."""
    if state["epoch"] >= config.epochs:
        return f"trained for {state['epoch']} epochs (epochs={config.epochs})"
    if config.patience and state["wait"] >= config.patience:
        return (f"stopped early: no better val_loss for {state['wait']} epochs "
                f"(patience={config.patience})")
    return ""


def _restore(model: keras.Model, folder: Path) -> None:
    """Load the last weights and Adam's state (saved in the same file) into a new model."""
    model.optimizer.build(model.trainable_variables)  # so that its state is loaded too
    try:
        load_weights_strictly(model, folder / LAST_WEIGHTS)
        if int(model.optimizer.iterations.numpy()) == 0:
            raise ValueError("no optimizer state in it")
    except (OSError, KeyError, ValueError) as error:
        raise FolkRNNError(f"cannot resume {folder}: its last checkpoint is unusable ({error});"
                           f" start over with --fresh") from None


class Checkpoints(keras.callbacks.Callback):
    """After each epoch: history, best and last checkpoints, early stopping and time limit.

    NaN losses stop training without saving anything (``nan_epoch`` says when).
    """

    def __init__(self, folder: Path, config: Config, state: dict, started: float):
        super().__init__()
        self.folder, self.config, self.state = folder, config, state
        self.nan_epoch, self.stop_reason = 0, ""
        self.started = self.epoch_started = started

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if logs and not math.isfinite(float(logs.get("loss", 0.0))):
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if not all(math.isfinite(logs.get(k, 0.0)) for k in ("loss", "val_loss")):
            self.nan_epoch, self.model.stop_training = epoch + 1, True
            return
        now, state = time.monotonic(), self.state
        state["history"].append({"epoch": epoch + 1, **logs,
                                 "seconds": round(now - self.epoch_started, 2)})
        state["epoch"] = epoch + 1
        if state["best_val_loss"] is None or logs["val_loss"] < state["best_val_loss"]:
            state.update(best_val_loss=logs["val_loss"], best_epoch=epoch + 1, wait=0)
            write_atomic(self.folder / BEST_WEIGHTS, self.model.save_weights)
        else:
            state["wait"] += 1
        self._save()
        self.stop_reason = _finished(state, self.config) or self._out_of_time(now)
        self.model.stop_training = self.model.stop_training or bool(self.stop_reason)

    def _out_of_time(self, now: float) -> str:
        """Stop before an epoch that would end after ``max_minutes`` (mean epoch time so far)."""
        minutes = self.config.max_minutes
        seconds = [row["seconds"] for row in self.state["history"]]
        elapsed = now - self.started
        if minutes and elapsed + np.mean(seconds[-3:]) > 60 * minutes:
            return (f"time limit: {elapsed / 60:.1f} of max_minutes={minutes} used (run the "
                    f"same command again to train on)")
        return ""

    def _save(self) -> None:
        """The last checkpoint (Keras saves Adam's state with the weights), then the history;
        ``state.json`` goes last, as the commit."""
        folder = self.folder
        write_atomic(folder / LAST_WEIGHTS, self.model.save_weights)
        write_atomic(folder / HISTORY_FILE,
                     lambda p: Path(p).write_text(runs.history_csv(self.state["history"])))
        write_atomic(folder / STATE_FILE,
                     lambda p: Path(p).write_text(json.dumps(self.state, indent=1)))
