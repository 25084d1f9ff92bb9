"""Shared fixtures: the offline copy of the dataset, downloaded once per test session."""
from __future__ import annotations

import contextlib
import os
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


def offline_zip() -> Path:
    """The offline dataset copy (FOLKRNN_TEST_ZIP, else ../shared/data beside the checkout)."""
    default = Path(__file__).resolve().parents[2] / "shared/data/nottingham-dataset-master.zip"
    path = Path(os.environ.get("FOLKRNN_TEST_ZIP") or default)
    if not path.is_file():
        pytest.fail(f"the offline dataset copy is missing at {path}: set FOLKRNN_TEST_ZIP to "
                    "the path of nottingham-dataset-master.zip")
    return path


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
