"""How long one Compose click of notebook 04's composer takes (target: about a second).

    FOLKRNN_HOME=... python bench/bench_composer.py [RUN]

Builds `composer(load_step_model(RUN))` (RUN defaults to the shipped model, ``pretrained``), then sets a seed
and calls `compose()` (a tune, its piano roll, sheet music and MP3 player) six times; the first
is left out. Prints the best and mean seconds.
"""
from __future__ import annotations

import sys
import time

from folkrnn.require import require_tensorflow


def main(run: str = "pretrained") -> None:
    require_tensorflow()  # first, so that the Keras the imports below load starts quietly
    from folkrnn.composer import composer
    from folkrnn.model import load_step_model

    widget = composer(load_step_model(run))
    times = []
    for seed in range(6):
        widget.seed.value = seed
        start = time.perf_counter()
        widget.compose()
        times.append(time.perf_counter() - start)
    times = times[1:]
    print(f"compose (piano roll + sheet music + audio): best {min(times):.2f} s, "
          f"mean {sum(times) / len(times):.2f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
