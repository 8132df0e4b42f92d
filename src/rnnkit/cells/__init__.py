"""The math of one time step: each cell's forward and backward, side by side."""

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]
