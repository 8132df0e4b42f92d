"""The math of one time step: each cell's forward and backward, side by side."""

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.layer_norm_gru import LayerNormGRUCell
from rnnkit.cells.layer_norm_lstm import LayerNormLSTMCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "LayerNormLSTMCell", "LayerNormGRUCell"]
