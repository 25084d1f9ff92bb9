"""Figures and tables: one convention (a closed Figure per plot), readable piano rolls and loss
curves, tables from Config's own help texts, and no TensorFlow for notebook 01."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

from folkrnn import evaluate, figures, listen, metrics, tables  # noqa: E402
from folkrnn.config import Config  # noqa: E402
from folkrnn.music import HOLD, REST, Tune, onset, parse_chord  # noqa: E402


def tune_of(events, chords, meter="4/4", name="t") -> Tune:
    return Tune(np.array(events), np.array([parse_chord(c) for c in chords]),
                meters=[(0, meter)], key="G", name=name)


def repeated_g4() -> Tune:
    """G4 G4 G4 (three quarter-note onsets), a held G4, then a rest; over G G D D7."""
    g = onset(67)
    melody = [g, HOLD, HOLD, HOLD] * 3 + [g] + [HOLD] * 7 + [REST] * 4
    chords = ["G"] * 8 + ["D"] * 8 + ["D7"] * 8
    return tune_of(melody, chords)


def busy_chords(bars: int = 16) -> Tune:
    """A chord change on every eighth note: labels would overlap if drawn in one row."""
    names = ["G", "Em", "Am7", "D7", "C#m", "Bb7", "F#m", "Eb"]
    chords = [names[(i // 2) % len(names)] for i in range(16 * bars)]
    return tune_of([onset(60 + i % 12) for i in range(16 * bars)], chords)


def report() -> dict:
    scores = dict.fromkeys(evaluate.METRIC_KEYS, 0.5)
    return {"split": "test", "model": scores,
            "baselines": {n: scores for n in evaluate.BASELINE_NAMES}}


HISTORY = [{"epoch": e, "loss": 6.0 if e == 1 else 1.0 + 1 / e,
            "val_loss": 4.0 if e == 1 else 1.2 + 1 / e} for e in range(1, 9)]


@pytest.mark.parametrize("make", [
    lambda: figures.plot_counts({"4/4": 3, "6/8": 2}, title="t", xlabel="meter"),
    lambda: figures.plot_histogram([1, 2, 3, 40], title="t", xlabel="bars", upto=10),
    lambda: figures.plot_piano_roll(repeated_g4()),
    lambda: figures.plot_piano_rolls({"a": repeated_g4(), "b": busy_chords(2)}),
    lambda: figures.plot_vectors(repeated_g4()),
    lambda: figures.plot_learning_rate([3e-3, 2e-3, 1e-3]),
    lambda: figures.plot_history(HISTORY),
    lambda: figures.plot_report(report()),
], ids=["counts", "histogram", "piano_roll", "piano_rolls", "vectors", "learning_rate", "history",
        "report"])
def test_every_plot_returns_a_closed_figure_with_labelled_axes(make):
    before = set(plt.get_fignums())
    fig = make()
    assert isinstance(fig, figures.DescribedFigure)
    assert set(plt.get_fignums()) == before, "the figure must be closed (Jupyter shows it once)"
    drawn = [ax for ax in fig.axes if ax.get_visible() and (ax.lines or ax.patches or ax.images
                                                           or ax.collections)]
    assert drawn and all(ax.get_xlabel() or ax.get_ylabel() for ax in drawn)


def test_two_learning_rate_schedules_are_two_labelled_lines():
    fig = figures.plot_learning_rate({"constant": [3e-3] * 4, "cosine": [3e-3, 2e-3, 1e-3, 2e-4]})
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["constant", "cosine"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["constant", "cosine"]
    assert figures.plot_learning_rate([3e-3, 1e-3]).axes[0].get_legend() is None


def test_a_figure_shows_as_one_png_with_alt_text():
    fig = figures.plot_counts({"4/4": 3, "6/8": 2}, title="Meter of each tune", xlabel="meter")
    assert fig.alt_text() == "Figure: Meter of each tune (x: meter, y: tunes)"
    tag = fig.to_html()
    assert tag.startswith('<img src="data:image/png;base64,iVBOR')
    assert 'alt="Figure: Meter of each tune (x: meter, y: tunes)"' in tag
    made, ax = figures.new_figure()  # what teaching.py draws with, too
    ax.set_title("drawn elsewhere")
    assert figures.finish(made) is made and "drawn elsewhere" in made.alt_text()
    assert made.number not in plt.get_fignums()


def test_the_plots_live_in_figures_only():
    assert not hasattr(listen, "plot_piano_roll")
    assert not hasattr(evaluate, "plot_report") and not hasattr(metrics, "plot_metrics")


def test_repeated_notes_are_separate_boxes_and_a_hold_extends_one():
    fig = figures.plot_piano_roll(repeated_g4(), title="repeats")
    chord_ax, ax = fig.axes
    boxes = sorted((v[:, 0].min(), v[:, 0].max(), v[:, 1].min())
                   for v in (path.vertices for path in ax.collections[0].get_paths()))
    assert len(boxes) == 4  # three repeated quarter notes and one half note, all G4
    assert {round(y + 0.4) for _, _, y in boxes} == {67}
    for (_, end, _), (start, _, _) in zip(boxes, boxes[1:]):
        assert end < start, "consecutive notes of one pitch must not touch"
    widths = [end - start for start, end, _ in boxes]
    assert widths[3] > 1.9 * widths[0]  # the held note is one long box
    assert ax.get_xlabel().startswith("time (bars") and ax.get_ylabel() == "pitch"
    assert [t.get_text() for t in chord_ax.texts] == ["G", "D", "D7"]
    assert chord_ax.get_title(loc="left") == "repeats"


def test_chord_names_never_overlap_where_chords_change_quickly():
    fig = figures.plot_piano_roll(busy_chords())
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts]
    assert len(boxes) == 8 * 16  # a name per eighth note
    overlaps = [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                if boxes[i].overlaps(boxes[j])]
    assert not overlaps, f"{len(overlaps)} chord names overlap"
    assert len({round(b.y0) for b in boxes}) >= 2  # they had to go to more than one row


def test_prime_mark_is_drawn():
    fig = figures.plot_piano_roll(repeated_g4(), mark_bar=1, mark_label="the model takes over")
    assert any(t.get_text().strip() == "the model takes over" for t in fig.axes[1].texts)


def test_loss_plot_zooms_so_later_epochs_and_the_gap_stay_visible():
    fig = figures.plot_history(HISTORY, title="run")
    whole, zoom = fig.axes
    assert whole.get_ylim()[1] > 6.0  # epoch 1 is in the first panel
    low, high = zoom.get_ylim()
    assert high < 4.0 and low < 1.0 + 1 / 8  # the zoom leaves epoch 1 out, keeps the last
    last_gap = HISTORY[-1]["val_loss"] - HISTORY[-1]["loss"]
    assert last_gap / (high - low) > 0.1  # the gap takes a visible share of the panel
    assert any(f"{last_gap:+.3f}" in t.get_text() for t in zoom.texts)
    assert {"training loss", "validation loss"} <= {line.get_label() for line in zoom.lines}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["training loss", "validation loss"] and "best" in legend[2]
    assert "epoch" in zoom.get_xlabel() and "loss" in whole.get_ylabel()


def test_loss_plot_of_one_or_no_epoch_is_one_panel():
    assert len(figures.plot_history(HISTORY[:1]).axes) == 1
    assert len(figures.plot_history([]).axes) == 1


def test_plot_report_labels_its_axes():
    ax = figures.plot_report(report()).axes[0]
    assert "nats" in ax.get_ylabel() and "lower is better" in ax.get_title()
    assert len(ax.patches) == 2 * (1 + len(report()["baselines"]))  # melody + chord bars


def test_plot_metrics_labels_every_panel():
    c_major = [onset(p) for p in (60, 62, 64, 65, 67, 69, 71, 72)]
    generated = [tune_of(c_major * 2, ["C"] * 16)] * 2
    real = [tune_of(c_major[::-1] * 2, ["G"] * 16)] * 2
    fig = figures.plot_metrics(generated, real)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [m.replace("_", " ") for m in metrics.METRICS]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["generated", "real"]
    (legend,) = fig.legends  # what the box, the line and the triangle of each box plot mean
    assert [t.get_text().split(" ")[0] for t in legend.get_texts()] == [
        "box:", "median", "mean", "outliers"]


def test_plot_metrics_shows_several_generated_sets_and_marks_rule_set_metrics():
    c_major = [onset(p) for p in (60, 62, 64, 65, 67, 69, 71, 72)]
    made = [tune_of(c_major * 2, ["C"] * 16)]
    real = [tune_of(c_major[::-1] * 2, ["G"] * 16)]
    fig = figures.plot_metrics({"free": made, "AABB": made}, real,
                               notes={"ends_on_tonic": "set by a rule"})
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["free", "AABB", "real"]
    assert panels["ends on tonic"].get_xlabel() == "set by a rule"
    assert panels["pitch range"].get_xlabel() == ""
    # a yes/no metric is the share of tunes that say yes, one bar per set; the others are boxes
    assert [p.get_height() for p in panels["ends on tonic"].patches] == [1.0, 1.0, 1.0]
    assert [t.get_text() for t in panels["ends on tonic"].texts] == ["100%", "100%", "100%"]
    assert not panels["pitch range"].patches and panels["pitch range"].lines


# --- tables ----------------------------------------------------------------------------------
def test_table_shows_as_html_and_as_text():
    table = tables.show_table([{"name": "a<b", "value": 0.123456}], caption="c")
    assert "<td style=\"text-align:right\">0.1235</td>" in table._repr_html_()
    assert "a&lt;b" in table._repr_html_()
    assert repr(table).splitlines() == ["c", "name  value ", "a<b   0.1235"]


def test_baseline_table_puts_the_model_beside_the_named_chains():
    scores = dict.fromkeys(evaluate.METRIC_KEYS, 0.5) | {"melody_onset_acc": 0.657}
    table = tables.baseline_table({"split": "test", "tunes": 3, "model": scores,
                                   "baselines": {n: scores for n in evaluate.BASELINE_NAMES}})
    assert [row[0] for row in table.rows] == ["LSTM (the model)", *tables.MARKOV_CHAINS]
    assert table.rows[0][table.header.index("onset accuracy")] == "65.7%"
    assert len(table.header) <= 6  # it fits the page: the full report has 11 columns


def test_knob_table_explains_every_knob_from_config_metadata():
    rows = {row[-4]: row for row in tables.knob_table(Config(units=7)).rows}
    assert list(rows) == [f.name for f in dataclasses.fields(Config)]
    assert rows["units"][-3:-1] == [7, Config().units]
    missing = [name for name, row in rows.items() if not row[-1]]
    assert not missing, f"Config fields without metadata['help']: {missing}"


def test_chord_step_counts_and_tune_bars():
    tune = repeated_g4()
    assert tables.chord_step_counts([tune, tune]) == {"G": 16, "D": 16, "D7": 16}
    assert tables.tune_bars(tune) == 1.5


# --- notebook 01 stays light -----------------------------------------------------------------
def test_notebook_01_helpers_do_not_import_tensorflow():
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "01_collect_data.ipynb"
    setup = next("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"]
                 if cell["cell_type"] == "code" and "import" in "".join(cell["source"]))
    code = (f"import sys\n{setup}\n"
            "import folkrnn.figures, folkrnn.tables, folkrnn.require, folkrnn.listen\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", "notebook 01's setup cell loads TensorFlow"
