"""Engraving: sheet music drawn from ABC notation, as SVG to show inline in a notebook.

Explained in notebooks 01_collect_data and 04_test_model (through `listen.sheet_music`).
``verovio`` (a wheel) is the default engraver: chord symbols, repeats and volta brackets;
``abcm2ps`` (a system program, hidden by ``FOLKRNN_NO_SYSTEM_TOOLS=1``) is used only when asked
for. BENCHMARKS.md ("Listening backends") times both.
"""
from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from folkrnn.errors import FolkRNNError
from folkrnn.sound import system_tools_hidden

try:  # a dependency, but a platform may lack its wheel: then abcm2ps, or the ABC text
    import verovio
except ImportError:
    verovio = None


def verovio_available() -> bool:
    """True when the ``verovio`` wheel (the default engraver) can be imported."""
    return verovio is not None


def abcm2ps_available() -> bool:
    """True when the ``abcm2ps`` program is installed (and not hidden by
    ``FOLKRNN_NO_SYSTEM_TOOLS=1``)."""
    return not system_tools_hidden() and shutil.which("abcm2ps") is not None


def engraver() -> str:
    """The engraver `listen.sheet_music` uses by default: ``verovio``, else ``abcm2ps``, else
    ``abc`` (the ABC text)."""
    if verovio_available():
        return "verovio"
    return "abcm2ps" if abcm2ps_available() else "abc"


def _mei_endings(mei: str, endings: list[tuple[int, int, str]]) -> str:
    """Wrap measures ``first..last`` (0-based) of verovio's MEI in ``<ending n=…>`` elements:
    verovio's ABC reader keeps ``|:`` and ``:|`` but drops ``[1``/``[2``."""
    namespace = "http://www.music-encoding.org/ns/mei"
    ET.register_namespace("", namespace)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.fromstring(mei)
    section = root.find(f".//{{{namespace}}}section")
    if section is None:
        return mei
    measures = [m for m in section if m.tag == f"{{{namespace}}}measure"]
    for first, last, number in sorted(endings, reverse=True):
        if last >= len(measures):
            continue
        wrapped = measures[first:last + 1]
        ending = ET.Element(f"{{{namespace}}}ending", {"n": number, "label": f"{number}."})
        index = list(section).index(wrapped[0])
        for measure in wrapped:
            section.remove(measure)
            ending.append(measure)
        section.insert(index, ending)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def abc_to_svg_verovio(abc: str, endings: list[tuple[int, int, str]] = (),
                       width: int = 2100) -> str:
    """Engrave ABC text with verovio: one SVG (chord symbols, repeats; ``endings`` as
    ``(first measure, last measure, "1")`` become volta brackets, e.g. `repeats.Form.endings`).
    Used by `listen.sheet_music`."""
    verovio.enableLog(verovio.LOG_OFF)  # not its notes on ABC features it ignores (Q:)
    toolkit = verovio.toolkit()
    options = {"pageWidth": width, "pageHeight": 60000, "adjustPageHeight": True, "scale": 40,
               "footer": "none", "breaks": "auto", "pageMarginTop": 20, "pageMarginBottom": 20,
               "svgFormatRaw": True}  # no indentation: half the size
    toolkit.setOptions({**options, "inputFrom": "abc"})
    if not toolkit.loadData(abc):
        raise FolkRNNError(f"verovio could not read the ABC text: {toolkit.getLog()[-300:]}")
    if endings:
        toolkit.setOptions({**options, "inputFrom": "mei"})
        toolkit.loadData(_mei_endings(toolkit.getMEI(), list(endings)))
    return toolkit.renderToSVG(1)


def abc_to_svg(abc: str) -> list[str]:
    """Engrave ABC text with ``abcm2ps``; the SVG text of each image (FolkRNNError if it fails).

    One tight image (``-g``) for most tunes; very long tunes overflow abcm2ps's buffer there, so
    they are laid out as pages (``-v``) instead. Used by `listen.sheet_music`
    with ``engraver_name="abcm2ps"``.
    """
    if not abcm2ps_available():
        raise FolkRNNError("abcm2ps is not installed: apt-get install abcm2ps "
                           "(or make system-deps)")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "tune.abc"
        source.write_text(abc)
        for flag in ("-g", "-v"):
            result = subprocess.run(["abcm2ps", flag, "-q", "-O", str(Path(folder) / flag[1]),
                                     str(source)], capture_output=True, text=True, timeout=60)
            pages = sorted(Path(folder).glob(flag[1] + "*.svg"))
            if result.returncode == 0 and pages:
                return [page.read_text() for page in pages]
        raise FolkRNNError(f"abcm2ps could not engrave the tune: {result.stderr.strip()[-300:]}")


@dataclass(frozen=True, repr=False)
class SheetMusic:
    """Engraved sheet music. Jupyter shows it as inline SVG, and an HTML export keeps it inline
    (as ``text/html``: nbconvert would turn an ``image/svg+xml`` output into an ``<img>``);
    its plain-text form is the ABC."""

    svg: str  # the SVG text (several images one after another for abcm2ps pages)
    abc: str  # the ABC text it was engraved from
    title: str

    @property
    def data(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"SheetMusic({self.title!r}, {len(self.svg):,} characters of SVG)"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(self.abc)

    def _repr_html_(self) -> str:
        label = html.escape(f"Sheet music of {self.title}", quote=True)
        return f'<div class="folkrnn-sheet-music" role="img" aria-label="{label}">{self.svg}</div>'
