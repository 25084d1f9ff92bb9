"""All hyperparameters in one dataclass: the knobs a learner can turn.

Explained in notebook 02_build_model (what each knob does) and 03_train_model (training knobs).
The defaults are the tuned ones (see BENCHMARKS.md). ``FOLKRNN_SMOKE=1`` swaps in tiny settings
everywhere so that the notebooks and tests run in seconds.
"""
from __future__ import annotations

import json
import os
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from folkrnn.errors import FolkRNNError


# Upper limits: beyond them a CPU run takes hours or the memory runs out (bad input, not a knob).
LIMITS = {"melody_embedding": 512, "chord_embedding": 512, "position_embedding": 512,
          "meter_embedding": 512, "meter_position_embedding": 512, "form_embedding": 512,
          "layers": 8, "units": 2048, "seq_len": 2048, "batch_size": 2048, "epochs": 1000,
          "max_tunes": 100_000}
MAX_SEED = 2**31 - 1  # seeds are 32-bit numbers, and training adds the epoch to its seed


LR_SCHEDULES = ("cosine", "constant")
# Knobs added after runs were saved: a config.json without them means the model had none of it.
ADDED_LATER: dict[str, Any] = {"meter_position_embedding": 0, "last_note": False,
                               "keep_register": False, "own_draws": 0.0}


def with_added_later(values: dict[str, Any]) -> dict[str, Any]:
    """Saved settings with every knob added since they were saved, at its `ADDED_LATER` value
    (what a run trained before the knob existed did)."""
    return {**ADDED_LATER, **values}


def knob(default: Any, help: str) -> Any:
    """A Config field with its explanation (shown by the knob table of notebook 02)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Config:
    """Model, data and training hyperparameters: the knobs, each with its help text.

    ``layers``, ``units`` and ``batch_size`` were tuned (with ``learning_rate``, ``dropout``
    and ``seq_len`` tried) by ``bench/search_hparams.py`` for the lowest validation loss within
    the training time budget on 2 CPU cores; the table is in BENCHMARKS.md.
    """

    # --- model ---
    melody_embedding: int = knob(32, "size of the learned vector for each melody event")
    chord_embedding: int = knob(16, "size of the learned vector for each chord class")
    position_embedding: int = knob(8, "size of the vector for the position in the bar")
    meter_embedding: int = knob(4, "size of the vector for the meter (4/4, 6/8, ...)")
    meter_position_embedding: int = knob(8, "size of the vector for the position in the bar "
                                            "within its meter (6/8 and 3/4 bars have the same "
                                            "length but not the same beats; 0 = none)")
    last_note: bool = knob(True, "input: the last note started, however long ago (the melody "
                                 "input is often a hold)")
    layers: int = knob(1, "number of stacked LSTM layers (tuned: one wide layer learns fastest)")
    units: int = knob(384, "LSTM units per layer (the size of the network's memory; tuned)")
    dropout: float = knob(0.2, "fraction of activations dropped between layers while training")
    factorised: bool = knob(True, "predict the chord, then the melody given it "
                                  "(False: two independent heads)")
    melody_loss_weight: float = knob(1.0, "weight of the melody loss against the chord loss")
    lookback: str = knob("1,2,4,8", "form input: the melody event and chord at the same place "
                                    "1, 2, 4, 8 bars back, and whether the tune is repeating "
                                    "them (bars, comma-separated; empty = none)")
    structure: bool = knob(True, "form input: the bar within its 8-bar part, which part, and "
                                 "how many bars remain")
    form_embedding: int = knob(8, "size of the vectors for the repeat flags and structure "
                                  "inputs")
    # --- data ---
    seq_len: int = knob(128, "time steps per training window (truncated backpropagation "
                             "through time)")
    batch_size: int = knob(128, "windows per gradient step (tuned: bigger batches use the CPU "
                                "better)")
    transpose: bool = knob(True, "augment by transposing each window by a random interval")
    keep_register: bool = knob(True, "transpose mostly by intervals that keep a tune in the "
                                     "register the collection's tunes sit in")
    max_tunes: int = knob(0, "use at most this many training tunes (0 = all)")
    # --- training ---
    learning_rate: float = knob(3e-3, "Adam step size (at the start, with lr_schedule=cosine)")
    lr_schedule: str = knob("constant", "how the step size changes: 'constant', or 'cosine' "
                                        "(falls to 5% by the last epoch: for runs long enough "
                                        "to reach the plateau)")
    own_draws: float = knob(0.0, "share of the steps whose inputs (the step before's melody "
                                  "event and chord) are, while training, the model's own draw "
                                  "instead of the real one: it learns to go on from its own "
                                  "slips, as it must when composing (0 = always the real one)")
    clipnorm: float = knob(1.0, "gradients are rescaled to at most this norm")
    epochs: int = knob(13, "passes over the training tunes (the cosine schedule ends with the "
                           "last)")
    patience: int = knob(4, "stop after this many epochs without a better validation loss "
                            "(0 = never)")
    max_minutes: float = knob(10.0, "stop training after this many minutes (0 = no limit)")
    seed: int = knob(0, "random seed for weights, shuffling and augmentation")

    def __post_init__(self) -> None:
        """Every Config is valid: one error listing each bad field, raised where it is made."""
        problems = []
        positive = ["melody_embedding", "chord_embedding", "position_embedding", "meter_embedding",
                    "form_embedding", "layers", "units", "seq_len", "batch_size", "epochs"]
        for name in positive:
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)} must be at least 1")
        for name, most in LIMITS.items():
            if getattr(self, name) > most:
                problems.append(f"{name}={getattr(self, name)} is more than this tutorial allows "
                                f"({most}: larger would run for hours or exhaust memory)")
        for name in ["dropout", "own_draws"]:
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)} must be in [0, 1)")
        for name in ["learning_rate", "clipnorm", "melody_loss_weight"]:
            if not getattr(self, name) > 0:
                problems.append(f"{name}={getattr(self, name)} must be greater than 0")
        for name in ["max_tunes", "patience", "max_minutes", "seed", "meter_position_embedding"]:
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)} must not be negative")
        if self.seed > MAX_SEED:
            problems.append(f"seed={self.seed} must be at most {MAX_SEED}")
        if self.lr_schedule not in LR_SCHEDULES:
            problems.append(f"lr_schedule={self.lr_schedule!r} must be one of "
                            f"{', '.join(LR_SCHEDULES)}")
        try:
            from folkrnn.form import parse_lookback  # noqa: PLC0415 (form imports no config)
            parse_lookback(self.lookback)
        except FolkRNNError as error:
            problems.append(str(error))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{f.name}={value} must be a finite number")
        if problems:
            raise FolkRNNError("invalid hyperparameters: " + "; ".join(problems))

    def to_json(self) -> str:
        """The config as JSON text (saved as ``config.json`` in each run folder)."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        """A config from a dict (e.g. a loaded ``config.json``); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FolkRNNError(f"unknown hyperparameter(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(known))}")
        return cls(**with_added_later(values))

    def with_overrides(self, settings: list[str] | dict[str, Any]) -> "Config":
        """A copy with ``key=value`` strings (from ``--set``) or a dict applied, type-checked."""
        if isinstance(settings, dict):
            items = list(settings.items())
        else:
            items = []
            for text in settings:
                if "=" not in text:
                    raise FolkRNNError(f"--set {text!r}: write key=value, e.g. --set units=128")
                key, value = text.split("=", 1)
                items.append((key.strip(), value.strip()))
        types = {f.name: f.type for f in fields(self)}
        changes = {}
        for key, value in items:
            if key not in types:
                raise FolkRNNError(f"unknown hyperparameter {key!r}; known: "
                                   f"{', '.join(sorted(types))}")
            changes[key] = _coerce(key, value, str(types[key]))
        return replace(self, **changes)


def _coerce(key: str, value: Any, type_name: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if type_name == "bool":
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes")
        return {"int": int, "float": float}.get(type_name, str)(value)
    except ValueError:
        raise FolkRNNError(f"--set {key}={value}: expected a value of type {type_name}") from None


# Small runs are a preset, as in nanoGPT's config files: applied in one place, `default_config`.
# All 4 epochs always run (no early stop, a time limit far above their ~20 s), so the notebooks'
# checks see the same model on a busy machine as on a quiet one.
SMOKE_PRESET: dict[str, Any] = dict(units=32, layers=1, seq_len=32, batch_size=16,
                                    epochs=4, max_tunes=40, patience=0, max_minutes=5.0)


def smoke_mode() -> bool:
    """True when ``FOLKRNN_SMOKE=1``: the tests' and CI's tiny training preset is in force."""
    return os.environ.get("FOLKRNN_SMOKE", "") not in ("", "0", "false", "no")


def default_config() -> Config:
    """The tuned defaults; with ``FOLKRNN_SMOKE=1``, the tiny `SMOKE_PRESET` applied to them."""
    return replace(Config(), **SMOKE_PRESET) if smoke_mode() else Config()
