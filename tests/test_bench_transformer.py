"""bench/bench_transformer.py: its numpy sampler runs the same network as its Keras model.

The Transformer is a measured experiment (BENCHMARKS.md, round 3 session 7), not a model the
package ships; its judge figures are only worth quoting if its step-by-step sampler is exact.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_transformer  # noqa: E402

from test_model import TINY, random_inputs, randomise, stepped_logits  # noqa: E402

CONFIG = replace(TINY, layers=2, units=4 * bench_transformer.HEADS)


@pytest.fixture(scope="module")
def network():
    model = bench_transformer.build_transformer(CONFIG, compile=False)
    randomise(model)
    return model


def test_step_by_step_equals_the_whole_window_beyond_the_attention_window(network):
    steps = bench_transformer.WINDOW + 40  # the cache must drop what falls out of the window
    inputs = random_inputs(batch=2, steps=steps)
    expected = network(inputs, training=False)
    stepper = bench_transformer.TransformerStep(network, CONFIG)
    chord, melody, states = stepped_logits(stepper, inputs)
    assert max(k.shape[2] for k, _ in states) == bench_transformer.WINDOW
    assert np.abs(np.asarray(expected["chord"])).max() > 1  # a non-trivial comparison
    np.testing.assert_allclose(chord, expected["chord"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(melody, expected["melody"], atol=1e-4, rtol=1e-4)


def test_a_block_sees_at_most_the_window_behind_it():
    """(Stacked blocks reach further: each block's window starts from the block below's.)"""
    network = bench_transformer.build_transformer(replace(CONFIG, layers=1), compile=False)
    randomise(network)
    steps = bench_transformer.WINDOW + 8
    inputs = random_inputs(batch=1, steps=steps)
    changed = {k: v.copy() for k, v in inputs.items()}
    changed["melody"][:, 0] = (changed["melody"][:, 0] + 1) % 3  # the first step only
    before, after = (np.asarray(network(x, training=False)["chord"]) for x in (inputs, changed))
    moved = np.abs(before - after).max(axis=-1)[0]
    assert moved[bench_transformer.WINDOW - 1] > 1e-4  # still in reach
    assert moved[bench_transformer.WINDOW:].max() == 0  # out of reach
