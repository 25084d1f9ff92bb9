"""Training: loss goes down, checkpoints, resume after kill -9, config checks, NaN, Ctrl-C."""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from folkrnn import music
from folkrnn.config import Config
from folkrnn.dataset import TuneSet
from folkrnn.errors import FolkRNNError
from folkrnn.model import load_run
from folkrnn.train import train_model, training_tunes

TINY = Config(melody_embedding=6, chord_embedding=4, position_embedding=3, meter_embedding=2,
              layers=1, units=16, dropout=0.0, seq_len=16, batch_size=8, learning_rate=0.02,
              epochs=2, patience=0, max_minutes=0, transpose=True)


def tiny_tunes(n_train: int = 10, n_valid: int = 3) -> TuneSet:
    """Simple synthetic 4/4 tunes: a repeated 4-bar phrase (quarter notes), one chord a bar."""
    rng = np.random.default_rng(0)
    tunes = []
    for i in range(n_train + n_valid):
        bars = []
        for root in rng.choice([0, 5, 7], size=4):  # C, F or G major
            pitches = 60 + root + np.array([0, 4, 7, 12])
            notes = [[music.onset(int(p)), 1, 1, 1] for p in pitches]
            bars.append((np.concatenate(notes), music.chord_class(int(root), "")))
        melody = np.concatenate([m for m, _ in bars] * 2)
        chords = np.concatenate([[c] * 16 for _, c in bars] * 2)
        tunes.append(music.Tune(melody, chords, [(0, "4/4")], "C", f"tune{i:02d}"))
    return TuneSet({"train": tunes[:n_train], "valid": tunes[n_train:], "test": []})


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FOLKRNN_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained for 2 epochs once; tests copy it into their own home."""
    folder = tmp_path_factory.mktemp("trained")
    old = os.environ.get("FOLKRNN_HOME")
    os.environ["FOLKRNN_HOME"] = str(folder)
    try:
        history = train_model(TINY, "base", tunes=tiny_tunes(), verbose=0)
    finally:
        os.environ.pop("FOLKRNN_HOME") if old is None else os.environ.update(FOLKRNN_HOME=old)
    return folder / "runs" / "base", history


def copy_run(trained, home) -> Path:
    target = home / "runs" / "base"
    shutil.copytree(trained[0], target)
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_max_tunes_takes_the_first_by_name():
    tunes = tiny_tunes()
    tunes.train.reverse()
    chosen = training_tunes(tunes, replace(TINY, max_tunes=3))
    assert [t.name for t in chosen] == ["tune00", "tune01", "tune02"]
    assert len(training_tunes(tunes, TINY)) == 10


def test_training_writes_the_run_and_reduces_loss(trained, home):
    folder, history = trained
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["loss"] < history[0]["loss"]
    for name in ("config.json", "vocab.json", "best.weights.h5", "last.weights.h5",
                 "state.json", "history.csv"):
        assert (folder / name).is_file(), name
    assert list((folder / "logs").rglob("*tfevents*")), "no TensorBoard logs"
    assert len((folder / "history.csv").read_text().splitlines()) == 3  # header + 2 epochs
    assert json.loads((folder / "state.json").read_text())["epoch"] == 2
    copy_run(trained, home)
    model, config = load_run("base")
    assert config == TINY and model.count_params() > 0


def test_mismatched_config_is_an_error_and_touches_nothing(trained, home):
    folder = copy_run(trained, home)
    before = snapshot(folder)
    with pytest.raises(FolkRNNError) as error:
        train_model(replace(TINY, units=8, epochs=3), "base", tunes=tiny_tunes(), verbose=0)
    assert "units=16 (now 8)" in str(error.value) and "--fresh" in str(error.value)
    assert snapshot(folder) == before
    vocab = json.loads((folder / "vocab.json").read_text())
    (folder / "vocab.json").write_text(json.dumps({**vocab, "chord": vocab["chord"][:5]}))
    before = snapshot(folder)
    with pytest.raises(FolkRNNError, match="another vocabulary.*--run name"):
        train_model(replace(TINY, epochs=3), "base", tunes=tiny_tunes(), verbose=0)
    assert snapshot(folder) == before


def test_extending_epochs_resumes_and_fresh_starts_over(trained, home, capsys):
    copy_run(trained, home)
    same = train_model(TINY, "base", tunes=tiny_tunes(), verbose=0)
    assert "nothing to do" in capsys.readouterr().out and [r["epoch"] for r in same] == [1, 2]
    longer = train_model(replace(TINY, epochs=3), "base", tunes=tiny_tunes(), verbose=0)
    assert [r["epoch"] for r in longer] == [1, 2, 3]
    assert longer[:2] == trained[1]
    fresh = train_model(replace(TINY, epochs=1), "base", tunes=tiny_tunes(), fresh=True,
                        verbose=0)
    assert [r["epoch"] for r in fresh] == [1]


def test_a_run_saved_before_a_knob_existed_reads_as_trained_without_it(trained, home, capsys):
    folder = copy_run(trained, home)
    saved = json.loads((folder / "config.json").read_text())
    del saved["keep_register"]  # as runs saved before round 3, session 3 are
    (folder / "config.json").write_text(json.dumps(saved))
    with pytest.raises(FolkRNNError, match=r"keep_register=False \(now True\)"):
        train_model(TINY, "base", tunes=tiny_tunes(), verbose=0)
    old = Config.from_dict(saved)  # the knob off: the run as it was trained
    assert not old.keep_register
    train_model(old, "base", tunes=tiny_tunes(), verbose=0)
    assert "nothing to do" in capsys.readouterr().out


class KillMidEpoch(keras.callbacks.Callback):
    """Kills its own process (SIGKILL, as ``kill -9`` does) in the middle of the second epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 1:
            os.kill(os.getpid(), signal.SIGKILL)


def train_until_killed() -> None:
    train_model(replace(TINY, epochs=3), "killed", tunes=tiny_tunes(), callbacks=[KillMidEpoch()],
                verbose=0)


def test_resume_after_kill_9(home):
    # a fresh interpreter (spawn) that finds this module where pytest found it
    trainer = multiprocessing.get_context("spawn").Process(target=train_until_killed)
    trainer.start()
    trainer.join(300)
    assert trainer.exitcode == -signal.SIGKILL
    folder = home / "runs" / "killed"
    state = json.loads((folder / "state.json").read_text())
    assert state["epoch"] == 1  # epoch 1 was saved; epoch 2 died half-way
    history = train_model(replace(TINY, epochs=3), "killed", tunes=tiny_tunes(), verbose=0)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[:1] == state["history"]
    assert not list(folder.glob(".*tmp*"))


class Sabotage(keras.callbacks.Callback):
    """Puts a NaN into the weights (or raises Ctrl-C) at the start of the second epoch."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.epoch = action, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.epoch == 1 and batch == 1:
            if self.action == "interrupt":
                raise KeyboardInterrupt
            weights = self.model.get_weights()
            weights[0][:] = np.nan
            self.model.set_weights(weights)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(home):
    with pytest.raises(FolkRNNError, match="loss became NaN at epoch 2: lower learning_rate"):
        train_model(replace(TINY, epochs=3), "nan", tunes=tiny_tunes(),
                    callbacks=[Sabotage("nan")], verbose=0)
    state = json.loads((home / "runs" / "nan" / "state.json").read_text())
    assert state["epoch"] == 1
    model, _ = load_run("nan", checkpoint="last")
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_interrupt_keeps_the_checkpoint_and_says_how_to_resume(home, capsys):
    history = train_model(replace(TINY, epochs=3), "stop", tunes=tiny_tunes(),
                          callbacks=[Sabotage("interrupt")], verbose=0)
    assert [row["epoch"] for row in history] == [1]
    assert "run the same command" in capsys.readouterr().out
    assert json.loads((home / "runs" / "stop" / "state.json").read_text())["epoch"] == 1


def test_time_limit_stops_after_an_epoch(home, capsys):
    history = train_model(replace(TINY, epochs=5, max_minutes=0.001), "quick",
                          tunes=tiny_tunes(), verbose=0)
    assert [row["epoch"] for row in history] == [1]
    assert "time budget" in capsys.readouterr().out
