"""The judge: can a classifier tell generated tunes from real ones?

Explained in notebook 04_test_model ("Can a classifier tell?"). A classifier two-sample test
(Lopez-Paz & Oquab, ICLR 2017): describe every tune by a few dozen features with musical names
(where notes start in the bar, intervals, note lengths, scale degrees, where chords change,
repetition, …), cut all tunes to the same length, compare like with like (the same shares of
meters and of lengths on both sides), and train a classifier to say which tunes are real. Its
cross-validated AUC is the verdict: 0.5 means it can't tell the two sets apart, 1.0 that it
always can. The same classifier trained on one group of features at a time says what
gives the tunes away; real tunes against other real tunes give the reference (near 0.5).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from folkrnn import form, keys, metrics, music
from folkrnn.dataset import SPLITS, TuneSet
from folkrnn.errors import FolkRNNError
from folkrnn.music import Tune
from folkrnn.tables import Table

CUT_BARS = 32  # every tune is cut to this many full bars (a generated tune's default length)
REAL_BARS = (16, 34)  # real tunes of this many bars (pickup included) take part
# Meter families: the onset pattern is compared position by position within a family.
FAMILIES = {"4/4": ("4/4", "2/2"), "6/8": ("6/8",)}
BAR_STEPS = {"4/4": 16, "6/8": 12}
BEAT_STEPS = {"4/4": 4, "6/8": 6}  # a beat: a quarter note, a dotted quarter
LENGTHS = {"16th": (1,), "8th": (2,), "dotted_8th": (3,), "quarter": (4,), "dotted_quarter": (6,),
           "other": (5, 7), "half_or_longer": (8,)}  # note lengths in steps (8: 8 or more)
FOLDS = 5


# --- tunes of the same length ----------------------------------------------------------------
def family_of(tune: Tune) -> str | None:
    """The meter family (`FAMILIES`) of a tune in one meter, else None."""
    meters = {m for _, m in tune.meters}
    return next((f for f, members in FAMILIES.items() if meters <= set(members)), None)


def cut(tune: Tune, bars: int = CUT_BARS) -> Tune:
    """The tune from its first full bar (a pickup dropped), at most ``bars`` bars long."""
    plan = form.Plan.of_tune(tune)
    tune = tune.slice(plan.bar_range(0)[0] if plan.total_bars else 0, len(tune))
    starts = tune.bar_starts + [len(tune)]
    return tune.slice(0, starts[min(bars, len(starts) - 1)])


def comparable(tunes: Sequence[Tune], bars: int = CUT_BARS,
               lengths: tuple[int, int] = REAL_BARS) -> list[Tune]:
    """The tunes in one meter family whose bar count is within ``lengths``, each `cut`."""
    return [cut(t, bars) for t in tunes
            if family_of(t) and lengths[0] <= len(t.bars()) <= lengths[1]]


# --- features --------------------------------------------------------------------------------
@dataclass
class _View:
    """What several features of one tune share, computed once."""

    tune: Tune
    family: str | None
    pitches: np.ndarray  # of the note onsets, in order
    intervals: np.ndarray  # between consecutive notes, in semitones
    onsets: np.ndarray  # bool per step
    profile: np.ndarray  # `onset_profile`
    tonic: int  # of the estimated key (`keys.estimate_key`)
    key: str

    @classmethod
    def of(cls, tune: Tune) -> "_View":
        pitches, key = music.onset_pitches(tune.melody), keys.estimate_key(tune)
        return cls(tune, family_of(tune), pitches, np.diff(pitches), music.is_onset(tune.melody),
                   onset_profile(tune), keys.key_tonic(key)[0], key)


def _share(mask: np.ndarray) -> float:
    return float(np.mean(mask)) if len(mask) else math.nan


def onset_profile(tune: Tune) -> np.ndarray:
    """The share of bars with a note starting at each position of the bar (16ths)."""
    positions, onsets = tune.positions, music.is_onset(tune.melody)
    bar = max(music.steps_per_bar(m) for _, m in tune.meters)
    return np.array([_share(onsets[positions == k]) for k in range(bar)])


def _onset_name(family: str, position: int) -> str:
    return f"onset_{family.replace('/', '')}_at_{position:02d}"


def _onsets(v: _View) -> dict[str, float]:
    out = {}
    for family, bar in BAR_STEPS.items():
        profile = v.profile if v.family == family else np.full(bar, math.nan)
        out |= {_onset_name(family, k): float(profile[k]) for k in range(bar)}
    return out | {"same_rhythm_as_previous_bar": metrics.groove_consistency(v.tune)}


def _six_eight(v: _View) -> dict[str, float]:
    """The lean: how much more often a jig's notes start on the 6/8 beat (the second dotted
    quarter, step 6) than on the 3/4 beats (steps 4 and 8); > 0 sounds like 6/8."""
    if v.family != "6/8":
        return {"six_eight_lean": math.nan, "sounds_six_eight": math.nan}
    lean = float(v.profile[6] - (v.profile[4] + v.profile[8]) / 2)
    return {"six_eight_lean": lean, "sounds_six_eight": float(lean > 0)}


def _note_lengths(v: _View) -> dict[str, float]:
    lengths = np.array([end - start for start, end, _ in music.melody_notes(v.tune.melody)])
    clipped = np.minimum(lengths, 8)
    out = {f"notes_{name}": _share(np.isin(clipped, steps)) for name, steps in LENGTHS.items()}
    out.update(mean_note_length=float(lengths.mean()) if len(lengths) else math.nan,
               notes_per_bar=metrics.notes_per_bar(v.tune), rest_share=metrics.rest_rate(v.tune))
    return out


def _intervals(v: _View) -> dict[str, float]:
    size, moves = np.abs(v.intervals), v.intervals[v.intervals != 0]
    return {"stepwise_share": _share(size <= 2),  # steps of at most a whole tone, repeats too
            "repeated_notes": metrics.repeated_note_rate(v.tune),
            "steps": _share((size >= 1) & (size <= 2)), "thirds": _share((size >= 3) & (size <= 4)),
            "leaps": _share(size >= 5), "leaps_beyond_fifth": _share(size > 7),
            "mean_abs_interval": float(size.mean()) if len(size) else math.nan,
            "ascending_share": _share(moves > 0)}


def _scale(v: _View) -> dict[str, float]:
    degrees = (v.pitches - v.tonic) % 12
    out = {f"degree_{d:02d}": _share(degrees == d) for d in range(12)}
    out.update(pitch_class_entropy=metrics.pitch_class_entropy(v.tune),
               pitch_classes=metrics.pitch_classes(v.tune),
               scale_consistency=metrics.scale_consistency(v.tune))
    return out


def _key(v: _View) -> dict[str, float]:
    fifths = keys.key_fifths(v.key)
    return {"key_sharps_or_flats": float(abs(fifths)), "key_fifths": float(fifths),
            "minor_key": float(keys.key_tonic(v.key)[1])}


def _chord_changes(v: _View) -> dict[str, float]:
    chords, positions = v.tune.chords, v.tune.positions
    changes = np.nonzero(chords[1:] != chords[:-1])[0] + 1
    beat = BEAT_STEPS.get(v.family or "", 4)
    bar_of = np.cumsum(positions == 0)
    inside = changes[positions[changes] != 0]
    return {"offbeat_chord_changes": _share(positions[changes] % beat != 0),
            "chord_changes_on_downbeat": _share(positions[changes] == 0),
            "chord_changes_per_bar": len(changes) / max(int(bar_of[-1]), 1),
            "bars_changing_chord_inside": len(set(bar_of[inside])) / max(int(bar_of[-1]), 1)}


def _harmony(v: _View) -> dict[str, float]:
    chords = v.tune.chords
    root, quality = np.divmod(chords[chords != music.NO_CHORD].astype(int) - 1,
                              len(music.QUALITIES))
    function = (root - v.tonic) % 12  # the chord's root as a degree of the key
    qualities = list(music.QUALITIES)
    return {"chord_tones": metrics.chord_tone_ratio(v.tune),
            "no_chord_share": _share(chords == music.NO_CHORD),
            "tonic_chord_share": _share(function == 0),
            "subdominant_chord_share": _share(function == 5),
            "dominant_chord_share": _share(function == 7),
            "other_chord_share": _share(~np.isin(function, (0, 5, 7))),
            "minor_chord_share": _share(quality == qualities.index("m")),
            "seventh_chord_share": _share(quality == qualities.index("7")),
            "distinct_chords": float(len(set(chords.tolist()) - {music.NO_CHORD}))}


def _repetition(v: _View) -> dict[str, float]:
    bars = [v.tune.melody[a:b].tobytes() for a, b in v.tune.bars()]
    # repetition inside a part: the bar 8 back (the part played again) is not counted
    recent = [bars[i] in bars[max(0, i - 7):i] for i in range(1, len(bars))]
    return {"bars_repeating_one_of_7_before": _share(np.array(recent)),
            "bars_equal_to_8_before": _share(np.array([bars[i] == bars[i - 8]
                                                       for i in range(8, len(bars))])),
            "a_part_recurs_exactly": metrics.aabb_form(v.tune, share=1.0),
            "a_part_recurs": metrics.aabb_form(v.tune),
            "repeated_bars": metrics.repeated_bars(v.tune),
            "repeated_bars_with_chords": metrics.repetition(v.tune),
            "longest_repeat": metrics.longest_repeat(v.tune)}


def _register(v: _View) -> dict[str, float]:
    return {"pitch_range": metrics.pitch_range(v.tune)} | {
        name: float(function(v.pitches)) if len(v.pitches) else math.nan for name, function in
        (("mean_pitch", np.mean), ("pitch_sd", np.std), ("lowest", np.min), ("highest", np.max))}


def _endings(v: _View) -> dict[str, float]:
    starts = np.nonzero(v.onsets)[0]
    last_bars = [bar for i, bar in enumerate(v.tune.bars()) if i % form.PART_BARS == 7]
    # each part's last note (what the form's cadence rule decides), and the note sounding on
    # the downbeat of its last bar (the cadence a listener hears before any pickup notes)
    last = np.searchsorted(starts, [b for _, b in last_bars]) - 1
    downbeat = np.searchsorted(starts, [a for a, _ in last_bars], side="right") - 1
    lengths = [end - start for start, end, _ in music.melody_notes(v.tune.melody)[-1:]]

    def tonic_or_dominant(notes: np.ndarray) -> float:
        return _share(np.isin((v.pitches[notes[notes >= 0]] - v.tonic) % 12, (0, 7)))

    return {"ends_on_tonic": metrics.ends_on_tonic(v.tune),
            "part_last_note_tonic_or_dominant": tonic_or_dominant(last),
            "part_cadence_tonic_or_dominant": tonic_or_dominant(downbeat),
            "last_note_length": float(lengths[0]) if lengths else math.nan}


# Each group of features, with what it describes (the per-group AUCs use these names).
GROUPS: dict[str, tuple[str, Callable[[_View], dict[str, float]]]] = {
    "onsets": ("where notes start in the bar (per position, per meter family)", _onsets),
    "six_eight_feel": ("jigs whose onsets sound like 6/8 rather than 3/4", _six_eight),
    "note_lengths": ("how long notes and rests are", _note_lengths),
    "intervals": ("melodic intervals: steps, leaps, repeated notes", _intervals),
    "scale": ("scale degrees from the estimated tonic; pitch-class entropy", _scale),
    "key": ("the estimated key: accidentals, mode", _key),
    "chord_changes": ("where chords change: off the beat, per bar", _chord_changes),
    "harmony": ("chord tones under the melody; which chords", _harmony),
    "repetition": ("bars and parts that repeat", _repetition),
    "register": ("range and register of the melody", _register),
    "endings": ("last note and part endings", _endings),
}


def tune_features(tune: Tune) -> dict[str, float]:
    """Every feature of one tune (NaN where undefined, e.g. 6/8 features of a reel)."""
    view = _View.of(tune)
    return {name: float(value) for _, function in GROUPS.values()
            for name, value in function(view).items()}


def feature_groups() -> dict[str, str]:
    """The group of every feature name, in `tune_features` order."""
    view = _View.of(Tune(np.zeros(16), np.zeros(16)))
    return {name: group for group, (_, function) in GROUPS.items() for name in function(view)}


def feature_matrix(tunes: Sequence[Tune]) -> np.ndarray:
    """One row of `tune_features` per tune, columns in `feature_groups` order."""
    names = list(feature_groups())
    return np.array([[row[n] for n in names] for row in map(tune_features, tunes)]).reshape(
        len(tunes), len(names))


# --- the classifier --------------------------------------------------------------------------
def classifiers(seed: int = 0) -> dict:
    """The two classifiers the judge tries: a logistic regression on standardised features
    (missing ones filled with the mean) and an ensemble of small gradient-boosted trees."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    linear = LogisticRegression(max_iter=2000)
    return {"logistic regression": make_pipeline(SimpleImputer(keep_empty_features=True),
                                                 StandardScaler(), linear),
            "boosted trees": HistGradientBoostingClassifier(max_iter=50, max_depth=3,
                                                            random_state=seed)}


def cross_validated_auc(x: np.ndarray, y: np.ndarray, seed: int = 0,
                        models: Sequence[str] | None = None) -> dict[str, float]:
    """The mean AUC over `FOLDS` stratified folds (fixed ``seed``) of each of `classifiers`
    (or of those named in ``models``)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    with threadpool_limits(limits=1):  # the trees' OpenMP threads: the machine is shared
        return {name: float(np.mean(cross_val_score(model, x, y, cv=folds, scoring="roc_auc")))
                for name, model in classifiers(seed).items() if models is None or name in models}


def stratum(tune: Tune) -> tuple[str | None, int]:
    """What the judge balances (`balance`): the tune's meter family and its number of bars."""
    return family_of(tune), len(tune.bars())


def balance(real: Sequence[Tune], other: Sequence[Tune], seed: int = 0
            ) -> tuple[list[Tune], list[Tune]]:
    """Both sets with the same share of each `stratum` (meter family and bar count), so that
    neither the meters nor the lengths give anything away: generated tunes of 32 bars meet
    the real tunes of 32 bars, not the 16-bar ones. The larger set is subsampled to the
    smaller one's shares; a stratum one set lacks, or that would cost more tunes than it
    brings, is left out of both."""
    real_is_small = len(real) <= len(other)
    small, large = (real, other) if real_is_small else (other, real)
    count = Counter(stratum(t) for t in small)
    pools = {s: [t for t in large if stratum(t) == s] for s in count}
    ratios = [len(pools[s]) / count[s] for s in count if pools[s]]

    def fits(s: tuple, ratio: float) -> bool:  # the large set has `ratio` tunes per small one
        return bool(pools[s]) and len(pools[s]) >= count[s] * ratio - 1e-9

    def kept_at(ratio: float) -> float:  # at `ratio` large tunes per small tune: how many
        kept = [(n, round(n * ratio)) for s, n in count.items() if fits(s, ratio)]
        a, b = (sum(k) for k in zip(*kept))  # tunes the comparison has (a two-sample test's
        return a * b / (a + b)  # power grows with this: 200 against 200 beats 10 against 1000)

    ratio = max(ratios, key=kept_at, default=0.0)
    strata = {s for s in count if fits(s, ratio)}
    rng = np.random.default_rng(seed)
    kept = [pools[s][i] for s in sorted(strata, key=str)
            for i in sorted(rng.permutation(len(pools[s]))[:round(count[s] * ratio)])]
    small = [t for t in small if stratum(t) in strata]
    return (small, kept) if real_is_small else (kept, small)


# --- the verdict -----------------------------------------------------------------------------
# The local statistics shown side by side: (label, feature).
LOCAL = [("stepwise share (intervals of at most 2 semitones)", "stepwise_share"),
         ("mean interval size (semitones)", "mean_abs_interval"),
         ("chord changes that fall off the beat", "offbeat_chord_changes"),
         ("jigs that sound like 6/8 rather than 3/4", "sounds_six_eight"),
         ("onset pattern: distance to the real tunes' mean pattern", "onset_pattern_distance"),
         ("last note = tonic", "ends_on_tonic"),
         ("A part recurring exactly", "a_part_recurs_exactly"),
         ("bars repeating one of the 7 bars before", "bars_repeating_one_of_7_before"),
         ("pitch-class entropy (bits)", "pitch_class_entropy")]


@dataclass
class FeatureRow:
    """One feature: its group, mean ± sd over each set, and the AUC of that feature alone
    (0.5: same distribution; the farther from 0.5, the more it gives the tunes away)."""

    name: str
    group: str
    real_mean: float
    real_sd: float
    other_mean: float
    other_sd: float
    auc: float


@dataclass
class Verdict:
    """What `judge` found: overall and per-group cross-validated AUC, the features."""

    auc: float  # the better classifier's cross-validated AUC
    model: str  # which classifier that was
    model_aucs: dict[str, float]
    by_group: dict[str, float]  # that classifier on each group's features alone
    features: list[FeatureRow]
    sizes: tuple[int, int]  # tunes compared (real, other)
    labels: tuple[str, str] = ("real", "generated")

    def give_aways(self, count: int = 10) -> list[FeatureRow]:
        """The features that tell the sets apart best on their own."""
        return sorted(self.features, key=lambda r: -abs(r.auc - 0.5))[:count]

    def group_table(self) -> Table:
        rows = [[group, GROUPS[group][0], round(auc, 2)] for group, auc in
                sorted(self.by_group.items(), key=lambda item: -item[1])]
        return Table(["feature group", "what it describes", "AUC"], rows,
                     f"{self.labels[0]} vs {self.labels[1]} ({self.sizes[0]} vs {self.sizes[1]} "
                     f"tunes): AUC {self.auc:.2f} ({self.model})")

    def feature_table(self, count: int = 10) -> Table:
        return Table(["feature", "group", self.labels[0], self.labels[1], "AUC alone"],
                     [[r.name, r.group, _mean_sd(r.real_mean, r.real_sd),
                       _mean_sd(r.other_mean, r.other_sd), round(r.auc, 2)]
                      for r in self.give_aways(count)],
                     f"the features that give the tunes away most (mean ± sd; AUC alone: 1 = "
                     f"always higher in the {self.labels[1]} tunes, 0 = always lower)")

    def local_table(self) -> Table:
        """The local statistics side by side (mean ± sd), and whether the other set's mean is
        within one standard deviation of the real one."""
        rows = [next(r for r in self.features if r.name == name) for _, name in LOCAL]
        return Table(["statistic", self.labels[0], self.labels[1], "within 1 sd"],
                     [[label, _mean_sd(r.real_mean, r.real_sd), _mean_sd(r.other_mean, r.other_sd),
                       "yes" if abs(r.other_mean - r.real_mean) <= r.real_sd else "no"]
                      for (label, _), r in zip(LOCAL, rows)], "local statistics")

    def __repr__(self) -> str:
        return "\n\n".join(repr(t) for t in (self.group_table(), self.local_table(),
                                             self.feature_table()))


def _mean_sd(mean: float, sd: float) -> str:
    return f"{mean:.3f} ± {sd:.3f}"


def _feature_rows(names: list[str], x: np.ndarray, y: np.ndarray) -> list[FeatureRow]:
    from sklearn.metrics import roc_auc_score

    groups, rows = feature_groups(), []
    for j, name in enumerate(names):
        known = ~np.isnan(x[:, j])
        a, b = x[known & (y == 0), j], x[known & (y == 1), j]
        auc = (float(roc_auc_score(y[known], x[known, j])) if len(a) and len(b) else math.nan)
        stats = [float(f(s)) if len(s) else math.nan for s in (a, b) for f in (np.mean, np.std)]
        rows.append(FeatureRow(name, groups.get(name, "onsets"), *stats, auc))  # + the distance
    return rows


def _onset_distance(tunes: Sequence[Tune], x: np.ndarray, names: list[str],
                    reference: np.ndarray) -> np.ndarray:
    """Per tune: the mean |difference| between its onset profile and the mean profile of the
    ``reference`` rows of its meter family."""
    out = np.full(len(tunes), math.nan)
    for family in FAMILIES:
        columns = [names.index(_onset_name(family, k)) for k in range(BAR_STEPS[family])]
        rows = np.array([family_of(t) == family for t in tunes])
        if rows.any() and (rows & reference).any():
            mean = x[np.ix_(rows & reference, columns)].mean(0)
            out[rows] = np.nanmean(np.abs(x[np.ix_(rows, columns)] - mean), 1)
    return out


def judge(real: Sequence[Tune], other: Sequence[Tune], *, bars: int = CUT_BARS, seed: int = 0,
          lengths: tuple[int, int] = REAL_BARS, labels: tuple[str, str] = ("real", "generated")
          ) -> Verdict:
    """Can a classifier tell ``other`` (e.g. generated tunes) from ``real``? (notebook 04)

    Both sets go through `comparable` (one meter family, ``lengths`` bars, cut to ``bars``
    bars) and `balance` (the same shares of meters and of lengths). The better of
    `classifiers` by `cross_validated_auc` on all features gives the verdict; that classifier
    on each group's features alone says what gives the tunes away.
    """
    real, other = balance(comparable(real, bars, lengths), comparable(other, bars, lengths), seed)
    if min(len(real), len(other)) < 2 * FOLDS:
        raise FolkRNNError(f"the judge needs at least {2 * FOLDS} tunes on each side, in 4/4 or "
                           f"6/8, {lengths[0]} to {lengths[1]} bars long, and of meters and "
                           f"lengths both sides have; it got {len(real)} and {len(other)}: give "
                           "it more such tunes")
    tunes = real + other
    y = np.array([0] * len(real) + [1] * len(other))
    groups = feature_groups()
    names = list(groups)
    x = feature_matrix(tunes)
    aucs = cross_validated_auc(x, y, seed)
    best = max(aucs, key=aucs.get)
    by_group = {group: cross_validated_auc(x[:, [j for j, n in enumerate(names)
                                                  if groups[n] == group]], y, seed, [best])[best]
                for group in GROUPS}
    distance = _onset_distance(tunes, x, names, y == 0)
    rows = _feature_rows(names + ["onset_pattern_distance"], np.column_stack([x, distance]), y)
    return Verdict(aucs[best], best, aucs, by_group, rows, (len(real), len(other)), labels)


def real_tunes(tuneset: TuneSet, splits: Sequence[str] = SPLITS) -> list[Tune]:
    """The tunes of ``splits``, one of each group of duplicates: a classifier that met one copy
    in training would know the other in testing (cross-validation would leak)."""
    copies = {name for group in tuneset.duplicates for name in group[1:]}
    return [t for split in splits for t in tuneset.tunes[split] if t.name not in copies]


def reference(tuneset: TuneSet, *, seed: int = 0, bars: int = CUT_BARS) -> Verdict:
    """The reference: `judge` on real held-out tunes (valid + test) against real training
    tunes. Near 0.5: the judge sees no difference where there is none."""
    return judge(real_tunes(tuneset, ("train",)), real_tunes(tuneset, ("valid", "test")),
                 bars=bars, seed=seed, labels=("real (train)", "real (valid + test)"))

