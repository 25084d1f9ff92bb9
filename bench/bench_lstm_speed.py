"""Training throughput of LSTM variants on this machine, in one run (findings: LSTM_SPEED.md).

The model is folk-rnn's shape: Embedding(137, 64) -> LSTM(units) x layers -> Dense(137),
trained with RMSprop on next-token cross-entropy, one fixed batch of random tokens.
Throughput = batch * seq_len * steps / seconds (time-steps per second), after a warm-up.
All variants are built first, then timed in ``--rounds`` interleaved rounds, so that a burst
of load from other processes hits all of them; the table shows the best round and the median.

Variants (``--variants``, comma-separated):
  stock        keras.layers.LSTM, train_on_batch, no XLA (the default Keras setup)
  stock-fit    the same through model.fit on a tf.data pipeline
  stock-xla    keras.layers.LSTM(use_cudnn=False) with jit_compile=True (with the default
               use_cudnn="auto" Keras silently turns XLA off for a model with an LSTM)
  stock-bf16   stock with the "mixed_bfloat16" dtype policy
  hoisted      x@W for all steps in one matmul, tf.while_loop over h@U only, autodiff backward
  fast         hoisted + a hand-written backward pass (BPTT) whose loop only does dz@U^T,
               the weight gradient being one big matmul after the loop (what cuDNN does)
  *-xla        hoisted-xla, fast-xla: the same with jit_compile=True
  torch        torch.nn.LSTM with the same model, in a separate --torch-python process

Before timing, ``fast`` is checked to match the stock layer (outputs and gradients, 1e-5).

Example (about 3 minutes):
  .venv/bin/python bench/bench_lstm_speed.py --batch 64,128 --steps 2 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

VOCAB = 137  # folk-rnn's token vocabulary
DEFAULT_VARIANTS = "stock,stock-xla,hoisted,fast,fast-xla,torch"


# --- the candidate layers ---------------------------------------------------------------------

def _gates(z, c):
    """From the pre-activations ``z = x@W + h@U + b`` and the old cell state: (h, c, gates)."""
    zi, zf, zg, zo = tf.split(z, 4, axis=-1)
    i, f, g, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)
    c = f * c + i * g
    return o * tf.tanh(c), c, tf.concat([i, f, g, o], axis=-1)


def _loop(xw, u, h0, c0):
    """Forward recurrence over ``xw`` = x@W + b, (time, batch, 4*units): hs, cs, gates, h, c."""
    steps = tf.shape(xw)[0]
    arrays = [tf.TensorArray(xw.dtype, size=steps) for _ in range(3)]

    def forward(t, h, c, hs, cs, gs):
        h, c, gates = _gates(xw[t] + tf.matmul(h, u), c)
        return t + 1, h, c, hs.write(t, h), cs.write(t, c), gs.write(t, gates)

    _, h, c, hs, cs, gs = tf.while_loop(lambda t, *_: t < steps, forward, (0, h0, c0, *arrays),
                                        maximum_iterations=steps)
    return hs.stack(), cs.stack(), gs.stack(), h, c


@tf.custom_gradient
def fast_recurrence(xw, u, h0, c0):
    """``_loop`` with a hand-written backward pass. Returns (hs, h_last, c_last)."""
    hs, cs, gs, h, c = _loop(xw, u, h0, c0)

    def backward(d_hs, d_h, d_c):
        # All that does not depend on the recurrence is computed for all steps at once.
        i, f, g, o = tf.split(gs, 4, axis=-1)
        c_prev = tf.concat([c0[None], cs[:-1]], axis=0)
        tanh_c = tf.tanh(cs)
        dc_dh = o * (1.0 - tanh_c * tanh_c)
        dz_dc = tf.concat([g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g),
                           tanh_c * o * (1.0 - o)], axis=-1)  # last block is dz_o/dh
        u_t = tf.transpose(u)

        def step_back(t, dh, dc, dzs):
            dh = dh + d_hs[t]
            dc = dc + dh * dc_dh[t]
            dz = tf.concat([dc, dc, dc, dh], axis=-1) * dz_dc[t]
            return t - 1, tf.matmul(dz, u_t), dc * f[t], dzs.write(t, dz)

        steps = tf.shape(xw)[0]
        _, dh0, dc0, dz = tf.while_loop(
            lambda t, *_: t >= 0, step_back,
            (steps - 1, d_h, d_c, tf.TensorArray(xw.dtype, size=steps)), maximum_iterations=steps)
        dz = dz.stack()  # = d(loss)/d(xw)
        h_prev = tf.concat([h0[None], hs[:-1]], axis=0)
        d_u = tf.matmul(tf.reshape(h_prev, [-1, tf.shape(u)[0]]),
                        tf.reshape(dz, [-1, tf.shape(u)[1]]), transpose_a=True)
        return dz, d_u, dh0, dc0

    return (hs, h, c), backward


class HoistedLSTM(keras.layers.Layer):
    """LSTM with x@W hoisted out of the time loop; weights laid out as keras.layers.LSTMCell."""

    hand_written_backward = False

    def __init__(self, units: int, return_state: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.return_state = units, return_state

    def build(self, input_shape):
        n = self.units
        self.kernel = self.add_weight((input_shape[-1], 4 * n), "glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight((n, 4 * n), "orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight((4 * n,), lambda shape, dtype=None: tf.concat(
            [tf.zeros(n), tf.ones(n), tf.zeros(2 * n)], 0), name="bias")

    def call(self, inputs, initial_state=None):
        x = tf.transpose(inputs, (1, 0, 2))  # time-major
        xw = tf.matmul(tf.reshape(x, (-1, x.shape[-1])), self.kernel.value) + self.bias.value
        xw = tf.reshape(xw, (tf.shape(x)[0], tf.shape(x)[1], 4 * self.units))
        if initial_state is None:
            initial_state = [tf.zeros((tf.shape(x)[1], self.units), xw.dtype)] * 2
        u = tf.convert_to_tensor(self.recurrent_kernel.value)
        if self.hand_written_backward:
            hs, h, c = fast_recurrence(xw, u, *initial_state)
        else:
            hs, _, _, h, c = _loop(xw, u, *initial_state)
        outputs = tf.transpose(hs, (1, 0, 2))
        return [outputs, h, c] if self.return_state else outputs


class FastLSTM(HoistedLSTM):
    hand_written_backward = True


def check_fast_lstm() -> float:
    """Largest difference between FastLSTM and keras.layers.LSTM (outputs, states, gradients)."""
    rng = np.random.RandomState(0)
    x, h0, c0 = (tf.constant(rng.randn(*s).astype("float32")) for s in [(3, 7, 5), (3, 4), (3, 4)])
    ref = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    fast = FastLSTM(4, return_state=True)
    ref(x), fast(x)
    fast.set_weights(ref.get_weights())

    def run(layer):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            out = layer(x, initial_state=[h0, c0])
            loss = tf.reduce_sum(out[0] ** 2) + tf.reduce_sum(tf.sin(out[2]))
        return list(out) + tape.gradient(loss, [x, h0, c0] + [w.value for w in layer.trainable_weights])

    return max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(run(ref), run(fast)))


# --- the benchmark ------------------------------------------------------------------------------

TORCH_SCRIPT = r"""
import json, sys, time, torch
a = json.loads(sys.argv[1])
if a["threads"]: torch.set_num_threads(a["threads"])
torch.manual_seed(0)
class Net(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = torch.nn.Embedding(a["vocab"], a["embed"])
        s.lstm = torch.nn.LSTM(a["embed"], a["units"], a["layers"], batch_first=True)
        s.out = torch.nn.Linear(a["units"], a["vocab"])
    def forward(s, x):
        return s.out(s.lstm(s.emb(x))[0])
net = Net(); opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)
x = torch.randint(0, a["vocab"], (a["batch"], a["seq_len"] + 1))
def step():
    opt.zero_grad()
    logits = net(x[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, a["vocab"]), x[:, 1:].reshape(-1))
    loss.backward(); opt.step()
for _ in range(a["warmup"]): step()
start = time.perf_counter()
for _ in range(a["steps"]): step()
print(time.perf_counter() - start)
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--units", type=int, default=200)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--batch", default="64,128", help="batch size(s), comma-separated")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--steps", type=int, default=2, help="timed train steps per round")
    p.add_argument("--warmup", type=int, default=2, help="untimed train steps first")
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    p.add_argument("--variants", default=DEFAULT_VARIANTS)
    p.add_argument("--threads", type=int, default=0, help="TF and torch threads (0: default)")
    p.add_argument("--torch-python", default="/tmp/torchvenv/bin/python")
    return p.parse_args()


def keras_runner(variant: str, batch: int, args: argparse.Namespace):
    """Build and warm up a Keras variant; return a function that runs n train steps."""
    kind, xla = variant.removesuffix("-xla"), variant.endswith("-xla")
    dtype = "mixed_bfloat16" if kind == "stock-bf16" else None

    def rnn():
        if kind in ("stock", "stock-fit", "stock-bf16"):
            return keras.layers.LSTM(args.units, return_sequences=True, dtype=dtype,
                                     use_cudnn=False if xla else "auto")
        return {"hoisted": HoistedLSTM, "fast": FastLSTM}[kind](args.units)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((args.seq_len,), dtype="int32"),
                              keras.layers.Embedding(VOCAB, args.embed, dtype=dtype)]
                             + [rnn() for _ in range(args.layers)] + [keras.layers.Dense(VOCAB)])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), jit_compile=xla,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert bool(model.jit_compile) == xla, "XLA was silently turned off"
    tokens = np.random.RandomState(0).randint(0, VOCAB, (batch, args.seq_len + 1)).astype("int32")
    x, y = tokens[:, :-1], tokens[:, 1:]
    if kind == "stock-fit":
        data = tf.data.Dataset.from_tensors((x, y)).repeat().prefetch(2)
        run = lambda n: model.fit(data, steps_per_epoch=n, epochs=1, verbose=0)  # noqa: E731
    else:
        def run(n):
            for _ in range(n):
                model.train_on_batch(x, y)
    run(args.warmup)
    return run


def torch_runner(batch: int, args: argparse.Namespace):
    """Each call runs a fresh PyTorch process and returns the seconds of its timed loop."""
    cfg = dict(vocab=VOCAB, embed=args.embed, units=args.units, layers=args.layers,
               batch=batch, seq_len=args.seq_len, warmup=args.warmup, threads=args.threads)

    def run(n):
        out = subprocess.run([args.torch_python, "-c", TORCH_SCRIPT, json.dumps({**cfg, "steps": n})],
                             capture_output=True, text=True, check=True)
        return float(out.stdout.split()[-1])
    return run


def main() -> None:
    args = parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    variants = [v for v in args.variants.split(",") if v]
    batches = [int(b) for b in args.batch.split(",")]
    if "torch" in variants and not Path(args.torch_python).exists():
        print(f"# skipping torch: {args.torch_python} not found")
        variants.remove("torch")
    print(f"# TF {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"units={args.units} layers={args.layers} embed={args.embed} seq_len={args.seq_len} "
          f"steps/round={args.steps} rounds={args.rounds}, load average {os.getloadavg()[0]:.1f}")
    if any(v.startswith("fast") for v in variants):
        diff = check_fast_lstm()
        print(f"# FastLSTM vs keras LSTM: max difference {diff:.1e}")
        assert diff < 1e-5

    runners, speeds = {}, {}
    for batch in batches:
        for v in variants:
            t0 = time.perf_counter()
            runners[v, batch] = torch_runner(batch, args) if v == "torch" else keras_runner(v, batch, args)
            speeds[v, batch] = []
            print(f"# built {v} batch={batch} in {time.perf_counter() - t0:.1f}s", flush=True)
    for r in range(args.rounds):
        for (v, batch), run in runners.items():
            start = time.perf_counter()
            seconds = run(args.steps)
            seconds = seconds if v == "torch" else time.perf_counter() - start
            speeds[v, batch].append(batch * args.seq_len * args.steps / seconds)
        print(f"# round {r + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.1f}", flush=True)

    base = max(speeds.get(("stock", batches[0]), [0])) or None
    print(f"\n| variant | batch | best steps/s | median steps/s | best / stock@{batches[0]} |")
    print("|---|---:|---:|---:|---:|")
    for (v, batch), s in speeds.items():
        ratio = f"{max(s) / base:.2f}x" if base else "n/a"
        print(f"| {v} | {batch} | {max(s):,.0f} | {statistics.median(s):,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
