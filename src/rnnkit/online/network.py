"""The network an online learner trains: one recurrent layer and a read-out, all in one vector θ.

    h_t = cell(x_t, state_{t-1})                   an RNN, LSTM (peepholes or not) or GRU cell
    y_t = out(h_t W_out^T + b_out)                 out = sigmoid, or the identity ("linear")

A sigmoid read-out is trained with the cross-entropy of each output against a 0/1
target (the targets of a multi-label step, such as the Reber grammar's set of
possible next symbols), a linear one with half the squared error (LSTM.java's
choice). Either way the gradient with respect to the read-out's pre-activation is

    dy_t = y_t - target_t,     dW_out += dy_t^T h_t,     db_out += dy_t,     dh_t = dy_t W_out

The two differ once the outputs are right: the squared error's gradient is then zero,
the cross-entropy's keeps pushing the logits outwards. On a stream that is never reset
that push made peephole LSTM cells latch (examples/online_reber.py says how), so the
Reber grammar is learned with the linear read-out.

The parameters lie in one vector θ (``ParameterLayout``): the cell's first, under
the names of a one-layer rnnkit layer inside a model (``recurrent.weight_ih_l0``,
...), then ``output.weight`` and ``output.bias``. ``state_dict`` and
``load_state_dict`` use these names; ``to_layers`` gives the weights back as an
rnnkit layer and a ``Linear``, e.g. to run a whole sequence or inspect it.
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.cells.activations import sigmoid
from rnnkit.errors import ConfigError
from rnnkit.layers.linear import Linear
from rnnkit.layers.recurrent import GRU, LSTM, RNN, RecurrentLayer
from rnnkit.module import Module
from rnnkit.online.layout import FlatParameters, ParameterLayout

OUTPUTS = ("sigmoid", "linear")


class OnlineNetwork(Module):
    """A one-layer recurrent ``layer``'s cell and weights, with a read-out to ``output_size`` units.

    The layer's weights are copied into θ (the layer itself is not kept); the read-out
    is drawn as ``Linear(H, output_size, rng=rng)``.
    """

    def __init__(self, layer: RecurrentLayer, output_size: int, output: str = "sigmoid", rng=None):
        super().__init__()
        if layer.num_layers != 1 or layer.bidirectional:
            raise ConfigError("an online network has one layer, one direction: "
                              "build its layer with `num_layers`=1 and `bidirectional`=False")
        if not layer.bias:
            raise ConfigError("an online network's layer has biases: build it with `bias`=True")
        if output not in OUTPUTS:
            raise ConfigError(f"`output` must be one of {', '.join(OUTPUTS)}, got {output!r}")
        self.cell, self.input_size, self.output_size = layer.cell, layer.input_size, output_size
        self.output, self.dtype = output, layer.dtype
        H = self.cell.output_size
        cell_shapes = self.cell.parameter_shapes(self.input_size)
        self.recurrent_layout = ParameterLayout(cell_shapes)
        self.layout = ParameterLayout({**{recurrent_name(name): shape for name, shape in cell_shapes.items()},
                                       "output.weight": (output_size, H), "output.bias": (output_size,)})
        self.theta = np.zeros(self.layout.size, self.dtype)
        self.grad = np.zeros(self.layout.size, self.dtype)
        for name, view in self.layout.views(self.theta).items():
            self.register_parameter(name, view)
        for name, view in self.layout.views(self.grad).items():
            self._grads[name] = view
        recurrent = slice(0, self.recurrent_layout.size)
        self.cell_params = self.recurrent_layout.views(self.theta[recurrent])      # by the cell's names
        self.cell_grads = self.recurrent_layout.views(self.grad[recurrent])
        self.output_weight, self.output_bias = self._parameters["output.weight"], self._parameters["output.bias"]
        self.output_weight_grad, self.output_bias_grad = self._grads["output.weight"], self._grads["output.bias"]
        for name, value in layer.cell_parameters(0, 0).items():
            self.cell_params[name][...] = value
        readout = Linear(H, output_size, dtype=self.dtype, rng=rng)
        self.output_weight[...], self.output_bias[...] = readout.weight, readout.bias
        # what an optimizer steps: θ as one parameter. Not a child module (``Module.__setattr__``
        # would register it, and θ would appear twice in ``parameters()``).
        object.__setattr__(self, "flat", FlatParameters(self.theta, self.grad))

    @property
    def recurrent_size(self) -> int:
        """How many of θ's entries are the cell's (they come first)."""
        return self.recurrent_layout.size

    def readout(self, h: np.ndarray) -> np.ndarray:
        """y = out(h W_out^T + b_out), (B, H) -> (B, O)."""
        y = h @ self.output_weight.T
        y += self.output_bias
        return sigmoid(y, out=y) if self.output == "sigmoid" else y

    def add_readout_gradient(self, h: np.ndarray, y: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Add the read-out's gradients for one step's loss; returns dh = dy W_out (B, H)."""
        dy = y - target
        self.output_weight_grad += dy.T @ h
        self.output_bias_grad += dy.sum(axis=0)
        return dy @ self.output_weight

    def to_layers(self) -> tuple[RecurrentLayer, Linear]:
        """The present weights as a one-layer rnnkit layer and a ``Linear`` (copies)."""
        layer = layer_for(self.cell, self.input_size, self.dtype)
        layer.load_state_dict({name[len("recurrent."):]: value for name, value in self.state_dict().items()
                               if name.startswith("recurrent.")})
        readout = Linear(self.cell.output_size, self.output_size, dtype=self.dtype)
        readout.load_state_dict({"weight": self.output_weight, "bias": self.output_bias})
        return layer, readout


def recurrent_name(cell_name: str) -> str:
    """``weight_ih`` -> ``recurrent.weight_ih_l0``: the name a model with a one-layer child ``recurrent`` gives it."""
    return f"recurrent.{cell_name}_l0"


def layer_for(cell, input_size: int, dtype) -> RecurrentLayer:
    """A fresh one-layer rnnkit layer with ``cell``'s configuration."""
    H = cell.hidden_size
    if isinstance(cell, LSTMCell):
        return LSTM(input_size, H, proj_size=cell.proj_size, peephole=cell.peephole, dtype=dtype)
    if isinstance(cell, GRUCell):
        return GRU(input_size, H, reset_after=cell.reset_after, dtype=dtype)
    if isinstance(cell, RNNCell):
        return RNN(input_size, H, nonlinearity=cell.nonlinearity, dtype=dtype)
    raise ConfigError(f"no rnnkit layer has a {type(cell).__name__}")
