"""Shared fixtures and helpers: the dataset (prepared once per session), the folkrnn command."""
from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from folkrnn.dataset import TuneSet


@contextlib.contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Set environment variables for the duration of a block, then put the old values back."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@functools.cache
def offline_zip() -> Path:
    """The dataset zip the tests read: FOLKRNN_TEST_ZIP, else the file FOLKRNN_DATA_URL names,
    else the one in data/, downloaded there first as `folkrnn download` does
    (`download.dataset_zip`)."""
    from folkrnn.download import dataset_zip
    from folkrnn.errors import FolkRNNError

    try:
        return dataset_zip(progress=False)
    except FolkRNNError as error:
        pytest.fail(f"the tests need the Nottingham dataset zip: {error}")


def folkrnn(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``folkrnn ARGS`` in a fresh process with FOLKRNN_HOME=home and smoke settings."""
    environment = dict(os.environ, FOLKRNN_HOME=str(home), FOLKRNN_SMOKE="1", **env)
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it: the CLI must quieten TF
    return subprocess.run([sys.executable, "-m", "folkrnn.cli", *args], env=environment,
                          capture_output=True, text=True, timeout=600)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """The command failed with one line on stderr (no traceback) holding every fragment."""
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("folkrnn"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="session")
def dataset_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FOLKRNN_HOME holding the downloaded and prepared dataset (shared by the session)."""
    from folkrnn.dataset import prepare_dataset
    from folkrnn.download import download_dataset

    home = tmp_path_factory.mktemp("home")
    with environment(FOLKRNN_HOME=str(home), FOLKRNN_DATA_URL=offline_zip().as_uri()):
        download_dataset(progress=False)
        prepare_dataset()
    return home


@pytest.fixture(scope="session")
def midi_folder(dataset_home: Path) -> Path:
    """The folder of the 1,034 Nottingham MIDI files."""
    folders = {p.parent for p in dataset_home.joinpath("data").rglob("*.mid")}
    assert len(folders) == 1, folders
    return folders.pop()


@pytest.fixture(scope="session")
def tuneset(dataset_home: Path) -> TuneSet:
    """The encoded tunes of the real dataset, split into train/valid/test."""
    from folkrnn.dataset import cache_dir, load_cache

    with environment(FOLKRNN_HOME=str(dataset_home)):
        cached = load_cache(cache_dir())
    assert cached is not None
    return cached


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty FOLKRNN_HOME for one test."""
    monkeypatch.setenv("FOLKRNN_HOME", str(tmp_path))
    return tmp_path
