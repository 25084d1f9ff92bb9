"""A small hyperparameter search: which configuration learns most in a fixed time on 2 cores?

    FOLKRNN_DATA_URL=file:///path/to/nottingham-dataset-master.zip \
        python bench/search_hparams.py --minutes 5 [--only NAME ...]

Each candidate (overrides of the defaults in folkrnn/config.py) trains for at most ``--minutes``
into a scratch FOLKRNN_HOME, then its best checkpoint is scored on the VALIDATION split (the test
split stays untouched for the final report). Prints a table; results go into BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

CANDIDATES: dict[str, dict] = {
    "default": {},
    "batch128": {"batch_size": 128},
    "batch128-lr5e-3": {"batch_size": 128, "learning_rate": 5e-3},
    "1x384": {"layers": 1, "units": 384},
    "1x512": {"layers": 1, "units": 512},
    "1x384-batch128": {"layers": 1, "units": 384, "batch_size": 128},
    "1x384-dropout0.3": {"layers": 1, "units": 384, "dropout": 0.3},
    "2x192": {"units": 192},
    "3x192": {"layers": 3, "units": 192},
    "dropout0.1": {"dropout": 0.1},
    "dropout0.3": {"dropout": 0.3},
    "seq64": {"seq_len": 64},
    "no-transpose": {"transpose": False},
    "independent-heads": {"factorised": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per candidate")
    parser.add_argument("--only", nargs="*", help="candidate names (default: all)")
    parser.add_argument("--home", help="FOLKRNN_HOME to use (default: a temporary folder)")
    parser.add_argument("--json", help="append one JSON line per candidate to this file")
    args = parser.parse_args()
    os.environ["FOLKRNN_HOME"] = args.home or tempfile.mkdtemp(prefix="folkrnn-search-")
    from folkrnn.config import Config
    from folkrnn.dataset import prepare_dataset
    from folkrnn.download import download_dataset
    from folkrnn.evaluate import evaluate_model
    from folkrnn.model import load_run
    from folkrnn.train import train_model

    download_dataset(progress=False)
    tunes = prepare_dataset()
    rows = []
    for name in args.only or CANDIDATES:
        config = Config().with_overrides({**CANDIDATES[name], "max_minutes": args.minutes,
                                          "epochs": 1000})
        start = time.perf_counter()
        history = train_model(config, f"search-{name}", tunes=tunes, verbose=0)
        minutes = (time.perf_counter() - start) / 60
        model, _ = load_run(f"search-{name}")
        scores = evaluate_model(model, tunes.tunes["valid"])
        steps = len(history["epoch"]) * sum(len(t) for t in tunes.tunes["train"])
        row = {"name": name, "overrides": CANDIDATES[name], "epochs": len(history["epoch"]),
               "minutes": round(minutes, 2), "train_steps_per_s": round(steps / minutes / 60),
               **{k: scores[k] for k in ("total_nll", "melody_nll", "chord_nll",
                                         "melody_sampled_acc", "chord_sampled_acc")}}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(row) + "\n")
    print("\n| candidate | epochs | minutes | valid total NLL | melody NLL | chord NLL |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in sorted(rows, key=lambda r: r["total_nll"]):
        print(f"| {row['name']} | {row['epochs']} | {row['minutes']} | {row['total_nll']:.4f} "
              f"| {row['melody_nll']:.4f} | {row['chord_nll']:.4f} |")


if __name__ == "__main__":
    main()
