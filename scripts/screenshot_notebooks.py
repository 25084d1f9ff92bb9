"""Whole-page screenshots of the executed notebooks, to check what a learner sees.

    python scripts/screenshot_notebooks.py [--notebooks build/notebooks] [--out build/screenshots]

Converts every executed notebook (``make tutorial`` writes them to ``build/notebooks``) to HTML
with nbconvert, opens each page in headless Chromium (``scripts/headless.py``; Debian:
``apt-get install -y chromium``), checks what the page holds (figures with alt text, sheet
music where the notebook draws it, audio players where it plays tunes, no JavaScript errors)
and photographs the WHOLE page, however long. Writes ``build/html/NAME.html`` and
``build/screenshots/NAME.png``; exits non-zero with one message per problem.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from headless import Browser, Page

ROOT = Path(__file__).resolve().parents[1]


def to_html(notebook: Path, folder: Path) -> Path:
    """Write the notebook as a standalone HTML page into ``folder``."""
    nb = nbformat.read(notebook, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (notebook.stem + ".html")
    path.write_text(body, encoding="utf-8")
    return path


def problems_of(notebook: Path, page: Page) -> list[str]:
    """What is wrong with the rendered page of an executed notebook."""
    nb = nbformat.read(notebook, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    source = "\n".join(cell.source for cell in code)
    name, counts = notebook.name, page.counts
    problems = []
    if not any(cell.outputs for cell in code):
        problems.append(f"{name}: no outputs at all; execute it first (make tutorial)")
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    if errors:
        problems.append(f"{name}: {len(errors)} cell(s) raised, e.g. "
                        f"{errors[0].ename}: {errors[0].evalue}")
    if counts["img"] == 0:
        problems.append(f"{name}: no figure (<img>) on the page")
    if counts["img_broken"]:
        problems.append(f"{name}: {counts['img_broken']} image(s) do not load")
    if counts["img_with_alt"] < counts["img"]:
        problems.append(f"{name}: {counts['img'] - counts['img_with_alt']} image(s) without "
                        f"alt text")
    if "sheet_music(" in source and counts["svg"] == 0:
        problems.append(f"{name}: it draws sheet music but the page has no <svg>")
    if "audio(" in source and counts["audio"] == 0:
        problems.append(f"{name}: it plays tunes but the page has no <audio> player")
    if counts["audio_playable"] < counts["audio"]:
        problems.append(f"{name}: Chromium cannot play {counts['audio'] - counts['audio_playable']}"
                        f" of the audio players")
    problems += [f"{name}: JavaScript: {error}" for error in page.errors]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "build/notebooks")
    parser.add_argument("--html", type=Path, default=ROOT / "build/html")
    parser.add_argument("--out", type=Path, default=ROOT / "build/screenshots")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args(argv)

    notebooks = sorted(args.notebooks.glob("*.ipynb"))
    if not notebooks:
        sys.exit(f"no notebooks in {args.notebooks}: run make tutorial first")
    problems = []
    with Browser() as browser:
        for notebook in notebooks:
            html = to_html(notebook, args.html)
            page = browser.open(html)
            problems += problems_of(notebook, page)
            png = page.screenshot(args.out / (notebook.stem + ".png"), width=args.width)
            print(f"{notebook.name}: {png} ({page.counts['height']} px high; "
                  + ", ".join(f"{k} {v}" for k, v in page.counts.items() if k != "height")
                  + ")")
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
