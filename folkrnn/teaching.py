"""Figures and displays for the teaching cells of notebooks 02–04 (how the network works).

The from-scratch code itself (an RNN step, an LSTM cell, a training step, a sampler) is written
out in the notebook cells, where a learner reads it; this module only draws, by the convention
of `folkrnn.figures` (`new_figure`, then `finish`). It is kept apart from figures.py (the tunes
and the results) because it draws the network itself and the teaching cells' own numbers.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

import numpy as np
from IPython.display import Code
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from folkrnn.figures import finish, new_figure


def show_source(obj):
    """The source code of a package function or class, highlighted (notebook 02).

    What the notebook shows is read from the package at run time, so it is always the code
    that runs.
    """
    return Code(inspect.getsource(obj), language="python")


# --- the network, unrolled over time (notebook 02) --------------------------------------------
def _box(ax, x: float, y: float, w: float, h: float, text: str, color: str, size: int = 9):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                facecolor=color, edgecolor="0.25", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def _arrow(ax, start, end, color: str = "0.25", style: str = "-|>", **kwargs):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color,
                                 linewidth=1.2, shrinkA=0, shrinkB=0, **kwargs))


def draw_unrolled(steps: int = 4, layers: int = 1, form: bool = False):
    """The network folded (a loop) and unrolled over ``steps`` time steps (notebook 02).

    Each column is one 16th-note step: the step's inputs are embedded and concatenated into
    x_t, the LSTM updates its state (h, c) from x_t and the state of the step before, and the
    two heads turn h_t into scores for the next chord and the next melody event. ``form``: the
    model also reads the form inputs (lookback and structure, `folkrnn.form`).
    """
    fig, (folded, ax) = new_figure(11, 4.6, layout=None, ncols=2, width_ratios=[1, 4.2])
    rows = {"in": 0.3, "x": 1.35, "lstm": 2.55, "head": 3.75, "out": 4.75}
    lstm_text = "LSTM" if layers == 1 else f"{layers} LSTM\nlayers"
    # folded: one cell with a loop
    _box(folded, 1, rows["in"], 1.5, 0.55, "inputs of\nstep t", "#e8eef7")
    _box(folded, 1, rows["x"], 1.5, 0.55, "embeddings\n→ x_t", "#dbe7d3")
    _box(folded, 1, rows["lstm"], 1.5, 0.7, lstm_text, "#f6d7a7", 10)
    _box(folded, 1, rows["head"], 1.5, 0.55, "two heads", "#ead1e6")
    _box(folded, 1, rows["out"], 1.5, 0.55, "scores of\nstep t+1", "#f3f3f3")
    for a, b in (("in", "x"), ("x", "lstm"), ("lstm", "head"), ("head", "out")):
        _arrow(folded, (1, rows[a] + 0.3), (1, rows[b] - 0.37))
    _arrow(folded, (1.76, rows["lstm"] + 0.15), (1.76, rows["lstm"] - 0.15), color="tab:red",
           connectionstyle="arc3,rad=-2.2")
    folded.text(2.35, rows["lstm"], "h, c", color="tab:red", va="center", fontsize=9)
    folded.set(xlim=(0, 2.8), ylim=(-0.2, 5.2), title="folded: a loop")
    # unrolled: one column per step
    gap = 2.4
    for t in range(steps):
        x = 1.2 + gap * t
        name = f"t={t + 1}"
        known = "position, meter, form" if form else "position, meter"
        _box(ax, x, rows["in"], 1.9, 0.6, f"melody, chord of {t}\n{known} of {t + 1}",
             "#e8eef7", 6.5)
        _box(ax, x, rows["x"], 1.5, 0.5, f"embeddings → x_{t + 1}", "#dbe7d3", 8)
        _box(ax, x, rows["lstm"], 1.5, 0.7, f"{lstm_text}\n({name})", "#f6d7a7", 9)
        _box(ax, x, rows["head"], 1.5, 0.5, "chord / melody\nheads", "#ead1e6", 8)
        _box(ax, x, rows["out"], 1.75, 0.55, f"p(chord, melody\nof step {t + 1})", "#f3f3f3", 8)
        for a, b, da, db in (("in", "x", 0.3, 0.25), ("x", "lstm", 0.25, 0.35),
                             ("lstm", "head", 0.35, 0.25), ("head", "out", 0.25, 0.28)):
            _arrow(ax, (x, rows[a] + da), (x, rows[b] - db))
        # the state passed to the next step
        start = x - gap + 0.75 if t else x - 1.9
        _arrow(ax, (start, rows["lstm"]), (x - 0.75, rows["lstm"]), color="tab:red")
        ax.text((start + x - 0.75) / 2 + (0.1 if t else 0), rows["lstm"] + 0.14,
                "h, c" if t else "h₀ = c₀ = 0", color="tab:red", ha="center", fontsize=8)
        if t < steps - 1:  # sampling: the drawn step becomes the next input
            mid = x + 1.0  # just right of this column, clear of the state arrow label
            ax.plot([x + 0.88, mid, mid], [rows["out"], rows["out"], rows["in"]],
                    "--", color="tab:blue", linewidth=1.2)
            _arrow(ax, (mid, rows["in"]), (x + gap - 0.97, rows["in"]), color="tab:blue")
    ax.text(1.2 + gap * (steps - 0.45), rows["lstm"], "…", fontsize=16, va="center")
    ax.text(1.2 + gap * (steps - 1) / 2, -0.35,
            "blue dashes: when composing, the drawn chord and melody event become the next "
            "step's input; red: the state (h, c) the LSTM passes on", ha="center", fontsize=8)
    ax.set(xlim=(-0.8, 1.2 + gap * steps), ylim=(-0.5, 5.2), title="unrolled over time: "
           "the same weights at every step")
    for a in (folded, ax):
        a.axis("off")
    fig.tight_layout()
    return finish(fig)


# --- why a plain RNN forgets (notebook 02) -----------------------------------------------------
def plot_gradient_norms(norms: Mapping[str, Sequence[float]]):
    """How strongly the state t steps later depends on the first state, per curve (log scale).

    ``norms``: label → the norm of ∂h_t/∂h_0 for t = 1, 2, … (notebook 02).
    """
    fig, ax = new_figure(8, 3.8, layout=None)
    for label, values in norms.items():
        ax.semilogy(np.arange(1, len(values) + 1), values, label=label)
    ax.axhline(1, color="0.5", linewidth=0.8)
    ax.set(xlabel="steps back in time (t)", ylabel="size of ∂h_t / ∂h_0 (log scale)",
           title="A plain RNN: the gradient through time vanishes (or explodes)")
    ax.legend()
    ax.grid(alpha=0.3, which="both", axis="y")
    fig.tight_layout()
    return finish(fig)


# --- the temperature (notebook 04) -------------------------------------------------------------
def plot_temperatures(probabilities: Mapping[float, np.ndarray], labels: Sequence[str], *,
                      title: str, top: int = 12):
    """One step's distribution over the next events at several temperatures (notebook 04).

    ``probabilities``: temperature → probabilities of every event; the ``top`` likeliest
    events at temperature 1 (or the first temperature) are drawn, likeliest first.
    """
    reference = probabilities.get(1.0, next(iter(probabilities.values())))
    order = np.argsort(reference)[::-1][:top]
    fig, ax = new_figure(9, 3.6, layout=None)
    width = 0.8 / len(probabilities)
    for i, (temperature, p) in enumerate(probabilities.items()):
        ax.bar(np.arange(len(order)) + (i - (len(probabilities) - 1) / 2) * width,
               np.asarray(p)[order], width, label=f"T = {temperature:g}")
    ax.set_xticks(np.arange(len(order)), [labels[i] for i in order])
    ax.set(ylabel="probability", title=title)
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return finish(fig)
