"""The model shipped with folkrnn: the default settings, trained to their plateau (36 epochs, the
tutorial trains 13), so that notebook 04, the composer and ``folkrnn generate`` can play before
anything is trained. Used in notebook 04_test_model.

Under the run name `runs.PRETRAINED_RUN` (``pretrained``), `model.load_run`,
`model.load_step_model`, ``folkrnn generate`` and ``folkrnn evaluate`` load it from the package
folder ``folkrnn/pretrained-model/`` instead of ``runs/``: composing with it needs no data and
no training. The shipped model always wins under that name: a run folder ``runs/pretrained`` is
never read, and ``folkrnn train --run pretrained`` is refused. The folder holds

    config.json     its hyperparameters (`Config`), as in a run folder
    vocab.json      the names behind every id (`music.vocabularies`), as in a run folder
    weights.npz     every layer's weights in float16, under ``LAYER/INDEX`` (e.g. ``lstm_1/0``)
    manifest.json   the contract it was trained for (`contract`: the version of the tunes'
                    encoding, the inputs by name and size, the output sizes), its validation
                    and test figures, the float16 check and the command that built it

Drift is caught when it is loaded: if this code's encoding, vocabulary or inputs differ from
what the model was trained for, or its weights don't fit its config, loading fails with one
line that names the rebuild command (`REBUILD`). Rebuilding: ``make pretrained`` trains the
default model from scratch (seed 0, 36 epochs, every one) and exports it; to export another
trained run:

    python -m folkrnn.pretrained --from-run NAME [--out FOLDER]
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from folkrnn import inputs, music, paths, runs
from folkrnn.config import Config
from folkrnn.dataset import ENCODING_VERSION, load_dataset
from folkrnn.errors import FolkRNNError
from folkrnn.evaluate import evaluate_model, evaluate_run
from folkrnn.generate import generate_tune

SHIPPED_DIR = Path(__file__).with_name("pretrained-model")  # package data: pyproject.toml
WEIGHTS_FILE, MANIFEST_FILE = "weights.npz", "manifest.json"
REBUILD = ("rebuild it with `make pretrained` in the folkrnn repository (or train a run and "
           "python -m folkrnn.pretrained --from-run NAME)")
CHECK_SEEDS = range(10)  # tunes composed by the float32 and the float16 weights, compared


# --- the contract: what the model's integers mean and which inputs it reads ---------------------
def contract(config: Config) -> dict:
    """What a model of ``config`` was trained for, besides the vocabulary (``vocab.json``): the
    encoding of the tunes (`dataset.ENCODING_VERSION`), its inputs by name and number of ids
    (`inputs.model_inputs`, then the melody head's ``next_chord``) and its output sizes."""
    read = (*inputs.model_inputs(config), inputs.NEXT_CHORD)
    return {"encoding_version": ENCODING_VERSION,
            "inputs": {i.name: i.size for i in read},
            "outputs": {"melody": music.MELODY_SIZE, "chord": music.CHORD_SIZE}}


def _drift(folder: Path, problem: str) -> FolkRNNError:
    return FolkRNNError(f"the shipped model in {folder} {problem}: {REBUILD}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise _drift(path.parent, f"has no readable {path.name} ({error})") from None


def read_manifest(folder: Path = SHIPPED_DIR) -> dict:
    """The shipped model's manifest (see the module docstring)."""
    return _read_json(folder / MANIFEST_FILE)


def check_contract(folder: Path = SHIPPED_DIR) -> Config:
    """The shipped model's config, after checking that this code reads its tunes and inputs as
    it was trained to; otherwise one `FolkRNNError` line that names what changed and `REBUILD`."""
    try:
        config = Config.from_dict(_read_json(folder / runs.CONFIG_FILE))
    except (FolkRNNError, TypeError) as error:
        raise _drift(folder, f"has a config this code can't use ({error})") from None
    saved, now = read_manifest(folder).get("contract", {}), contract(config)
    changed = [_difference(key, saved.get(key), now[key]) for key in now
               if saved.get(key) != now[key]]
    if _read_json(folder / runs.VOCAB_FILE) != music.vocabularies():
        changed.append("the vocabulary (vocab.json)")
    if changed:
        raise _drift(folder, "was trained for another representation than this code's: "
                     + "; ".join(changed))
    return config


def _difference(key: str, saved, now) -> str:
    """One part of the contract that changed, e.g. ``inputs bars_left 9 (this code's: none)``."""
    if not (isinstance(saved, dict) and isinstance(now, dict)):
        return f"{key} {saved!r} (this code's: {now!r})"
    names = [n for n in {**saved, **now} if saved.get(n) != now.get(n)]
    return f"{key} " + ", ".join(f"{n} {saved.get(n, 'none')} (this code's: {now.get(n, 'none')})"
                                 for n in names)


# --- the weights: float16 arrays by layer name ------------------------------------------------
def layer_weights(model) -> dict[str, list[np.ndarray]]:
    """``{layer name: its weight arrays}`` of a Keras model (layers without weights left out)."""
    return {layer.name: [np.asarray(w) for w in layer.get_weights()]
            for layer in model.layers if layer.get_weights()}


def weights_npz(weights: dict[str, list[np.ndarray]]) -> bytes:
    """The ``weights.npz`` file: every array as float16 under ``LAYER/INDEX``."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{f"{name}/{i}": a.astype(np.float16)
                                   for name, arrays in weights.items()
                                   for i, a in enumerate(arrays)})
    return buffer.getvalue()


def read_weights(folder: Path = SHIPPED_DIR) -> dict[str, list[np.ndarray]]:
    """The shipped weights as float32 arrays, by layer name (see `weights_npz`)."""
    try:
        with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as npz:
            stored = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as error:
        raise _drift(folder, f"has no readable {WEIGHTS_FILE} ({error})") from None
    weights: dict[str, list[np.ndarray]] = {}
    for key in sorted(stored, key=lambda k: (k.rpartition("/")[0], int(k.rpartition("/")[2]))):
        weights.setdefault(key.rpartition("/")[0], []).append(stored[key].astype(np.float32))
    return weights


def set_weights(model, weights: dict[str, list[np.ndarray]], folder: Path) -> None:
    """Put ``weights`` into the model's layers; a `FolkRNNError` line (never a Keras
    traceback) if any layer is missing, extra or of another shape."""
    wanted = {name: [a.shape for a in arrays] for name, arrays in layer_weights(model).items()}
    found = {name: [a.shape for a in arrays] for name, arrays in weights.items()}
    if wanted != found:
        misfits = [f"{name} {found.get(name, 'missing')} (the model's: {wanted.get(name, 'none')})"
                   for name in sorted(set(wanted) | set(found))
                   if wanted.get(name) != found.get(name)]
        raise _drift(folder, f"has weights that don't fit its {runs.CONFIG_FILE}: "
                     + "; ".join(misfits))
    for layer in model.layers:
        if layer.name in weights:
            layer.set_weights(weights[layer.name])


def load_model(folder: Path = SHIPPED_DIR, *, compile: bool = False):
    """``(keras model, config)`` of the shipped model (`model.load_run` of ``pretrained``),
    checked against this code first (`check_contract`)."""
    from folkrnn.model import build_model  # here: folkrnn.model imports this module

    config = check_contract(folder)
    model = build_model(config, compile=compile)
    set_weights(model, read_weights(folder), folder)
    return model, config


# --- what notebook 04 composes with -----------------------------------------------------------
def choose_run(run_name: str) -> tuple[str, str]:
    """The run to use and one sentence saying which: the learner's ``run_name`` once it has a
    checkpoint, else the shipped model (`runs.PRETRAINED_RUN`). Notebook 04."""
    try:
        runs.weights_file(run_name)
    except FolkRNNError:  # no checkpoint yet
        manifest = read_manifest()
        trained, test = manifest.get("training", {}), manifest.get("figures", {}).get("test", {})
        return runs.PRETRAINED_RUN, (
            f"No run {run_name!r} is trained yet, so this notebook uses the model shipped with "
            f"folkrnn (trained for {trained.get('epochs', '?')} epochs; test NLL "
            f"{test.get('total_nll', float('nan')):.3f}): to hear your own, train it in "
            f"notebook 03 (or folkrnn train --run {run_name}) and run this notebook again.")
    return run_name, f"Using your run {run_name!r} (its best checkpoint so far)."


# --- building it from a trained run -----------------------------------------------------------
def same_tunes(a, b, seeds=CHECK_SEEDS) -> dict[str, float]:
    """How alike two step models compose: the tunes of each seed, compared step by step.

    ``identical_tunes``: how many are the same; ``shared_opening``: the mean share of each tune
    written before the first step where they differ (1.0: all identical)."""
    identical, shared = 0, []
    for seed in seeds:
        x, y = generate_tune(a, seed=seed), generate_tune(b, seed=seed)
        if len(x) == len(y):
            differ = np.flatnonzero((x.melody != y.melody) | (x.chords != y.chords))
        else:
            differ = np.array([0])
        identical += not differ.size
        shared.append(differ[0] / len(x) if differ.size else 1.0)
    return {"tunes": len(shared), "identical_tunes": identical,
            "shared_opening": round(float(np.mean(shared)), 4)}


def export(run_name: str, folder: Path = SHIPPED_DIR) -> dict:
    """Write run ``run_name``'s best checkpoint as the shipped model into ``folder``; return
    its manifest. Scores it first (`evaluate.evaluate_run`), then scores the float16 weights
    on the validation and test tunes (the recorded figures) and compares their tunes."""
    from folkrnn.model import StepModel, build_model, load_run  # here: they load Keras

    if run_name == runs.PRETRAINED_RUN:
        raise FolkRNNError(f"--from-run {run_name}: export a trained run, not the shipped model")
    report = evaluate_run(run_name, "test")  # the run as trained (float32), with the baselines
    model, config = load_run(run_name, compile=False)
    weights = layer_weights(model)
    halves = build_model(config, compile=False)  # the float16 weights, as they will load
    set_weights(halves, {name: [a.astype(np.float16).astype(np.float32) for a in arrays]
                         for name, arrays in weights.items()}, folder)
    tunes, state = load_dataset(), runs.read_state(run_name)
    figures = {split: evaluate_model(halves, tunes.tunes[split]) for split in ("valid", "test")}
    defaults = asdict(Config())
    manifest = {
        "contract": contract(config),
        "figures": figures,
        "float16": {"test_total_nll_float32": report["model"]["total_nll"],
                    "test_total_nll_float16": figures["test"]["total_nll"],
                    **same_tunes(StepModel(model, config), StepModel(halves, config))},
        "training": {"run": run_name, "epochs": state.epoch, "best_epoch": state.best_epoch,
                     "best_val_loss": state.best_val_loss, "parameters": model.count_params(),
                     "settings_not_default": {k: v for k, v in asdict(config).items()
                                              if v != defaults[k]}},
        "baseline_test_total_nll": {name: m["total_nll"]
                                    for name, m in report["baselines"].items()},
        "command": f"python -m folkrnn.pretrained --from-run {run_name}",
        "rebuild": "make pretrained",
    }
    paths.write_files({folder / runs.CONFIG_FILE: config.to_json().encode(),
                       folder / runs.VOCAB_FILE: json.dumps(music.vocabularies(), indent=1)
                       .encode(),
                       folder / WEIGHTS_FILE: weights_npz(weights),
                       folder / MANIFEST_FILE: json.dumps(manifest, indent=1).encode()})
    load_model(folder)  # what was written loads and fits this code
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m folkrnn.pretrained --from-run NAME [--out FOLDER]``: export, say where."""
    parser = argparse.ArgumentParser(prog="python -m folkrnn.pretrained",
                                     description="Export a trained run as the shipped model.")
    parser.add_argument("--from-run", required=True, metavar="NAME",
                        help="the trained run (its best checkpoint) to ship")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR,
                        help=f"folder to write into (default: {SHIPPED_DIR})")
    args = parser.parse_args(argv)
    from folkrnn.require import require_tensorflow  # here: TensorFlow's start-up notes, muted

    require_tensorflow()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # scoring tunes of many lengths
    try:
        manifest = export(args.from_run, args.out)
    except FolkRNNError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    test, check = manifest["figures"]["test"], manifest["float16"]
    print(f"wrote the shipped model to {args.out} ({size / 1e6:.1f} MB, "
          f"{manifest['training']['parameters']:,} parameters): validation NLL "
          f"{manifest['figures']['valid']['total_nll']:.4f}, test NLL {test['total_nll']:.4f} "
          f"(float32: {check['test_total_nll_float32']:.4f}); float16 composed "
          f"{check['identical_tunes']} of {check['tunes']} tunes identically")
    return 0


if __name__ == "__main__":
    sys.exit(main())
