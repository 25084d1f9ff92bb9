"""The teaching parts: the README's ten lines run, the notebooks show the package's own code,
the teaching figures draw, and learner cells carry no pure regression guards.

The notebooks' teaching cells themselves (the numpy LSTM checked against Keras, the training
step, the sampler) run under nbval (``make test``).
"""
from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np

from conftest import offline_zip

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def readme_ten_lines() -> str:
    """The Python block of the README's "The whole thing in ten lines" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The whole thing in ten lines", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def code_cells(name: str) -> list[str]:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_readme_ten_lines_are_about_ten():
    lines = [line for line in readme_ten_lines().splitlines() if line.strip()]
    statements = [line for line in lines if not line.startswith(("from ", "import "))]
    assert len(statements) <= 6 and len(lines) <= 13, readme_ten_lines()
    for verb in ("download_dataset(", "prepare_dataset(", "train_model(", "generate_tune(",
                 "save_tune("):
        assert verb in readme_ten_lines()


def test_readme_ten_lines_run_as_is_in_smoke_mode(tmp_path, dataset_home):
    # the session's home: the data are already downloaded and prepared (the lines find them)
    env = dict(os.environ, FOLKRNN_SMOKE="1", FOLKRNN_HOME=str(dataset_home),
               FOLKRNN_DATA_URL=offline_zip().as_uri(), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", readme_ten_lines()], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    from folkrnn.music import read_tune

    tune = read_tune(tmp_path / "mine.mid")
    assert 0 < len(tune) <= 16 * 16  # at most 16 bars of 16th notes (trailing rests dropped)
    assert (tmp_path / "mine.wav").stat().st_size > 1000
    assert (tmp_path / "mine.abc").read_text().startswith("X:")
    assert (dataset_home / "runs" / "mine").is_dir()


def test_notebook_01_opens_with_the_readme_lines():
    nb = nbformat.read(NOTEBOOKS / "01_collect_data.ipynb", as_version=4)
    opening = "\n".join(cell.source for cell in nb.cells[:3] if cell.cell_type == "markdown")
    assert readme_ten_lines() in opening, "notebook 01's opening should show the README's lines"


def test_notebook_02_shows_build_model_from_the_package():
    from folkrnn.model import build_model
    from folkrnn.teaching import show_source

    assert "show_source(build_model)" in code_cells("02_build_model.ipynb")
    assert show_source(build_model).data.strip() == inspect.getsource(build_model).strip()


def test_notebook_02_checks_its_lstm_against_keras():
    source = "\n".join(code_cells("02_build_model.ipynb"))
    assert "def lstm_step(" in source and "def rnn_step(" in source
    assert re.search(r"assert difference < 1e-5", source)


def test_learner_cells_hold_no_pure_regression_guards():
    for name in sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")):
        source = "\n".join(code_cells(name))
        for guard in ("== 1034", ">= 980"):
            assert guard not in source, f"{name}: move the check {guard!r} into tests/"


def test_draw_unrolled_draws_a_column_per_step():
    from folkrnn.teaching import draw_unrolled

    fig = draw_unrolled(steps=3)
    boxes = [p for p in fig.axes[1].patches if type(p).__name__ == "FancyBboxPatch"]
    assert len(boxes) == 3 * 5  # inputs, embeddings, LSTM, heads, outputs per step
    assert any("LSTM" in t.get_text() for t in fig.axes[0].texts)


def test_plot_gradient_norms_uses_a_log_scale():
    from folkrnn.teaching import plot_gradient_norms

    fig = plot_gradient_norms({"a": [1.0, 0.1, 0.01], "b": [1.0, 10.0, 100.0]})
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].get_lines()) == 3


def test_plot_temperatures_orders_events_by_probability():
    from folkrnn.teaching import plot_temperatures

    p = np.array([0.1, 0.6, 0.3])
    fig = plot_temperatures({0.5: p, 1.0: p}, ["a", "b", "c"], title="t", top=2)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["b", "c"]
    assert len(fig.axes[0].patches) == 2 * 2


def test_notebook_02_checks_the_step_model_and_shows_the_form_inputs():
    source = "\n".join(code_cells("02_build_model.ipynb"))
    assert "StepModel(model, config)" in source and "feature_layout(config)" in source


def test_notebook_03_takes_one_training_step_by_hand():
    source = "\n".join(code_cells("03_train_model.ipynb"))
    assert "tf.GradientTape()" in source and "tape.gradient(" in source
    assert "optimizer.apply_gradients(" in source
    assert source.index("tape.gradient(") < source.index("train_model(config, RUN")
    assert "abs(ours - keras_loss) < 1e-4" in source  # our loss is the one Keras minimises


def test_notebook_04_writes_its_own_sampler_before_the_package_composes():
    source = "\n".join(code_cells("04_test_model.ipynb"))
    assert "def softmax(" in source and "def sample(" in source
    cell = next(c for c in code_cells("04_test_model.ipynb") if "def sample(" in c)
    sampler = cell.split("def sample(", 1)[1]
    assert len(sampler.splitlines()) <= 25, "the sampler should stay short enough to read"
    assert "(ours.melody == package.melody).all()" in source  # the same tune as the package's
    assert source.index("def sample(") < source.index("generate_tune(step_model")
    assert "plot_temperatures(" in source and "chord_temperature=" in source


def test_teaching_formulas_show_without_mathjax():
    # offline HTML pages (build/html, the browser check) load no MathJax: write formulas in HTML
    for name in sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                assert "$$" not in cell.source, f"{name}: LaTeX display math needs MathJax"
