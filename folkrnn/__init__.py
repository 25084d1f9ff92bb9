"""folkrnn: train an LSTM to compose British folk tunes, then see and hear them.

The notebooks in ``notebooks/`` explain each step; this package does the work.
"""
__version__ = "0.1.0"
