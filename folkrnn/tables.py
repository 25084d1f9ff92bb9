"""Every table of the tutorial: a `Table` that notebooks show as HTML, and the builders of the
tables the notebooks show (and a few counts behind them).

A builder returns a `Table`; as the value of a cell it shows as an HTML table, and ``print``
or ``repr`` gives aligned plain text (terminal, tests). Where each is taught: counts of the
collection in notebook 01, the representation (`step_table`, `chord_table`, `shape_table`,
`knob_table`) in 02, runs (`file_table`, `run_summary`) in 03 and 04, the model against the
Markov chains (`baseline_table`) in 04. Never imports TensorFlow.
"""
from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi

from folkrnn import music
from folkrnn.config import Config
from folkrnn.runs import read_history


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
        caption = (f'<caption style="text-align:left; white-space:nowrap">'
                   f"{html.escape(self.caption)}</caption>" if self.caption else "")
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


# --- the collection (notebook 01) ------------------------------------------------------------
def tune_bars(tune: music.Tune) -> float:
    """The length of a tune in bars (of its first meter)."""
    return len(tune) / music.steps_per_bar(tune.meters[0][1])


def chord_step_counts(tunes: Iterable[music.Tune]) -> dict[str, int]:
    """How many 16th-note steps each chord class sounds for, over all ``tunes`` (by name)."""
    counts = np.zeros(music.CHORD_SIZE, dtype=np.int64)
    for tune in tunes:
        counts += np.bincount(tune.chords, minlength=music.CHORD_SIZE)
    return {music.chord_name(c): int(n) for c, n in enumerate(counts) if n}


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


def chord_table(examples: Mapping[str, Sequence[int]]) -> Table:
    """What `music.recognise_chord` makes of some named sets of MIDI pitches."""
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
    """Every hyperparameter: its value here, its default and what it does.

    The text comes from each field's ``metadata["help"]`` in `folkrnn.config.Config` (and its
    group from ``metadata["group"]`` where given), so the table and the code never disagree.
    """
    config = config if config is not None else Config()
    grouped = any("group" in f.metadata for f in fields(Config))
    rows = []
    for f in fields(Config):
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        row = [f.name, getattr(config, f.name), default, f.metadata.get("help", "")]
        rows.append(([f.metadata.get("group", "")] if grouped else []) + row)
    header = ["knob", "value here", "default", "what it does"]
    return Table((["group"] if grouped else []) + header, rows)


# --- runs (notebooks 03 and 04) --------------------------------------------------------------
def file_table(folder: str | Path) -> Table:
    """The files in ``folder`` with their sizes and when they were last written."""
    folder = Path(folder)
    rows = [[p.name + ("/" if p.is_dir() else ""),
             "" if p.is_dir() else f"{p.stat().st_size / 1024:,.1f} kB",
             time.strftime("%H:%M:%S", time.localtime(p.stat().st_mtime))]
            for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    return Table(["file", "size", "last written"], rows, caption=str(folder))


def run_summary(run_name: str) -> str:
    """One line on how far a run has trained (from its history)."""
    history = read_history(run_name)
    if not history:
        return f"run {run_name!r}: no complete epoch yet"
    best = min(history, key=lambda row: row.get("val_loss", float("inf")))
    return (f"run {run_name!r}: {len(history)} epochs trained; best validation loss "
            f"{best.get('val_loss', float('nan')):.3f} at epoch {best.get('epoch', 0):.0f} "
            f"(the checkpoint notebook 04 uses)")


# --- testing (notebook 04) -------------------------------------------------------------------
MARKOV_CHAINS = ("ngram5", "ngram5_position", "ngram5_lookback")  # each told more than the last


def baseline_table(report: Mapping[str, Any], names: Sequence[str] = MARKOV_CHAINS) -> Table:
    """The model beside the baselines ``names`` of an `evaluate.evaluate` report: NLL (nats per
    step), onset accuracy (the number to watch) and chord accuracy; narrow enough for the page."""
    rows = [("LSTM (the model)", report["model"])]
    rows += [(name, report["baselines"][name]) for name in names]
    return Table(["predictor", "total NLL", "melody NLL", "chord NLL", "onset accuracy",
                  "chord accuracy"],
                 [[name, m["total_nll"], m["melody_nll"], m["chord_nll"],
                   f"{m['melody_onset_acc']:.1%}", f"{m['chord_acc']:.1%}"] for name, m in rows],
                 caption=f"{report.get('tunes', '?')} {report.get('split', '?')} tunes: NLL in "
                 "nats per step (lower is better); accuracy of the likeliest event")
