"""Screenshots of the executed notebooks, to check what a learner sees.

    python scripts/screenshot_notebooks.py [--notebooks build/notebooks] [--out build/screenshots]

Converts every executed notebook (``make tutorial`` writes them to ``build/notebooks``) to HTML
with nbconvert, checks that the HTML holds figures (``<img``) and, where the notebook plays
sound, audio players (``<audio``), then takes a screenshot of each page with headless Chromium
(Debian: ``apt-get install -y chromium``). Writes ``build/html/NAME.html`` and
``build/screenshots/NAME.png``; exits non-zero with one message per problem.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--hide-scrollbars"]


def to_html(notebook: Path, folder: Path) -> Path:
    """Write the notebook as a standalone HTML page into ``folder``."""
    nb = nbformat.read(notebook, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (notebook.stem + ".html")
    path.write_text(body, encoding="utf-8")
    return path


def problems_of(notebook: Path, html: str) -> list[str]:
    """What is missing from the HTML of an executed notebook."""
    nb = nbformat.read(notebook, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    problems = []
    if not any(cell.outputs for cell in code):
        problems.append(f"{notebook.name}: no outputs at all; execute it first (make tutorial)")
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    if errors:
        problems.append(f"{notebook.name}: {len(errors)} cell(s) raised, e.g. "
                        f"{errors[0].ename}: {errors[0].evalue}")
    if "<img" not in html:
        problems.append(f"{notebook.name}: no figure (<img) in the HTML")
    plays_sound = any("audio(" in cell.source for cell in code)
    if plays_sound and "<audio" not in html:
        problems.append(f"{notebook.name}: it plays tunes but the HTML has no <audio> player")
    return problems


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if (path := shutil.which(name)):
            return path
    sys.exit("no Chromium found: apt-get install -y chromium")


def screenshot(chromium: str, html: Path, png: Path, width: int, height: int) -> None:
    """A PNG of the top ``height`` pixels of the page."""
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                   f"--screenshot={png}", f"--window-size={width},{height}",
                   "--virtual-time-budget=5000", html.resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if result.returncode != 0 or not png.exists():
        raise RuntimeError(f"Chromium failed on {html.name}: {result.stderr.strip()[-500:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "build/notebooks")
    parser.add_argument("--html", type=Path, default=ROOT / "build/html")
    parser.add_argument("--out", type=Path, default=ROOT / "build/screenshots")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=4000)
    args = parser.parse_args(argv)

    notebooks = sorted(args.notebooks.glob("*.ipynb"))
    if not notebooks:
        sys.exit(f"no notebooks in {args.notebooks}: run make tutorial first")
    chromium = find_chromium()
    problems = []
    for notebook in notebooks:
        html = to_html(notebook, args.html)
        problems += problems_of(notebook, html.read_text(encoding="utf-8"))
        png = args.out / (notebook.stem + ".png")
        screenshot(chromium, html, png, args.width, args.height)
        print(f"{notebook.name}: {html} -> {png} ({png.stat().st_size / 1024:.0f} kB)")
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
