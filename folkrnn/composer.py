"""An interactive composer: turn the knobs of `generate.generate_tune`, press Compose, and see
(piano roll, sheet music) and hear (audio player) the new tune. Used at the end of notebook 04.

Standard ipywidgets only (sliders, dropdowns, a text box, a button and an ``Output``), so it
works in JupyterLab, Jupyter Notebook and VS Code. A page without a live kernel (the notebook
executed headless, exported to HTML) cannot run the model; there the composer shows the tune
it composed with its default settings, as plain HTML.
"""
from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as w
from IPython.core.formatters import DisplayFormatter

from folkrnn import form, generate, keys, music
from folkrnn.errors import FolkRNNError
from folkrnn.figures import DescribedFigure, plot_piano_roll
from folkrnn.listen import audio, sheet_music
from folkrnn.music import Tune

ANY = "let the model choose"
NO_PRIMER = "none: start from scratch"


def _bundle(obj: Any) -> dict[str, Any]:
    """The MIME bundle of a displayable object (a figure with alt text, SVG, audio, text)."""
    if isinstance(obj, DescribedFigure):
        return {"text/html": obj.to_html(), "text/plain": obj.alt_text()}
    data, _ = DisplayFormatter().format(obj)
    return data


def _as_html(bundle: Mapping[str, Any]) -> str:
    for mime in ("text/html", "image/svg+xml"):
        if mime in bundle:
            return str(bundle[mime])
    return f"<pre>{html.escape(str(bundle.get('text/plain', '')))}</pre>"


class Composer:
    """The widget (``.ui``) and what it does (``.compose()``); show it as a cell's value.

    ``step_model``: `model.load_step_model(run)`. ``primers``: tunes the model may continue
    (their first ``primer_bars`` bars), by name. ``bars``: the default length (the parts of the
    form share it). ``bpm``: playback speed (None: the meter's).
    """

    def __init__(self, step_model, *, primers: Mapping[str, Tune] | None = None,
                 primer_bars: int = 2, bars: int = 16, seed: int = 0, bpm: float | None = None):
        self.step_model, self.primers = step_model, dict(primers or {})
        self.primer_bars, self.bpm = primer_bars, bpm
        self.tune: Tune | None = None
        self._bundles: list[dict[str, Any]] = []
        style = {"description_width": "11em"}  # "melody temperature" in full
        wide = w.Layout(width="30em")
        temperature = dict(min=0.1, max=2.0, step=0.05, readout_format=".2f", style=style,
                           layout=wide, continuous_update=False)
        self.melody_temperature = w.FloatSlider(value=generate.DEFAULT_TEMPERATURE,
                                                description="melody temperature", **temperature)
        self.chord_temperature = w.FloatSlider(value=generate.DEFAULT_CHORD_TEMPERATURE,
                                               description="chord temperature", **temperature)
        self.meter = w.Dropdown(options=music.METERS, value="4/4", description="meter",
                                style=style, layout=wide)
        self.key = w.Dropdown(options=[ANY, *keys.KEY_NAMES], value=ANY, description="key",
                              style=style, layout=wide)
        self.bars = w.IntSlider(value=bars, min=2, max=32, description="length (bars)",
                                tooltip="the whole tune, primer included",
                                style=style, layout=wide, continuous_update=False)
        forms, default_form = self._forms()
        self.form = w.Dropdown(options=forms or [ANY], value=default_form, description="form",
                               style=style, layout=wide, disabled=not forms,
                               tooltip="which parts repeat (free: the model alone decides)")
        self.chords = w.Text(value="", placeholder='e.g. "G D Em C" (empty: the model chooses)',
                             description="chords", style=style, layout=wide)
        self.seed = w.IntText(value=seed, description="seed", style=style, layout=wide)
        self.primer = w.Dropdown(options=[NO_PRIMER, *self.primers], value=NO_PRIMER,
                                 description="primer tune", style=style, layout=wide)
        self.button = w.Button(description="Compose", button_style="primary", icon="music",
                               tooltip="compose a new tune with these settings")
        self.status = w.HTML()
        self.output = w.Output()
        self.button.on_click(lambda _: self.compose())
        controls = w.VBox([self.melody_temperature, self.chord_temperature, self.meter,
                           self.key, self.bars, self.form, self.chords, self.seed, self.primer,
                           w.HBox([self.button, self.status])])
        self.ui = w.VBox([controls, self.output])
        self.compose()  # the default tune: what a page without a kernel shows

    def _forms(self) -> tuple[list[str], str]:
        """The forms to offer (`form.FORMS`) and the default one."""
        return list(form.FORMS), form.DEFAULT_FORM

    def settings(self) -> dict[str, Any]:
        """The keyword arguments for `generate.generate_tune` that the controls hold now."""
        kwargs: dict[str, Any] = dict(seed=int(self.seed.value), meter=self.meter.value,
                                      temperature=(self.melody_temperature.value,
                                                   self.chord_temperature.value))
        if self.key.value != ANY:
            kwargs["key"] = self.key.value
        if self.chords.value.strip():
            kwargs["chords"] = self.chords.value.strip()
        kwargs["form"] = self.form.value  # its parts share the length equally
        kwargs["bars"] = int(self.bars.value)
        if self.primer.value != NO_PRIMER:
            prime = generate.load_prime(self.primers[self.primer.value], bars=self.primer_bars)
            kwargs["prime"] = prime
            kwargs["meter"] = prime.meters[-1][1]
        return kwargs

    def compose(self) -> Tune | None:
        """Compose with the current settings and show the tune (or the one-line problem)."""
        self.button.disabled, self.status.value = True, "<i>composing…</i>"
        try:
            kwargs = self.settings()
            tune = generate.generate_tune(self.step_model, **kwargs)
            title = self._title(kwargs, tune)
            shown = [plot_piano_roll(tune, title=title),
                     sheet_music(tune, title=title, bpm=self.bpm), audio(tune, bpm=self.bpm)]
        except FolkRNNError as error:
            self.status.value = f'<span style="color:#b00">{html.escape(str(error))}</span>'
            return None
        finally:
            self.button.disabled = False
        self.tune, self._bundles = tune, [_bundle(obj) for obj in shown]
        self.output.outputs = tuple({"output_type": "display_data", "data": b, "metadata": {}}
                                    for b in self._bundles)
        self.status.value = html.escape(f"{len(tune)} steps, key {tune.key}")
        return tune

    @staticmethod
    def _title(kwargs: Mapping[str, Any], tune: Tune) -> str:
        melody, chord = kwargs["temperature"]
        parts = [f"seed {kwargs['seed']}", f"temperatures {melody:g}/{chord:g}",
                 f"key {tune.key}", tune.meters[-1][1]]
        if "chords" in kwargs:
            parts.append(f"over {kwargs['chords']}")
        if "form" in kwargs:
            parts.append(f"form {kwargs['form']}")
        return "Composed: " + ", ".join(parts)

    def static_html(self) -> str:
        """The last tune as plain HTML (piano roll, sheet music, audio) for pages without a
        kernel, e.g. the notebook exported by nbconvert."""
        note = ("<p><i>The composer's controls need a running kernel: run the notebook to use "
                "them. Here is the tune it composed with its default settings.</i></p>")
        return note + "".join(_as_html(b) for b in self._bundles)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        # A live frontend draws the widget (its view has the highest rank); nbconvert without
        # stored widget state falls back to the static HTML.
        bundle = dict(self.ui._repr_mimebundle_())
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = "Composer (run the notebook to use its controls)"
        return bundle


def composer(step_model, **options) -> Composer:
    """An interactive composer for ``step_model`` (see `Composer`). Notebook 04."""
    return Composer(step_model, **options)
