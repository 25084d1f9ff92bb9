"""Benchmark: encoding the whole collection cold (no cache) and loading it warm (from the cache).

    FOLKRNN_DATA_URL=file:///path/to/nottingham-dataset-master.zip python bench/bench_prepare.py

Targets (issue 2): cold <= 20 s, warm <= 1 s on 2 cores. Uses a scratch FOLKRNN_HOME.
"""
from __future__ import annotations

import os
import tempfile
import time


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["FOLKRNN_HOME"] = home
        from folkrnn.dataset import cache_dir, load_cache, prepare_dataset
        from folkrnn.download import download_dataset

        download_dataset(progress=False)
        start = time.perf_counter()
        tuneset = prepare_dataset()
        cold = time.perf_counter() - start
        warm = []
        for _ in range(3):
            start = time.perf_counter()
            prepare_dataset()  # checks the source digest, then reads the cache
            warm.append(time.perf_counter() - start)
        start = time.perf_counter()
        load_cache(cache_dir())
        load_only = time.perf_counter() - start
        print(tuneset.summary().splitlines()[0])
        print(f"cold prepare (encode {len(tuneset.all)} tunes + write cache): {cold:.2f} s")
        print(f"warm prepare (digest check + cache load), best of 3: {min(warm):.3f} s")
        print(f"cache load alone: {load_only:.3f} s  (cpus: {os.cpu_count()})")


if __name__ == "__main__":
    main()
