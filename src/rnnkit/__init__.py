"""rnnkit: recurrent neural networks with hand-derived backpropagation through time, in NumPy."""

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.min_rnn import MinGRU, MinLSTM
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.module import Module

__all__ = ["Module", "RNN", "LSTM", "GRU", "MinGRU", "MinLSTM", "gradcheck"]
__version__ = "0.1.0"
