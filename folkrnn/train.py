"""Training: fit the model on the training tunes, keep checkpoints, resume after an interruption.

Explained in notebook 03_train_model. Everything a run writes goes into ``runs/NAME/``, written
by `folkrnn.runs` (`runs.open_run`, then `runs.save_epoch` after every epoch, all or nothing):
a run killed at any moment (even with ``kill -9``), or stopped by a full disk or a read-only
folder (one line says which), keeps its last complete epoch, and another process can load the
newest checkpoint while training goes on. Running the same command again resumes from there; a
second process asked to train the same run while the first still does stops with a clear
error (`runs.training_lock`).
"""
from __future__ import annotations

import io
import math
import time
from typing import Any

import keras
import numpy as np

from folkrnn import runs
from folkrnn.config import Config
from folkrnn.batches import steps_per_epoch, training_windows, validation_windows
from folkrnn.dataset import TuneSet, load_dataset
from folkrnn.inputs import input_keys
from folkrnn.errors import FolkRNNError
from folkrnn.model import build_model, load_weights_strictly
from folkrnn.runs import History, TrainingState


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
    state = runs.open_run(run_name, config, fresh)
    tunes = tunes if tunes is not None else load_dataset()
    train, valid = training_tunes(tunes, config), tunes.valid
    if not train or not valid:
        raise FolkRNNError("no training or validation tunes: run folkrnn prepare (notebook 01)")
    done = _finished(state, config)
    if done:
        print(f"run {run_name!r}: {done}; nothing to do (raise --set epochs=N or patience=N "
              f"to train on, or pass --fresh to start over)")
        return state.history

    keras.utils.set_random_seed(config.seed + state.epoch)
    batches = steps_per_epoch(train, config.seq_len, config.batch_size)
    names = input_keys(config)
    validation = validation_windows(valid, config.seq_len, config.batch_size, names=names)
    model = build_model(config, steps_per_epoch=batches)
    if state.epoch:
        _restore(model, run_name)
        print(f"run {run_name!r}: resuming after epoch {state.epoch}")
    print(f"training on {device()} ({batches} batches of {config.batch_size} windows per epoch)")
    checkpoints = Checkpoints(run_name, config, state, started)
    try:
        model.fit(training_windows(train, config.seq_len, config.batch_size, seed=config.seed,
                                   transpose=config.transpose,
                                   keep_register=config.keep_register, first_epoch=state.epoch,
                                   batches=batches, names=names),
                  steps_per_epoch=batches, epochs=config.epochs, initial_epoch=state.epoch,
                  validation_data=validation,
                  shuffle=False, verbose=verbose,
                  callbacks=[checkpoints, *_tensorboard(run_name), *callbacks])
    except KeyboardInterrupt:
        kept = f"keeps the checkpoint of epoch {state.epoch}" if state.epoch else (
            "has no complete epoch yet")
        print(f"\ninterrupted: runs/{run_name} {kept}; run the same command (or notebook "
              f"cell) again to resume")
        if not catch_interrupt:
            raise
        return state.history
    if checkpoints.nan_epoch:
        kept = f"the checkpoint of epoch {state.epoch} is kept" if state.epoch else ""
        raise FolkRNNError(
            f"loss became NaN at epoch {checkpoints.nan_epoch}: lower learning_rate (it is "
            f"{config.learning_rate}) and start again, e.g. folkrnn train --run {run_name} "
            f"--fresh --set learning_rate={config.learning_rate / 3:.2g}"
            + (f"; {kept}" if kept else ""))
    print(f"run {run_name!r}: {checkpoints.stop_reason or _finished(state, config)}; best "
          f"val_loss {state.best_val_loss:.4f} at epoch {state.best_epoch}")
    return state.history


def device() -> str:
    """What Keras trains on: the GPU (cuDNN's fast LSTM) if TensorFlow sees one, else the CPU."""
    import tensorflow as tf  # noqa: PLC0415 (keras has already loaded it)

    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU (no GPU found; see the README for one)"


def _tensorboard(run_name: str) -> list[keras.callbacks.Callback]:
    """TensorBoard logs in ``runs/NAME/logs`` if the tensorboard package is installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        print("(no TensorBoard logs: pip install tensorboard to get them)")
        return []
    return [keras.callbacks.TensorBoard(str(runs.log_dir(run_name)), write_graph=False,
                                        profile_batch=0)]


def training_tunes(tunes: TuneSet, config: Config) -> list:
    """The training tunes, or the first ``config.max_tunes`` of them by name."""
    train = tunes.train
    return sorted(train, key=lambda t: t.name)[:config.max_tunes] if config.max_tunes else train


# --- the run folder (written by `folkrnn.runs`) ------------------------------------------
def _finished(state: TrainingState, config: Config) -> str:
    """Why a run with this state needs no more training ('' if it does)."""
    if state.epoch >= config.epochs:
        return f"trained for {state.epoch} epochs (epochs={config.epochs})"
    if config.patience and state.wait >= config.patience:
        return (f"stopped early: no better val_loss for {state.wait} epochs "
                f"(patience={config.patience})")
    return ""


def _restore(model: keras.Model, run_name: str) -> None:
    """Load the last weights and Adam's state (saved in the same file) into a new model."""
    model.optimizer.build(model.trainable_variables)  # so that its state is loaded too
    path = runs.weights_file(run_name, "last")
    try:
        load_weights_strictly(model, path)
        if int(model.optimizer.iterations.numpy()) == 0:
            raise ValueError("no optimizer state in it")
    except (OSError, KeyError, ValueError) as error:
        raise FolkRNNError(f"cannot resume {path.parent}: its last checkpoint is unusable "
                           f"({error}); start over with --fresh") from None


def weights_bytes(model: keras.Model) -> bytes:
    """The model's ``.weights.h5`` file (weights and Adam's state) as bytes, made in memory.

    Keras's public `save_weights` writes straight to a path, and HDF5 crashes the process (a
    segmentation fault) when the disk fills up under it; so Keras's own writer is pointed at
    memory, and `runs.save_epoch` writes the bytes, where a full disk is a plain error.
    """
    from keras.src.saving import saving_lib  # noqa: PLC0415 (Keras's writer, not public API)

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    saving_lib._save_state(model, store, None, "", set())
    store.close()
    return buffer.getvalue()


class Checkpoints(keras.callbacks.Callback):
    """After each epoch: the checkpoints and history (`runs.save_epoch`), early stopping and the
    time limit.

    NaN losses stop training without saving anything (``nan_epoch`` says when).
    """

    def __init__(self, run_name: str, config: Config, state: TrainingState, started: float):
        super().__init__()
        self.run_name, self.config, self.state = run_name, config, state
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
        now = time.monotonic()
        improved = self.state.end_epoch(logs, now - self.epoch_started)
        runs.save_epoch(self.run_name, self.state, weights_bytes(self.model), improved)
        self.stop_reason = _finished(self.state, self.config) or self._out_of_time(now)
        self.model.stop_training = self.model.stop_training or bool(self.stop_reason)

    def _out_of_time(self, now: float) -> str:
        """Stop before an epoch that would end after ``max_minutes`` (mean epoch time so far)."""
        minutes = self.config.max_minutes
        seconds = [row["seconds"] for row in self.state.history]
        elapsed = now - self.started
        if minutes and elapsed + np.mean(seconds[-3:]) > 60 * minutes:
            how = ("while still improving" if self.state.wait < 2 else
                   "with the validation loss flat")
            return (f"stopped by the time budget {how} after {self.state.epoch} of "
                    f"{self.config.epochs} epochs ({elapsed / 60:.1f} of max_minutes={minutes}):"
                    f" run the same command (or notebook 03) again to continue")
        return ""
