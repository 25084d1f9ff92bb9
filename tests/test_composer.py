"""The interactive composer of notebook 04: built, clicked programmatically, it shows a piano
roll, sheet music and an audio player; a bad setting gives one line, not a traceback."""
from __future__ import annotations

import time

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from folkrnn import generate  # noqa: E402
from folkrnn.form import Plan  # noqa: E402
from folkrnn.composer import NO_PRIMER, Composer  # noqa: E402
from folkrnn.config import Config  # noqa: E402
from folkrnn.keys import key_fifths  # noqa: E402
from folkrnn.music import HOLD, Tune, onset, parse_chord  # noqa: E402
from folkrnn.require import require_tensorflow  # noqa: E402

TINY = Config(units=16, layers=1, melody_embedding=4, chord_embedding=4, position_embedding=2,
              meter_embedding=2)


@pytest.fixture(scope="module")
def step_model():
    require_tensorflow()
    from folkrnn.model import StepModel, build_model  # after require_tensorflow: quietly

    return StepModel(build_model(TINY), TINY)


def primer() -> Tune:
    melody = [onset(67), HOLD, onset(71), HOLD] * 8
    return Tune(np.array(melody), np.full(32, parse_chord("G")), meters=[(0, "6/8")], key="G",
                name="primer")


def kinds(outputs) -> list[str]:
    found = []
    for output in outputs:
        text = " ".join(str(v) for v in output["data"].values())
        found += [kind for kind, marks in (("figure", ["data:image/png"]),
                                           ("sheet music", ["<svg", "data:image/svg+xml"]),
                                           ("audio", ["<audio"])) if any(m in text for m in marks)]
    return found


def test_composer_shows_its_default_tune_before_any_click(step_model):
    composer = Composer(step_model, bars=4)
    assert composer.tune is not None and Plan.of_tune(composer.tune).total_bars == 4
    assert kinds(composer.output.outputs) == ["figure", "sheet music", "audio"]
    bundle = composer._repr_mimebundle_()
    model_id = bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert model_id == composer.ui.model_id
    static = bundle["text/html"]
    assert "run the notebook" in static
    assert kinds([{"data": {"text/html": static}}]) == ["figure", "sheet music", "audio"]


def test_clicking_compose_uses_every_control(step_model):
    composer = Composer(step_model, primers={"primer": primer()}, primer_bars=1)
    first = composer.tune
    composer.melody_temperature.value, composer.chord_temperature.value = 1.5, 0.5
    composer.seed.value, composer.bars.value = 7, 8
    composer.meter.value, composer.key.value = "3/4", "D"
    composer.form.value = "AABB"  # 2-bar parts: the second A is offered the first's notes
    started = time.monotonic()
    composer.button.click()
    seconds = time.monotonic() - started
    tune = composer.tune
    assert tune is not first and tune.meters == [(0, "3/4")]
    assert key_fifths(tune.key) == key_fifths("D")  # D major or its relative minor, B minor
    assert Plan.of_tune(tune).total_bars == 8 and len(tune) in (8 * 12, 9 * 12)  # a pickup?
    settings = composer.settings()
    assert settings["temperature"] == (1.5, 0.5) and settings["form"] == "AABB"
    again = generate.generate_tune(step_model, **settings)  # the controls are all it used
    assert np.array_equal(tune.melody, again.melody) and np.array_equal(tune.chords, again.chords)

    assert kinds(composer.output.outputs) == ["figure", "sheet music", "audio"]
    assert seconds < 10  # about a second on a laptop with the tuned model; generous here

    composer.key.value, composer.chords.value = composer.key.options[0], "Am E"
    composer.button.click()
    bar, first = 12, Plan.of_tune(composer.tune).bar_range(0)[0]  # after a pickup bar
    assert [c for c in composer.tune.chords[first::bar][:2]] == [parse_chord("Am"),
                                                                 parse_chord("E")]

    composer.chords.value = ""
    composer.primer.value = "primer"
    composer.button.click()
    assert composer.tune.meters[0][1] == "6/8"  # a primer brings its meter
    assert (composer.tune.melody[:12] == primer().melody[:12]).all()
    composer.primer.value = NO_PRIMER


def test_a_bad_setting_shows_one_line_and_keeps_the_last_tune(step_model):
    composer = Composer(step_model, bars=4)
    before, shown = composer.tune, composer.output.outputs
    composer.key.value, composer.chords.value = "G", "G D"  # key and chords together: refused
    composer.button.click()
    assert composer.tune is before and composer.output.outputs == shown
    assert "chords" in composer.status.value and "\n" not in composer.status.value
    assert not composer.button.disabled
