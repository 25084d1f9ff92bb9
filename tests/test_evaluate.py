"""Evaluation: baselines with known answers, the metrics, the model path and the JSON report."""
from __future__ import annotations

import json

import numpy as np
import pytest

from folkrnn import baselines, experts
from folkrnn import evaluate as ev
from folkrnn import music
from folkrnn.errors import FolkRNNError
from folkrnn.music import Tune

A, B, C = music.onset(60), music.onset(62), music.onset(64)
G, D = music.parse_chord("G"), music.parse_chord("D")


def _tunes(melody: list[int], chords: list[int], copies: int = 3, repeat: int = 50) -> list[Tune]:
    return [Tune(melody * repeat, chords * repeat, name=f"t{i}") for i in range(copies)]


def _baseline(name: str, tunes: list[Tune]) -> baselines.Baseline:
    return ev.make_baselines()[name].fit(tunes)


def _score(baseline: baselines.Baseline, tunes: list[Tune], seed: int = 0) -> dict[str, float]:
    return ev.score(tunes, (baseline.log_probs(t) for t in tunes), seed)


# --- baselines on hand-made corpora ------------------------------------------------------------
def test_bigram_learns_a_deterministic_alternation():
    tunes = _tunes([A, B], [G, D])
    scores = _score(_baseline("ngram2", tunes), tunes)
    assert scores["melody_nll"] < 0.03 and scores["chord_nll"] < 0.03
    assert scores["melody_acc"] == scores["chord_acc"] == 1.0
    assert scores["overall_sampled_acc"] > 0.98
    unigram = _score(_baseline("unigram", tunes), tunes)
    assert unigram["total_nll"] > 2 * np.log(2) - 0.05  # blind to history: a coin per stream


def test_position_baseline_knows_where_in_the_bar_it_is():
    # A 16-step bar: a note at the downbeat held for 12 steps, another held for 4. After four
    # holds a plain 5-gram can't tell whether the next note starts now or later; the position
    # says it.
    H = music.HOLD
    bar = [A] + [H] * 11 + [B] + [H] * 3
    tunes = _tunes(bar, [G] * 16)
    plain = _score(_baseline("ngram5", tunes), tunes)
    placed = _score(_baseline("ngram5_position", tunes), tunes)
    assert placed["melody_nll"] < 0.05 < plain["melody_nll"]
    assert placed["melody_onset_acc"] == 1.0 > plain["melody_onset_acc"]


def test_position_baseline_melody_hears_the_chord_of_its_step():
    # Each bar's note is the root of that bar's chord, and the chords come in a random order:
    # only a model that sees the chord of the step can name the note.
    rng = np.random.default_rng(0)
    chords = rng.choice([G, D], 400)
    notes = [[music.onset(67 if c == G else 62)] + [music.HOLD] * 3 for c in chords]
    melody, harmony = np.concatenate(notes), np.repeat(chords, 4)
    bars = [Tune(melody[i:i + 160], harmony[i:i + 160], name=str(i)) for i in range(0, 1600, 160)]
    plain = _score(_baseline("ngram5", bars), bars)
    placed = _score(_baseline("ngram5_position", bars), bars)
    assert placed["melody_onset_acc"] == 1.0 and plain["melody_onset_acc"] < 0.8
    assert placed["melody_nll"] < plain["melody_nll"] / 2


def test_onset_accuracy_counts_only_the_steps_where_a_note_starts():
    H = music.HOLD
    tune = Tune([A, H, H, H, B, H, H, H], [G] * 8)
    always_hold = np.full((8, music.MELODY_SIZE), -10.0)
    always_hold[:, H] = 0.0  # argmax says "hold" at every step
    chords = np.log(np.full((8, music.CHORD_SIZE), 1 / music.CHORD_SIZE))
    scores = ev.score([tune], [(always_hold, chords)])
    assert scores["melody_acc"] == 0.75 and scores["melody_onset_acc"] == 0.0
    assert scores["melody_onset_sampled_acc"] < 0.01


def test_unigram_nll_is_the_entropy_of_the_event_frequencies():
    tunes = _tunes([A, A, B, C], [G, G, G, D])  # melody 1/2, 1/4, 1/4; chords 3/4, 1/4
    model = baselines.Baseline(baselines.Unigram(music.MELODY_SIZE, alpha=1e-9),
                        baselines.Unigram(music.CHORD_SIZE, alpha=1e-9)).fit(tunes)
    scores = _score(model, tunes)
    assert scores["melody_nll"] == pytest.approx(1.5 * np.log(2), abs=1e-4)
    assert scores["chord_nll"] == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)),
                                                abs=1e-4)
    assert scores["melody_acc"] == 0.5 and scores["chord_acc"] == 0.75


def test_unigram_adds_one_to_every_count():
    tunes = [Tune([A, A, B], [G, G, G])]
    unigram = baselines.Unigram(music.MELODY_SIZE).fit([t.melody for t in tunes])
    lp = unigram.log_probs(np.array([A]))
    assert np.exp(lp[0, A]) == pytest.approx(3 / (3 + music.MELODY_SIZE))
    assert np.exp(lp[0, C]) == pytest.approx(1 / (3 + music.MELODY_SIZE))


def test_repeat_guesses_the_note_goes_on_and_fits_epsilon():
    R, H, N = music.REST, music.HOLD, music.NO_CHORD
    tunes = [Tune([A, H, H, R, R, B, H], [N, G, G, G, D, D, D])]
    model = _baseline("repeat", tunes)
    # melody guesses: rest (start), hold, hold, hold, rest, rest, hold -> wrong at steps 0, 3, 5
    assert model.melody.epsilon == pytest.approx(3 / 7)
    assert model.chord.epsilon == pytest.approx(2 / 7)  # the chord changes twice
    melody_lp, chord_lp = model.log_probs(tunes[0])
    assert np.exp(melody_lp[1, H]) == pytest.approx(4 / 7)
    assert np.exp(melody_lp[1, A]) == pytest.approx(3 / 7 / (music.MELODY_SIZE - 1))
    assert np.exp(chord_lp[3, G]) == pytest.approx(5 / 7)


def test_every_baseline_gives_a_distribution_at_every_step():
    rng = np.random.default_rng(1)
    train = [Tune(rng.integers(0, 8, 300), rng.integers(0, 6, 300)) for _ in range(4)]
    unseen = Tune(rng.integers(0, music.MELODY_SIZE, 200), rng.integers(0, music.CHORD_SIZE, 200))
    for name, model in ev.fit_baselines(train).items():
        for lp, size in zip(model.log_probs(unseen), (music.MELODY_SIZE, music.CHORD_SIZE)):
            assert lp.shape == (200, size), name
            assert np.all(np.isfinite(lp)), name
            np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-9, err_msg=name)


def test_longer_contexts_fit_a_pattern_that_shorter_ones_cannot():
    tunes = _tunes([A, A, B, A, C], [G] * 5)  # after A comes A, B or C: two steps tell which
    nll = [_score(_baseline(f"ngram{n}", tunes), tunes)["melody_nll"] for n in (2, 3, 4)]
    assert nll[0] > 0.3 and nll[1] < 0.05 and nll[2] < 0.05


# --- the lookback baseline -----------------------------------------------------------------------
def _random_tunes(count: int, seed: int, times: int = 2) -> list[Tune]:
    """Tunes of 8 random bars played ``times`` times (AA): a bar of four random quarter notes,
    each with a random chord. Only the lookback can tell the repeats, nothing else can."""
    rng = np.random.default_rng(seed)
    tunes = []
    for i in range(count):
        pitches = music.onset(60) + rng.integers(0, 12, (8, 4))
        melody = np.concatenate([[p, music.HOLD, music.HOLD, music.HOLD] for p in pitches.ravel()])
        chords = np.repeat(rng.choice([G, D, music.parse_chord("C")], 32), 4)
        tunes.append(Tune(np.tile(melody, times), np.tile(chords, times), name=f"{seed}-{i}"))
    return tunes


def test_lookback_baseline_predicts_a_repeated_part_from_the_bars_before():
    train, test = _random_tunes(40, seed=0), _random_tunes(5, seed=1)
    position, lookback = _baseline("ngram5_position", train), _baseline("ngram5_lookback", train)
    second_half = slice(8 * 16 + 4, None)  # after the first beat of the repeat
    nll = {}
    for name, model in (("position", position), ("lookback", lookback)):
        lp = [model.log_probs(t) for t in test]
        nll[name] = np.mean([-(m[np.arange(len(t)), t.melody] + c[np.arange(len(t)), t.chords])
                             [second_half].mean() for t, (m, c) in zip(test, lp)])
    assert nll["position"] > 0.8  # random bars: without the lookback, no way to know them
    assert nll["lookback"] < 0.1 * nll["position"]


def test_lookback_baseline_is_fitted_on_the_training_tunes_only():
    train, test = _random_tunes(30, seed=0), _random_tunes(5, seed=1, times=1)
    reported = ev.evaluate_baselines(train, test)["ngram5_lookback"]
    assert reported == _score(_baseline("ngram5_lookback", train), test)
    cheat = _score(_baseline("ngram5_lookback", train + test), test)  # had it seen the tunes
    assert cheat["total_nll"] < 0.9 * reported["total_nll"]


def test_lookback_baseline_does_not_peek_at_the_future():
    model = _baseline("ngram5_lookback", _random_tunes(20, seed=0))
    tune = _random_tunes(1, seed=1)[0]
    melody, chord = model.log_probs(tune)
    rng = np.random.default_rng(2)
    t = 150
    for chord_t_known in (True, False):  # the melody of step t hears its chord, as the LSTM does
        first_chord = t + 1 if chord_t_known else t
        future = Tune(np.concatenate([tune.melody[:t], rng.integers(0, 36, len(tune) - t)]),
                      np.concatenate([tune.chords[:first_chord],
                                      rng.integers(0, 37, len(tune) - first_chord)]))
        melody2, chord2 = model.log_probs(future)
        np.testing.assert_allclose(chord[:t + 1], chord2[:t + 1])
        np.testing.assert_allclose(melody[:first_chord], melody2[:first_chord])
        assert not np.allclose(melody[t + 1:], melody2[t + 1:])


def test_the_transposed_expert_hears_a_figure_in_any_key():
    H = music.HOLD
    figure = [0, 4, 7, 4, 2, 5, 9, 5]  # semitones above the tonic, one eighth note each

    def in_key(tonic: int) -> Tune:
        melody = np.concatenate([[music.onset(tonic + p), H] for p in figure] * 8)
        return Tune(melody, np.full(len(melody), music.NO_CHORD), name=str(tonic))
    train = experts.concatenate([experts.step_features(in_key(62)) for _ in range(3)])  # in D only
    elsewhere = experts.step_features(in_key(67))  # the same figure in G
    at = np.arange(len(elsewhere["melody"]))
    for levels, chain in ((experts.position_chain("melody"), experts.ContextChain),
                          (experts.moved_chain("melody"), experts.MovedChain)):
        model = chain("melody", levels).fit(train)
        nll = -model.log_probs(elsewhere)[at, elsewhere["melody"]][16:].mean()
        if chain is experts.MovedChain:
            assert nll < 0.05  # intervals: the same in every key
        else:
            assert nll > 1.0  # pitches it never heard


def test_fit_weights_trusts_the_expert_that_knows():
    rng = np.random.default_rng(0)
    truth = rng.dirichlet(np.full(6, 0.3), 3000)  # a different distribution at every step
    targets = np.array([rng.choice(6, p=p) for p in truth])
    noise = rng.dirichlet(np.ones(6), 3000)
    log_probs = np.log(np.stack([truth, noise]))
    weights = experts.fit_weights(log_probs, targets, center=np.array([0.5, 0.5]), pull=1e-3)
    assert weights[0] == pytest.approx(1.0, abs=0.1) and abs(weights[1]) < 0.1


# --- metrics -----------------------------------------------------------------------------------
def test_sounding_pitch_follows_holds_and_rests():
    R, H = music.REST, music.HOLD
    melody = np.array([H, R, H, A, H, H, R, B, B, H])
    assert ev.sounding(melody).tolist() == [R, R, R, A, A, A, R, B, B, B]
    drawn = np.array([H, H, H, H, A, R, H, C, H, B])  # a drawn hold continues the TRUE history
    assert ev.sampled_sounding(drawn, melody).tolist() == [R, R, R, R, A, R, A, C, B, B]


def _certain(events: np.ndarray, size: int) -> np.ndarray:
    """Log-probabilities of a predictor (almost) sure of ``events``."""
    return np.log(np.eye(size)[events] * (1 - 1e-12) + 1e-12 / size)


def test_sampled_accuracy_of_certain_predictors():
    R, H = music.REST, music.HOLD
    tune = Tune([A, H, H, B, B, H, R, C], [G, G, G, G, D, D, D, D])
    truth = [(_certain(tune.melody, 36), _certain(tune.chords, 37))]
    assert ev.score([tune], truth)["overall_sampled_acc"] == 1.0
    always_hold = [(_certain(np.full(8, H), 36), _certain(np.full(8, G), 37))]
    scores = ev.score([tune], always_hold)
    # sounding A A A B B B - C vs held: - A A A B B B -  -> right at steps 1, 2, 4, 5
    assert scores["melody_sampled_acc"] == 0.5
    assert scores["chord_sampled_acc"] == 0.5
    assert scores["overall_sampled_acc"] == 0.5
    assert scores["melody_acc"] == 3 / 8  # argmax compares events: holds at 1, 2, 5


def test_scores_are_reproducible_with_a_seed():
    tunes = _tunes([A, B, C, A], [G, D, G, D], repeat=20)
    model = _baseline("unigram", tunes)
    assert _score(model, tunes, seed=3) == _score(model, tunes, seed=3)
    assert _score(model, tunes, seed=3) != _score(model, tunes, seed=4)


def test_no_tunes_is_a_clear_error():
    with pytest.raises(FolkRNNError, match="no tunes"):
        ev.score([], [])


# --- the network -------------------------------------------------------------------------------
def _tiny_config(**changes):
    from folkrnn.config import Config

    return Config(units=24, layers=1, dropout=0.0, melody_embedding=8, chord_embedding=4,
                  learning_rate=1e-2, seq_len=32, batch_size=8).with_overrides(changes)


def test_padded_batches_give_the_same_log_probs_as_single_tunes():
    from folkrnn.model import build_model

    model = build_model(_tiny_config())
    rng = np.random.default_rng(0)
    tunes = [Tune(rng.integers(0, 36, n), rng.integers(0, 37, n)) for n in (5, 40, 17, 60)]
    one = ev.model_log_probs(model, tunes, batch_size=1)
    batched = ev.model_log_probs(model, tunes, batch_size=4)
    for (m1, c1), (m4, c4), tune in zip(one, batched, tunes):
        assert m1.shape == (len(tune), 36) and c1.shape == (len(tune), 37)
        np.testing.assert_allclose(m1, m4, atol=1e-5)
        np.testing.assert_allclose(c1, c4, atol=1e-5)
        np.testing.assert_allclose(np.exp(m1).sum(axis=1), 1.0, atol=1e-6)


def test_a_model_trained_on_a_tiny_set_beats_the_unigram_baseline():
    import keras

    from folkrnn.batches import batch_windows
    from folkrnn.inputs import input_keys
    from folkrnn.model import build_model

    H = music.HOLD
    keras.utils.set_random_seed(0)
    bar = [A, H, B, H, C, H, H, H, B, H, A, H, C, H, H, H]
    tunes = _tunes(bar, [G] * 8 + [D] * 8, copies=4, repeat=4)
    model = build_model(_tiny_config())
    names = input_keys(_tiny_config())
    for epoch in range(40):
        for inputs, targets, weights in batch_windows(tunes, 32, 8, epoch=epoch, names=names):
            model.train_on_batch(inputs, targets, sample_weight=weights)
    lstm = ev.evaluate_model(model, tunes)
    unigram = _score(_baseline("unigram", tunes), tunes)
    assert lstm["total_nll"] < 0.7 * unigram["total_nll"], (lstm, unigram)
    assert lstm["melody_acc"] > unigram["melody_acc"]


# --- the report --------------------------------------------------------------------------------
def _save_untrained_run(name: str) -> None:
    from folkrnn import model as folk_model
    from folkrnn import runs

    config = _tiny_config()
    folder = runs.run_dir(name)
    folder.mkdir(parents=True)
    (folder / runs.CONFIG_FILE).write_text(config.to_json())
    (folder / runs.VOCAB_FILE).write_text(json.dumps(music.vocabularies()))
    folk_model.build_model(config).save_weights(folder / runs.BEST_WEIGHTS)


def test_evaluate_run_reports_exactly_the_contract_keys(dataset_home, monkeypatch):
    monkeypatch.setenv("FOLKRNN_HOME", str(dataset_home))
    _save_untrained_run("eval-test")
    report = json.loads(json.dumps(ev.evaluate_run("eval-test", "valid")))
    assert set(report) >= {"model", "baselines"}
    assert list(report["baselines"]) == list(ev.BASELINE_NAMES)
    for metrics in [report["model"], *report["baselines"].values()]:
        assert set(metrics) == set(ev.METRIC_KEYS)
        assert all(isinstance(v, float) for v in metrics.values())
    assert report["tunes"] == 91 and report["split"] == "valid"
    # an untrained network is close to uniform: about log 36 + log 37 nats per step
    assert report["model"]["total_nll"] == pytest.approx(np.log(36) + np.log(37), rel=0.1)
    text = ev.format_report(report)
    assert "ngram5" in text and "model" in text and "total NLL" in text
    assert [r["name"] for r in ev.report_table(report)] == ["model", *ev.BASELINE_NAMES]


def test_evaluate_run_without_a_trained_run_names_the_fix(home):
    with pytest.raises(FolkRNNError, match="train it first"):
        ev.evaluate_run("missing")


# --- the real dataset --------------------------------------------------------------------------
def test_baselines_on_the_real_tunes_improve_with_context(tuneset):
    test = tuneset.test
    baselines = ev.fit_baselines(tuneset.train)
    report = {name: ev.score(test, (b.log_probs(t) for t in test)) for name, b in baselines.items()}
    total = {name: m["total_nll"] for name, m in report.items()}
    assert total["ngram5"] < total["ngram3"] < total["ngram2"] < total["repeat"] < total["unigram"]
    assert total["ngram5_position"] < 0.9 * total["ngram5"]  # told the bar and the chord
    assert total["ngram5_lookback"] < 0.7 * total["ngram5_position"]  # and the bars before
    for lp in baselines["ngram5_lookback"].log_probs(test[0]):  # a distribution at every step
        np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-9)
    assert 1.0 < total["ngram5"] < 2.5  # the LSTM has to beat this by 25 %
    assert report["repeat"]["chord_acc"] > 0.85  # chords change rarely
