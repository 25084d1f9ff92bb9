"""The sampler and the `folkrnn generate` contract, with a tiny untrained model."""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import zipfile

import numpy as np
import pytest

from folkrnn import form, generate, keys, listen, metrics, music
from folkrnn.config import Config
from folkrnn.errors import FolkRNNError
from folkrnn.inputs import tune_arrays
from folkrnn.model import StepModel, build_model, load_step_model
from folkrnn.music import HOLD, NO_CHORD, REST, Tune, onset, parse_chord

TINY = Config(units=16, layers=1, melody_embedding=4, chord_embedding=4, position_embedding=2,
              meter_embedding=2)


def require_tool(name: str) -> None:
    """Skip when an optional tool is missing, but FAIL if FOLKRNN_REQUIRE_TOOLS=1 (CI)."""
    if shutil.which(name) is not None:
        return
    if os.environ.get("FOLKRNN_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{name} is not installed (make system-deps)")
    pytest.skip(f"{name} is not installed (make system-deps)")


@pytest.fixture(scope="module")
def step_model() -> StepModel:
    return StepModel(build_model(TINY), TINY)


class Spy:
    """Wraps a StepModel, records every call and checks that the state is carried over."""

    def __init__(self, inner, melody_bias: np.ndarray | None = None):
        self.inner, self.bias = inner, melody_bias
        self.fed: list[tuple[int, int, int, int]] = []  # melody, chord, position, meter
        self.form_inputs: list[dict[str, int]] = []  # the form inputs by name
        self.melody_chords: list[int] = []
        self.chord_calls = 0
        self.states = None
        self.returned: list = []

    def initial_state(self, batch):
        self.states = self.inner.initial_state(batch)
        return self.states

    @property
    def inputs(self):  # what the sampler asks the model for: the inputs it reads
        return self.inner.inputs

    def step_ids(self, ids, states):
        # the state of the previous step, or (a cadence drawn again) one returned before
        assert states is self.states or any(states is old for old in self.returned)
        names = [i.name for i in self.inner.inputs]
        self.fed.append(tuple(int(i) for i in ids[:4, 0]))
        self.form_inputs.append(dict(zip(names[4:], ids[4:, 0].tolist())))
        hidden, self.states = self.inner.step_ids(ids, states)
        self.returned.append(self.states)
        return hidden, self.states

    def chord_logits(self, hidden):
        self.chord_calls += 1
        return self.inner.chord_logits(hidden)

    def melody_logits(self, hidden, next_chord):
        self.melody_chords.append(int(next_chord[0]))
        logits = self.inner.melody_logits(hidden, next_chord)
        return logits if self.bias is None else logits * 0 + self.bias


def real_tune(name: str) -> Tune:
    from conftest import offline_zip

    with zipfile.ZipFile(offline_zip()) as archive:
        data = archive.read(f"nottingham-dataset-master/MIDI/{name}.mid")
    return music.midi_to_tune(music.load_midi(data), name)


# --- the sampler -------------------------------------------------------------------------------
def test_same_seed_same_tune_other_seed_other_tune(step_model):
    first = generate.sample_tune(step_model, generate.blank_tune(96, "4/4"), seed=7)
    assert generate.sample_tune(step_model, generate.blank_tune(96, "4/4"), seed=7) == first
    assert generate.sample_tune(step_model, generate.blank_tune(96, "4/4"), seed=8) != first


def test_one_step_per_time_step_feeding_back_the_sampled_events(step_model):
    spy = Spy(step_model)
    tune = generate.sample_tune(spy, generate.blank_tune(80, "6/8"), seed=1)
    assert len(spy.fed) == 80  # never re-runs the sequence
    assert spy.fed[0][:2] == (REST, NO_CHORD)
    fed = [(m, c) for m, c, _, _ in spy.fed[1:len(tune)]]
    assert fed == list(zip(tune.melody[:-1].tolist(), tune.chords[:-1].tolist()))
    positions = [p for _, _, p, _ in spy.fed]
    assert positions == [t % 12 for t in range(80)]  # the position of the step predicted
    assert {m for _, _, _, m in spy.fed} == {music.METERS.index("6/8")}
    assert spy.chord_calls == 80 and len(spy.melody_chords) == 80


def test_a_hold_never_follows_a_rest(step_model):
    bias = np.zeros(music.MELODY_SIZE)
    bias[[REST, HOLD]] = 20.0  # without the mask, a hold would follow a rest half the time
    spy = Spy(step_model, melody_bias=bias)
    generate.sample_tune(spy, generate.blank_tune(200, "4/4"), seed=0)
    raw = [m for m, _, _, _ in spy.fed[1:]]  # every sampled event, before normalise
    assert raw[0] == REST and set(raw) == {REST}


def test_sampled_events_decode_to_midi_and_back(step_model):
    tune = generate.sample_tune(step_model, generate.blank_tune(160, "3/4"), seed=3, top_k=10)
    assert len(tune) > 100 and tune.meters == [(0, "3/4")]
    assert tune.melody.min() >= 0 and tune.melody.max() < music.MELODY_SIZE
    data = music.midi_bytes(music.tune_to_midi(tune))
    assert music.midi_to_tune(music.load_midi(data)) == tune


def test_generated_abc_is_read_by_abc2midi(step_model, tmp_path):
    require_tool("abc2midi")
    tune = generate.generate_tune(step_model, bars=8, meter="6/8", seed=5,
                                      temperature=(0.8, 1.2))
    paths = listen.save_tune(tune, midi=tmp_path / "t.mid", abc=tmp_path / "t.abc")
    result = subprocess.run(["abc2midi", str(paths[1]), "-o", str(tmp_path / "back.mid")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Error" not in result.stdout + result.stderr
    back = music.read_tune(tmp_path / "back.mid", require_chords=False)
    assert music.melody_notes(back.melody) == music.melody_notes(tune.melody)


def test_sample_event_respects_top_k_temperature_and_masks():
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 1.0, 3.0, 2.0])
    assert {generate.sample_event(logits, 1.0, 1, rng) for _ in range(50)} == {2}
    assert {generate.sample_event(logits, 1.0, 2, rng) for _ in range(200)} == {2, 3}
    assert {generate.sample_event(logits, 1e-3, 0, rng) for _ in range(50)} == {2}
    masked = np.array([5.0, -np.inf, 5.0, -np.inf])
    assert {generate.sample_event(masked, 10.0, 0, rng) for _ in range(200)} == {0, 2}


# --- chords, meters, lengths ------------------------------------------------------------------
def test_chord_conditioned_melody_follows_the_given_chords_exactly(step_model):
    spy = Spy(step_model)
    tune = generate.generate_tune(spy, bars=8, meter="6/8", chords="G D/G Em C", seed=2,
                                  form="free")
    g, d, em, c = (parse_chord(n) for n in ("G", "D", "Em", "C"))
    bar_chords = [[g] * 12, [d] * 6 + [g] * 6, [em] * 12, [c] * 12]
    expected = np.concatenate(bar_chords * 2)
    pickup = len(tune) - 96  # the pickup bar (kept if the model wrote notes in it) has no chord
    assert pickup in (0, 12) and not tune.chords[:pickup].any()
    assert np.array_equal(tune.chords[pickup:], expected)  # from the first full bar
    # the melody head saw exactly these chords (after the pickup's silent downbeat)
    assert spy.melody_chords == [0] * 11 + expected.tolist()
    assert spy.chord_calls == 0  # chords are given, never sampled
    plain = generate.generate_tune(spy, bars=8, meter="6/8", chords="G D/G Em C", seed=2,
                                   form="free", pickup=False)
    assert np.array_equal(plain.chords, expected)


def test_chord_conditioning_also_works_with_independent_heads():
    config = Config(**{**TINY.__dict__, "factorised": False})
    model = StepModel(build_model(config), config)
    tune = generate.generate_tune(model, bars=3, chords=["Am", "E7"], seed=0, pickup=False)
    expected = [parse_chord("Am")] * 16 + [parse_chord("E7")] * 16 + [parse_chord("Am")] * 16
    assert np.array_equal(tune.chords, expected)


def test_parse_progression():
    g, d, em = (parse_chord(n) for n in ("G", "D", "Em"))
    assert generate.parse_progression("G D/G, Em") == [[g], [d, g], [em]]
    assert generate.parse_progression(["G", "D/G"]) == [[g], [d, g]]


def test_lengths_from_bars_steps_and_the_default(step_model, monkeypatch):
    # chords everywhere: no trailing silence is trimmed; no pickup bar: the lengths are exact
    kw = dict(chords="G", seed=0, pickup=False)
    assert len(generate.generate_tune(step_model, bars=3, meter="9/8", **kw)) == 54
    assert len(generate.generate_tune(step_model, steps=50, **kw)) == 50
    monkeypatch.setenv("FOLKRNN_SMOKE", "1")  # smoke mode is a training preset only
    default = generate.DEFAULT_BARS
    assert len(generate.generate_tune(step_model, **kw)) == default * 16
    assert len(generate.generate_tune(step_model, meter="2/4", **kw)) == default * 8
    # a pickup bar comes on top of the bars asked for; a length in steps is exact
    assert len(bar_melodies(generate.generate_tune(step_model, bars=3, chords="G"))) == 3
    assert len(generate.generate_tune(step_model, steps=50, chords="G")) == 50


# --- primes ------------------------------------------------------------------------------------
def test_a_midi_prime_is_kept_and_continued(step_model, tmp_path):
    source = real_tune("jigs1")
    listen.save_tune(source, midi=tmp_path / "jig.mid")
    assert generate.load_prime(tmp_path / "jig.mid", bars=3) == source.slice(0, 36)
    prime = generate.load_prime(tmp_path / "jig.mid")  # 4 bars by default
    n = 4 * 12
    assert len(prime) == n and prime == source.slice(0, n)
    spy = Spy(step_model)
    tune = generate.generate_tune(spy, prime=tmp_path / "jig.mid", bars=12, seed=4, form="free")
    # 12 full bars after the prime's pickup bar (12 steps each in 6/8)
    assert tune.meters == [(0, "6/8")] and 100 < len(tune) <= 13 * 12
    assert np.array_equal(tune.melody[:n], prime.melody)
    assert np.array_equal(tune.chords[:n], prime.chords)
    fed = [m for m, _, _, _ in spy.fed[1:n + 1]]
    assert fed == prime.melody.tolist()  # teacher forced through the prime
    assert len(spy.melody_chords) == len(spy.fed) - n  # sampled only after it


def test_a_prime_without_chords_is_accepted(step_model, tmp_path):
    melody_only = real_tune("jigs1")
    melody_only.chords[:] = NO_CHORD
    listen.save_tune(melody_only, midi=tmp_path / "melody.mid")
    tune = generate.generate_tune(step_model, prime=tmp_path / "melody.mid", bars=8)
    n = 4 * 12
    assert np.array_equal(tune.melody[:n], melody_only.melody[:n])
    assert not tune.chords[:n].any()


def test_a_held_out_test_tune_as_prime(step_model, dataset_home, monkeypatch):
    monkeypatch.setenv("FOLKRNN_HOME", str(dataset_home))
    from folkrnn.dataset import load_dataset

    first = load_dataset().test[0]
    by_number = generate.load_prime("test:0")
    assert by_number == generate.load_prime(f"test:{first.name}")
    assert np.array_equal(by_number.melody, first.slice(0, len(by_number)).melody)
    tune = generate.generate_tune(step_model, prime="test:0", bars=20, seed=1)
    assert np.array_equal(tune.melody[:len(by_number)], by_number.melody)
    with pytest.raises(FolkRNNError, match="no test tune"):
        generate.load_prime("test:no-such-tune")
    with pytest.raises(FolkRNNError, match="only"):
        generate.load_prime("test:100000")


# --- keys --------------------------------------------------------------------------------------
def scale_tune(tonic: int, shape, repeats: int = 3) -> Tune:
    pitches = [tonic + i for i in shape] + [tonic + 12, tonic, tonic + shape[2], tonic + 7]
    melody = np.concatenate([[onset(p)] + [HOLD] * 3 for p in pitches * repeats])
    return Tune(melody, np.zeros(len(melody)), [(0, "4/4")], "C", "scale")


def test_estimate_key_finds_major_and_minor_tonics():
    assert keys.estimate_key(scale_tune(60, [0, 2, 4, 5, 7, 9, 11])) == "C"
    assert keys.estimate_key(scale_tune(69, [0, 2, 3, 5, 7, 8, 10])) == "Am"
    assert keys.estimate_key(scale_tune(62, [0, 2, 4, 5, 7, 9, 11])) == "D"


def test_to_key_matches_the_tonic_or_else_the_key_signature():
    c_major = scale_tune(60, [0, 2, 4, 5, 7, 9, 11])
    in_d = generate.to_key(c_major, "D")
    assert in_d.key == "D"
    assert np.array_equal(in_d.melody, music.transpose_melody(c_major.melody, 2))
    assert generate.to_key(c_major, "Em").key == "G"  # a major tune stays major: relative key
    assert generate.to_key(scale_tune(69, [0, 2, 3, 5, 7, 8, 10]), "Em").key == "Em"


def test_to_key_folds_notes_that_would_leave_the_range():
    wide = [onset(p) for p in range(music.MIN_PITCH, music.MAX_PITCH + 1)]  # the whole range
    melody = np.concatenate([wide, scale_tune(60, [0, 2, 4, 5, 7, 9, 11]).melody])
    tune = Tune(melody, np.zeros(len(melody)), [(0, "4/4")], "C")
    assert keys.estimate_key(tune) == "C"
    moved = generate.to_key(tune, "F#")
    assert moved.key == "F#" and moved.melody.max() < music.MELODY_SIZE
    assert keys.estimate_key(moved) == "F#"


def test_generate_with_a_key(step_model):
    tune = generate.generate_tune(step_model, bars=8, key="D", seed=3)
    assert tune.key in ("D", "Bm") and keys.estimate_key(tune) == tune.key
    assert tune.melody.max() < music.MELODY_SIZE


# --- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": 0}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"temperature": (1.0, 0.0)}, "temperature"),
    ({"meter": "7/8"}, "unsupported meter"),
    ({"chords": "G X7 C"}, "unknown chord"),
    ({"chords": "G Hm"}, "unknown chord"),
    ({"chords": "  "}, "no chords"),
    ({"top_k": -1}, "top_k"),
    ({"key": "H"}, "unknown key"),
    ({"key": "D", "chords": "G C"}, "--key and --chords"),
    ({"steps": 0}, "steps=0"),
    ({"bars": 0}, "bars=0"),
    ({"bars": 100_000}, "ask for 1 to 512 bars"),
    ({"steps": 10**9}, "steps=1000000000"),
    ({"temperature": float("nan")}, "temperature"),
    ({"temperature": float("inf")}, "temperature"),
    ({"temperature": (1.0, float("nan"))}, "chord temperature nan"),
    ({"temperature": (1.0, 1.0, 1.0)}, "one number, or a pair"),
    ({"steps": 64, "bars": 4}, "not both"),
    ({"form": "A-B"}, "form"),
    ({"temperature": (1.0, 1.0), "chord_temperature": 0.5}, "chord temperature once"),
    ({"chord_temperature": 0}, "chord temperature 0 must be"),
    ({"temperature": -1, "chord_temperature": 0.5}, "^temperature -1 must be"),
    ({"echo_bias": float("nan")}, "echo_bias"),
])
def test_bad_arguments_are_readable_errors(step_model, kwargs, message):
    with pytest.raises(FolkRNNError, match=message):
        generate.generate_tune(step_model, **kwargs)


def test_bad_primes_are_readable_errors(step_model, tmp_path):
    junk = tmp_path / "junk.mid"
    junk.write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(FolkRNNError, match="not a readable MIDI file"):
        generate.generate_tune(step_model, prime=junk)
    with pytest.raises(FolkRNNError, match="no such file"):
        generate.generate_tune(step_model, prime=tmp_path / "missing.mid")
    listen.save_tune(real_tune("jigs1"), midi=tmp_path / "jig.mid")
    with pytest.raises(FolkRNNError, match="shorter prime"):  # a 4-bar prime, 2 bars asked
        generate.generate_tune(step_model, prime=tmp_path / "jig.mid", bars=2)


def test_a_missing_run_is_a_readable_error(home):
    with pytest.raises(FolkRNNError, match="train it first"):
        load_step_model("no-such-run")


# --- form --------------------------------------------------------------------------------------
def bar_melodies(tune: Tune) -> list[list[int]]:
    """The melody of every full bar (a pickup bar left out)."""
    plan = form.Plan.of_tune(tune)
    return [tune.melody[slice(*plan.bar_range(i))].tolist() for i in range(plan.total_bars)]


def from_first_bar(tune: Tune) -> np.ndarray:
    """The melody from the first full bar (after any pickup)."""
    return tune.melody[form.Plan.of_tune(tune).bar_range(0)[0]:]


def test_default_is_a_32_bar_aabb_tune_whose_repeats_the_form_imposes(step_model):
    spy = Spy(step_model)  # chords: nothing is trimmed; an infinite bias copies note for note
    tune = generate.generate_tune(spy, chords="G", seed=3, copy_bias=math.inf)
    bars = bar_melodies(tune)
    assert len(bars) == generate.DEFAULT_BARS == 32
    assert bars[8:15] == bars[0:7] and bars[24:31] == bars[16:23]  # A and B again, but ...
    # ... the last bar of a repeat (its second ending) is the model's own, and so is B
    assert bars[8:16] != bars[0:8] or bars[15] == bars[7]
    assert bars[16:24] != bars[0:8]
    # the copied steps were fed to the model as if it had played them
    fed = "".join(f"{m}," for m, _, _, _ in spy.fed)  # (cadences drawn again are fed too)
    assert "".join(f"{m}," for m in from_first_bar(tune)[8 * 16:15 * 16]) in fed
    free = generate.generate_tune(step_model, chords="G", seed=3, form="free")
    assert len(bar_melodies(free)) == 32
    assert metrics.repeated_bars(free) < metrics.repeated_bars(tune)


def test_a_repeated_part_is_offered_and_its_first_bar_decides(step_model):
    def second_a(bias: float) -> list[tuple[list, list]]:  # (first A, second A), 6 tunes
        tunes = [generate.generate_tune(step_model, bars=16, form="AA", seed=seed,
                                        copy_bias=bias) for seed in range(6)]
        return [(bar_melodies(t)[:7], bar_melodies(t)[8:15]) for t in tunes]
    offered = second_a(0.0) + second_a(2.5)
    for first, again in offered:  # begun as before: note for note; else a part of its own
        assert again == first or again[0] != first[0], (first, again)
    assert any(again[0] != first[0] for first, again in offered)  # the model declined once
    assert all(again == first for first, again in second_a(math.inf))
    declined = [sum(a[0] != f[0] for f, a in second_a(bias)) for bias in (0.0, 12.0)]
    assert declined[0] > declined[1], declined  # the bias makes playing it again likelier


def test_a_second_ending_avoids_the_first_endings_notes(step_model):
    def shared(bias: float) -> int:  # note onsets of a later A's last bar equal to the first's
        count = 0
        for seed in range(8):
            melody = from_first_bar(generate.generate_tune(
                step_model, form="AAAA", seed=seed, copy_bias=math.inf, contrast_bias=bias))
            first = melody[7 * 16:8 * 16]
            for part in (1, 2, 3):
                later = melody[(8 * part + 7) * 16:(8 * part + 8) * 16]
                count += int(((first == later) & music.is_onset(first)).sum())
        return count
    counts = [shared(bias) for bias in (0.0, 50.0)]
    assert counts[0] > counts[1] == 0, counts


def test_a_new_parts_second_phrase_is_offered_its_first_phrases_opening(step_model):
    def echoed(bias: float) -> list[bool]:  # bars 5-6 equal to bars 1-2, in A and in B
        out = []
        for seed in range(4):
            bars = bar_melodies(generate.generate_tune(step_model, chords="G", seed=seed,
                                                       form="AB", echo_bias=bias))
            out += [bars[first + 4] == bars[first] and bars[first + 5] == bars[first + 1]
                    for first in (0, 8)]
        return out
    assert all(echoed(math.inf))  # note for note
    assert sum(echoed(0.0)) < len(echoed(0.0))  # not offered: the model's own bars
    assert form.echo_sources(0, 8) == {4: 0, 5: 1} and form.echo_sources(8, 14) == {12: 8}
    assert form.echo_sources(8, 13) == {}  # a part's last bar is its cadence: never echoed
    # a new part after another is also offered that part's bar 7 (it closes as A did)
    assert form.echo_sources(8, 16, before=0) == {12: 8, 13: 9, 14: 6}
    for seed in range(2):
        bars = bar_melodies(generate.generate_tune(step_model, chords="G", seed=seed,
                                                   form="AB", echo_bias=math.inf))
        assert bars[14] == bars[6]  # B's bar 7 is A's bar 7
    with pytest.raises(FolkRNNError, match="echo_bias"):
        generate.generate_tune(step_model, echo_bias=-1)


def test_a_new_part_avoids_the_notes_of_the_part_before(step_model):
    def shared(bias: float) -> int:  # B's note onsets equal to A's at the same step
        count = 0
        for seed in range(4):
            tune = generate.generate_tune(step_model, chords="G", seed=seed, form="AB",
                                          echo_bias=0.0, contrast_bias=bias)
            melody = from_first_bar(tune)
            a, b = melody[:8 * 16], melody[8 * 16:16 * 16]
            count += int(((a == b) & music.is_onset(a))[:7 * 16].sum())  # B's last bar: cadence
        return count
    counts = [shared(bias) for bias in (0.0, 1.0, 50.0)]
    assert counts[0] >= counts[1] >= counts[2] == 0 and counts[0] > 0, counts
    with pytest.raises(FolkRNNError, match="contrast_bias"):
        generate.generate_tune(step_model, contrast_bias=math.inf)


def test_the_last_bar_is_drawn_again_until_it_ends_on_the_tonic(step_model):
    def on_tonic(candidates: int) -> float:  # of 12 tunes, how many end on the tonic
        return sum(metrics.ends_on_tonic(generate.sample_tune(
            step_model, generate.blank_tune(8 * 16, "4/4"), form="AB", seed=seed,
            candidates=candidates)) for seed in range(12))
    assert on_tonic(8) > on_tonic(1)  # (no note is moved: the rest end where the model did)


def test_only_the_last_part_is_redrawn_for_a_cadence_unless_asked(step_model):
    def a_end_steps_fed(part_cadences: bool) -> list[int]:  # steps of A's last bar, per tune
        counts = []
        for seed in range(6):
            spy = Spy(step_model)
            generate.generate_tune(spy, bars=16, form="AB", seed=seed,
                                   part_cadences=part_cadences)
            counts.append(sum(f["part"] == 0 and f["bar_in_part"] == 7
                              for f in spy.form_inputs))
        return counts
    assert a_end_steps_fed(False) == [16] * 6  # written once
    redrawn = a_end_steps_fed(True)
    assert all(c % 16 == 0 for c in redrawn) and sum(redrawn) > 16 * 6, redrawn


def test_chords_change_only_on_beats_under_the_rule(step_model):
    for rule in (True, False):
        changes = []
        for seed in range(4):
            tune = generate.generate_tune(step_model, bars=8, meter="6/8", seed=seed,
                                          form="free", chord_temperature=3.0,
                                          chords_on_beats=rule)
            steps = np.nonzero(tune.chords[1:] != tune.chords[:-1])[0] + 1
            changes += (tune.positions[steps] % 6).tolist()
        off_beat = sum(p != 0 for p in changes)
        assert (off_beat == 0) == rule, (rule, changes)


def test_top_p_keeps_the_likeliest_events_that_make_up_p():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    drawn = {generate.sample_event(logits, 1.0, 0, rng, top_p=0.7) for _ in range(300)}
    assert drawn == {0, 1}  # 0.5 + 0.3 reach 0.7; the tail is never drawn
    assert {generate.sample_event(logits, 1.0, 0, rng, top_p=0.01) for _ in range(50)} == {0}


@pytest.mark.parametrize("letters", ["AABA", "ABC", "AB"])
def test_forms_repeat_the_parts_with_the_same_letter(step_model, letters):
    tune = generate.generate_tune(step_model, chords="G", seed=1, form=letters, meter="6/8",
                                  copy_bias=math.inf)
    bars = bar_melodies(tune)
    assert len(bars) == 8 * len(letters)  # 8 bars per part by default
    for part in range(len(letters)):
        for earlier in range(part):  # all but the last bar equal iff the letters are equal
            same = bars[8 * part:8 * part + 7] == bars[8 * earlier:8 * earlier + 7]
            assert same == (letters[part] == letters[earlier])


@pytest.mark.parametrize("letters", ["free", "AA"])
def test_the_sampler_feeds_the_form_inputs_training_sees(step_model, letters):
    spy = Spy(step_model)
    layout = generate.blank_tune(12 * 16, "6/8")
    tune = generate.sample_tune(spy, layout, seed=5, chords=np.full(len(layout), 7),
                                form=letters, candidates=1)  # one draw per step
    assert len(tune) == len(layout) == len(spy.fed) and not form.has_pickup(tune)
    names = [i.name for i in spy.inner.inputs]
    expected = tune_arrays(tune, names)  # what training computes from the finished tune
    for key in names[4:]:
        assert [i[key] for i in spy.form_inputs] == expected[key].tolist(), key
    if letters == "AA":  # the second part copies the first, 8 bars on: the lag-8 flag is set
        assert (expected["repeats"][8 * 12 + 4:15 * 12] >= 8).all()


def test_a_prime_with_a_pickup_adds_a_bar_and_stays_in_the_form(step_model, tmp_path):
    source = real_tune("jigs1")
    assert form.has_pickup(source)
    prime = generate.load_prime(source, bars=3)
    tune = generate.generate_tune(step_model, prime=prime, form="AB", chords=None, seed=2)
    assert np.array_equal(tune.melody[:len(prime)], prime.melody)
    plan = form.Plan.of(tune, pickup=True)
    assert plan.total_bars == 16 or len(tune) < 17 * 12  # the pickup bar + two 8-bar parts
    assert len(tune) <= 17 * 12


def test_a_tune_opens_with_a_pickup_bar_whose_notes_the_model_writes(step_model):
    spy = Spy(step_model)
    tune = generate.generate_tune(spy, bars=8, meter="4/4", seed=0)
    # the model is told it is writing a pickup bar (as 83% of the real tunes open), then bar 0
    assert [f["bar_in_part"] for f in spy.form_inputs[:17]] == [form.PICKUP] * 16 + [0]
    assert form.Plan.of_tune(tune).total_bars == 8
    if len(tune.bars()) == 9:  # kept: silent on its downbeat, with notes leading into bar 0
        assert form.has_pickup(tune) and music.is_onset(tune.melody[:16]).any()
    else:  # a pickup the model left silent is dropped
        assert len(tune.bars()) == 8
    plain = Spy(step_model)
    generate.generate_tune(plain, bars=8, meter="4/4", seed=0, pickup=False)
    assert plain.form_inputs[0]["bar_in_part"] == 0
