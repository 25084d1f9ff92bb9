"""Tests for folkrnn.download (the collect step). They never touch the network, except to fetch
the dataset zip once when neither FOLKRNN_TEST_ZIP, FOLKRNN_DATA_URL nor data/ has it."""
from __future__ import annotations

import io
import json
import re
import shutil
import stat
import uuid
import zipfile
from pathlib import Path

import pytest

from folkrnn import download as dl
from folkrnn.download import MIDI_DIGEST, download_dataset, midi_digest, midi_dir, midi_files
from folkrnn.errors import FolkRNNError

from conftest import offline_zip


@pytest.fixture(scope="session")
def real_zip() -> Path:
    """The GitHub archive of the dataset (`conftest.offline_zip`)."""
    return offline_zip()


@pytest.fixture(scope="module")
def extracted(real_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One download + extraction of the real archive from a file:// URL: (data, MIDI folder)."""
    data = tmp_path_factory.mktemp("data")
    return data, download_dataset(real_zip.as_uri(), data, progress=False)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLKRNN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FOLKRNN_DATA_URL", raising=False)


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    """A zip with the given entries, names written as is (even unsafe ones)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo("placeholder")
            info.filename = name  # bypass any name clean-up
            archive.writestr(info, data)
    return path


SMALL = {"top/MIDI/a.mid": b"MThd-a", "top/MIDI/b.mid": b"MThd-bb",
         "top/MIDI/melody/a.mid": b"melody", "top/ABC_cleaned/x.abc": b"X:1",
         "top/README.md": b"readme"}


@pytest.fixture
def small_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny archive shaped like the real one, with MIDI_DIGEST pinned to its content."""
    monkeypatch.setattr(dl, "MIDI_DIGEST", midi_digest({"a.mid": b"MThd-a", "b.mid": b"MThd-bb"}))
    return make_zip(tmp_path / "small.zip", SMALL)


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("urlopen must not be called")


# --- the real archive -------------------------------------------------------------------------

def test_the_archive_holds_the_pinned_tunes(real_zip: Path) -> None:
    """Read with zipfile alone: GitHub may rebuild the archive's bytes, never these files."""
    with zipfile.ZipFile(real_zip) as archive:
        tunes = {name.split("/")[-1]: archive.read(name) for name in archive.namelist()
                 if re.fullmatch(r"[^/]+/MIDI/[^/]+\.mid", name)}
    assert len(tunes) == 1034 and midi_digest(tunes) == MIDI_DIGEST


def test_full_download_extracts_1034_files(extracted: tuple[Path, Path]) -> None:
    data, folder = extracted
    assert folder == data / "nottingham" / "MIDI" == midi_dir(data)
    files = midi_files(folder)
    assert len(files) == dl.MIDI_COUNT == 1034
    # only .mid files, no subfolders
    assert sorted(p.name for p in folder.iterdir()) == [p.name for p in files]
    assert tree(data) == sorted(["nottingham", "nottingham/.complete", "nottingham/MIDI",
                                 dl.ZIP_NAME] + [f"nottingham/MIDI/{p.name}" for p in files])


def test_extracted_content_matches_pinned_digest(extracted: tuple[Path, Path]) -> None:
    data, folder = extracted
    assert midi_digest({p.name: p.read_bytes() for p in midi_files(folder)}) == MIDI_DIGEST
    marker = json.loads((data / "nottingham" / ".complete").read_text())
    assert marker["digest"] == MIDI_DIGEST and marker["files"] == 1034
    assert marker["source"].startswith("file://")


def test_second_call_does_nothing(extracted: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    data, folder = extracted
    before = {p: p.stat().st_mtime_ns for p in [folder, *folder.iterdir()]}
    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    monkeypatch.setattr(dl, "_install", lambda *a: pytest.fail("must not re-extract"))
    assert download_dataset("http://127.0.0.1:9/", data) == folder
    assert "already downloaded" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in [folder, *folder.iterdir()]} == before


def test_one_byte_changed_is_a_checksum_mismatch(real_zip: Path, tmp_path: Path) -> None:
    entries = {}
    with zipfile.ZipFile(real_zip) as archive:
        for info in archive.infolist():
            if not info.is_dir() and info.filename.count("/") == 2 and "/MIDI/" in info.filename:
                entries[info.filename] = archive.read(info)
    name = sorted(entries)[500]
    data = bytearray(entries[name])
    data[len(data) // 2] ^= 0x01
    entries[name] = bytes(data)
    bad = make_zip(tmp_path / "bad.zip", entries)
    dest = tmp_path / "data"
    with pytest.raises(FolkRNNError, match="checksum mismatch") as err:
        download_dataset(bad.as_uri(), dest, progress=False)
    assert "FOLKRNN_DATA_URL" in str(err.value)
    assert tree(dest) == []


def test_truncated_download_is_rejected(real_zip: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.zip"
    cut.write_bytes(real_zip.read_bytes()[: real_zip.stat().st_size // 2])
    dest = tmp_path / "data"
    with pytest.raises(FolkRNNError, match="not a valid zip"):
        download_dataset(cut.as_uri(), dest, progress=False)
    assert tree(dest) == []


def test_user_placed_real_zip_is_used_without_network(real_zip: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "home" / "data"  # FOLKRNN_HOME/data, the default destination
    data.mkdir(parents=True)
    shutil.copy(real_zip, data / dl.ZIP_NAME)
    monkeypatch.setenv("FOLKRNN_DATA_URL", "http://127.0.0.1:9/")
    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    folder = download_dataset(progress=False)
    assert folder == data / "nottingham" / "MIDI"
    assert len(midi_files()) == 1034


# --- small synthetic archives -----------------------------------------------------------------

def test_small_archive_extracts_only_top_level_midi(small_zip: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    folder = download_dataset(str(small_zip), dest, progress=False)  # a plain path, not a URL
    assert tree(folder) == ["a.mid", "b.mid"]
    assert (folder / "b.mid").read_bytes() == b"MThd-bb"
    assert tree(dest) == sorted([dl.ZIP_NAME, "nottingham", "nottingham/.complete",
                                 "nottingham/MIDI", "nottingham/MIDI/a.mid",
                                 "nottingham/MIDI/b.mid"])
    assert (dest / dl.ZIP_NAME).read_bytes() == small_zip.read_bytes()


def test_url_from_environment_and_default_home(small_zip: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLKRNN_DATA_URL", small_zip.as_uri())
    folder = download_dataset(progress=False)
    assert folder == tmp_path / "home" / "data" / "nottingham" / "MIDI"
    assert [p.name for p in midi_files()] == ["a.mid", "b.mid"]


def test_stale_extraction_without_marker_is_replaced(small_zip: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    (dest / "nottingham" / "MIDI").mkdir(parents=True)
    (dest / "nottingham" / "MIDI" / "half.mid").write_bytes(b"x")
    folder = download_dataset(small_zip.as_uri(), dest, progress=False)
    assert tree(folder) == ["a.mid", "b.mid"]


def test_marker_with_wrong_digest_triggers_extraction(small_zip: Path, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    (dest / "nottingham" / "MIDI").mkdir(parents=True)
    (dest / "nottingham" / ".complete").write_text(json.dumps({"digest": "0" * 64, "files": 0}))
    folder = download_dataset(small_zip.as_uri(), dest, progress=False)
    assert tree(folder) == ["a.mid", "b.mid"]
    assert json.loads((dest / "nottingham" / ".complete").read_text())["digest"] == dl.MIDI_DIGEST


def test_not_a_zip(tmp_path: Path) -> None:
    page = tmp_path / "page.zip"
    page.write_bytes(b"<html><body>rate limited</body></html>")
    dest = tmp_path / "data"
    with pytest.raises(FolkRNNError, match="not a valid zip"):
        download_dataset(page.as_uri(), dest, progress=False)
    assert tree(dest) == []


def test_bad_user_placed_zip_names_the_file_and_is_kept(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / dl.ZIP_NAME).write_bytes(b"not a zip")
    with pytest.raises(FolkRNNError) as err:
        download_dataset(progress=False, dest=dest)
    assert str(dest / dl.ZIP_NAME) in str(err.value) and "delete or replace" in str(err.value)
    assert tree(dest) == [dl.ZIP_NAME]


@pytest.mark.parametrize("evil", ["../evil.mid", f"/tmp/folkrnn-zipslip-{uuid.uuid4().hex}.mid",
                                  "top/MIDI/../../../evil.mid", "C:\\evil.mid", "..\\evil.mid"])
def test_zip_slip_entries_are_rejected(evil: str, small_zip: Path, tmp_path: Path) -> None:
    bad = make_zip(tmp_path / "slip.zip", {**SMALL, evil: b"pwned"})
    assert evil in zipfile.ZipFile(bad).namelist()
    dest = tmp_path / "a" / "b" / "data"
    with pytest.raises(FolkRNNError, match="zip-slip"):
        download_dataset(bad.as_uri(), dest, progress=False)
    assert tree(dest) == []
    assert not (tmp_path / "a" / "evil.mid").exists()
    assert not (tmp_path / "a" / "b" / "evil.mid").exists()
    assert not (tmp_path / "evil.mid").exists() and not Path(evil).exists()


def test_symlink_entry_is_rejected(small_zip: Path, tmp_path: Path) -> None:
    bad = tmp_path / "link.zip"
    shutil.copy(small_zip, bad)
    with zipfile.ZipFile(bad, "a") as archive:
        info = zipfile.ZipInfo("top/MIDI/link.mid")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    dest = tmp_path / "data"
    with pytest.raises(FolkRNNError, match="zip-slip"):
        download_dataset(bad.as_uri(), dest, progress=False)
    assert tree(dest) == []


def test_offline_message_names_the_override(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    with pytest.raises(FolkRNNError) as err:
        # the discard port: connection refused
        download_dataset("http://127.0.0.1:9/", dest, progress=False)
    message = str(err.value)
    assert "can't download" in message and "FOLKRNN_DATA_URL=file://" in message
    assert "Traceback" not in message and err.value.__suppress_context__
    assert tree(dest) == []


def test_missing_local_file_is_a_download_error(tmp_path: Path) -> None:
    with pytest.raises(FolkRNNError, match="FOLKRNN_DATA_URL"):
        download_dataset(str(tmp_path / "nowhere.zip"), tmp_path / "data", progress=False)
    assert tree(tmp_path / "data") == []


class FakeResponse(io.BytesIO):
    """A response that fails with ``error`` after ``fail_after`` bytes."""

    def __init__(self, data: bytes, fail_after: int, error: BaseException,
                 length: int | None = None) -> None:
        super().__init__(data)
        self.fail_after, self.error, self.served = fail_after, error, 0
        self.headers = {"Content-Length": str(length if length is not None else len(data))}

    def read(self, size: int = -1) -> bytes:
        if self.served >= self.fail_after:
            raise self.error
        chunk = super().read(min(size, 100))
        self.served += len(chunk)
        return chunk


@pytest.mark.parametrize("error, expected", [(KeyboardInterrupt(), KeyboardInterrupt),
                                             (ConnectionResetError("reset by peer"), FolkRNNError)])
def test_interrupted_download_leaves_nothing(error: BaseException, expected: type[BaseException],
                                             small_zip: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    response = FakeResponse(small_zip.read_bytes(), fail_after=300, error=error)
    monkeypatch.setattr(dl.urllib.request, "urlopen", lambda *a, **k: response)
    dest = tmp_path / "data"
    with pytest.raises(expected):
        download_dataset("https://example.invalid/x.zip", dest)
    assert 300 <= response.served < len(small_zip.read_bytes())  # it really stopped midway
    assert tree(dest) == []
    monkeypatch.undo()  # the next run starts clean and succeeds
    monkeypatch.setattr(dl, "MIDI_DIGEST", midi_digest({"a.mid": b"MThd-a", "b.mid": b"MThd-bb"}))
    assert tree(download_dataset(small_zip.as_uri(), dest, progress=False)) == ["a.mid", "b.mid"]


def test_short_read_against_content_length(small_zip: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = small_zip.read_bytes()
    response = FakeResponse(data[:200], fail_after=10**9, error=AssertionError(), length=len(data))
    monkeypatch.setattr(dl.urllib.request, "urlopen", lambda *a, **k: response)
    with pytest.raises(FolkRNNError, match=f"stopped after 200 of {len(data)} bytes"):
        download_dataset("https://example.invalid/x.zip", tmp_path / "data", progress=False)
    assert tree(tmp_path / "data") == []


def test_midi_files_before_download_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FolkRNNError, match="folkrnn download"):
        midi_files()
    with pytest.raises(FolkRNNError, match="notebook 01"):
        midi_files(tmp_path)


def test_digest_depends_on_names_sizes_and_order_free() -> None:
    base = midi_digest({"a.mid": b"12", "b.mid": b"3"})
    assert midi_digest({"b.mid": b"3", "a.mid": b"12"}) == base
    assert midi_digest({"a.mid": b"1", "b.mid": b"23"}) != base  # same concatenation, other split
    assert midi_digest({"a.mid": b"12", "c.mid": b"3"}) != base


def test_interrupted_extraction_leaves_no_half_folder(small_zip: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    dest = tmp_path / "data"
    monkeypatch.setattr(dl.os, "rename", interrupt)
    with pytest.raises(KeyboardInterrupt):
        download_dataset(small_zip.as_uri(), dest, progress=False)
    assert tree(dest) == [dl.ZIP_NAME]  # the verified archive is kept, no temp or half folder
    monkeypatch.undo()  # the real os.rename again
    monkeypatch.setattr(dl, "MIDI_DIGEST", midi_digest({"a.mid": b"MThd-a", "b.mid": b"MThd-bb"}))
    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    assert tree(download_dataset(small_zip.as_uri(), dest, progress=False)) == ["a.mid", "b.mid"]


# --- the zip the tests and bench_listen read (download.dataset_zip) ------------------------------

@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder of its own (its data/ is where dataset_zip looks and downloads to)."""
    monkeypatch.setattr(dl, "PROJECT_DIR", tmp_path / "project")
    monkeypatch.delenv("FOLKRNN_TEST_ZIP", raising=False)
    return tmp_path / "project"


def test_dataset_zip_takes_the_test_zip_first(project: Path, small_zip: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLKRNN_TEST_ZIP", str(small_zip))
    monkeypatch.setenv("FOLKRNN_DATA_URL", "http://127.0.0.1:9/")
    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    assert dl.dataset_zip() == small_zip
    monkeypatch.setenv("FOLKRNN_TEST_ZIP", str(small_zip.parent / "gone.zip"))
    with pytest.raises(FolkRNNError, match="FOLKRNN_TEST_ZIP=.*gone.zip: no such file"):
        dl.dataset_zip()


@pytest.mark.parametrize("as_url", [True, False])
def test_dataset_zip_takes_a_local_data_url_as_is(as_url: bool, project: Path, small_zip: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLKRNN_DATA_URL", small_zip.as_uri() if as_url else str(small_zip))
    assert dl.dataset_zip() == small_zip
    assert tree(project) == []  # nothing copied


def test_dataset_zip_uses_the_zip_in_data_without_network(project: Path, small_zip: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "data").mkdir(parents=True)
    shutil.copy(small_zip, project / "data" / dl.ZIP_NAME)
    monkeypatch.setattr(dl.urllib.request, "urlopen", no_network)
    assert dl.dataset_zip(progress=False) == project / "data" / dl.ZIP_NAME


def test_dataset_zip_downloads_into_data_as_folkrnn_download_does(
        project: Path, small_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fetched = []

    def serve(url: str, **kwargs: object) -> FakeResponse:
        fetched.append(url)
        return FakeResponse(small_zip.read_bytes(), fail_after=10**9, error=AssertionError())

    monkeypatch.setattr(dl.urllib.request, "urlopen", serve)
    zip_path = dl.dataset_zip(progress=False)  # no FOLKRNN_DATA_URL: GitHub
    assert fetched == [dl.DEFAULT_URL] and zip_path == project / "data" / dl.ZIP_NAME
    assert zip_path.read_bytes() == small_zip.read_bytes()
    assert tree(project / "data") == [dl.ZIP_NAME]  # verified, kept, not extracted
    assert dl.dataset_zip(progress=False) == zip_path and len(fetched) == 1  # once
