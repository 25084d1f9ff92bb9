"""Helpers used only by the notebooks: tables, exploration plots, a live loss plot, and checks
that an earlier notebook has been run.

Every figure comes from a helper here (or in `folkrnn.listen` / `folkrnn.evaluate`), so the
notebook cells stay short. Helpers return a closed matplotlib figure: the notebook shows it
once, as the value of the cell.
"""
from __future__ import annotations

import csv
import html
import inspect
import os
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from folkrnn import music
from folkrnn.config import Config, default_config
from folkrnn.errors import FolkRNNError



def _import_keras_quietly():
    """Import Keras (and TensorFlow) without TensorFlow's C++ start-up log lines.

    They go straight to the process's stderr, which Jupyter shows in red under the setup cell,
    although they are only notes (no GPU, oneDNN is on). Python errors still show as usual.
    """
    import sys

    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras
            import tensorflow as tf

            tf.config.list_logical_devices()  # device set-up logs "no CUDA" once, here
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return keras


keras = _import_keras_quietly()
# Keras warns "Skipping variable loading for optimizer" when a weights file holds no (or another)
# optimizer state, e.g. one saved before any training step; the weights themselves still load.
warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")


# --- running the notebooks in any order ------------------------------------------------------
def require_tunes(*, progress: bool = False):
    """The prepared tunes (a `TuneSet`); downloads and encodes them first if needed.

    Lets notebooks 02-04 run on their own: the download is 1.5 MB (it honours
    ``FOLKRNN_DATA_URL``) and encoding takes about 15 s. Explained in notebook 01_collect_data.
    """
    from folkrnn.dataset import load_dataset, prepare_dataset
    from folkrnn.download import download_dataset, midi_dir

    if not any(midi_dir().glob("*.mid")):
        print("The dataset is not downloaded yet (notebook 01_collect_data does that): "
              "downloading it now.")
        download_dataset(progress=progress)
        return prepare_dataset()
    return load_dataset()


def require_run(run_name: str):
    """``(model, config)`` of a trained run (its best checkpoint so far).

    Without a checkpoint: a `FolkRNNError` that says to run notebook 03 first, or, in smoke mode
    (``FOLKRNN_SMOKE=1``), a tiny model trained on the spot. Explained in notebook 04_test_model.
    """
    from folkrnn.config import smoke_mode
    from folkrnn.model import load_run

    try:
        return load_run(run_name)
    except FolkRNNError as error:
        if not smoke_mode():
            raise FolkRNNError(
                f"no trained model {run_name!r} to test yet: run notebook 03_train_model first "
                f"(you don't have to wait until it's done: a checkpoint is saved after every "
                f"epoch, and notebook 04 loads the best one so far). Details: {error}") from None
    from folkrnn.train import train_model

    print(f"smoke mode: no run {run_name!r} yet, so a tiny model is trained first")
    train_model(default_config(), run_name, tunes=require_tunes(), verbose=0)
    return load_run(run_name)


def run_summary(run_name: str) -> str:
    """One line on how far a run has trained (from its ``history.csv``). Notebooks 03, 04."""
    from folkrnn.paths import run_dir

    history = read_history(run_dir(run_name) / "history.csv")
    if not history:
        return f"run {run_name!r}: no complete epoch yet"
    best = min(history, key=lambda row: row.get("val_loss", float("inf")))
    return (f"run {run_name!r}: {len(history)} epochs trained; best validation loss "
            f"{best.get('val_loss', float('nan')):.3f} at epoch {best.get('epoch', 0):.0f} "
            f"(the checkpoint notebook 04 uses)")


def file_table(folder: str | Path) -> Table:
    """The files in ``folder`` with their sizes (notebooks 03 and 04)."""
    folder = Path(folder)
    rows = [[p.name + ("/" if p.is_dir() else ""),
             "" if p.is_dir() else f"{p.stat().st_size / 1024:,.1f} kB",
             time.strftime("%H:%M:%S", time.localtime(p.stat().st_mtime))]
            for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    return Table(["file", "size", "last written"], rows, caption=str(folder))


# --- tables ----------------------------------------------------------------------------------
class Table:
    """An HTML table that notebooks display (and that prints as plain text elsewhere)."""

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = ""):
        self.header, self.rows, self.caption = list(header), [list(r) for r in rows], caption

    @staticmethod
    def _cell(value: Any) -> str:
        if isinstance(value, (float, np.floating)):
            return f"{value:.4g}"
        return str(value)

    @staticmethod
    def _align(value: Any) -> str:
        number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        return "right" if number else "left"

    def _repr_html_(self) -> str:
        head = "".join(f'<th style="text-align:left">{html.escape(str(h))}</th>'
                       for h in self.header)
        body = "".join("<tr>" + "".join(f'<td style="text-align:{self._align(v)}">'
                                        f"{html.escape(self._cell(v))}</td>" for v in row)
                       + "</tr>" for row in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        cells = [self.header] + [[self._cell(v) for v in row] for row in self.rows]
        widths = [max(len(str(r[i])) for r in cells) for i in range(len(self.header))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)


def show_table(rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
               header: Sequence[str] | None = None, caption: str = "") -> Table:
    """A table from a list of dicts (the keys are the header) or of rows plus a ``header``."""
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        header = list(header or rows[0].keys())
        rows = [[row.get(h, "") for h in header] for row in rows]  # type: ignore[union-attr]
    if header is None:
        raise ValueError("give a header for rows that are not dicts")
    return Table(header, rows, caption)  # type: ignore[arg-type]


# --- exploring the collection (notebook 01) --------------------------------------------------
def _figure(width: float = 8, height: float = 3.5):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained")


def _done(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)  # the notebook shows the returned figure once
    return fig


def plot_counts(counts: Mapping[str, int], *, title: str, xlabel: str, ylabel: str = "tunes",
                top: int | None = None):
    """A bar chart of ``counts`` (largest first, at most ``top`` bars). Used in notebook 01."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
    fig, ax = _figure(max(5, 0.45 * len(items) + 2))
    ax.bar([str(k) for k, _ in items], [v for _, v in items], color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.annotate(f"{v:,}", (i, v), ha="center", va="bottom", fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.margins(y=0.15)
    return _done(fig)


def plot_histogram(values: Iterable[float], *, title: str, xlabel: str, ylabel: str = "tunes",
                   bins: int = 40, upto: float | None = None):
    """A histogram of ``values`` with the median marked; values above ``upto`` are counted in the
    legend instead of stretching the axis. Used in notebook 01."""
    values = np.asarray(list(values), dtype=float)
    shown = values if upto is None else values[values <= upto]
    fig, ax = _figure()
    ax.hist(shown, bins=bins, color="tab:blue", edgecolor="white")
    median = float(np.median(values))
    ax.axvline(median, color="tab:red", linestyle="--", label=f"median {median:g}")
    if len(shown) < len(values):
        ax.plot([], [], " ", label=f"{len(values) - len(shown)} more above {upto:g} "
                                   f"(up to {values.max():g})")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return _done(fig)


def tune_bars(tune: music.Tune) -> float:
    """The length of a tune in bars (of its first meter). Used in notebook 01."""
    return len(tune) / music.steps_per_bar(tune.meters[0][1])


def chord_steps(tunes: Iterable[music.Tune]) -> dict[str, int]:
    """How many 16th-note steps each chord class sounds for, over all ``tunes`` (notebook 01)."""
    counts = np.zeros(music.CHORD_SIZE, dtype=np.int64)
    for tune in tunes:
        counts += np.bincount(tune.chords, minlength=music.CHORD_SIZE)
    return {music.chord_name(c): int(n) for c, n in enumerate(counts) if n}


def show_plot(plot):
    """The figure of a plot helper's result (a Figure or Axes), closed so that the notebook
    shows it exactly once, as the value of the cell."""
    return _done(getattr(plot, "figure", plot))


def piano_roll(tune: music.Tune, title: str | None = None, mark_bar: float | None = None,
               mark_label: str = ""):
    """`folkrnn.listen.plot_piano_roll` as a figure the notebook shows once (notebooks 01, 04).

    ``mark_bar`` draws a dashed line at that bar, e.g. where a prime ends.
    """
    from folkrnn.listen import plot_piano_roll

    fig = plot_piano_roll(tune, title=title)
    if mark_bar is not None:
        ax = fig.axes[0]
        ax.axvline(mark_bar, color="tab:green", linestyle="--", linewidth=2)
        ax.text(mark_bar, ax.get_ylim()[0] + 0.5, f" {mark_label}", color="tab:green",
                va="bottom", fontsize=9)
    return _done(fig)


def piano_rolls(tunes: Mapping[str, music.Tune]):
    """Several piano rolls stacked in one figure, titled by the keys of ``tunes`` (notebook 04)."""
    import matplotlib.pyplot as plt

    from folkrnn.listen import plot_piano_roll

    longest = max(len(t) for t in tunes.values())
    fig, axes = plt.subplots(len(tunes), 1, squeeze=False, layout="constrained",
                             figsize=(min(18.0, 4.0 + longest / 32), 3.2 * len(tunes)))
    for ax, (title, tune) in zip(axes[:, 0], tunes.items()):
        plot_piano_roll(tune, ax=ax, title=title)
    return _done(fig)


# --- the representation (notebook 02) --------------------------------------------------------
def step_table(tune: music.Tune, start: int = 0, stop: int = 16) -> Table:
    """One row per step: position, meter, melody event, chord, and where the vector has its ones."""
    vectors = tune.vectors()
    positions, meters = tune.positions, tune.meter_ids
    rows = []
    for t in range(start, min(stop, len(tune))):
        ones = np.flatnonzero(vectors[t])
        rows.append([t, int(positions[t]), music.METERS[meters[t]],
                     f"{music.melody_name(int(tune.melody[t]))} ({int(tune.melody[t])})",
                     f"{music.chord_name(int(tune.chords[t]))} ({int(tune.chords[t])})",
                     ", ".join(str(int(i)) for i in ones)])
    return Table(["step", "position in bar", "meter", "melody event (id)", "chord (class)",
                  "columns set to 1"], rows,
                 caption=f"{tune.name}: steps {start}-{min(stop, len(tune)) - 1}")


def plot_vectors(tune: music.Tune, start: int = 0, stop: int = 64):
    """A heatmap of the combined vectors (melody one-hot ‖ chord one-hot) for a few bars.

    Only the rows that are used are labelled; a line separates melody events from chords and
    dotted lines mark the bar lines. Used in notebook 02.
    """
    stop = min(stop, len(tune))
    vectors = tune.vectors()[start:stop].T  # (36+37, steps)
    fig, ax = _figure(10, 7)
    ax.imshow(vectors, aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(start - 0.5, stop - 0.5, vectors.shape[0] - 0.5, -0.5))
    used = np.flatnonzero(vectors.any(axis=1))
    names = ([music.melody_name(i) for i in range(music.MELODY_SIZE)]
             + [music.chord_name(c) for c in range(music.CHORD_SIZE)])
    ax.set_yticks(used, [f"{i}: {names[i]}" for i in used], fontsize=7)
    ax.axhline(music.MELODY_SIZE - 0.5, color="tab:red", linewidth=1)
    ax.text(stop - 0.5, music.MELODY_SIZE - 1, "melody events ↑ ", ha="right", va="bottom",
            color="tab:red", fontsize=8)
    ax.text(stop - 0.5, music.MELODY_SIZE, "chord classes ↓ ", ha="right", va="top",
            color="tab:red", fontsize=8)
    for t in range(start, stop):
        if tune.positions[t] == 0:
            ax.axvline(t - 0.5, color="tab:blue", linestyle=":", linewidth=1)
    ax.set(title=f"{tune.name}: one column per 16th-note step, two ones per column",
           xlabel="step (16th notes; dotted lines = bar lines)",
           ylabel="vector component (index: meaning)")
    return _done(fig)


def chord_table(examples: Mapping[str, Sequence[int]]) -> Table:
    """What `music.recognise_chord` makes of some named sets of MIDI pitches (notebook 02)."""
    import pretty_midi

    rows = []
    for label, pitches in examples.items():
        notes = " ".join(pretty_midi.note_number_to_name(p) for p in pitches)
        rows.append([label, notes, music.chord_name(music.recognise_chord(list(pitches)))])
    return Table(["played", "notes", "recognised as"], rows)


def shape_table(batch: Sequence[Mapping[str, np.ndarray]]) -> Table:
    """Name, shape and dtype of every array in an ``(inputs, targets, weights)`` batch."""
    rows = []
    for part, arrays in zip(("input", "target", "sample weight"), batch):
        for key, value in arrays.items():
            rows.append([part, key, str(tuple(value.shape)), str(value.dtype)])
    return Table(["part", "name", "shape (batch, steps)", "dtype"], rows)


def knob_table(config: Config | None = None) -> Table:
    """Every hyperparameter: its value here, its default and what it does (from `Config`)."""
    source = inspect.getsource(Config)
    comments = dict(re.findall(r"^\s+(\w+): [^=]+=[^#\n]+#\s*(.+)$", source, flags=re.M))
    sections = {}
    section = ""
    for line in source.splitlines():
        if (match := re.match(r"\s+# --- (\w+) ---", line)):
            section = match.group(1)
        elif (match := re.match(r"\s+(\w+): ", line)):
            sections[match.group(1)] = section
    rows = []
    for f in fields(Config):
        value = getattr(config, f.name) if config is not None else f.default
        rows.append([sections.get(f.name, ""), f.name, value, f.default,
                     comments.get(f.name, "")])
    return Table(["group", "knob", "value here", "default", "what it does"], rows)


# --- training (notebook 03) ------------------------------------------------------------------
def read_history(path: str | Path) -> list[dict[str, float]]:
    """The rows of a ``history.csv`` written during training (numbers as floats)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        rows = []
        for row in csv.DictReader(fh):
            parsed = {}
            for key, value in row.items():
                try:
                    parsed[key] = float(value)
                except (TypeError, ValueError):
                    continue
            rows.append(parsed)
        return rows


def plot_history(history: Sequence[Mapping[str, float]], *, title: str = "Training progress",
                 partial: Sequence[tuple[float, float]] = ()):
    """Training and validation loss per epoch (rows as in ``history.csv``, ``epoch`` from 1).

    ``partial``: ``(fraction of epochs done, running training loss)`` within the current epoch.
    Used in notebook 03.
    """
    fig, ax = _figure(8, 4)
    for key, label, style in (("loss", "training loss", "o-"),
                              ("val_loss", "validation loss", "s-")):
        points = [(row["epoch"], row[key]) for row in history if key in row and "epoch" in row]
        if points:
            ax.plot(*zip(*points), style, label=label)
    if partial:
        ax.plot(*zip(*partial), ":", color="tab:blue", alpha=0.7,
                label="training loss (this epoch, running mean)")
    ax.set(title=title, xlabel="epoch", ylabel="loss (nats per step, melody + chord)")
    if ax.lines:
        ax.legend()
    ax.grid(alpha=0.3)
    return _done(fig)


class LivePlot(keras.callbacks.Callback):
    """A Keras callback that redraws a labelled train/validation loss plot as training runs.

    The plot is updated in place (an IPython display handle) after every epoch, and every
    ``seconds`` within an epoch. With ``run_name``, the epochs already in the run's
    ``history.csv`` are drawn too (when training resumes). Explained in notebook 03_train_model.
    """

    def __init__(self, run_name: str | None = None, seconds: float = 5.0,
                 title: str = "Training progress"):
        super().__init__()
        self.run_name, self.seconds, self.title = run_name, seconds, title
        self.history: list[dict[str, float]] = []
        self.partial: list[tuple[float, float]] = []
        self._handles = None
        self._last = self._started = 0.0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        from folkrnn.paths import run_dir

        if self.run_name:  # read here, after train_model has set up (or cleared) the run
            self.history = read_history(run_dir(self.run_name) / "history.csv")
        self._started = time.monotonic()
        self._draw("training started…")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self.partial = epoch, []

    def on_train_batch_end(self, batch, logs=None):
        steps = (self.params or {}).get("steps") or 0
        if logs and "loss" in logs and steps:
            self.partial.append((self._epoch + (batch + 1) / steps, float(logs["loss"])))
        if time.monotonic() - self._last > self.seconds:
            self._draw(self._status(f"epoch {self._epoch + 1}, batch {batch + 1}"
                                    + (f" of {steps}" if steps else "")))

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": float(epoch + 1)}
        row.update({k: float(v) for k, v in (logs or {}).items()
                    if isinstance(v, (int, float, np.floating))})
        self.history = [r for r in self.history if r.get("epoch") != epoch + 1] + [row]
        self.partial = []
        self._draw(self._status(f"epoch {epoch + 1} done"))

    def _status(self, where: str) -> str:
        minutes = (time.monotonic() - self._started) / 60
        last = self.history[-1] if self.history else {}
        losses = ", ".join(f"{k} {last[k]:.3f}" for k in ("loss", "val_loss") if k in last)
        return f"{where}: {minutes:.1f} min" + (f"; last epoch: {losses}" if losses else "")

    def _draw(self, status: str) -> None:
        from IPython.display import HTML, display

        fig = plot_history(self.history, title=self.title, partial=self.partial)
        text = HTML(f"<b>{html.escape(status)}</b>")
        if self._handles is None:
            self._handles = (display(text, display_id=True), display(fig, display_id=True))
        else:
            self._handles[0].update(text)
            self._handles[1].update(fig)
        self._last = time.monotonic()
