"""Checks of what the package writes and plays, by an outside tool and by measurement.

Shared by ``tests/test_listen.py`` and ``bench/bench_listen.py`` (BENCHMARKS.md, "Listening
backends"), in the way ``numpy.testing`` is numpy's: no notebook needs them.

* `abc_round_trip`: what abc2midi plays from our ABC (repeats and endings expanded), as a Tune;
  `assert_same_music` compares it with ours, note for note and chord for chord.
* `one_note` and `harmonics_and_attack`: how a synthesizer sounds (a fiddle A4: how rich in
  harmonics, how fast its attack).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from folkrnn import abc_notation, music, repeats
from folkrnn.music import HOLD, Tune


def abc_round_trip(tune: Tune, folder: Path) -> Tune:
    """ABC of the tune → abc2midi (which plays the repeats) → MIDI → Tune, shifted back by the
    pickup's dropped silence so that its steps line up with the tune's. Writes two files into
    ``folder``; needs ``abc2midi`` (``make system-deps``).

    abc2midi is told to strike the chord on every 16th note (``%%MIDI gchord ccc…`` for each
    meter), so its chord track can be compared step by step with ours.
    """
    source, midi = Path(folder) / "tune.abc", Path(folder) / "tune.mid"

    def strum(meter: str) -> str:
        return "c" * music.steps_per_bar(meter)

    abc = abc_notation.tune_to_abc(tune)
    abc = abc.replace("\nK:", f"\n%%MIDI gchord {strum(tune.meters[0][1])}\nK:", 1)
    abc = re.sub(r"\[M:(\d+/\d+)\]", lambda m: f"{m[0]}[I:MIDI=gchord {strum(m[1])}]", abc)
    source.write_text(abc)
    result = subprocess.run(["abc2midi", str(source), "-o", str(midi)],
                            capture_output=True, text=True, timeout=60)
    said = result.stdout + result.stderr
    if result.returncode != 0 or "Error" in said:
        raise AssertionError(f"abc2midi refused the ABC: {said}")
    back = music.read_tune(midi, require_chords=False)
    pickup = repeats.find_repeats(tune).pickup
    silence = np.zeros(pickup, dtype=back.melody.dtype)
    return Tune(np.concatenate([silence, back.melody]), np.concatenate([silence, back.chords]),
                back.meters, back.key, back.name)


def assert_same_music(back: Tune, tune: Tune) -> None:
    """Same notes (pitch, onset, duration) and the same chord on every step of the tune, as
    far as it sounds (MIDI, ours as abc2midi's, ends with the last note or chord); an
    AssertionError says where they differ."""
    if music.melody_notes(back.melody) != music.melody_notes(tune.melody):
        raise AssertionError("the notes differ")
    sounding = len(music.normalise(tune))
    if len(back) < sounding:
        raise AssertionError(f"{len(back)} steps played back of the {sounding} that sound")
    different = np.nonzero(back.chords[:sounding] != tune.chords[:sounding])[0]
    if len(different):
        raise AssertionError(f"chords differ from step {different[0]}")


def one_note() -> Tune:
    """A fiddle A4 held for two bars at 120 bpm (2 seconds), no chords."""
    melody = np.array([music.onset(69)] + [HOLD] * 31)
    return Tune(melody, np.zeros(len(melody)), [(0, "4/4")], "C", "A4")


def harmonics_and_attack(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """The share of the energy of harmonics 2..8 among harmonics 1..8 of A4 (440 Hz) while the
    note of `one_note` sounds, and its attack time (10% → 90% of the loudest 10 ms) in seconds."""
    start = int(0.4 * rate)
    segment = samples[start:start + rate] * np.hanning(rate)
    spectrum = np.abs(np.fft.rfft(segment, 4 * rate))
    freqs = np.fft.rfftfreq(4 * rate, 1 / rate)
    energy = np.array([spectrum[np.abs(freqs - 440 * k) < 10].max() ** 2 for k in range(1, 9)])
    hop = rate // 100
    loudness = np.array([np.sqrt(np.mean(samples[i:i + hop] ** 2))
                         for i in range(0, len(samples) - hop, hop)])
    t10 = np.argmax(loudness > 0.1 * loudness.max())
    t90 = np.argmax(loudness > 0.9 * loudness.max())
    return float(energy[1:].sum() / energy.sum()), (t90 - t10) / 100
