"""The notebooks as a learner's browser shows them: executed (smoke mode), exported to HTML by
nbconvert and opened in headless Chromium, which must show the figures, the sheet music and
the audio players and log no JavaScript errors.

Needs Chromium (``make system-deps``); skipped without it, except in CI
(``FOLKRNN_REQUIRE_TOOLS=1``), where a missing browser fails.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from headless import Browser, find_chromium  # noqa: E402
from screenshot_notebooks import problems_of, to_html  # noqa: E402

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


@pytest.fixture(scope="module")
def executed(dataset_home, tmp_path_factory) -> dict[str, Path]:
    """The four notebooks executed in smoke mode (one kernel each), as .ipynb files."""
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("executed")
    saved = {k: os.environ.get(k) for k in ("FOLKRNN_HOME", "FOLKRNN_SMOKE")}
    os.environ.update(FOLKRNN_HOME=str(dataset_home), FOLKRNN_SMOKE="1")
    try:
        paths = {}
        for notebook in NOTEBOOKS:
            nb = nbformat.read(notebook, as_version=4)
            NotebookClient(nb, timeout=900, kernel_name="python3", store_widget_state=False,
                           resources={"metadata": {"path": str(notebook.parent)}}).execute()
            paths[notebook.name] = folder / notebook.name
            nbformat.write(nb, paths[notebook.name])
        return paths
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_notebook_page_shows_everything_without_javascript_errors(name, executed, browser,
                                                                  tmp_path):
    page = browser.open(to_html(executed[name], tmp_path))
    assert problems_of(executed[name], page) == []
    assert page.counts["img"] >= 2, "every notebook draws figures"
    if name.startswith(("01", "04")):
        assert page.counts["svg"] >= 1 and page.counts["audio"] >= 1
    shot = page.screenshot(ROOT / "build" / "test-screenshots" / name.replace(".ipynb", ".png"))
    assert shot.stat().st_size > 10_000
