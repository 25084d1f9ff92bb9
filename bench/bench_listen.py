"""Listening backends: how fast and how good are the synthesizers, the audio codecs, the
engravers, and how do the tunes' repeats come out in ABC? (BENCHMARKS.md, "Listening backends")

    .venv/bin/python bench/bench_listen.py [--tune reelsa-c10] [--every 3]

It reads the dataset zip the tests read (`download.dataset_zip`: FOLKRNN_TEST_ZIP, a local
FOLKRNN_DATA_URL, data/, else downloaded into data/).

Sound: a 33-bar reel rendered by every synthesizer present (midirenderer, FluidSynth, sine),
best of 3; a fiddle A4 measured for harmonics (energy of harmonics 2..8 among 1..8) and attack
(10% → 90% of the loudest 10 ms); the reel's long-term spectrum (50 Hz–4.3 kHz, dB) and loudness
envelope correlated with FluidSynth's. Codecs: size and time of MP3/Ogg/WAV for the reel.
Sheet music: verovio (first call and warm) and abcm2ps. ABC: repeats found in every ``--every``-th
tune of the dataset, and whether abc2midi plays the ABC back note for note and chord for chord.
"""
from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import soundfile

from folkrnn import abc_notation, engrave, listen, music, repeats, sound
from folkrnn.download import dataset_zip
from folkrnn.verify import abc_round_trip, assert_same_music, harmonics_and_attack, one_note

RATE = 22050


def read(archive: zipfile.ZipFile, name: str) -> music.Tune:
    data = archive.read(f"nottingham-dataset-master/MIDI/{name}.mid")
    return music.midi_to_tune(music.load_midi(data), name)


def best_of(function, repeats: int = 3) -> tuple[float, object]:
    """The least wall time of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def cpu_best_of(function, repeats: int = 3) -> tuple[float, float, object]:
    """The least CPU time (all threads) and wall time of ``repeats`` calls, and the result:
    CPU time is the fair measure on a shared machine."""
    cpu, wall, result = [], [], None
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = function()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return min(cpu), min(wall), result


def spectrum_db(samples: np.ndarray) -> np.ndarray:
    n = 2048
    frames = np.stack([samples[i:i + n] * np.hanning(n) for i in range(0, len(samples) - n, n)])
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    return 10 * np.log10(power + 1e-12)[5:400]  # 54 Hz .. 4.3 kHz


def envelope(samples: np.ndarray) -> np.ndarray:
    hop = 256
    return np.array([np.sqrt(np.mean(samples[i:i + hop] ** 2))
                     for i in range(0, len(samples) - hop, hop)])


def renderers() -> dict[str, object]:
    out = {}
    if sound.midirenderer_available():
        out["midirenderer"] = lambda pm: sound.render_midirenderer(pm, RATE)
    if sound.fluidsynth_available():
        out["FluidSynth"] = lambda pm: pm.fluidsynth(fs=RATE)
    out["sine (pretty_midi)"] = lambda pm: pm.synthesize(fs=RATE)
    return out


def measure_sound(reel: music.Tune) -> None:
    pm = music.tune_to_midi(reel, bpm=sound.tune_tempo(reel).quarter_bpm)
    note = music.tune_to_midi(one_note(), bpm=120)
    seconds = pm.get_end_time()
    print(f"\n### Synthesizers: {reel.name}, {len(reel.bars())} bars, {seconds:.0f} s of music\n")
    print("| synthesizer | render: CPU (wall), best of 3 | harmonics 2..8 | attack "
          "| spectrum r | envelope r |")
    print("|---|---:|---:|---:|---:|---:|")
    rendered = {}
    for name, render in renderers().items():
        cpu, wall, samples = cpu_best_of(lambda: np.asarray(render(pm), dtype=float))
        rendered[name] = (f"{cpu:.2f} s ({wall:.2f} s)", samples / max(np.abs(samples).max(), 1e-9))
    reference = rendered.get("FluidSynth", next(iter(rendered.values())))[1]
    for name, render in renderers().items():
        took, samples = rendered[name]
        tone = np.asarray(render(note), dtype=float)
        share, attack = harmonics_and_attack(tone / np.abs(tone).max(), RATE)
        n = min(len(samples), len(reference))
        r_spec = np.corrcoef(spectrum_db(samples[:n]), spectrum_db(reference[:n]))[0, 1]
        e1, e2 = envelope(samples[:n]), envelope(reference[:n])
        r_env = np.corrcoef(e1, e2)[0, 1]
        print(f"| {name} | {took} | {share:.2f} | {1000 * attack:.0f} ms | {r_spec:.3f} "
              f"| {r_env:.3f} |")
    samples = rendered[next(iter(rendered))][1]
    print("\n### Notebook audio: the same reel\n")
    print("| format | size | bit rate | encode |")
    print("|---|---:|---:|---:|")
    for fmt, subtype, level in (("MP3", "MPEG_LAYER_III", 0.99), ("MP3", "MPEG_LAYER_III", 0.9),
                                ("OGG", "VORBIS", 0.99), ("WAV", "PCM_16", None)):
        def encode():
            buffer = io.BytesIO()
            extra = {} if level is None else {"compression_level": level}
            soundfile.write(buffer, (samples * 0.9).astype(np.float32), RATE, format=fmt,
                            subtype=subtype, **extra)
            return buffer.getvalue()
        cpu, _, data = cpu_best_of(encode, 1)
        print(f"| {fmt} {subtype}, compression {level} | {len(data) / 1e6:.2f} MB | "
              f"{len(data) * 8 / 1000 / seconds:.0f} kbit/s | {cpu:.2f} s CPU |")
    took, (data, mime) = best_of(lambda: sound.encode_audio(samples, RATE), 1)
    print(f"\n`sound.encode_audio` chose {mime}: {len(data) / 1e3:.0f} kB "
          f"({len(data) * 4 / 3 / 1e3:.0f} kB as base64 in a notebook).")


def measure_engravers(archive: zipfile.ZipFile) -> None:
    print("\n### Sheet music\n")
    print("| tune | bars | engraver | time | SVG size |")
    print("|---|---:|---|---:|---:|")
    for name in ("jigs1", "reelsa-c10", "ashover10"):
        tune = read(archive, name)
        abc = abc_notation.tune_to_abc(tune)
        endings = repeats.find_repeats(tune).endings()
        started = time.perf_counter()
        engrave.abc_to_svg_verovio(abc, endings)
        first = time.perf_counter() - started
        took, svg = best_of(lambda: engrave.abc_to_svg_verovio(abc, endings))
        bars = len(tune.bars())
        print(f"| {name} | {bars} | verovio | {took:.3f} s (first call {first:.3f} s) | "
              f"{len(svg) / 1e3:.0f} kB |")
        if engrave.abcm2ps_available():
            took, pages = best_of(lambda: engrave.abc_to_svg(abc))
            print(f"| {name} | {bars} | abcm2ps | {took:.3f} s | "
                  f"{sum(len(p) for p in pages) / 1e3:.0f} kB |")


def measure_repeats(archive: zipfile.ZipFile, every: int) -> None:
    names = sorted(n.split("/")[-1][:-4] for n in archive.namelist()
                   if n.endswith(".mid") and n.count("/") == 2 and "/MIDI/" in n)
    counts = dict.fromkeys(["tunes", "pickup", "repeats", "endings", "same", "checked"], 0)
    started = time.perf_counter()
    for name in names[::every]:
        try:
            tune = read(archive, name)
        except music.TuneError:
            continue
        form = repeats.find_repeats(tune)
        counts["tunes"] += 1
        counts["pickup"] += form.pickup > 0
        counts["repeats"] += any(p.repeat for p in form.parts)
        counts["endings"] += any(p.ending for p in form.parts)
        if shutil.which("abc2midi"):
            counts["checked"] += 1
            with tempfile.TemporaryDirectory() as folder:
                try:
                    assert_same_music(abc_round_trip(tune, Path(folder)), tune)
                    counts["same"] += 1
                except AssertionError as error:
                    print(f"  {name}: {str(error).splitlines()[0][:100]}")
    took = time.perf_counter() - started
    print(f"\n### ABC repeats: 1 in {every} tunes ({counts['tunes']} tunes, {took:.0f} s)\n")
    print(f"* a pickup: {counts['pickup']}; repeated parts: {counts['repeats']}; "
          f"first and second endings: {counts['endings']}")
    print(f"* abc2midi plays the ABC as our MIDI (notes and chords): "
          f"{counts['same']} of {counts['checked']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tune", default="reelsa-c10", help="the tune to render")
    parser.add_argument("--every", type=int, default=3,
                        help="check the ABC of 1 in n tunes (0: skip)")
    args = parser.parse_args()
    print(listen.backends_report())
    with zipfile.ZipFile(dataset_zip()) as archive:
        measure_sound(read(archive, args.tune))
        measure_engravers(archive)
        if args.every:
            measure_repeats(archive, args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
