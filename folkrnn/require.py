"""What a notebook needs before it starts: the prepared tunes, a trained run, TensorFlow.

Each notebook runs on its own: `require_tunes` downloads and encodes the tunes if notebook 01
has not run yet, `require_run` loads the run notebook 03 trains (in smoke mode it trains a tiny
one on the spot). `require_tensorflow` loads TensorFlow without its start-up log lines; the
setup cells of notebooks 02-04 call it before importing the modules that use Keras. Importing
this module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

import os
import sys
import warnings

from folkrnn.config import default_config, smoke_mode
from folkrnn.dataset import load_dataset, prepare_dataset
from folkrnn.download import download_dataset, midi_dir
from folkrnn.errors import FolkRNNError


def require_tensorflow():
    """Import Keras (and TensorFlow) without TensorFlow's C++ start-up notes; returns keras.

    TensorFlow writes them ("could not find CUDA drivers", "cuInit failed", "optimized to use
    AVX2") straight to the process's stderr before its log level applies, so Jupyter shows
    them in red under the setup cell although they only say there is no GPU. The import runs
    with file descriptor 2 pointed at /dev/null; Python errors raised by it still show.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    # The one way: these notes bypass Python and every log setting (TF_CPP_MIN_LOG_LEVEL, absl).
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras  # here, not at the top: loading TensorFlow is this function's job
            import tensorflow as tf

            tf.config.list_logical_devices()  # device set-up logs "no CUDA" once, here
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return keras


def require_tunes(*, progress: bool = False):
    """The prepared tunes (a `TuneSet`); downloads and encodes them first if needed.

    The download is 1.5 MB (it honours ``FOLKRNN_DATA_URL``) and encoding takes about 15 s.
    Explained in notebook 01_collect_data.
    """
    if not any(midi_dir().glob("*.mid")):
        print("The dataset is not downloaded yet (notebook 01_collect_data does that): "
              "downloading it now.")
        download_dataset(progress=progress)
        return prepare_dataset()
    return load_dataset()


def _load_run(run_name: str):
    from folkrnn.model import load_run  # here: it loads Keras, which importing us must not

    with warnings.catch_warnings():
        # A weights file saved before any training step holds no optimizer state; Keras says
        # "Skipping variable loading for optimizer" although the weights load fine.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return load_run(run_name)


def require_run(run_name: str):
    """``(model, config)`` of a trained run (its best checkpoint so far).

    Without a checkpoint: a `FolkRNNError` that says to run notebook 03 first, or, in smoke mode
    (``FOLKRNN_SMOKE=1``), a tiny model trained on the spot. Explained in notebook 04_test_model.
    """
    require_tensorflow()
    try:
        return _load_run(run_name)
    except FolkRNNError as error:
        if not smoke_mode():
            raise FolkRNNError(
                f"no trained model {run_name!r} to test yet: run notebook 03_train_model first "
                f"(you don't have to wait until it's done: a checkpoint is saved after every "
                f"epoch, and notebook 04 loads the best one so far). Details: {error}") from None
    from folkrnn.train import train_model  # here: it loads Keras (see _load_run)

    print(f"smoke mode: no run {run_name!r} yet, so a tiny model is trained first")
    train_model(default_config(), run_name, tunes=require_tunes(), verbose=0)
    return _load_run(run_name)
