"""Where the project keeps its data and its training runs, and how files are written there.

Everything lives under one home folder: the project folder by default, or the folder named by
the environment variable ``FOLKRNN_HOME``. Explained in notebook 01. Every file is written
atomically (`write_atomic`, `write_files`): all or nothing, so that a run killed at any moment,
a full disk or a read-only folder never leaves a half-written file behind.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from folkrnn.errors import FolkRNNError

PROJECT_DIR = Path(__file__).resolve().parent.parent
RUN_NAME = re.compile(r"[\w-][\w.-]{0,99}")  # letters, digits, '_', '-' (and '.' after the first)
SPARE_BYTES = 1 << 18  # `write_files` keeps this free: a full disk fails before it replaces


class WriteFailed(FolkRNNError):
    """A file could not be written: ``problem`` says why (a full disk, a read-only folder...)
    and ``fix`` what to do about it."""

    def __init__(self, path: Path, error: OSError):
        self.path = path
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            self.problem, self.fix = f"{disk_of(path)} is full", "free some space on it"
        elif error.errno == errno.EROFS:
            self.problem, self.fix = f"{disk_of(path)} is read-only", "make it writable"
        elif error.errno in (errno.EACCES, errno.EPERM):
            self.problem = f"{path.parent} is not a folder you may write to"
            self.fix = "make it writable"
        else:
            self.problem, self.fix = error.strerror or str(error), "check the folder"
        super().__init__(f"can't write {path}: {self.problem}: {self.fix}, or choose another "
                         "folder")


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
    """The folder of the training run called ``name`` (letters, digits, '-', '_', '.')."""
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
        raise FolkRNNError(f"invalid run name {name!r}: use up to 100 letters, digits, '-' or "
                           "'_' (e.g. --run mine), not a path")
    return runs_dir() / name


def outputs_dir() -> Path:
    """The folder the generated tunes (MIDI, ABC, WAV) are written into."""
    return home() / "outputs"


def disk_of(path: Path) -> str:
    """The disk a path is on, for messages: its mount point and the space left on it."""
    path = Path(path).absolute()
    existing = next((p for p in [path, *path.parents] if p.exists()), Path("/"))
    mount = next((p for p in [existing, *existing.parents] if os.path.ismount(p)), Path("/"))
    usage = shutil.disk_usage(existing)
    return f"the disk at {mount} ({usage.free / 1e6:.1f} of {usage.total / 1e6:.1f} MB free)"


def write_atomic(path: str | Path, write: Callable[[str], Any]) -> Path:
    """Call ``write(temporary path)`` in ``path``'s folder, then rename it to ``path``.

    All or nothing: an interrupted or failed write never leaves a half-written file behind;
    a write that fails (a full disk, a read-only folder) is a `WriteFailed` error.
    """
    path = Path(path)
    if path.is_dir():
        raise FolkRNNError(f"{path} is a folder: give a file name inside it instead")
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix  # Keras checks it
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp", suffix=suffix)
    except OSError as error:
        raise WriteFailed(path, error) from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; ours are ordinary files
        os.replace(tmp, path)
    except OSError as error:
        raise WriteFailed(path, error) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_files(files: dict[Path, bytes]) -> None:
    """Write several files of one folder all or nothing: each to a temporary file first, then
    all renamed in order (the last one is the commit). If the disk would keep less than
    `SPARE_BYTES` free, or any write fails, nothing is replaced and `WriteFailed` says why."""
    folder = next(iter(files)).parent
    current = folder
    temps: dict[Path, str] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        needed = sum(len(data) for data in files.values()) + SPARE_BYTES
        if shutil.disk_usage(folder).free < needed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        for current, data in files.items():
            fd, temps[current] = tempfile.mkstemp(dir=folder, prefix=f".{current.name}.tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(temps[current], 0o644)  # mkstemp makes files private; ours are ordinary
        for current, tmp in temps.items():
            os.replace(tmp, current)
    except OSError as error:
        raise WriteFailed(current, error) from None
    finally:
        for tmp in temps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
