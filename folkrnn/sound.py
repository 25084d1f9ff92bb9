"""Sound: the tempo a tune is played at, the synthesizer that plays it, and its audio as a
compressed stream for a notebook player or as a WAV file.

Explained in notebook 01_collect_data (hearing real tunes) and 04_test_model (generated ones);
`folkrnn.listen` is what the notebooks call. Everything works with ``pip install`` alone:

* **tempo**: `tempo` picks beats a minute from the meter (a jig's beat is a dotted quarter);
* **synthesizer**: ``midirenderer`` (a self-contained wheel) plays the MIDI with the General
  MIDI SoundFont that pretty_midi ships (``TimGM6mb.sf2``): fiddle melody, guitar chords.
  Without it (no wheel for the platform), FluidSynth (``pyfluidsynth`` + the system
  ``libfluidsynth3``) plays the same font; sine waves are the last resort;
* **codecs**: the notebook player gets MP3 (Ogg Vorbis if libsndfile has no MP3), about
  25 kbit/s, so executed notebooks stay small; files are 16-bit WAV.

``FOLKRNN_NO_SYSTEM_TOOLS=1`` hides the optional system tools (FluidSynth, and abcm2ps in
`folkrnn.engrave`), to check the pip-only path. BENCHMARKS.md ("Listening backends") compares
the synthesizers.
"""
from __future__ import annotations

import io
import os
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pretty_midi

from folkrnn import music
from folkrnn.errors import FolkRNNError
from folkrnn.music import Tune
from folkrnn.paths import write_atomic

# midirenderer and soundfile are wheels the project depends on, but a platform may lack one
# (midirenderer has none for Linux on ARM; soundfile needs libsndfile): then the sound falls
# back to FluidSynth or sine waves, and the players to WAV.
try:
    import midirenderer
except ImportError:
    midirenderer = None
try:
    import soundfile
except (ImportError, OSError):
    soundfile = None

SOUNDFONT = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"  # General MIDI, in pretty_midi
HEADROOM = 0.9  # the loudest sample of a file, as a share of full scale


def system_tools_hidden() -> bool:
    """True when ``FOLKRNN_NO_SYSTEM_TOOLS=1`` hides FluidSynth and abcm2ps."""
    return os.environ.get("FOLKRNN_NO_SYSTEM_TOOLS") == "1"


# --- tempo -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tempo:
    """``bpm`` beats a minute, a beat lasting ``beat`` 16th-note steps (6: a dotted quarter)."""

    bpm: float
    beat: int

    @property
    def quarter_bpm(self) -> float:
        """Quarter notes a minute: the tempo a MIDI file stores."""
        return self.bpm * self.beat / music.STEPS_PER_QUARTER

    @property
    def abc(self) -> str:
        """The ABC ``Q:`` value, e.g. ``3/8=110`` (dotted quarter = 110)."""
        beat = Fraction(self.beat, 16)
        return f"{beat.numerator}/{beat.denominator}={round(self.bpm)}"


BPM_RANGE = (20, 400)  # beats a minute of a tune to play or dance to (MIDI stores no less than 4)


def tempo(meter: str, bpm: float | None = None) -> Tempo:
    """The tempo to play a tune in ``meter``: ``bpm`` beats a minute, by default one that suits
    the dance. Explained in notebook 01.

    The beat is the dotted quarter in compound meters (6/8 jigs, 9/8 slip jigs, 12/8, 3/8),
    the half note in 2/2 and 3/2, else the quarter. Defaults: 110 dotted quarters a minute for
    jigs (330 eighth notes), 100 half notes for 2/2 and 3/2, 120 quarters for 4/4 reels and
    hornpipes, 2/4 polkas and 3/4 waltzes: the 100–120 of a dance band, slow enough to follow.
    """
    num, den = music.meter_fraction(meter)
    if den == 8 and num % 3 == 0:
        beat, default = 6, 110.0
    elif den == 2:
        beat, default = 8, 100.0
    else:
        beat, default = 16 // den, 120.0
    if bpm is None:
        bpm = default
    if not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:  # NaN too
        raise FolkRNNError(f"bpm={bpm}: give {BPM_RANGE[0]} to {BPM_RANGE[1]} beats a minute, "
                           f"e.g. {default:g}")
    return Tempo(float(bpm), beat)


def tune_tempo(tune: Tune, bpm: float | None = None) -> Tempo:
    """`tempo` of the tune's first meter."""
    return tempo(tune.meters[0][1], bpm)


# --- synthesizers ----------------------------------------------------------------------------
def fluidsynth_available() -> bool:
    """True when pyfluidsynth and the system FluidSynth library can be loaded (and are not
    hidden by ``FOLKRNN_NO_SYSTEM_TOOLS=1``)."""
    if system_tools_hidden():
        return False
    try:  # only when asked: pyfluidsynth loads a system library (and prints when CI is set)
        import fluidsynth  # noqa: F401
        from pretty_midi import fluidsynth as pretty_midi_fluidsynth
    except (ImportError, OSError):
        return False
    return bool(getattr(pretty_midi_fluidsynth, "_HAS_FLUIDSYNTH", True))


def midirenderer_available() -> bool:
    """True when the ``midirenderer`` wheel (a SoundFont synthesizer) can be imported."""
    return midirenderer is not None and SOUNDFONT.exists()


def synthesizer() -> str:
    """The synthesizer `waveform` uses: ``midirenderer``, ``fluidsynth`` or ``sine``.

    midirenderer and FluidSynth play the same SoundFont and measure alike (BENCHMARKS.md), so
    the pip wheel comes first: the same sound everywhere, no system library needed.
    """
    if midirenderer_available():
        return "midirenderer"
    return "fluidsynth" if fluidsynth_available() else "sine"


def _smooth(n: int) -> int:
    """The smallest number >= n with no prime factor above 5 (a fast FFT length)."""
    best = 1 << max(n - 1, 0).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            candidate = power35
            while candidate < n:
                candidate *= 2
            best = min(best, candidate)
            power35 *= 3
        power5 *= 5
    return best


def _resample(samples: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling through the Fourier transform, the signal padded with silence
    to a length whose transform is fast."""
    if rate == new_rate or len(samples) == 0:
        return samples
    ratio = Fraction(new_rate, rate)
    blocks = _smooth(-(-len(samples) // ratio.denominator))
    padded = np.zeros(blocks * ratio.denominator)
    padded[:len(samples)] = samples
    n = blocks * ratio.numerator
    spectrum = np.fft.rfft(padded)[: n // 2 + 1]
    out = np.fft.irfft(spectrum, n) * (n / len(padded))
    return out[:round(len(samples) * ratio)]


def render_midirenderer(pm: pretty_midi.PrettyMIDI, sample_rate: int) -> np.ndarray:
    """``pm`` played by midirenderer with `SOUNDFONT`, mono at ``sample_rate``."""
    # midirenderer stops at the last event: a silent controller change 1 s later lets the
    # last notes ring out.
    tail = pretty_midi.ControlChange(110, 0, pm.get_end_time() + 1.0)
    track = pm.instruments[0].control_changes if pm.instruments else []
    track.append(tail)
    try:
        midi = music.midi_bytes(pm)
    finally:
        track.remove(tail)
    data = midirenderer.render_wave_from(SOUNDFONT.read_bytes(), midi)
    with wave.open(io.BytesIO(data)) as wav:
        channels, rate = wav.getnchannels(), wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    mono = pcm.reshape(-1, channels).mean(axis=1) / 32768.0
    return _resample(mono, rate, sample_rate)


def waveform(tune_or_pm: Tune | pretty_midi.PrettyMIDI, bpm: float | None = None,
             sample_rate: int = 22050, *, quiet: bool = False) -> np.ndarray:
    """The tune as audio samples in [-1, 1], by `synthesizer` (a one-line hint when it falls
    back to sine waves). ``bpm``: see `tempo`. Explained in notebook 01."""
    if isinstance(tune_or_pm, pretty_midi.PrettyMIDI):
        pm = tune_or_pm
    else:
        pm = music.tune_to_midi(tune_or_pm, bpm=tune_tempo(tune_or_pm, bpm).quarter_bpm)
    players = [(midirenderer_available, lambda: render_midirenderer(pm, sample_rate)),
               (fluidsynth_available, lambda: pm.fluidsynth(fs=sample_rate))]
    samples = None
    for available, play in players:
        if samples is None and available():
            try:
                samples = play()
            except (ImportError, OSError, RuntimeError, ValueError):  # a broken install
                samples = None
    if samples is None:
        if not quiet:
            print("sine-wave sound: for real instruments run  pip install midirenderer  "
                  "(see folkrnn doctor)")
        samples = pm.synthesize(fs=sample_rate)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    return (samples / peak if peak > 0 else samples).astype(np.float32)


# --- codecs and files ------------------------------------------------------------------------
def player_codec() -> str:
    """The codec `encode_audio` uses: ``MP3``, ``OGG`` or ``WAV`` (without libsndfile's MP3)."""
    formats = soundfile.available_formats() if soundfile is not None else {}
    return next((f for f in ("MP3", "OGG") if f in formats), "WAV")


def encode_audio(samples: np.ndarray, sample_rate: int) -> tuple[bytes, str]:
    """Compress samples for a notebook player: ``(bytes, MIME type)``.

    MP3 (every browser plays it), else Ogg Vorbis, else WAV if libsndfile offers neither.
    About 25 kbit/s: a 32-bar reel is ~0.2 MB instead of 3 MB of WAV (BENCHMARKS.md).
    """
    samples = np.clip(samples, -1, 1).astype(np.float32) * HEADROOM
    codec = player_codec()
    subtype, mime = {"MP3": ("MPEG_LAYER_III", "audio/mpeg"), "OGG": ("VORBIS", "audio/ogg"),
                     "WAV": (None, "audio/wav")}[codec]
    if subtype is not None:
        buffer = io.BytesIO()
        try:
            soundfile.write(buffer, samples, sample_rate, format=codec, subtype=subtype,
                            compression_level=0.99)
            return buffer.getvalue(), mime
        except (OSError, RuntimeError, TypeError):  # an old libsndfile: plain WAV below
            pass
    buffer = io.BytesIO()
    _write_pcm(buffer, samples, sample_rate)
    return buffer.getvalue(), "audio/wav"


def _write_pcm(target: str | BinaryIO, samples: np.ndarray, sample_rate: int,
               gain: float = 1.0) -> None:
    """``samples`` (in [-1, 1]) times ``gain`` as a 16-bit mono WAV, into a file or a buffer."""
    with wave.open(target, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767 * gain).astype("<i2").tobytes())


def write_wav(tune: Tune, path: str | Path, bpm: float | None = None,
              sample_rate: int = 22050) -> Path:
    """Write the tune as a 16-bit mono WAV file (atomically). Explained in notebook 04."""
    samples = waveform(tune, bpm, sample_rate)
    return write_atomic(Path(path), lambda tmp: _write_pcm(tmp, samples, sample_rate, HEADROOM))
