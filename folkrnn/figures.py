"""Every figure of the data and the results: one home, one convention.

**Convention.** Every ``plot_*`` function makes its own figure with `new_figure` and returns it
closed (`finish`): a `DescribedFigure`, which Jupyter shows exactly once, as the value of the
cell, as an image whose alt text says what it shows (its titles and axis labels); a script
saves it with ``fig.savefig(path)``; a test looks at ``fig.axes``. Nothing is drawn into
pyplot's "current figure", and no helper calls ``plt.show``. (d2l's ``plot`` draws into given
axes instead; one rule for all of ours keeps the notebook cells to one line each.) The diagrams
of how the network works (`folkrnn.teaching`) follow the same rule.

Where each is taught: the collection (`plot_counts`, `plot_histogram`, `plot_piano_roll`) in
notebook 01, the representation (`plot_vectors`) in 02, training (`plot_learning_rate`,
`plot_history`) in 03, and testing (`plot_report`, `plot_piano_rolls`, `plot_metrics`) in 04.
Never imports TensorFlow (notebook 01 runs without it).
"""
from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pretty_midi
from IPython.display import display
from matplotlib.collections import PatchCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from folkrnn import music
from folkrnn.evaluate import report_table
from folkrnn.metrics import METRICS, YES_NO, metric_table

__all__ = ["new_figure", "finish", "plot_counts", "plot_histogram", "plot_vectors",
           "plot_piano_roll", "plot_piano_rolls", "plot_learning_rate", "plot_history",
           "plot_report", "plot_metrics"]


class DescribedFigure(matplotlib.figure.Figure):
    """A figure that Jupyter shows as one PNG image with alt text (every figure here is one:
    `new_figure`)."""

    def alt_text(self) -> str:
        """What the figure shows, from its titles and axis labels (for screen readers)."""
        parts = [self.get_suptitle()]
        for ax in self.axes:
            if not ax.get_visible():
                continue
            title = next((t for t in (ax.get_title(loc) for loc in ("center", "left")) if t), "")
            axes = ", ".join(f"{name}: {label}" for name, label in
                             (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label)
            parts.append(" ".join(p for p in (title, f"({axes})" if axes else "") if p))
        return "Figure: " + "; ".join(p for p in dict.fromkeys(parts) if p)

    def to_html(self, dpi: float = 80) -> str:
        """An ``<img>`` tag holding the figure as a PNG, with its alt text."""
        # 80 dpi: crisp on screen (Jupyter's own default is 72) and a third fewer pixels than
        # 100, which keeps the executed notebook 04 under 3 MB (BENCHMARKS.md).
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=dpi)  # constrained layout: nothing to trim
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt_text())}" '
                f'style="max-width: 100%; height: auto">')

    def _ipython_display_(self) -> None:
        # Jupyter's own PNG output has no alt text; nbconvert warns "Alternative text is
        # missing" for each. This shows the same PNG as HTML, with a description.
        display({"text/html": self.to_html(), "text/plain": f"<{self.alt_text()}>"}, raw=True)


def new_figure(width: float = 8.0, height: float = 3.5, *, layout: str | None = "constrained",
               **grid):
    """A new `DescribedFigure` and its axes; ``grid`` (``nrows``, ``ncols``, …) goes to
    ``plt.subplots``. Every figure of the tutorial starts here and ends with `finish`."""
    return plt.subplots(figsize=(width, height), layout=layout, FigureClass=DescribedFigure,
                        **grid)


def finish(fig: DescribedFigure) -> DescribedFigure:
    """Close ``fig`` so that Jupyter shows it once, as the cell's value, and return it.

    The end of every plot helper, here and in `folkrnn.teaching`.
    """
    plt.close(fig)
    return fig


# --- the collection (notebook 01) ------------------------------------------------------------
def plot_counts(counts: Mapping[str, int], *, title: str, xlabel: str, ylabel: str = "tunes",
                top: int | None = None):
    """A bar chart of ``counts`` (largest first, at most ``top`` bars), each bar labelled."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
    fig, ax = new_figure(max(5.0, 0.45 * len(items) + 2))
    ax.bar([str(k) for k, _ in items], [v for _, v in items], color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.annotate(f"{v:,}", (i, v), ha="center", va="bottom", fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.margins(y=0.15)
    return finish(fig)


def plot_histogram(values: Iterable[float], *, title: str, xlabel: str, ylabel: str = "tunes",
                   bins: int = 40, upto: float | None = None):
    """A histogram of ``values`` with the median marked; values above ``upto`` are counted in the
    legend instead of stretching the axis."""
    values = np.asarray(list(values), dtype=float)
    shown = values if upto is None else values[values <= upto]
    fig, ax = new_figure()
    ax.hist(shown, bins=bins, color="tab:blue", edgecolor="white")
    median = float(np.median(values))
    ax.axvline(median, color="tab:red", linestyle="--", label=f"median {median:g}")
    if len(shown) < len(values):
        ax.plot([], [], " ", label=f"{len(values) - len(shown)} more above {upto:g} "
                                   f"(up to {values.max():g})")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return finish(fig)


# --- the piano roll (notebooks 01, 02, 04) ---------------------------------------------------
_NOTE_GAP = 0.2  # of a step: the white gap after every note, so repeated notes stay apart
_CHORD_FONT = 8  # points


def _bar_time(tune: music.Tune):
    """A function from a step to its time in bars (bars of different meters count as one)."""
    starts = tune.bar_starts or [0]
    bounds = starts + [len(tune)]

    def to_bars(step: float) -> float:
        index = max(0, int(np.searchsorted(starts, step, side="right")) - 1)
        start, end = bounds[index], bounds[min(index + 1, len(bounds) - 1)]
        return index + (step - start) / max(end - start, 1)

    return to_bars


def _label_rows(starts: Sequence[float], widths: Sequence[float]) -> list[int]:
    """Greedy rows for labels at ``starts`` (sorted) so that no two in one row overlap."""
    row_ends: list[float] = []
    rows = []
    for start, width in zip(starts, widths):
        row = next((r for r, end in enumerate(row_ends) if end <= start), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = start + width
        rows.append(row)
    return rows


def _draw_piano_roll(tune: music.Tune, ax, chord_ax, bars_per_inch: float) -> None:
    """Notes into ``ax`` and chord names into the strip ``chord_ax`` above it."""
    to_bars = _bar_time(tune)
    notes = tune.notes()
    boxes = [Rectangle((to_bars(start), pitch - 0.4), to_bars(end - _NOTE_GAP) - to_bars(start),
                       0.8) for start, end, pitch in notes]
    # One collection draws hundreds of boxes fast (the composer redraws on every click).
    ax.add_collection(PatchCollection(boxes, facecolor="tab:blue", edgecolor="navy",
                                      linewidth=0.6), autolim=False)
    pitches = [p for _, _, p in notes] or [60, 72]
    low, high = min(pitches) - 2, max(pitches) + 2
    length = max(to_bars(len(tune)), 1e-3)
    for step in tune.bar_starts:
        for a in (ax, chord_ax):
            a.axvline(to_bars(step), color="0.8", linewidth=0.8, zorder=0)
    ticks = [p for p in range(low, high + 1) if p % 12 in (0, 7)]
    ax.set_yticks(ticks, [pretty_midi.note_number_to_name(p) for p in ticks])
    ax.set(xlim=(0, length), ylim=(low, high), ylabel="pitch",
           xlabel="time (bars; grey lines are bar lines)")
    # Chord names: a label is about 0.75 em per character wide; labels that would touch the
    # previous one in a row go to the next row, so no two names ever overlap.
    runs = music.chord_segments(tune.chords)
    em_in_bars = _CHORD_FONT / 72 * bars_per_inch
    starts = [to_bars(s) for s, _, _ in runs]
    names = [music.chord_name(c) for _, _, c in runs]
    widths = [(0.75 * len(n) + 0.6) * em_in_bars for n in names]
    rows = _label_rows(starts, widths)
    spans = [Rectangle((x, -row - 0.9), to_bars(end) - x, 0.8)
             for (_, end, _), x, row in zip(runs, starts, rows)]
    chord_ax.add_collection(PatchCollection(spans, facecolor="mistyrose", edgecolor="tab:red",
                                            linewidth=0.5), autolim=False)
    for x, name, row in zip(starts, names, rows):
        chord_ax.text(x + 0.2 * em_in_bars, -row - 0.5, name, fontsize=_CHORD_FONT,
                      color="darkred", va="center", ha="left", clip_on=True)
    chord_ax.set(ylim=(-max(rows, default=0) - 1, 0), yticks=[], xlim=(0, length))
    chord_ax.set_ylabel("chords", rotation=0, ha="right", va="center")
    chord_ax.tick_params(labelbottom=False)


def _roll_width(tune: music.Tune) -> float:
    return min(18.0, 4.0 + len(tune) / 32)


def _chord_rows_needed(tune: music.Tune, width: float) -> int:
    bars = max(len(tune.bar_starts), 1)
    em_in_bars = _CHORD_FONT / 72 * bars / (0.85 * width)
    runs = music.chord_segments(tune.chords)
    to_bars = _bar_time(tune)
    widths = [(0.75 * len(music.chord_name(c)) + 0.6) * em_in_bars for _, _, c in runs]
    return max(_label_rows([to_bars(s) for s, _, _ in runs], widths), default=0) + 1


def _piano_roll_panels(tunes: Mapping[str, music.Tune], marks: Mapping[str, tuple[float, str]]):
    width = max(_roll_width(t) for t in tunes.values())
    rows = {title: _chord_rows_needed(t, width) for title, t in tunes.items()}
    ratios = [r for title in tunes for r in (0.25 * rows[title] + 0.1, 3.2)]
    fig, axes = new_figure(width, sum(ratios), nrows=2 * len(tunes), squeeze=False,
                           height_ratios=ratios)
    for i, (title, tune) in enumerate(tunes.items()):
        chord_ax, ax = axes[2 * i, 0], axes[2 * i + 1, 0]
        bars_per_inch = max(len(tune.bar_starts), 1) / (0.85 * width)
        _draw_piano_roll(tune, ax, chord_ax, bars_per_inch)
        chord_ax.set_title(title, loc="left")
        if title in marks:
            bar, label = marks[title]
            for a in (ax, chord_ax):
                a.axvline(bar, color="tab:green", linestyle="--", linewidth=2)
            ax.text(bar, ax.get_ylim()[0] + 0.5, f" {label}", color="tab:green", va="bottom",
                    fontsize=9)
    return finish(fig)


def _default_title(tune: music.Tune) -> str:
    meters = ", ".join(dict.fromkeys(m for _, m in tune.meters))
    return f"{tune.name or 'tune'}: key {tune.key}, {meters}"


def plot_piano_roll(tune: music.Tune, *, title: str | None = None,
                    mark_bar: float | None = None, mark_label: str = ""):
    """The melody as one box per note (pitch against time in bars), chord names above it.

    Every note ends in a small gap, so three repeated G4s show as three boxes, not one long
    one (a hold continues a box; an onset starts a new one). ``mark_bar`` draws a dashed line
    at that bar, e.g. where a primer ends. Explained in notebook 01; used in 02 and 04.
    """
    title = title or _default_title(tune)
    marks = {title: (mark_bar, mark_label)} if mark_bar is not None else {}
    return _piano_roll_panels({title: tune}, marks)


def plot_piano_rolls(tunes: Mapping[str, music.Tune]):
    """Several piano rolls stacked in one figure, titled by the keys of ``tunes`` (notebook 04)."""
    if not tunes:
        raise ValueError("no tunes to draw")
    return _piano_roll_panels(tunes, {})


# --- the representation (notebook 02) --------------------------------------------------------
def plot_vectors(tune: music.Tune, start: int = 0, stop: int = 64):
    """A heatmap of the combined vectors (melody one-hot ‖ chord one-hot) for a few bars.

    Only the rows that are used are labelled; a line separates melody events from chords and
    dotted lines mark the bar lines.
    """
    stop = min(stop, len(tune))
    vectors = tune.vectors()[start:stop].T  # (36+37, steps)
    fig, ax = new_figure(10, 7)
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
    return finish(fig)


# --- training (notebook 03) ------------------------------------------------------------------
_CURVES = (("loss", "training loss", "o-", "tab:blue"),
           ("val_loss", "validation loss", "s-", "tab:orange"))


def _draw_history(ax, history, partial, first_epoch: float) -> None:
    low, high = math.inf, -math.inf
    for key, label, style, color in _CURVES:
        points = [(row["epoch"], row[key]) for row in history
                  if key in row and row.get("epoch", 0) >= first_epoch]
        if points:
            ax.plot(*zip(*points), style, color=color, label=label)
            low, high = min(low, *(y for _, y in points)), max(high, *(y for _, y in points))
    shown = [(x, y) for x, y in partial if x >= first_epoch - 1]
    if shown:
        ax.plot(*zip(*shown), ":", color="tab:blue", alpha=0.7,
                label="training loss (this epoch, running mean)")
    if low < high:  # zoom on what is drawn, with a little room
        pad = 0.08 * (high - low)
        ax.set_ylim(low - pad, high + pad)
    ax.grid(alpha=0.3)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_learning_rate(rates: Sequence[float] | Mapping[str, Sequence[float]], *,
                       title: str = "Adam's step size, epoch by epoch"):
    """The learning rate at the start of each epoch (``rates[0]``: epoch 1), e.g. the cosine
    schedule of `model.learning_rate` read at the first step of every epoch; several
    schedules side by side as ``{label: rates}``. Explained in notebook 03."""
    fig, ax = new_figure(6, 3)
    series = rates if isinstance(rates, Mapping) else {"": rates}
    for (label, values), style in zip(series.items(), ("o-", "s--", "^:", "d-.")):
        ax.plot(np.arange(1, len(values) + 1), values, style, label=label or None)
    top = max(max(values) for values in series.values())
    ax.set(title=title, xlabel="epoch", ylabel="learning rate", ylim=(0, 1.1 * top))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(title="schedule")
    return finish(fig)


def plot_history(history: Sequence[Mapping[str, float]], *, title: str = "Training progress",
                 partial: Sequence[tuple[float, float]] = ()):
    """Training and validation loss per epoch (one dict per epoch, as `runs.read_history`).

    The first epoch's loss is far above the rest, so from three epochs on a second panel zooms
    on epochs 2 onwards: there the later epochs, the train/validation gap and the best epoch
    (whose checkpoint notebook 04 uses) stay visible. ``partial``: ``(epoch fraction, running
    training loss)`` within the current epoch (the live plot). Explained in notebook 03.
    """
    epochs = [row["epoch"] for row in history if "epoch" in row]
    zoom = len(epochs) >= 3
    fig, axes = new_figure(11 if zoom else 7, 4.4, ncols=2 if zoom else 1, squeeze=False)
    panels = [(axes[0, 0], 0.0, "all epochs")]
    if zoom:
        panels.append((axes[0, 1], 2.0, "zoomed on epoch 2 onwards"))
    valid = [row for row in history if "val_loss" in row and "epoch" in row]
    best = min(valid, key=lambda row: row["val_loss"]) if valid else None
    for ax, first, subtitle in panels:
        _draw_history(ax, history, partial, first)
        if best is not None:
            ax.axvline(best["epoch"], color="0.5", linestyle="--", linewidth=1,
                       label=f"best validation loss {best['val_loss']:.3f} "
                             f"(epoch {best['epoch']:.0f})")
        ax.set_title(subtitle, fontsize=10)
    axes[0, 0].set_ylabel("loss (nats per step, melody + chord)")
    last = history[-1] if history else {}
    if "loss" in last and "val_loss" in last:
        panels[-1][0].annotate(f"gap at epoch {last.get('epoch', 0):.0f}: "
                               f"{last['val_loss'] - last['loss']:+.3f}",
                               (0.02, 0.03), xycoords="axes fraction", ha="left", va="bottom",
                               fontsize=9, color="0.3")
    if axes[0, 0].lines:  # below the panels, where it hides no curve
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center",
                   ncols=4, fontsize=9, frameon=False)
    fig.suptitle(title)
    return finish(fig)


# --- testing (notebook 04) -------------------------------------------------------------------
def plot_report(report: dict):
    """A bar chart of melody + chord NLL per predictor (stacked; lower is better), from
    `evaluate.evaluate_run`'s report. Explained in notebook 04."""
    rows = report_table(report)
    fig, ax = new_figure(8, 4)
    names = [r["name"] for r in rows]
    melody = [r["melody_nll"] for r in rows]
    ax.bar(names, melody, label="melody", color="tab:blue")
    ax.bar(names, [r["chord_nll"] for r in rows], bottom=melody, label="chord", color="tab:orange")
    for i, r in enumerate(rows):
        ax.text(i, r["total_nll"], f"{r['total_nll']:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("predictor")
    ax.set_ylabel("negative log-likelihood (nats per step)")
    ax.set_title(f"Next-step NLL on the {report.get('split', '?')} split (lower is better)")
    ax.tick_params(axis="x", labelrotation=20)
    ax.legend()
    return finish(fig)


def plot_metrics(generated: list[music.Tune] | Mapping[str, list[music.Tune]],
                 real: list[music.Tune], labels: Sequence[str] = ("generated", "real"), *,
                 notes: Mapping[str, str] | None = None):
    """Box plots of every music metric (`folkrnn.metrics`), generated beside real, one panel
    per metric. ``generated``: one list of tunes, or several by label (e.g. ``{"free": …,
    "AABB": …}``); ``labels[-1]`` names the real tunes. ``notes``: a warning under a metric's
    panel (e.g. "set by the form", where a rule guarantees the value). Explained in notebook 04."""
    sets = dict(generated) if isinstance(generated, Mapping) else {labels[0]: generated}
    sets[labels[-1]] = real
    tables = [metric_table(tunes) for tunes in sets.values()]
    cols = 3
    rows = math.ceil(len(METRICS) / cols)
    fig, axes = new_figure(4 * cols, 2.8 * rows, nrows=rows, ncols=cols, squeeze=False)
    for ax, name in zip(axes.flat, METRICS):
        data = [[v for v in table[name] if not math.isnan(v)] for table in tables]
        if METRICS[name].unit == YES_NO:  # a box of 0s and 1s says nothing: the share of yes
            shares = [float(np.mean(d)) if d else math.nan for d in data]
            bars = ax.bar(range(1, len(sets) + 1), shares, color="tab:green", alpha=0.6)
            ax.bar_label(bars, labels=[f"{s:.0%}" for s in shares], fontsize=8)
            ax.set(ylim=(0, 1.15))
            ax.set_ylabel("share of tunes (yes)", fontsize=8)
        else:
            ax.boxplot(data, showmeans=True)
            ax.set_ylabel(METRICS[name].unit, fontsize=8)
        ax.set_xticks(range(1, len(sets) + 1), list(sets))
        ax.set_title(name.replace("_", " "), fontsize=10)
        if notes and name in notes:
            ax.set_xlabel(notes[name], fontsize=8, color="tab:red")
    for ax in axes.flat[len(METRICS):]:
        ax.set_visible(False)
    fig.suptitle("music metrics: generated vs real tunes")
    fig.legend(handles=_box_legend(), loc="outside lower center", ncol=4, fontsize=8,
               frameon=False)
    return finish(fig)


def _box_legend() -> list:
    """What the parts of matplotlib's default box plot mean, as legend entries."""
    return [Patch(facecolor="none", edgecolor="black", label="box: middle half of the tunes"),
            Line2D([], [], color="C1", label="median"),
            Line2D([], [], color="green", marker="^", linestyle="none", label="mean"),
            Line2D([], [], color="black", marker="o", markerfacecolor="none", linestyle="none",
                   label="outliers (beyond the whiskers: 1.5 box heights)")]
