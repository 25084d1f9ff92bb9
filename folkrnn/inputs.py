"""The model's inputs, by name: what the network reads at every step, and where it comes from.

Explained in notebook 02_build_model. This module is their one owner. Each `Input` says what it
is, how many ids it has, which embedding table turns its id into a vector, and whether a
transposition moves it. `inputs_at` computes them, for any steps of a tune: for every step of a
finished tune when training (`tune_arrays`), and for the one step about to be written when
composing (`folkrnn.generate`). One function for both, so training and composing can't disagree.

* `model.build_model` makes a Keras input and an embedding lookup for each of
  `model_inputs(config)`, in that order; `model.StepModel` reads them in the same order.
* Adding an input is an entry in `_CATALOGUE`, its values in `inputs_at`, and (if the model
  should read it) a line in `model_inputs`.

At step t the model has written steps 0..t-1 and predicts step t. It reads the melody event and
chord of step t-1 (a silent step before the tune), the last note started before step t, where
step t falls in the bar and the meter (apart, and together: the meter position), the form
inputs of step t (`folkrnn.form`: the music 1, 2, 4, 8 bars back, the repeat flags, the bar
within its part), and, in the melody head, the chord of step t (`NEXT_CHORD`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from folkrnn import form, music
from folkrnn.music import CHORD_SIZE, MELODY_SIZE, NO_CHORD, REST, Tune


@dataclass(frozen=True)
class Input:
    """One integer input of the network, read at every step."""

    name: str
    size: int  # ids 0 .. size-1
    table: str  # the embedding table it reads; the event 8 bars back shares the event's table
    moves_with: str | None  # "melody" or "chord": a transposition moves its ids
    about: str  # what it is, for a learner (notebook 02's table)


def _catalogue() -> dict[str, Input]:
    """Every input a model may read, by name."""
    found = [
        Input("melody", MELODY_SIZE, "melody", "melody", "the melody event of the step before"),
        Input("chord", CHORD_SIZE, "chord", "chord", "the chord of the step before"),
        Input("position", music.MAX_BAR_STEPS, "position", None,
              "where the step falls in its bar (16th notes from the bar line)"),
        Input("meter", len(music.METERS), "meter", None, "the time signature (4/4, 6/8, ...)"),
        Input("meter_position", len(music.METERS) * music.MAX_BAR_STEPS, "meter_position", None,
              "where the step falls in the bar, within its meter (a jig's step 8 is not a "
              "waltz's step 8)"),
        Input("last_note", MELODY_SIZE, "melody", "melody",
              "the last note started before this step, however long ago (the pitch the next "
              "note steps or leaps from)"),
        Input("next_chord", CHORD_SIZE, "chord", "chord",
              "the chord of this step: the melody head's input (it sounds over it)"),
    ]
    for lag in form.LOOKBACK_BARS:
        found += [Input(f"lookback_melody_{lag}", MELODY_SIZE, "melody", "melody",
                        f"the melody event {lag} bar(s) back"),
                  Input(f"lookback_chord_{lag}", CHORD_SIZE, "chord", "chord",
                        f"the chord {lag} bar(s) back")]
    for key, about in form.STRUCTURE_ABOUT.items():
        found.append(Input(key, form.NUM_IDS[key], key, None, about))
    return {i.name: i for i in found}


_CATALOGUE = _catalogue()
NEXT_CHORD = _CATALOGUE["next_chord"]
TARGETS = {"melody": "target_melody", "chord": "target_chord"}  # the model's outputs
WIDTH_KNOB = {"melody": "melody_embedding", "chord": "chord_embedding",
              "position": "position_embedding", "meter": "meter_embedding",
              "meter_position": "meter_position_embedding"}  # else form_embedding


def repeats_input(lags: tuple[int, ...]) -> Input:
    """The repeat flags of ``lags``, one bit per lag packed into one id (`folkrnn.form`)."""
    return Input("repeats", 2 ** len(lags), "repeats", None,
                 "which lags the last beat repeated (one bit per lag)")


def model_inputs(config) -> tuple[Input, ...]:
    """The inputs a model of ``config`` reads into its LSTM, in the order they are concatenated
    (`NEXT_CHORD`, read by the melody head, comes in addition)."""
    lags = form.parse_lookback(config.lookback)
    chosen = [_CATALOGUE[k] for k in ("melody", "chord", "position", "meter")]
    if config.meter_position_embedding:
        chosen.append(_CATALOGUE["meter_position"])
    if config.last_note:
        chosen.append(_CATALOGUE["last_note"])
    for lag in lags:
        chosen += [_CATALOGUE[f"lookback_melody_{lag}"], _CATALOGUE[f"lookback_chord_{lag}"]]
    if lags:
        chosen.append(repeats_input(lags))
    if config.structure:
        chosen += [_CATALOGUE[k] for k in form.STRUCTURE_KEYS]
    return tuple(chosen)


def input_keys(config) -> tuple[str, ...]:
    """The names of all the Keras inputs of a model of ``config`` (LSTM inputs, next_chord)."""
    return tuple(i.name for i in model_inputs(config)) + (NEXT_CHORD.name,)


def embedding_tables(config) -> dict[str, tuple[int, int]]:
    """``{table: (rows, width)}`` of every embedding table of a model of ``config``."""
    tables = {}
    for i in (*model_inputs(config), NEXT_CHORD):
        width = getattr(config, WIDTH_KNOB.get(i.table, "form_embedding"))
        tables[i.table] = (i.size, width)
    return tables


def by_names(names: Sequence[str]) -> tuple[Input, ...]:
    """The inputs of these names (e.g. a Keras model's input names)."""
    lags = form.lags_in(names)
    known = {**_CATALOGUE, "repeats": repeats_input(lags)}
    return tuple(known[n] for n in names)


# --- computing them -----------------------------------------------------------------------------
def inputs_at(melody: np.ndarray, chords: np.ndarray, plan: form.Plan, steps: np.ndarray,
              inputs: Sequence[Input]) -> np.ndarray:
    """The ids of ``inputs`` for predicting each of ``steps``: shape (len(inputs), len(steps)).

    ``melody``/``chords`` hold the steps written so far (only those before each step are read;
    ``next_chord`` reads the step's own chord); ``plan`` is the tune's layout (`form.Plan`).
    Training asks for every step of a finished tune, the sampler for one step at a time.
    """
    steps = np.asarray(steps, np.int64)
    before = np.maximum(steps - 1, 0)
    values = {"melody": np.where(steps > 0, melody[before], REST),
              "chord": np.where(steps > 0, chords[before], NO_CHORD),
              "next_chord": chords[steps], "position": plan.positions[steps],
              "meter": plan.meter_ids[steps],
              "meter_position": plan.meter_ids[steps] * music.MAX_BAR_STEPS + plan.positions[steps]}
    names = [i.name for i in inputs]
    if "last_note" in names:
        values["last_note"] = last_notes(melody, steps)
    lags = form.lags_in(names)
    if lags:
        values.update(form.lookback_at(melody, chords, plan.bar_length, steps, lags))
    if any(n in form.STRUCTURE_KEYS for n in names):
        values.update({k: v[steps] for k, v in plan.structure().items()})
    return np.stack([values[n] for n in names]).astype(np.int32)


def last_notes(melody: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """For each of ``steps``: the onset event of the last note started before it (`REST` if
    none). Reads only the melody before the step, as the sampler has written it."""
    end = int(steps.max(initial=0))
    started = np.where(music.is_onset(melody[:end]), np.arange(end), -1)
    latest = np.maximum.accumulate(np.concatenate([[-1], started]))  # [k]: last onset before k
    return np.where(latest[steps] >= 0, melody[np.maximum(latest[steps], 0)], REST)


def tune_arrays(tune: Tune, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The inputs ``names`` and both targets for every step of a real tune (training, scoring).

    Step t's inputs predict ``target_melody[t]`` and ``target_chord[t]``, the events of step t.
    """
    ids = inputs_at(tune.melody, tune.chords, form.Plan.of_tune(tune), np.arange(len(tune)),
                    by_names(names))
    out = dict(zip(names, ids))
    out.update({TARGETS["melody"]: tune.melody.astype(np.int32),
                TARGETS["chord"]: tune.chords.astype(np.int32)})
    return out


def moves_with(name: str) -> str | None:
    """``"melody"``, ``"chord"`` or None: what a transposition does to the array ``name``
    (an input, or a target)."""
    for kind, target in TARGETS.items():
        if name == target:
            return kind
    return by_names([name])[0].moves_with


def shift_tables(max_shift: int = 12) -> dict[str, np.ndarray]:
    """``{kind: table}`` with ``table[s + max_shift, id]`` = ``id`` transposed by ``s``
    semitones, for melody events and chord classes: a whole batch moves in one lookup."""
    shifts = range(-max_shift, max_shift + 1)
    melody_ids, chord_ids = np.arange(MELODY_SIZE), np.arange(CHORD_SIZE)
    melody = np.stack([np.clip(music.transpose_melody(melody_ids, s), 0, MELODY_SIZE - 1)
                       for s in shifts])
    chord = np.stack([music.transpose_chords(chord_ids, s) for s in shifts])
    return {"melody": melody.astype(np.int32), "chord": chord.astype(np.int32)}
