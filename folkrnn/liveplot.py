"""`LivePlot`: a Keras callback that redraws the loss plot while `train.train_model` runs.

Beside `folkrnn.train` because it is part of training; it draws with `figures.plot_history`.
Explained in notebook 03_train_model.
"""
from __future__ import annotations

import html
import time

import numpy as np
from IPython.display import HTML, display

from folkrnn.figures import plot_history
from folkrnn.require import require_tensorflow
from folkrnn.runs import read_history

keras = require_tensorflow()


class LivePlot(keras.callbacks.Callback):
    """Redraws a labelled train/validation loss plot (and a status line) as training runs.

    The plot is updated in place (an IPython display handle) after every epoch, and every
    ``seconds`` within an epoch. With ``run_name``, the epochs already in the run's history
    are drawn too (when training resumes).
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
        if self.run_name:  # read here, after train_model has set up (or cleared) the run
            self.history = read_history(self.run_name)
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
        fig = plot_history(self.history, title=self.title, partial=self.partial)
        figure = HTML(fig.to_html())  # a PNG with alt text, updated in place
        text = HTML(f"<b>{html.escape(status)}</b>")
        if self._handles is None:
            self._handles = (display(text, display_id=True), display(figure, display_id=True))
        else:
            self._handles[0].update(text)
            self._handles[1].update(figure)
        self._last = time.monotonic()
