"""Collect: download the Nottingham dataset once, verify it and extract its MIDI files.

Explained in notebook 01_collect_data. Layout under the data folder (`paths.data_dir` unless
``dest`` is given):

    nottingham-dataset-master.zip   the archive (downloaded, or put there by hand)
    nottingham/.complete            JSON marker, written last: {"digest", "files", "source"}
    nottingham/MIDI/*.mid           the 1,034 tunes

GitHub regenerates its archives, so their bytes may change: we check the *content* instead,
with `midi_digest` over the top-level ``MIDI/*.mid`` files, pinned as `MIDI_DIGEST`.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import ssl
import stat
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm.auto import tqdm

from folkrnn.errors import FolkRNNError
from folkrnn.paths import PROJECT_DIR, data_dir

# commit 0992bb6 of jukedeck/nottingham-dataset
DEFAULT_URL = "https://github.com/jukedeck/nottingham-dataset/archive/refs/heads/master.zip"
URL_ENV = "FOLKRNN_DATA_URL"
TEST_ZIP_ENV = "FOLKRNN_TEST_ZIP"  # the tests' offline copy (`dataset_zip`)
MIDI_DIGEST = "62e61e21ed2a22bd9d70cb1b2c38f67423b2af0c261fb059c2bd09adb585e285"
MIDI_COUNT = 1034
ZIP_NAME = "nottingham-dataset-master.zip"
DATASET = "nottingham"
MARKER = ".complete"
TIMEOUT = 60  # seconds without data before giving up
CHUNK = 1 << 16

_NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError,
                   http.client.HTTPException, ssl.SSLError)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


def midi_digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over ``name NUL size(8 bytes, big-endian) bytes`` of each file, by sorted name."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        h.update(name.encode("utf-8") + b"\0" + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def midi_dir(dest: Path | None = None) -> Path:
    """The folder the .mid files are extracted into (``data/nottingham/MIDI``)."""
    return (Path(dest) if dest is not None else data_dir()) / DATASET / "MIDI"


def midi_files(folder: Path | None = None) -> list[Path]:
    """The sorted .mid files in ``folder`` (default `midi_dir`)."""
    folder = Path(folder) if folder is not None else midi_dir()
    files = sorted(folder.glob("*.mid")) if folder.is_dir() else []
    if not files:
        raise FolkRNNError(f"no MIDI files in {folder}: run folkrnn download (or notebook 01) "
                           "first")
    return files


def download_dataset(url: str | None = None, dest: Path | None = None, *,
                     progress: bool = True) -> Path:
    """Download, verify and extract the dataset once; return the folder of .mid files.

    ``url`` defaults to ``$FOLKRNN_DATA_URL`` or `DEFAULT_URL` (a plain path works too); ``dest``
    is the data folder. A zip already at ``dest/nottingham-dataset-master.zip`` is used instead
    of downloading. ``progress=False`` hides the progress bar and status lines.
    """
    dest = Path(dest) if dest is not None else data_dir()
    target = dest / DATASET
    if _is_complete(target):
        _say(progress, f"the Nottingham dataset is already downloaded: {target / 'MIDI'}")
        return target / "MIDI"
    _, files, source = _fetch_verified(url, dest, progress)
    _install(files, target, source)
    _say(progress, f"extracted {len(files)} MIDI files into {target / 'MIDI'}")
    return target / "MIDI"


def fetch_archive(url: str | None = None, dest: Path | None = None, *,
                  progress: bool = True) -> Path:
    """The verified zip ``dest/nottingham-dataset-master.zip``, downloaded first (as
    `download_dataset` does) if it isn't there; not extracted. For tools that read the tunes
    straight from the archive (the tests, ``bench/bench_listen.py``)."""
    return _fetch_verified(url, Path(dest) if dest is not None else data_dir(), progress)[0]


def dataset_zip(*, progress: bool = True) -> Path:
    """The dataset archive for tools that read the tunes from it as is (the tests,
    ``bench/bench_listen.py``): ``$FOLKRNN_TEST_ZIP``, else the local file ``$FOLKRNN_DATA_URL``
    names, else the zip in the project's ``data/`` folder, fetched there first
    (`fetch_archive`: from ``$FOLKRNN_DATA_URL`` or GitHub) if it isn't there yet."""
    if os.environ.get(TEST_ZIP_ENV):
        path = Path(os.environ[TEST_ZIP_ENV]).expanduser()
        if not path.is_file():
            raise FolkRNNError(f"{TEST_ZIP_ENV}={path}: no such file; give the path of "
                               f"{ZIP_NAME}, or unset it to download the dataset")
        return path
    url = os.environ.get(URL_ENV)
    if url and urllib.parse.urlparse(url).scheme.lower() in ("file", ""):
        local = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)).expanduser()
        if local.is_file():
            return local
    return fetch_archive(url, PROJECT_DIR / "data", progress=progress)


def _fetch_verified(url: str | None, dest: Path, progress: bool
                    ) -> tuple[Path, dict[str, bytes], str]:
    """The zip in ``dest`` (downloaded from ``url`` if missing), its verified MIDI files and
    where they came from."""
    dest.mkdir(parents=True, exist_ok=True)
    zip_path = dest / ZIP_NAME
    if zip_path.exists():
        _say(progress, f"using {zip_path}")
        files = _read_midi(zip_path, str(zip_path),
                           fix=f"delete or replace {zip_path}, then run again")
        return zip_path, files, str(zip_path)
    source = url or os.environ.get(URL_ENV) or DEFAULT_URL
    tmp = dest / f".{ZIP_NAME}.{uuid.uuid4().hex}.part"
    try:
        _fetch(source, tmp, zip_path, progress)
        files = _read_midi(tmp, f"the file downloaded from {source}", fix=_retry(zip_path))
        os.replace(tmp, zip_path)  # keep the verified archive: later runs need no network
    finally:
        tmp.unlink(missing_ok=True)
    return zip_path, files, source


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message)


def _manual_fix(zip_path: Path) -> str:
    return (f"download {DEFAULT_URL} yourself and put it at {zip_path}, "
            f"or set {URL_ENV}=file:///path/to/{ZIP_NAME}")


def _retry(zip_path: Path) -> str:
    return f"run again; if it keeps failing, {_manual_fix(zip_path)}"


def _is_complete(target: Path) -> bool:
    """True if the marker says the verified files are in place (and they still are)."""
    try:
        marker = json.loads((target / MARKER).read_text())
        count = len(list((target / "MIDI").glob("*.mid")))
        return marker["digest"] == MIDI_DIGEST and count == marker["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _fetch(url: str, out_path: Path, zip_path: Path, progress: bool) -> None:
    """Copy ``url`` (or a plain path) into ``out_path`` with a progress bar."""
    if urllib.parse.urlparse(url).scheme.lower() not in {"http", "https", "ftp", "file"}:
        url = Path(url).expanduser().resolve().as_uri()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(out_path, "xb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=ZIP_NAME, disable=not progress) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except _NETWORK_ERRORS as exc:
        reason = getattr(exc, "reason", None) or exc or type(exc).__name__
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        check = "check the path" if url.startswith("file:") else "check your internet connection"
        raise FolkRNNError(f"can't download the Nottingham dataset from {url} ({reason}): "
                           f"{check}, or {_manual_fix(zip_path)}") from None
    if total is not None and size < total:
        raise FolkRNNError(f"the download from {url} stopped after {size} of {total} bytes: "
                           f"{_retry(zip_path)}")


def _read_midi(zip_path: Path, label: str, fix: str) -> dict[str, bytes]:
    """Check every entry is safe, read the top-level ``MIDI/*.mid`` files, verify their digest."""
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for info in archive.infolist():
                _check_safe(info, label, fix)
            for info in archive.infolist():
                if not info.is_dir() and _is_top_level_midi(info.filename):
                    files[PurePosixPath(info.filename).name] = archive.read(info)
    except _ZIP_ERRORS as exc:
        raise FolkRNNError(f"{label} is not a valid zip archive (truncated or corrupt: {exc}): "
                           f"{fix}") from None
    digest = midi_digest(files)
    if digest != MIDI_DIGEST:
        raise FolkRNNError(f"the MIDI files in {label} are not the expected Nottingham dataset: "
                           f"checksum mismatch ({len(files)} files, digest {digest[:12]}…, "
                           f"expected {MIDI_DIGEST[:12]}…): {fix}")
    return files


def _is_top_level_midi(name: str) -> bool:
    """``<top folder>/MIDI/x.mid`` or ``MIDI/x.mid`` (not MIDI/melody, MIDI/chords, ABC_*)."""
    parts = PurePosixPath(name).parts
    return len(parts) in (2, 3) and parts[-2] == "MIDI" and parts[-1].endswith(".mid")


def _check_safe(info: zipfile.ZipInfo, label: str, fix: str) -> None:
    """Reject entries that could write outside the target folder ("zip-slip")."""
    path = PureWindowsPath(info.filename)  # splits on both / and \
    if path.anchor or ".." in path.parts or stat.S_ISLNK(info.external_attr >> 16):
        raise FolkRNNError(f"refusing to extract {label}: entry {info.filename!r} is an absolute "
                           "path, contains '..' or is a symlink (a zip-slip attack, so not the "
                           f"Nottingham archive): {fix}")


def _install(files: Mapping[str, bytes], target: Path, source: str) -> None:
    """Write ``files`` into ``target/MIDI`` (a temp folder renamed into place), then the marker."""
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        (tmp / "MIDI").mkdir(parents=True)
        for name, data in files.items():
            (tmp / "MIDI" / name).write_bytes(data)
        if target.exists():  # a stale or incomplete earlier extraction
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    marker = {"digest": midi_digest(files), "files": len(files), "source": source}
    tmp_marker = target / (MARKER + ".tmp")
    tmp_marker.write_text(json.dumps(marker, indent=2) + "\n")
    os.replace(tmp_marker, target / MARKER)
