"""Where the project keeps its data and its training runs.

Everything lives under one home folder: the project folder by default, or the folder named by
the environment variable ``FOLKRNN_HOME``. Explained in notebook 01.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from folkrnn.errors import FolkRNNError

PROJECT_DIR = Path(__file__).resolve().parent.parent


def home() -> Path:
    """The folder that holds ``data/`` and ``runs/`` (``FOLKRNN_HOME`` or the project folder)."""
    return Path(os.environ.get("FOLKRNN_HOME") or PROJECT_DIR).expanduser().resolve()


def data_dir() -> Path:
    """The folder the dataset is downloaded and cached into."""
    return home() / "data"


def runs_dir() -> Path:
    """The folder training runs are written into, one sub-folder per run."""
    return home() / "runs"


def run_dir(name: str) -> Path:
    """The folder of the training run called ``name``."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"invalid run name {name!r}: use letters, digits, '-' or '_'")
    return runs_dir() / name


def outputs_dir() -> Path:
    """The folder the generated tunes (MIDI, ABC, WAV) are written into."""
    return home() / "outputs"


def write_atomic(path: str | Path, write: Callable[[str], Any]) -> Path:
    """Call ``write(temporary path)`` in ``path``'s folder, then rename it to ``path``.

    All or nothing: an interrupted or failed write never leaves a half-written file behind.
    """
    path = Path(path)
    if path.is_dir():
        raise FolkRNNError(f"{path} is a folder: give a file name inside it instead")
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix  # Keras checks it
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp", suffix=suffix)
    except OSError as error:
        raise FolkRNNError(f"can't write {path} ({error.strerror or error}): choose a folder "
                           "you can write to") from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; ours are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
