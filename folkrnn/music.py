"""The music representation: a tune as one melody event and one chord class per 16th note.

Explained in notebook 02_build_model. A `Tune` holds, for every 16th-note step:

* a **melody event**: ``REST``, ``HOLD`` (the sounding note goes on) or the onset of a pitch in
  ``MIN_PITCH..MAX_PITCH``. Hold and onset differ, so a repeated note stays two notes;
* a **chord class**: ``N`` (no chord) or a root with one of three qualities (major, minor,
  dominant seventh); rarer chords are folded into the nearest of these;
* the **meter** (from the time signatures), which gives each step its position in the bar.

`midi_to_tune` reads a PrettyMIDI object (melody track + chord track) and `tune_to_midi` writes
one back, such that ``midi_to_tune(tune_to_midi(t)) == t``. Note and key names: `folkrnn.keys`.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pretty_midi

from folkrnn.errors import FolkRNNError
from folkrnn.keys import KEY_NAMES, PITCH_NAMES, pitch_class, transpose_key

STEPS_PER_QUARTER = 4  # the grid: 16th notes
MIN_PITCH, MAX_PITCH = 55, 88  # melody range of the Nottingham tunes (G3..E6)

# --- melody events ---------------------------------------------------------------------------
REST, HOLD = 0, 1
ONSET = 2  # the first onset event: event ONSET + k is the onset of pitch MIN_PITCH + k
NUM_PITCHES = MAX_PITCH - MIN_PITCH + 1
MELODY_SIZE = 2 + NUM_PITCHES

# --- chord classes ---------------------------------------------------------------------------
QUALITIES = {"": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10)}  # major, minor, dominant 7th
NO_CHORD = 0
CHORD_SIZE = 1 + 12 * len(QUALITIES)

# Chord shapes found in real tunes, each folded into (root offset, quality) of a known class.
# A diminished triad sits inside the dominant 7th a major third below (Bdim = G7 without G).
CHORD_TEMPLATES: list[tuple[tuple[int, ...], int, str]] = [
    ((0, 4, 7), 0, ""), ((0, 3, 7), 0, "m"), ((0, 4, 7, 10), 0, "7"),
    ((0, 4, 7, 11), 0, ""), ((0, 3, 7, 10), 0, "m"), ((0, 4, 7, 9), 0, ""),
    ((0, 3, 7, 9), 0, "m"), ((0, 4, 8), 0, ""), ((0, 4, 8, 10), 0, "7"),
    ((0, 5, 7), 0, ""), ((0, 2, 7), 0, ""), ((0, 2, 4, 7, 10), 0, "7"),
    ((0, 1, 4, 7, 10), 0, "7"), ((0, 3, 6), -4, "7"), ((0, 3, 6, 9), -4, "7"),
    ((0, 3, 6, 10), -4, "7"), ((0, 7), 0, ""), ((0, 4), 0, ""), ((0, 3), 0, "m"), ((0,), 0, ""),
]



def melody_name(event: int) -> str:
    """A readable name for a melody event: ``rest``, ``hold`` or a pitch such as ``D5``."""
    if event == REST:
        return "rest"
    if event == HOLD:
        return "hold"
    return pretty_midi.note_number_to_name(event_pitch(event))


def onset(pitch: int) -> int:
    """The melody event for the onset of MIDI ``pitch``."""
    if not MIN_PITCH <= pitch <= MAX_PITCH:
        raise ValueError(f"pitch {pitch} is outside the melody range {MIN_PITCH}..{MAX_PITCH}")
    return ONSET + pitch - MIN_PITCH


def event_pitch(event: int) -> int | None:
    """The MIDI pitch of an onset event, or None for rest and hold."""
    return int(event) - ONSET + MIN_PITCH if event >= ONSET else None


def is_onset(melody: np.ndarray) -> np.ndarray:
    """A boolean mask of the steps of ``melody`` where a note starts."""
    return np.asarray(melody) >= ONSET


def onset_pitches(melody: np.ndarray) -> np.ndarray:
    """The MIDI pitches of the notes that start in ``melody``, in order."""
    melody = np.asarray(melody)
    return melody[melody >= ONSET].astype(np.int64) - ONSET + MIN_PITCH


def chord_class(root: int, quality: str) -> int:
    """The chord class of a root pitch class (0 = C) and a quality ``""``, ``"m"`` or ``"7"``."""
    return 1 + (root % 12) * len(QUALITIES) + list(QUALITIES).index(quality)


def chord_root_quality(chord: int) -> tuple[int, str] | None:
    """``(root, quality)`` of a chord class, or None for no chord."""
    if chord == NO_CHORD:
        return None
    root, q = divmod(chord - 1, len(QUALITIES))
    return root, list(QUALITIES)[q]


def chord_name(chord: int) -> str:
    """``N`` for no chord, else a name such as ``G``, ``Em`` or ``D7``."""
    rq = chord_root_quality(chord)
    return "N" if rq is None else PITCH_NAMES[rq[0]] + rq[1]


def parse_chord(name: str) -> int:
    """The chord class of a name such as ``G``, ``Em``, ``D7``, ``F#m``, ``Bb``, ``N``.

    Folds what the three classes can hold (``Am7``→``Am``, ``Gmaj7``→``G``, ``Bdim``→``G7``).
    """
    text = name.strip()
    if text.upper() in ("N", "NC", "N.C.", "-"):
        return NO_CHORD
    if not text or text[0].upper() not in "ABCDEFG":
        raise FolkRNNError(f"unknown chord {name!r}: write a root A-G, an optional # or b, then "
                           "'' (major), 'm' (minor) or '7' (e.g. G, Em, D7, F#m, Bb), or N")
    root_name, rest = text[0].upper(), text[1:]
    if rest[:1] in ("#", "b"):
        root_name, rest = root_name + rest[0], rest[1:]
    root = pitch_class(root_name)
    suffixes = {"": (0, ""), "maj": (0, ""), "M": (0, ""), "maj7": (0, ""), "6": (0, ""),
                "m": (0, "m"), "min": (0, "m"), "m7": (0, "m"), "min7": (0, "m"), "m6": (0, "m"),
                "7": (0, "7"), "9": (0, "7"), "dim": (-4, "7"), "d": (-4, "7"), "dim7": (-4, "7"),
                "aug": (0, ""), "a": (0, ""), "+": (0, ""), "sus4": (0, ""), "sus2": (0, "")}
    if rest not in suffixes:
        raise FolkRNNError(f"unknown chord {name!r}: the quality {rest!r} is not one of "
                           "'' (major), 'm' (minor), '7', or a foldable one (maj7, m7, dim, aug, sus4)")
    offset, quality = suffixes[rest]
    return chord_class(root + offset, quality)


def recognise_chord(pitches: list[int] | set[int]) -> int:
    """The chord class that best explains a set of sounding MIDI pitches (any voicing).

    Scores every root and template by pitch classes matched, extra and missing; the bass note
    breaks ties, so inversions and doubled notes are recognised. Explained in notebook 02.
    """
    if not pitches:
        return NO_CHORD
    pcs = {p % 12 for p in pitches}
    bass = min(pitches) % 12
    best, best_score = NO_CHORD, -1e9
    for intervals, offset, quality in CHORD_TEMPLATES:
        for root in range(12):
            shape = {(root + i) % 12 for i in intervals}
            hits = len(pcs & shape)
            score = hits - 0.6 * len(pcs - shape) - 0.8 * len(shape - pcs) + 0.2 * (bass == root)
            score += 0.01 * len(intervals)  # prefer the fuller template on exact matches
            if score > best_score:
                best, best_score = chord_class(root + offset, quality), score
    return best


def chord_voicing(chord: int) -> list[int]:
    """MIDI pitches to play a chord class: root position, root between C3 and B3."""
    rq = chord_root_quality(chord)
    if rq is None:
        return []
    root, quality = rq
    return [48 + root + i for i in QUALITIES[quality]]


# --- meters and bar positions ----------------------------------------------------------------
METERS = ["4/4", "6/8", "3/4", "2/4", "9/8", "2/2", "3/2", "6/4", "5/4", "12/8", "3/8"]
MAX_BAR_STEPS = 24  # the longest bar above (3/2, 6/4, 12/8) in 16th notes


def meter_fraction(meter: str) -> tuple[int, int]:
    """The two numbers of a time signature: ``(6, 8)`` for ``6/8``."""
    beats, unit = meter.split("/")
    return int(beats), int(unit)


def steps_per_bar(meter: str) -> int:
    """The number of 16th-note steps in one bar of ``meter`` (e.g. 12 for 6/8)."""
    if meter not in METERS:
        raise FolkRNNError(f"unsupported meter {meter!r}: choose one of {', '.join(METERS)}")
    beats, unit = meter_fraction(meter)
    return beats * 4 * STEPS_PER_QUARTER // unit


def vocabularies() -> dict[str, list[str]]:
    """The names behind every integer id (saved as ``vocab.json`` with the cache and each run)."""
    return {"melody": [melody_name(i) for i in range(MELODY_SIZE)],
            "chord": [chord_name(i) for i in range(CHORD_SIZE)],
            "meter": list(METERS),
            "position": [str(i) for i in range(MAX_BAR_STEPS)]}


# --- the tune --------------------------------------------------------------------------------
@dataclass(eq=False)
class Tune:
    """One tune on the 16th-note grid (see the module docstring).

    ``meters`` lists ``(first step, meter)`` for every time signature, the first at step 0.
    """

    melody: np.ndarray  # (steps,) melody event per step
    chords: np.ndarray  # (steps,) chord class per step
    meters: list[tuple[int, str]] = field(default_factory=lambda: [(0, "4/4")])
    key: str = "C"  # key signature, e.g. "G" or "Em"
    name: str = ""

    def __post_init__(self) -> None:
        self.melody = np.asarray(self.melody, dtype=np.int16)
        self.chords = np.asarray(self.chords, dtype=np.int16)
        if self.melody.shape != self.chords.shape or self.melody.ndim != 1:
            raise ValueError("melody and chords must be 1-D arrays of the same length")
        self.meters = [(int(s), str(m)) for s, m in self.meters]
        if not self.meters or self.meters[0][0] != 0:
            raise ValueError("the first meter must start at step 0")

    def __len__(self) -> int:
        return len(self.melody)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Tune) and np.array_equal(self.melody, other.melody)
                and np.array_equal(self.chords, other.chords) and self.meters == other.meters
                and self.key == other.key)

    def __repr__(self) -> str:
        meters = ",".join(m for _, m in self.meters)
        return f"Tune({self.name!r}, {len(self)} steps, {meters}, key {self.key})"

    @property
    def meter_ids(self) -> np.ndarray:
        """The index in `METERS` of the meter at each step."""
        ids = np.zeros(len(self), dtype=np.int16)
        for start, meter in self.meters:
            ids[start:] = METERS.index(meter)
        return ids

    @property
    def positions(self) -> np.ndarray:
        """The position of each step in its bar (0 = downbeat), from the time signatures."""
        pos = np.zeros(len(self), dtype=np.int16)
        bounds = [s for s, _ in self.meters[1:]] + [len(self)]
        for (start, meter), end in zip(self.meters, bounds):
            pos[start:end] = np.arange(end - start) % steps_per_bar(meter)
        return pos

    @property
    def bar_starts(self) -> list[int]:
        """The step at which each bar starts (0 first; the last bar may be cut short)."""
        return [int(i) for i in np.nonzero(self.positions == 0)[0]]

    def notes(self) -> list[tuple[int, int, int]]:
        """``(start step, end step, pitch)`` of every melody note (`melody_notes`)."""
        return melody_notes(self.melody)

    def bars(self) -> list[tuple[int, int]]:
        """``(start, end)`` steps of every bar."""
        starts = self.bar_starts + [len(self)]
        return list(zip(starts[:-1], starts[1:]))

    def vectors(self) -> np.ndarray:
        """The combined vector per step: melody one-hot ‖ chord one-hot, shape (steps, 36+37)."""
        out = np.zeros((len(self), MELODY_SIZE + CHORD_SIZE), dtype=np.float32)
        out[np.arange(len(self)), self.melody] = 1
        out[np.arange(len(self)), MELODY_SIZE + self.chords] = 1
        return out

    def pitch_shift_range(self) -> tuple[int, int]:
        """The smallest and largest transposition that keeps the melody in range."""
        pitches = onset_pitches(self.melody)
        if len(pitches) == 0:
            return -12, 12
        return MIN_PITCH - int(pitches.min()), MAX_PITCH - int(pitches.max())

    def transpose(self, semitones: int) -> "Tune":
        """The tune shifted by ``semitones`` (melody and chord roots together)."""
        low, high = self.pitch_shift_range()
        if not low <= semitones <= high:
            raise ValueError(f"a shift of {semitones} leaves the melody range "
                             f"(allowed {low}..{high})")
        return replace(self, melody=transpose_melody(self.melody, semitones),
                       chords=transpose_chords(self.chords, semitones),
                       key=transpose_key(self.key, semitones))

    def slice(self, start: int, stop: int) -> "Tune":
        """Steps ``start..stop`` as a tune of their own (meters carried over)."""
        meters = [(max(s - start, 0), m) for s, m in self.meters if s < max(stop, 1)]
        meters = [(s, m) for i, (s, m) in enumerate(meters)
                  if i + 1 >= len(meters) or meters[i + 1][0] > s]
        melody = self.melody[start:stop].copy()
        if len(melody) and melody[0] == HOLD:
            melody[0] = REST  # a hold needs a note before it
        return replace(self, melody=melody, chords=self.chords[start:stop].copy(), meters=meters)


def transpose_melody(melody: np.ndarray, semitones: int) -> np.ndarray:
    """Melody events shifted by ``semitones`` (caller checks the range)."""
    return np.where(melody >= ONSET, melody + semitones, melody).astype(melody.dtype)


def transpose_chords(chords: np.ndarray, semitones: int) -> np.ndarray:
    """Chord classes with their roots shifted by ``semitones``."""
    n = len(QUALITIES)
    root, quality = np.divmod(chords.astype(np.int32) - 1, n)
    shifted = 1 + ((root + semitones) % 12) * n + quality
    return np.where(chords == NO_CHORD, NO_CHORD, shifted).astype(chords.dtype)


# --- MIDI -> Tune ----------------------------------------------------------------------------
class TuneError(FolkRNNError):
    """A MIDI file that does not fit the representation; ``reason`` is a short tag."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def load_midi(source: str | Path | bytes) -> pretty_midi.PrettyMIDI:
    """Read a MIDI file (path or bytes); any failure becomes one readable `FolkRNNError`."""
    label = "the MIDI data" if isinstance(source, bytes) else str(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(source, bytes):
                return pretty_midi.PrettyMIDI(io.BytesIO(source))
            return pretty_midi.PrettyMIDI(str(source))
    except FileNotFoundError:
        raise FolkRNNError(f"{label}: no such file; check the path") from None
    except Exception as exc:  # mido/pretty_midi raise many types for broken files
        detail = ("it ends too early: empty or truncated" if isinstance(exc, EOFError)
                  else str(exc) or type(exc).__name__)
        raise TuneError("unreadable", f"{label} is not a readable MIDI file ({detail}); "
                        "use a complete Standard MIDI File (.mid), e.g. export it again") from None


def _ticks(pm: pretty_midi.PrettyMIDI, seconds: float) -> int:
    return int(pm.time_to_tick(seconds))


def _pick_tracks(pm: pretty_midi.PrettyMIDI, require_chords: bool):
    tracks = [i for i in pm.instruments if not i.is_drum and i.notes]
    if not tracks:
        raise TuneError("no notes", "the MIDI file has no (non-drum) notes")
    if len(tracks) == 1:
        if require_chords:
            raise TuneError("no chord track", "the MIDI file has only one track with notes; "
                            "a tune needs a melody track and a chord track")
        return tracks[0], None
    named = {i.name: i for i in tracks}
    if {"melody", "chords"} <= set(named):  # written by `tune_to_midi`: the names say which
        return named["melody"], named["chords"]
    by_pitch = sorted(tracks, key=lambda i: -np.mean([n.pitch for n in i.notes]))
    return by_pitch[0], by_pitch[1]  # melody above, chords below; further tracks ignored


def _melody_events(pm, notes, step: float, n_steps: int) -> np.ndarray:
    grid = sorted((round(_ticks(pm, n.start) / step), round(_ticks(pm, n.end) / step),
                   _ticks(pm, n.start), n.pitch) for n in notes)
    events = np.full(n_steps, REST, dtype=np.int16)
    last_start = last_tick = None
    for start, end, tick, pitch in grid:
        if start == last_start:
            if tick == last_tick:
                raise TuneError("polyphonic melody", "two melody notes start together "
                                f"at step {start}: the melody must be one note at a time")
            continue  # two notes snapped onto one step (a fast triplet): keep the first
        if not MIN_PITCH <= pitch <= MAX_PITCH:
            raise TuneError("pitch out of range", f"melody pitch {pitch} is outside "
                            f"{MIN_PITCH}..{MAX_PITCH}")
        events[start:] = REST  # cut an earlier note that is still sounding (legato overlap)
        events[start] = onset(pitch)
        events[start + 1:max(end, start + 1)] = HOLD
        last_start, last_tick = start, tick
    return events


def _chord_classes(pm, notes, step: float, n_steps: int) -> np.ndarray:
    sounding: list[list[int]] = [[] for _ in range(n_steps)]
    for n in notes:
        start, end = round(_ticks(pm, n.start) / step), round(_ticks(pm, n.end) / step)
        for s in range(start, max(end, start + 1)):
            sounding[s].append(n.pitch)
    heard = [tuple(sorted(set(pitches))) for pitches in sounding]
    chord_of = {pitches: recognise_chord(list(pitches)) for pitches in set(heard)}  # each once
    return np.array([chord_of[pitches] for pitches in heard], dtype=np.int16)


def _meters(pm: pretty_midi.PrettyMIDI, step: float) -> list[tuple[int, str]]:
    meters: list[tuple[int, str]] = []
    for ts in pm.time_signature_changes:
        meter = f"{ts.numerator}/{ts.denominator}"
        if meter not in METERS:
            raise TuneError("unsupported meter", f"the meter {meter} is not supported "
                            f"(supported: {', '.join(METERS)})")
        start = round(_ticks(pm, ts.time) / step)
        if meters and meters[-1][0] == start:
            meters[-1] = (start, meter)
        elif not meters or meters[-1][1] != meter:
            meters.append((start, meter))
    if not meters or meters[0][0] != 0:
        meters.insert(0, (0, meters[0][1] if meters else "4/4"))
    return meters


def _key(pm: pretty_midi.PrettyMIDI) -> str:
    changes = pm.key_signature_changes  # key numbers 0..23, in the order of KEY_NAMES
    return KEY_NAMES[changes[0].key_number] if changes else "C"


def midi_to_tune(pm: pretty_midi.PrettyMIDI, name: str = "", *, require_chords: bool = True,
                 max_steps: int | None = None) -> Tune:
    """Encode a PrettyMIDI object as a `Tune`; raises `TuneError` (with a reason) if it can't.

    The tracks named ``melody`` and ``chords`` (as `tune_to_midi` names them), else the highest
    non-drum track is the melody, the next one the chords. Notes are snapped to the
    nearest 16th note; where two notes snap onto one step (fast triplets) the first is kept,
    overlapping melody notes are cut at the next onset. Explained in notebook 02.
    """
    step = pm.resolution / STEPS_PER_QUARTER  # MIDI ticks a 16th note
    melody_track, chord_track = _pick_tracks(pm, require_chords)
    notes = melody_track.notes + (chord_track.notes if chord_track else [])
    n_steps = max(max(round(_ticks(pm, n.end) / step), round(_ticks(pm, n.start) / step) + 1)
                  for n in notes)
    if max_steps is not None and n_steps > max_steps:
        raise TuneError("too long", f"the tune has {n_steps} steps, more than {max_steps}")
    melody = _melody_events(pm, melody_track.notes, step, n_steps)
    chords = (_chord_classes(pm, chord_track.notes, step, n_steps) if chord_track
              else np.zeros(n_steps, dtype=np.int16))
    meters = [(s, m) for s, m in _meters(pm, step) if s < n_steps] or [(0, "4/4")]
    return Tune(melody, chords, meters, _key(pm), name)


def read_tune(path: str | Path, *, require_chords: bool = True) -> Tune:
    """Read and encode one MIDI file (see `midi_to_tune`)."""
    return midi_to_tune(load_midi(path), Path(path).stem, require_chords=require_chords)


# --- Tune -> MIDI ----------------------------------------------------------------------------
def tune_to_midi(tune: Tune, *, bpm: float = 120.0, melody_program: int = 40,
                 chord_program: int = 24, velocity: int = 90) -> pretty_midi.PrettyMIDI:
    """Decode a `Tune` to PrettyMIDI: melody on one instrument, chords voiced on another.

    Chords are struck at every change and at every bar line. ``midi_to_tune`` of the result
    gives the tune back exactly. Default instruments: fiddle (40) and nylon guitar (24).
    """
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=bpm)
    seconds = 60.0 / bpm / STEPS_PER_QUARTER
    melody = pretty_midi.Instrument(melody_program, name="melody")
    chords = pretty_midi.Instrument(chord_program, name="chords")
    for start, end, pitch in melody_notes(tune.melody):
        melody.notes.append(pretty_midi.Note(velocity, pitch, start * seconds, end * seconds))
    for start, end, chord in chord_segments(tune.chords, tune.positions):
        for pitch in chord_voicing(chord):
            chords.notes.append(pretty_midi.Note(velocity - 20, pitch, start * seconds,
                                                 end * seconds))
    pm.instruments = [melody, chords]
    for start, meter in tune.meters:
        beats, unit = meter_fraction(meter)
        pm.time_signature_changes.append(pretty_midi.TimeSignature(beats, unit, start * seconds))
    pm.key_signature_changes.append(pretty_midi.KeySignature(KEY_NAMES.index(tune.key), 0.0))
    return pm


def melody_notes(melody: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start step, end step, pitch)`` of every note in a melody event sequence."""
    notes: list[tuple[int, int, int]] = []
    for i, event in enumerate(melody):
        if event >= ONSET:
            notes.append((i, i + 1, event_pitch(event)))
        elif event == HOLD and notes and notes[-1][1] == i:
            notes[-1] = (notes[-1][0], i + 1, notes[-1][2])
    return notes


def chord_segments(chords: np.ndarray, positions: np.ndarray | None = None
                   ) -> list[tuple[int, int, int]]:
    """``(start, end, chord)`` runs of one chord class, split at bar lines if positions given."""
    segments: list[tuple[int, int, int]] = []
    for i, chord in enumerate(chords):
        new_bar = positions is not None and positions[i] == 0
        if segments and segments[-1][2] == chord and segments[-1][1] == i and not new_bar:
            segments[-1] = (segments[-1][0], i + 1, int(chord))
        else:
            segments.append((i, i + 1, int(chord)))
    return [s for s in segments if s[2] != NO_CHORD]


def midi_bytes(pm: pretty_midi.PrettyMIDI) -> bytes:
    """The bytes of a standard MIDI file for ``pm``."""
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


def normalise(tune: Tune) -> Tune:
    """The tune with what MIDI can't hold removed: holds after a rest become rests,
    trailing silence (rest and no chord) is dropped. Then ``midi_to_tune(tune_to_midi(t)) == t``.
    """
    melody = tune.melody.copy()
    for i in range(len(melody)):
        if melody[i] == HOLD and (i == 0 or melody[i - 1] == REST):
            melody[i] = REST
    sounding = np.nonzero((melody != REST) | (tune.chords != NO_CHORD))[0]
    end = int(sounding[-1]) + 1 if len(sounding) else 0
    return replace(tune, melody=melody).slice(0, end)
