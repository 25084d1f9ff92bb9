"""The folkrnn command: the tutorial's steps from a terminal.

    folkrnn download                      fetch and unzip the Nottingham tunes
    folkrnn prepare                       encode, split and cache them (prints "kept N tunes")
    folkrnn train --run NAME [--set key=value ...]
    folkrnn evaluate --run NAME [--json]
    folkrnn generate --run NAME [--steps N | --bars N] ... --out tune.mid
    folkrnn doctor                        which audio and sheet-music backends are in use

Problems a user can fix are printed as one line on stderr (exit status 1; 2 for a mistyped
command line), without a traceback. TensorFlow's start-up notes are silenced, so that line is
all stderr holds.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Callable

from folkrnn import paths
from folkrnn.errors import FolkRNNError

TUTORIAL_RUN = "tutorial"  # the run notebooks 03 and 04 train and read
RUN_HELP = f"run name, a folder under runs/ (the notebooks' run is called {TUTORIAL_RUN!r})"


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistyped command line reported in one line (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def number(kind: type, least: float | None = None, most: float | None = None, *,
           above: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite number of ``kind`` (int or float), at least ``least`` (or more
    than ``above``) and at most ``most``; anything else is one line that names the range."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if ((least is not None and value < least) or (above is not None and value <= above)
                or (most is not None and value > most)):
            low = f"from {least}" if least is not None else f"above {above}"
            high = f" to {most}" if most is not None else ""
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number {low}{high}")
        return value
    return parse


def copy_bias(text: str) -> float:
    """An argparse type: ``inf`` (a repeated part note for note) or a number from 0."""
    return math.inf if text.strip().lower() == "inf" else number(float, 0)(text)


def run_name(text: str) -> str:
    """An argparse type: a run name (`paths.run_dir` says which are valid)."""
    try:
        paths.run_dir(text)
    except FolkRNNError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def check_writable(path: str | None) -> None:
    """Refuse an output path that is a folder or can't be written, before any work is done."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise FolkRNNError(f"{path} is a folder: give a file name, e.g. {target / 'tune'}"
                           f"{target.suffix or '.mid'}")
    folder = next((p for p in [target.parent, *target.parent.parents] if p.exists()), Path("."))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise FolkRNNError(f"can't write {path}: {folder} is not a folder you can write to; "
                           "choose another path")


def _quiet_tensorflow() -> None:
    from folkrnn.require import require_tensorflow

    require_tensorflow()


def _download(args: argparse.Namespace) -> None:
    from folkrnn.download import download_dataset

    folder = download_dataset(args.url)
    print(f"MIDI files in {folder}")


def _prepare(args: argparse.Namespace) -> None:
    from folkrnn.dataset import prepare_dataset

    print(prepare_dataset(force=args.force).summary())


def _train(args: argparse.Namespace) -> None:
    from folkrnn.config import default_config

    config = default_config().with_overrides(args.set or [])  # bad settings fail before loading
    _quiet_tensorflow()
    from folkrnn.train import train_model

    train_model(config, args.run, fresh=args.fresh, catch_interrupt=False)


def _evaluate(args: argparse.Namespace) -> None:
    _quiet_tensorflow()
    from folkrnn.evaluate import evaluate_run, format_report

    report = evaluate_run(args.run, split=args.split)
    print(json.dumps(report, indent=2) if args.json else format_report(report), file=args.stdout)


def _generate(args: argparse.Namespace) -> None:
    for path in (args.out, args.abc, args.wav):
        check_writable(path)
    _quiet_tensorflow()
    from folkrnn.generate import generate_tune
    from folkrnn.listen import save_tune
    from folkrnn.model import load_step_model

    tune = generate_tune(load_step_model(args.run), steps=args.steps, bars=args.bars,
                         seed=args.seed, temperature=args.temperature,
                         chord_temperature=args.chord_temperature, top_k=args.top_k,
                         top_p=args.top_p, meter=args.meter, key=args.key, chords=args.chords,
                         prime=args.prime, form=args.form, copy_bias=args.copy_bias,
                         echo_bias=args.echo_bias, contrast_bias=args.contrast_bias,
                         pickup=args.pickup)
    written = save_tune(tune, midi=args.out, abc=args.abc, wav=args.wav, bpm=args.bpm)
    for path in written:
        print(f"wrote {path}")


def _doctor(args: argparse.Namespace) -> None:
    from folkrnn.listen import backends_report

    print(backends_report())


def parser() -> argparse.ArgumentParser:
    """The argument parser of the folkrnn command."""
    main = _Parser(prog="folkrnn", description=__doc__.split("\n")[0])
    sub = main.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("download", help="fetch and unzip the Nottingham dataset into data/")
    p.add_argument("--url", help="source zip (default: $FOLKRNN_DATA_URL or GitHub)")
    p.set_defaults(func=_download)

    p = sub.add_parser("prepare", help="encode, split and cache the tunes")
    p.add_argument("--force", action="store_true", help="rebuild the cache")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("train", help="train a model into runs/NAME (resumes if interrupted)")
    p.add_argument("--run", required=True, type=run_name, help=RUN_HELP)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a hyperparameter, e.g. --set units=128 (repeatable)")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    p.set_defaults(func=_train)

    from folkrnn.runs import PRETRAINED_RUN  # here, as below: see main on printing imports

    shipped = f"{RUN_HELP}, or {PRETRAINED_RUN!r}: the model shipped with folkrnn (no training)"
    p = sub.add_parser("evaluate", help="NLL and accuracy on held-out tunes, with baselines")
    p.add_argument("--run", required=True, type=run_name, help=shipped)
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_evaluate)

    from folkrnn.form import DEFAULT_FORM
    from folkrnn.config import MAX_SEED
    from folkrnn.generate import DEFAULT_CHORD_TEMPERATURE, DEFAULT_TEMPERATURE, DEFAULT_TOP_K
    from folkrnn.generate import DEFAULT_CONTRAST_BIAS, DEFAULT_COPY_BIAS, DEFAULT_ECHO_BIAS
    from folkrnn.generate import DEFAULT_TOP_P
    from folkrnn.generate import MAX_BARS, MAX_STEPS

    p = sub.add_parser("generate", help="write a new tune with a trained model")
    p.add_argument("--run", required=True, type=run_name, help=shipped)
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=number(int, 1, MAX_STEPS),
                        help=f"length in 16th-note steps (1 to {MAX_STEPS})")
    length.add_argument("--bars", type=number(int, 1, MAX_BARS),
                        help=f"length in bars (1 to {MAX_BARS})")
    p.add_argument("--seed", type=number(int, 0, MAX_SEED), default=0,
                   help="random seed (same seed, same tune)")
    p.add_argument("--temperature", type=number(float, above=0), default=DEFAULT_TEMPERATURE,
                   help="sampling temperature of the melody (> 0; lower is safer; default "
                   f"{DEFAULT_TEMPERATURE:g})")
    p.add_argument("--chord-temperature", type=number(float, above=0),
                   default=DEFAULT_CHORD_TEMPERATURE,
                   help="sampling temperature of the chords "
                   f"(default {DEFAULT_CHORD_TEMPERATURE:g})")
    p.add_argument("--top-k", type=number(int, 0), default=DEFAULT_TOP_K,
                   help=f"sample among the k likeliest (0 = all; default {DEFAULT_TOP_K})")
    p.add_argument("--top-p", type=number(float, above=0, most=1), default=DEFAULT_TOP_P,
                   help="sample among the likeliest events that make up this probability "
                   f"(nucleus sampling; 1 = all; default {DEFAULT_TOP_P:g})")
    p.add_argument("--form", default=DEFAULT_FORM,
                   help="which 8-bar parts repeat, e.g. AABB (default), AB, AABA, ABC, or free "
                   "(the model alone decides)")
    p.add_argument("--copy-bias", type=copy_bias, default=DEFAULT_COPY_BIAS,
                   help="how strongly a repeated part is offered the earlier one: nats added "
                   "to its first bar's notes; played as before, the part goes on note for note "
                   "(0 = not offered, inf = always; default "
                   f"{DEFAULT_COPY_BIAS:g})")
    p.add_argument("--echo-bias", type=copy_bias, default=DEFAULT_ECHO_BIAS,
                   help="how strongly bars 5-6 of each new part echo its bars 1-2 (and bar 7 "
                   "the part before's bar 7), in nats "
                   f"(0 = not at all, inf = note for note; default {DEFAULT_ECHO_BIAS:g})")
    p.add_argument("--contrast-bias", type=number(float, 0), default=DEFAULT_CONTRAST_BIAS,
                   help="how strongly a new part avoids the notes of the part before, in nats "
                   f"(0 = not at all; default {DEFAULT_CONTRAST_BIAS:g})")
    p.add_argument("--no-pickup", dest="pickup", action="store_false",
                   help="start on the first downbeat (default: a pickup bar first, whose notes "
                   "the model writes, as in 83%% of the collection's tunes)")
    p.add_argument("--meter", help="time signature, e.g. 6/8")
    p.add_argument("--key", help="key of the output, e.g. D or Em")
    p.add_argument("--chords", help='chord progression, one per bar, e.g. "G D Em C"')
    p.add_argument("--prime", help="MIDI file, or test:NAME for a held-out tune, to continue")
    from folkrnn.sound import BPM_RANGE
    p.add_argument("--bpm", type=number(float, *BPM_RANGE),
                   help="beats a minute of the written files (a jig's beat is a dotted quarter; "
                   "default by meter: 110 for jigs, 120 for reels)")
    p.add_argument("--out", required=True, help="MIDI file to write")
    p.add_argument("--abc", help="also write ABC notation here")
    p.add_argument("--wav", help="also write audio here")
    p.set_defaults(func=_generate)

    p = sub.add_parser("doctor", help="which audio and sheet-music backends are in use, and why")
    p.set_defaults(func=_doctor)
    return main


def main(argv: list[str] | None = None) -> int:
    """Run the command; user-fixable errors become one line on stderr and exit status 1."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else argv
    stdout = sys.stdout
    # With --json, stdout carries the JSON object only: whatever a library prints on the way
    # (pyfluidsynth announces its library on import when CI is set) goes to stderr instead.
    with contextlib.redirect_stdout(sys.stderr) if "--json" in argv else contextlib.nullcontext():
        return _run(parser().parse_args(argv), stdout)


def _run(args: argparse.Namespace, stdout) -> int:
    args.stdout = stdout
    try:
        args.func(args)
    except FolkRNNError as error:
        print(f"folkrnn {args.command}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the machine's, not ours: a file or folder that can't be used
        where = f" ({error.filename})" if error.filename else ""
        print(f"folkrnn {args.command}: error: {error.strerror or error}{where}; check the path, "
              "its permissions and the free space", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"folkrnn {args.command}: interrupted; run the same command again to resume",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
