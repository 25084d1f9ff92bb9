"""The `folkrnn` command end to end (a fixed contract, listed in README.md): one line on stderr
per error, and nothing else on stderr."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest

from folkrnn import cli, form, music, paths, runs
from folkrnn.config import MAX_SEED, Config
from folkrnn.errors import FolkRNNError

from conftest import assert_one_line_error, environment, folkrnn, offline_zip


@pytest.fixture(scope="module")
def trained(dataset_home: Path) -> Path:
    """A tiny run ``cli`` trained through the CLI itself in smoke mode."""
    result = folkrnn("train", "--run", "cli", "--set", "epochs=1", home=dataset_home)
    assert result.returncode == 0, result.stderr
    return dataset_home


def test_prepare_prints_kept_n_tunes(dataset_home):
    result = folkrnn("prepare", home=dataset_home)
    assert result.returncode == 0, result.stderr
    kept = int(result.stdout.split("kept ")[1].split()[0])
    assert kept >= 980


def test_prepare_without_data_says_what_to_run(tmp_path):
    assert_one_line_error(folkrnn("prepare", home=tmp_path), "folkrnn download")


def test_download_offline_names_the_override(tmp_path):
    result = folkrnn("download", home=tmp_path, FOLKRNN_DATA_URL="http://127.0.0.1:9/x.zip")
    assert_one_line_error(result, "FOLKRNN_DATA_URL")
    assert not list(tmp_path.rglob("*.part"))


def test_invalid_hyperparameters_are_listed_in_one_error(tmp_path):
    result = folkrnn("train", "--run", "bad", "--set", "units=0", "--set", "dropout=1",
                     "--set", "seq_len=0", home=tmp_path)
    assert_one_line_error(result, "units=0", "dropout=1", "seq_len=0")
    assert not (tmp_path / "runs" / "bad").exists()


def test_unknown_hyperparameter_names_the_known_ones(tmp_path):
    assert_one_line_error(folkrnn("train", "--run", "x", "--set", "unitz=3", home=tmp_path),
                          "unitz", "units")


def test_missing_run_says_to_train_it(tmp_path):
    assert_one_line_error(folkrnn("generate", "--run", "nope", "--out", str(tmp_path / "a.mid"),
                                  home=tmp_path), "folkrnn train --run nope")


def test_evaluate_json_has_the_contract_keys(trained):
    # CI=true makes pyfluidsynth print to stdout on import: the JSON must stay clean
    result = folkrnn("evaluate", "--run", "cli", "--json", home=trained, CI="true")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    metrics = {"melody_nll", "chord_nll", "total_nll", "melody_acc", "chord_acc",
               "melody_sampled_acc", "chord_sampled_acc", "overall_sampled_acc",
               "melody_onset_acc", "melody_onset_sampled_acc"}
    assert set(report["model"]) >= metrics
    assert set(report["baselines"]) == {"unigram", "repeat", "ngram2", "ngram3", "ngram4",
                                        "ngram5", "ngram5_position", "ngram5_lookback"}
    for scores in [report["model"], *report["baselines"].values()]:
        assert set(scores) >= metrics
        assert scores["total_nll"] == pytest.approx(scores["melody_nll"] + scores["chord_nll"],
                                                    abs=1e-3)


def test_generate_writes_midi_abc_and_wav(trained, tmp_path):
    out = tmp_path / "tune.mid"
    result = folkrnn("generate", "--run", "cli", "--bars", "4", "--meter", "6/8", "--seed", "3",
                     "--chords", "G D Em C", "--out", str(out), "--abc", str(tmp_path / "t.abc"),
                     "--wav", str(tmp_path / "t.wav"), home=trained)
    assert result.returncode == 0, result.stderr
    tune = music.midi_to_tune(pretty_midi.PrettyMIDI(str(out)), require_chords=False)
    assert tune.meters[0][1] == "6/8"
    first_bar = form.Plan.of_tune(tune).bar_range(0)[0]  # after the pickup bar, if any
    assert [music.chord_name(c) for c in tune.chords[first_bar::12][:4]] == ["G", "D", "Em", "C"]
    assert (tmp_path / "t.abc").read_text().startswith("X:")
    assert (tmp_path / "t.wav").stat().st_size > 1000


def test_generate_is_reproducible_with_a_seed(trained, tmp_path):
    for name in ("a", "b"):
        result = folkrnn("generate", "--run", "cli", "--steps", "64", "--seed", "7",
                         "--out", str(tmp_path / f"{name}.mid"), home=trained)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


@pytest.mark.parametrize("args, fragment", [
    (["--chords", "G H7 C"], "unknown chord 'H7'"),
    (["--meter", "7/16"], "unsupported meter"),
    (["--temperature", "0"], "temperature"),
    (["--temperature", "nan"], "not a finite number"),
    (["--temperature", "inf"], "not a finite number"),
    (["--bpm=-inf"], "not a finite number"),
    (["--bars", "100000"], "from 1 to 512"),
    (["--steps", "99999999"], "99999999 is out of range"),
    (["--seed", "-1"], "-1 is out of range"),
    (["--steps", "16", "--prime", "test:0"], "prime"),
])
def test_generate_errors_are_one_readable_line(trained, tmp_path, args, fragment):
    result = folkrnn("generate", "--run", "cli", *args, "--out", str(tmp_path / "x.mid"),
                     home=trained)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "x.mid").exists()


def test_a_corrupt_prime_file_is_one_readable_line(trained, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    result = folkrnn("generate", "--run", "cli", "--prime", str(bad), "--out",
                     str(tmp_path / "x.mid"), home=trained)
    assert_one_line_error(result, "not a readable MIDI file")


def test_output_paths_that_are_folders_or_unwritable_are_refused_before_any_work(trained,
                                                                                  tmp_path):
    assert_one_line_error(folkrnn("generate", "--run", "cli", "--out", str(tmp_path),
                                  home=trained), "is a folder")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = folkrnn("generate", "--run", "cli", "--out", str(tmp_path / "x.mid"),
                     "--abc", str(blocker / "t.abc"), home=trained)
    assert_one_line_error(result, "not a folder you can write to")
    assert not (tmp_path / "x.mid").exists()  # nothing half done


@pytest.mark.parametrize("setting, fragment", [
    ("learning_rate=nan", "finite"), ("max_minutes=inf", "finite"), ("epochs=inf", "int"),
    ("units=100000", "more than this tutorial allows"),
    ("batch_size=1000000", "more than this tutorial allows"),
])
def test_non_finite_and_huge_hyperparameters_are_refused(tmp_path, setting, fragment):
    result = folkrnn("train", "--run", "x", "--set", setting, home=tmp_path)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "runs" / "x").exists()


def test_a_second_trainer_of_a_busy_run_stops_and_a_killed_one_leaves_no_lock(dataset_home):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from folkrnn import runs\n"
         "with runs.training_lock('busy'):\n    print('locked', flush=True); time.sleep(600)"],
        env=dict(os.environ, FOLKRNN_HOME=str(dataset_home)), stdout=subprocess.PIPE, text=True)
    try:
        # wait for the lock; lines before it are library notes (pyfluidsynth's, when CI is set)
        assert "locked\n" in iter(holder.stdout.readline, "")
        result = folkrnn("train", "--run", "busy", home=dataset_home)
        assert_one_line_error(result, "run 'busy' is busy", f"process {holder.pid}")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with environment(FOLKRNN_HOME=str(dataset_home)), runs.training_lock("busy"):
        pass  # the kernel released the lock of the killed process


# --- every number and every name on the command line is checked before any work -----------------
def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """``folkrnn ARGS`` in this process: its exit status and the lines on stderr."""
    try:
        status = cli.main(list(args))
    except SystemExit as exit:  # argparse refuses the command line
        status = exit.code
    return status, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("option, value, fragment", [
    ("--seed", "-1", "-1 is out of range: give a number from 0 to"),
    ("--seed", str(MAX_SEED + 1), "out of range"),
    ("--seed", "1.5", "'1.5' is not a whole number"),
    ("--steps", "0", "out of range: give a number from 1 to"),
    ("--bars", "513", "out of range: give a number from 1 to 512"),
    ("--temperature", "0", "out of range: give a number above 0"),
    ("--temperature", "-inf", "not a finite number"),
    ("--chord-temperature", "-1", "out of range: give a number above 0"),
    ("--top-k", "-1", "out of range: give a number from 0"),
    ("--bpm", "1e-9", "out of range: give a number from 20 to 400"),
    ("--bpm", "1e9", "out of range"),
])
def test_every_numeric_option_has_a_range(capsys, tmp_path, option, value, fragment):
    status, lines = run_cli(capsys, "generate", "--run", "x", f"{option}={value}",
                            "--out", str(tmp_path / "x.mid"))
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"folkrnn generate: error: argument {option}: "), lines
    assert fragment in lines[0]


NUMBERS = [f.name for f in dataclasses.fields(Config) if f.type in ("int", "float")]


@pytest.mark.parametrize("name", NUMBERS)
def test_every_numeric_setting_has_a_range(capsys, home, name):
    """-1 is out of range for every number in Config (its own checks, `Config.__post_init__`)."""
    status, lines = run_cli(capsys, "train", "--run", "x", "--set", f"{name}=-1")
    assert status == 1 and len(lines) == 1, lines
    assert lines[0].startswith("folkrnn train: error: invalid hyperparameters") \
        and f"{name}=-1" in lines[0], lines
    assert not (home / "runs").exists()


def test_a_seed_too_big_for_training_is_refused(capsys, home):
    status, lines = run_cli(capsys, "train", "--run", "x", "--set", f"seed={MAX_SEED + 1}")
    assert status == 1 and f"seed={MAX_SEED + 1} must be at most {MAX_SEED}" in lines[0]


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".hidden", "", "a\\b", "x" * 101])
@pytest.mark.parametrize("command", ["train", "evaluate", "generate"])
def test_a_run_name_that_is_not_a_name_is_one_line(capsys, home, tmp_path, command, name):
    extra = ["--out", str(tmp_path / "x.mid")] if command == "generate" else []
    status, lines = run_cli(capsys, command, "--run", name, *extra)
    assert status == 2 and len(lines) == 1, lines
    assert "invalid run name" in lines[0] and "not a path" in lines[0]
    assert not list(home.rglob("*"))


def test_the_package_refuses_a_bad_run_name_with_its_own_error(home):
    for call in (lambda: paths.run_dir("../x"), lambda: runs.read_config("../x"),
                 lambda: runs.training_lock("../x").__enter__()):
        with pytest.raises(FolkRNNError, match="invalid run name '../x'"):
            call()


def test_bad_numbers_and_names_are_one_line_for_a_user_too(tmp_path):
    """The issue's examples, as a user types them: no traceback."""
    assert_one_line_error(folkrnn("generate", "--run", "x", "--seed", "-1", "--out",
                                  str(tmp_path / "x.mid"), home=tmp_path), "--seed", "out of range")
    assert_one_line_error(folkrnn("train", "--run", "../x", home=tmp_path), "invalid run name")
    assert not (tmp_path / "runs").exists()


def test_a_folder_the_machine_refuses_is_one_line(tmp_path):
    """Errors of the machine (here FOLKRNN_HOME is a file) are one line at the CLI's edge."""
    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("a file")
    result = folkrnn("download", home=not_a_folder, FOLKRNN_DATA_URL=offline_zip().as_uri())
    assert_one_line_error(result, "Not a directory", str(not_a_folder / "data"))
    result = folkrnn("train", "--run", "x", home=not_a_folder)
    assert_one_line_error(result, "run 'x' can't be saved", "Not a directory")
