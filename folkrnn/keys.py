"""Note and key names, key signatures, spelling in a key, and the key a melody is in.

Explained in notebook 04_test_model: `key_name` checks the key a learner asks for, `spell` and
`key_signature` write notes in a key (the ABC notation of `folkrnn.abc_notation`), and
`estimate_key` finds the key of a melody by the Krumhansl–Schmuckler algorithm (the composer's
cadences, the metrics). A layer below `folkrnn.music`, which names its chords and keys with
these names: of the package it imports only the error type.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from folkrnn.errors import FolkRNNError

if TYPE_CHECKING:  # only a type hint: music imports this module
    from folkrnn.music import Tune

# --- note names ------------------------------------------------------------------------------
PITCH_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
NOTE_ALIASES = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb", "Cb": "B", "Fb": "E",
                "E#": "F", "B#": "C"}  # the other spellings of the PITCH_NAMES


def pitch_class(note: str) -> int:
    """The pitch class (C = 0 … B = 11) of a note name: a letter A-G, then # or b or nothing."""
    name = NOTE_ALIASES.get(note, note)
    if name not in PITCH_NAMES:
        raise FolkRNNError(f"unknown note {note!r}: write a letter A-G, then # or b or nothing")
    return PITCH_NAMES.index(name)


# --- key names -------------------------------------------------------------------------------
# The 24 keys in MIDI's order (key number 0..23): the major keys from C, then the minor keys.
KEY_NAMES = PITCH_NAMES + [n + "m" for n in ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A",
                                             "Bb", "B"]]


def key_name(key: str) -> str:
    """Check and normalise a key name such as ``G``, ``Em``, ``bb`` or ``Dbm`` (to ``C#m``): the
    name `KEY_NAMES` gives that key."""
    name = key.strip()
    minor = name.endswith("m")
    root = name[:-1] if minor else name
    try:
        tonic = pitch_class(root[:1].upper() + root[1:])
    except FolkRNNError:
        raise FolkRNNError(f"unknown key {key!r}: use a name such as G, D, Em or Bb") from None
    return KEY_NAMES[tonic + 12 * minor]


def key_tonic(key: str) -> tuple[int, bool]:
    """``(tonic pitch class, is minor)`` of a key name from `KEY_NAMES`."""
    index = KEY_NAMES.index(key)
    return index % 12, index >= 12


def transpose_key(key: str, semitones: int) -> str:
    """The key name shifted by ``semitones``."""
    tonic, minor = key_tonic(key)
    return KEY_NAMES[(tonic + semitones) % 12 + 12 * minor]


# --- key signatures and spelling (ABC notation) ----------------------------------------------
# Key signatures as a count of sharps (> 0) or flats (< 0), for every key `KEY_NAMES` holds.
KEY_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7,
              "F": -1, "Bb": -2, "Eb": -3, "Ab": -4, "Db": -5, "Gb": -6}
KEY_FIFTHS.update({k + "m": v - 3 for k, v in KEY_FIFTHS.items()})
KEY_FIFTHS.update({"G#m": 5, "D#m": 6, "A#m": 7, "Ebm": -6})

LETTERS = "CDEFGAB"  # the note letters, in the order `spell` prefers them


def key_fifths(key: str) -> int:
    """The key signature of ``key`` as sharps (> 0) or flats (< 0), e.g. 2 for D or Bm."""
    return KEY_FIFTHS[key]


def key_signature(key: str) -> dict[str, int]:
    """The alteration (+1 sharp, -1 flat, 0) the key signature gives each letter C..B."""
    fifths = key_fifths(key)
    order = "FCGDAEB" if fifths >= 0 else "BEADGCF"
    altered = set(order[:abs(fifths)])
    return {letter: (1 if fifths > 0 else -1) if letter in altered else 0 for letter in LETTERS}


def spell(pitch: int, key: str) -> tuple[str, int, int]:
    """``(letter, alteration, octave)`` of a MIDI pitch, spelled in ``key``.

    Notes of the key's scale keep the key's spelling; other notes use sharps in sharp keys and
    flats in flat keys. ``octave`` is the scientific octave of the letter (C4 = middle C).
    """
    signature = key_signature(key)
    pc = pitch % 12
    options = [(l, a) for l, a in signature.items() if (pitch_class(l) + a) % 12 == pc]
    if not options:
        sharp = key_fifths(key) >= 0
        options = [(l, 0) for l in LETTERS if pitch_class(l) == pc]
        options += [(l, 1 if sharp else -1) for l in LETTERS
                    if (pitch_class(l) + (1 if sharp else -1)) % 12 == pc]
    letter, alteration = options[0]
    octave = (pitch - alteration) // 12 - 1
    return letter, alteration, octave


# --- the key of a melody ---------------------------------------------------------------------
# Krumhansl–Kessler key profiles: how well each pitch class (from the tonic) fits a key.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# The 24 profiles (major keys from C, then minor keys from C), each standardised: the dot
# product with a standardised histogram, / 12, is their Pearson correlation.
_KEY_PROFILES = np.stack([np.roll(profile, tonic) for profile in (MAJOR_PROFILE, MINOR_PROFILE)
                          for tonic in range(12)])
_KEY_PROFILES = ((_KEY_PROFILES - _KEY_PROFILES.mean(1, keepdims=True))
                 / _KEY_PROFILES.std(1, keepdims=True))


def pitch_class_durations(notes: Iterable[tuple[int, int, int]]) -> np.ndarray:
    """How many steps each of the 12 pitch classes sounds, over ``(start, end, pitch)`` notes
    (`music.melody_notes`)."""
    histogram = np.zeros(12)
    for start, end, pitch in notes:
        histogram[pitch % 12] += end - start
    return histogram


def key_of(durations: np.ndarray) -> str:
    """The key whose Krumhansl–Kessler profile best correlates with the pitch-class
    ``durations``: the Krumhansl–Schmuckler algorithm ("C" when nothing tells keys apart; ties
    go to major, then to the lower tonic). Fast: it runs before every cadence of a tune being
    composed (`generate`)."""
    if durations.std() == 0:
        return "C"
    scores = _KEY_PROFILES @ ((durations - durations.mean()) / durations.std())
    return KEY_NAMES[int(np.argmax(scores))]


def estimate_key(tune: Tune) -> str:
    """The key of a tune's melody by `key_of` its pitch-class durations. Explained in
    notebook 04."""
    return key_of(pitch_class_durations(tune.notes()))
