"""The notebooks' shape: committed without outputs, and each with the parts a learner relies on.

Running them is nbval's job (``make test``); these checks read the files only.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_collect_data.ipynb", "02_build_model.ipynb", "03_train_model.ipynb",
         "04_test_model.ipynb"]


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def headings(nb: nbformat.NotebookNode, level: int) -> list[str]:
    marks = "#" * level
    return [line[level + 1:].strip() for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if re.match(rf"{marks} \S", line)]


def test_the_four_notebooks_are_there_and_nothing_else():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_valid_and_stripped(name):
    nb = read(name)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "a notebook without code cells"
    with_outputs = [i for i, cell in enumerate(code) if cell.outputs]
    counted = [i for i, cell in enumerate(code) if cell.execution_count is not None]
    assert not with_outputs, f"code cells {with_outputs} carry outputs: strip them before committing"
    assert not counted, f"code cells {counted} carry execution counts: strip them"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_has_title_setup_parameters_summary_and_exercises(name):
    nb = read(name)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "no title first"
    assert f"# {int(name[:2])}." in first.source.splitlines()[0], "title should carry the number"
    sections = headings(nb, 2)
    for wanted in ("Setup", "Summary", "Exercises"):
        assert wanted in sections, f"no '## {wanted}' section (has: {sections})"
    assert sections.index("Summary") < sections.index("Exercises")
    exercises = nb.cells[-1].source.split("## Exercises", 1)[-1]
    assert len(re.findall(r"^\d+\. ", exercises, flags=re.M)) >= 3, "fewer than 3 exercises"
    tagged = [cell for cell in nb.cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code", "need one code cell tagged parameters"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_checks_its_key_facts_and_runs_alone(name):
    source = "\n".join(cell.source for cell in read(name).cells if cell.cell_type == "code")
    assert source.count("assert ") >= 2, "a notebook should assert its key facts"
    # Every notebook after the first gets the data itself (or says which notebook to run).
    if not name.startswith("01"):
        assert "require_tunes()" in source or "require_run(" in source


def test_notebooks_03_and_04_use_the_same_run():
    runs = [re.search(r'^RUN = "([^"]+)"', "\n".join(c.source for c in read(n).cells), re.M)
            for n in NAMES[2:]]
    assert all(runs) and runs[0].group(1) == runs[1].group(1) == "tutorial"
