"""All hyperparameters in one dataclass: the knobs a learner can turn.

Explained in notebook 02_build_model (what each knob does) and 03_train_model (training knobs).
The defaults are the tuned ones (see BENCHMARKS.md). ``FOLKRNN_SMOKE=1`` swaps in tiny settings
everywhere so that the notebooks and tests run in seconds.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from folkrnn.errors import FolkRNNError


@dataclass(frozen=True)
class Config:
    """Model, data and training hyperparameters (one comment per knob).

    ``layers``, ``units`` and ``batch_size`` were tuned (with ``learning_rate``, ``dropout``
    and ``seq_len`` tried) by ``bench/search_hparams.py`` for the lowest validation loss within
    the training time budget on 2 CPU cores; the table is in BENCHMARKS.md.
    """

    # --- model ---
    melody_embedding: int = 32  # size of the learned vector for each melody event
    chord_embedding: int = 16  # size of the learned vector for each chord class
    position_embedding: int = 8  # size of the vector for the position in the bar
    meter_embedding: int = 4  # size of the vector for the meter (4/4, 6/8, ...)
    layers: int = 1  # number of stacked LSTM layers (tuned: one wide layer learns fastest)
    units: int = 384  # LSTM units per layer (the size of the network's memory; tuned)
    dropout: float = 0.2  # fraction of activations dropped between layers while training
    factorised: bool = True  # predict the chord, then the melody given it (False: two independent heads)
    melody_loss_weight: float = 1.0  # weight of the melody loss against the chord loss
    # --- data ---
    seq_len: int = 128  # time steps per training window (truncated backpropagation through time)
    batch_size: int = 128  # windows per gradient step (tuned: bigger batches use the CPU better)
    transpose: bool = True  # augment by transposing each window by a random interval
    max_tunes: int = 0  # use at most this many training tunes (0 = all)
    # --- training ---
    learning_rate: float = 3e-3  # Adam step size
    clipnorm: float = 1.0  # gradients are rescaled to at most this norm
    epochs: int = 30  # passes over the training tunes at most
    patience: int = 4  # stop after this many epochs without a better validation loss (0 = never)
    max_minutes: float = 10.0  # stop training after this many minutes (0 = no limit)
    seed: int = 0  # random seed for weights, shuffling and augmentation

    def validate(self) -> "Config":
        """Return self if every field is sensible, else raise one error listing each bad field."""
        problems = []
        positive = ["melody_embedding", "chord_embedding", "position_embedding", "meter_embedding",
                    "layers", "units", "seq_len", "batch_size", "epochs"]
        for name in positive:
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)} must be at least 1")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout={self.dropout} must be in [0, 1)")
        for name in ["learning_rate", "clipnorm", "melody_loss_weight"]:
            if not getattr(self, name) > 0:
                problems.append(f"{name}={getattr(self, name)} must be greater than 0")
        for name in ["max_tunes", "patience", "max_minutes", "seed"]:
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)} must not be negative")
        if problems:
            raise FolkRNNError("invalid hyperparameters: " + "; ".join(problems))
        return self

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
        return cls(**values).validate()

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
        return replace(self, **changes).validate()


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


SMOKE_OVERRIDES: dict[str, Any] = dict(units=32, layers=1, seq_len=32, batch_size=16,
                                       epochs=4, max_tunes=40, patience=1, max_minutes=1.0)


def smoke_mode() -> bool:
    """True when ``FOLKRNN_SMOKE=1``: every costly setting shrinks (tests, CI)."""
    return os.environ.get("FOLKRNN_SMOKE", "") not in ("", "0", "false", "no")


def default_config() -> Config:
    """The tuned defaults, or tiny ones in smoke mode."""
    config = Config()
    return replace(config, **SMOKE_OVERRIDES) if smoke_mode() else config


def smoke(full: Any, tiny: Any) -> Any:
    """``tiny`` in smoke mode, else ``full``: for notebook knobs such as generated length."""
    return tiny if smoke_mode() else full
