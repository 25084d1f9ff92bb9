"""The notebooks as a learner's browser shows them: executed (smoke mode), exported to HTML by
nbconvert and opened in headless Chromium, which must show the figures, the sheet music and
the audio players and log no JavaScript errors.

Needs Chromium (``make system-deps``); skipped without it, except in CI
(``FOLKRNN_REQUIRE_TOOLS=1``), where a missing browser fails.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import environment
from headless import Browser, find_chromium  # scripts/ (pyproject.toml: pytest's pythonpath)
from screenshot_notebooks import problems_of, to_html

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        message = "Chromium is not installed (make system-deps)"
        if os.environ.get("FOLKRNN_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with Browser() as b:
        yield b


def test_the_browser_check_sees_figures_sheet_music_audio_and_errors(browser, tmp_path):
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAA"
           "AABJRU5ErkJggg==")
    good = tmp_path / "good.html"
    good.write_text(f'<div class="jp-OutputArea-output"><img alt="a dot" '
                    f'src="data:image/png;base64,{png}"><svg width="9" height="9"></svg>'
                    f'<audio controls><source type="audio/wav" src="data:audio/wav;base64,">'
                    f'</audio></div>')
    page = browser.open(good, settle=0.2)
    assert page.errors == []
    assert {k: page.counts[k] for k in ("img", "img_with_alt", "img_broken", "svg", "audio")} \
        == {"img": 1, "img_with_alt": 1, "img_broken": 0, "svg": 1, "audio": 1}
    bad = tmp_path / "bad.html"
    bad.write_text('<script>console.error("boom"); notDefined();</script><img src="x.png">')
    page = browser.open(bad, settle=0.2)
    assert any("boom" in e for e in page.errors)
    assert any("notDefined" in e for e in page.errors)
    assert page.counts["img_broken"] == 1 and page.counts["img_with_alt"] == 0
    shot = page.screenshot(tmp_path / "bad.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


OUT = ROOT / "build" / "browser-test"  # executed notebooks, HTML and screenshots, to look at


def execute(notebook: Path, home: Path) -> Path:
    """Run ``notebook`` in smoke mode in a fresh kernel (over IPC, as make tutorial does);
    errors stay in the outputs, where `problems_of` reports them."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    with environment(FOLKRNN_HOME=str(home), FOLKRNN_SMOKE="1"), \
            tempfile.TemporaryDirectory() as sockets:
        kernel = KernelManager(kernel_name="python3", transport="ipc",
                               ip=str(Path(sockets) / "kernel"))
        NotebookClient(nb, km=kernel, timeout=900, allow_errors=True,
                       store_widget_state=False,
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
    OUT.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUT / notebook.name)
    return OUT / notebook.name


@pytest.fixture(scope="module")
def executed(dataset_home):
    """The notebooks executed in smoke mode, in order (03 trains the run 04 tests), on demand."""
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        for notebook in NOTEBOOKS:
            if notebook.name not in done:
                done[notebook.name] = execute(notebook, dataset_home)
            if notebook.name == name:
                return done[name]
        raise KeyError(name)

    return get


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_notebook_page_shows_everything_without_javascript_errors(name, executed, browser):
    notebook = executed(name)
    page = browser.open(to_html(notebook, OUT))
    shot = page.screenshot(OUT / name.replace(".ipynb", ".png"))  # the whole page
    assert problems_of(notebook, page) == []
    assert page.counts["img"] >= 2, "every notebook draws figures"
    if name.startswith(("01", "04")):
        assert page.counts["svg"] >= 1 and page.counts["audio"] >= 1
    assert shot.stat().st_size > 10_000
