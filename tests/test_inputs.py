"""The model's inputs have one owner (folkrnn.inputs): names, sizes, tables, and one computation
for training (all steps of a finished tune) and composing (one step at a time)."""
import json
from dataclasses import replace

import numpy as np

from folkrnn import form, inputs, music
from folkrnn.config import Config
from folkrnn.music import HOLD, REST, Tune, onset

NO_FORM = Config(lookback="", structure=False, meter_position_embedding=0, last_note=False)


def test_a_config_names_the_inputs_it_reads_in_order():
    assert inputs.input_keys(NO_FORM) == ("melody", "chord", "position", "meter", "next_chord")
    assert inputs.input_keys(replace(NO_FORM, lookback="1,2")) == (
        "melody", "chord", "position", "meter", "lookback_melody_1", "lookback_chord_1",
        "lookback_melody_2", "lookback_chord_2", "repeats", "next_chord")
    assert inputs.input_keys(replace(NO_FORM, structure=True))[-4:-1] == form.STRUCTURE_KEYS
    assert inputs.input_keys(replace(NO_FORM, meter_position_embedding=4, last_note=True)) == (
        "melody", "chord", "position", "meter", "meter_position", "last_note", "next_chord")


def test_the_last_note_is_the_one_a_step_or_leap_is_measured_from():
    melody = np.array([REST, onset(60), HOLD, HOLD, REST, onset(62), HOLD, onset(64)])
    layout = Tune(melody, np.zeros(len(melody), int))
    found = inputs.tune_arrays(layout, ["melody", "last_note"])
    assert found["melody"].tolist()[3:6] == [HOLD, HOLD, REST]  # the step before says little
    assert found["last_note"].tolist() == [REST, REST] + [onset(60)] * 4 + [onset(62)] * 2
    assert inputs.moves_with("last_note") == "melody"  # a transposition moves it


def test_the_meter_position_tells_a_jig_bar_from_a_waltz_bar():
    layout = Tune(np.full(48, REST), np.zeros(48, int), [(0, "3/4"), (24, "6/8")])
    ids = inputs.tune_arrays(layout, ["position", "meter_position"])
    waltz, jig = slice(0, 12), slice(24, 36)  # a bar of each: 12 steps, positions 0..11
    np.testing.assert_array_equal(ids["position"][waltz], ids["position"][jig])
    assert not set(ids["meter_position"][waltz]) & set(ids["meter_position"][jig])
    assert len(set(ids["meter_position"][:24])) == 12  # the same positions, the same ids
    assert ids["meter_position"].max() < inputs.by_names(["meter_position"])[0].size


def test_a_run_saved_before_the_newer_inputs_existed_builds_without_them():
    saved = json.loads(Config().to_json())
    del saved["meter_position_embedding"], saved["last_note"], saved["keep_register"]
    assert not Config.from_dict(saved).keep_register  # transposed as it was: by key only
    old = inputs.input_keys(Config.from_dict(saved))
    assert "meter_position" not in old and "last_note" not in old
    assert {"meter_position", "last_note"} <= set(inputs.input_keys(Config()))


def test_inputs_about_the_same_thing_share_a_table_of_the_right_size():
    config = Config()
    tables = inputs.embedding_tables(config)
    assert tables["melody"] == (music.MELODY_SIZE, config.melody_embedding)
    assert tables["chord"] == (music.CHORD_SIZE, config.chord_embedding)
    assert tables["repeats"] == (2 ** 4, config.form_embedding)
    by_table = {i.name: i.table for i in inputs.model_inputs(config)}
    assert by_table["lookback_melody_8"] == "melody" and by_table["lookback_chord_2"] == "chord"
    assert inputs.moves_with("lookback_melody_4") == "melody"
    assert inputs.moves_with("target_chord") == "chord" and inputs.moves_with("part") is None


def test_tune_arrays_predict_each_step_from_the_one_before(tuneset):
    tune = tuneset.train[0]
    arrays = inputs.tune_arrays(tune, inputs.input_keys(Config()))
    assert arrays["melody"][0] == REST and arrays["chord"][0] == music.NO_CHORD
    np.testing.assert_array_equal(arrays["melody"][1:], tune.melody[:-1])
    np.testing.assert_array_equal(arrays["target_melody"], tune.melody)
    np.testing.assert_array_equal(arrays["next_chord"], tune.chords)
    np.testing.assert_array_equal(arrays["position"], tune.positions)
    structure = form.Plan.of_tune(tune).structure()
    np.testing.assert_array_equal(arrays["bars_left"], structure["bars_left"])


def test_one_step_at_a_time_equals_all_steps_at_once_even_when_steps_are_rewritten():
    rng = np.random.default_rng(1)
    melody = rng.choice([REST, HOLD, onset(60), onset(62)], size=200)
    melody[16:48] = melody[:32]  # some repetition, so that the flags are set
    chords = rng.integers(0, 5, size=200)
    layout = Tune(melody, chords, [(0, "4/4"), (100, "6/8")])  # a meter change
    plan = form.Plan.of(layout)
    wanted = inputs.model_inputs(Config())
    expected = inputs.inputs_at(melody, chords, plan, np.arange(200), wanted)
    assert expected[[i.name for i in wanted].index("repeats")].any()
    written, written_chords = np.zeros(200, int), np.zeros(200, int)
    for t in range(200):
        if t == 60:  # write steps 50..59 wrongly once, then again correctly (a retried bar)
            written[50:60] = onset(70)
            inputs.inputs_at(written, written_chords, plan, np.arange(50, 60), wanted)
            written[50:60] = melody[50:60]
        written_chords[t] = chords[t]  # the chord of step t is drawn first (next_chord)
        ids = inputs.inputs_at(written, written_chords, plan, np.array([t]), wanted)
        np.testing.assert_array_equal(ids[:, 0], expected[:, t], err_msg=f"step {t}")
        written[t] = melody[t]


def test_shift_tables_move_ids_like_transposing_the_tune():
    tables = inputs.shift_tables()
    melody = np.array([REST, HOLD, onset(60), onset(67)])
    np.testing.assert_array_equal(tables["melody"][3 + 12, melody],
                                  music.transpose_melody(melody, 3))
    chords = np.arange(music.CHORD_SIZE)
    np.testing.assert_array_equal(tables["chord"][-5 + 12, chords],
                                  music.transpose_chords(chords, -5))
