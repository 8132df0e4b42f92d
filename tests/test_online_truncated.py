"""The truncated LSTM gradient (rnnkit/online/truncated.py) against its definition, by brute force.

The papers define the truncated gradient by what it leaves out: no error through
h_{t-1} into earlier steps, none through the peephole connections, and the cell
state's past reached through the constant error carousel alone. Written as a
computation graph, that is the LSTM step with h_{t-1}, the peephole sources c_{t-1}
(into i, f) and c_t (into o) detached; PyTorch's autograd through that graph, over
the whole sequence, gives the brute-force truncated gradient of sum_t <dy_t, h_t>.
The traces must give the same numbers within 1e-10 (float64).
"""

import numpy as np
import pytest
from torch_oracle import require_torch

from rnnkit import GRU, LSTM
from rnnkit.errors import ConfigError
from rnnkit.online import rtrl_gradients, truncated_gradients

torch = require_torch()

INPUT, HIDDEN, STEPS, BATCH = 3, 4, 7, 2
TOLERANCE = 1e-10


def make_layer(peephole: bool, rng) -> LSTM:
    layer = LSTM(INPUT, HIDDEN, peephole=peephole, dtype=np.float64, rng=rng)
    for name, value in layer.parameters().items():
        if name.startswith("weight_c"):
            value[:] = rng.uniform(-0.5, 0.5, value.shape)
    return layer


def brute_force_truncated(layer, x, dy, h0) -> dict[str, np.ndarray]:
    """Autograd through the LSTM step with the recurrent paths the papers cut detached."""
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.parameters().items()}
    H = HIDDEN
    zero = torch.zeros(H, dtype=torch.float64)
    W_ih, W_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    bias = params["bias_ih_l0"] + params["bias_hh_l0"]
    w_ci, w_cf, w_co = (params.get(name, zero) for name in ("weight_ci_l0", "weight_cf_l0", "weight_co_l0"))
    h, c = (torch.tensor(s[0]) for s in h0)
    total = torch.zeros((), dtype=torch.float64)
    for t in range(len(x)):
        z = torch.tensor(x[t]) @ W_ih.T + h.detach() @ W_hh.T + bias
        i = torch.sigmoid(z[:, :H] + w_ci * c.detach())
        f = torch.sigmoid(z[:, H:2 * H] + w_cf * c.detach())
        g = torch.tanh(z[:, 2 * H:3 * H])
        c = f * c + i * g                                  # the carousel: the one path into the past
        o = torch.sigmoid(z[:, 3 * H:] + w_co * c.detach())
        h = o * torch.tanh(c)
        total = total + (h * torch.tensor(dy[t])).sum()
    total.backward()
    return {name: tensor.grad.numpy() for name, tensor in params.items()}


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
def test_truncated_gradient_equals_its_brute_force_definition(peephole):
    rng = np.random.default_rng(3)
    layer = make_layer(peephole, rng)
    x = rng.standard_normal((STEPS, BATCH, INPUT))
    dy = rng.standard_normal((STEPS, BATCH, HIDDEN))
    h0 = (rng.standard_normal((1, BATCH, HIDDEN)), rng.standard_normal((1, BATCH, HIDDEN)))

    expected = brute_force_truncated(layer, x, dy, h0)
    got = truncated_gradients(layer, x, dy, h0)

    assert got.keys() == expected.keys()
    for name in expected:
        assert np.max(np.abs(got[name] - expected[name])) < TOLERANCE, name


def test_truncated_gradient_of_one_step_from_rest_is_exact():
    """From a zero state, one step has no past to cut: without peepholes nothing is left out."""
    rng = np.random.default_rng(4)
    layer = make_layer(False, rng)
    x, dy = rng.standard_normal((1, BATCH, INPUT)), rng.standard_normal((1, BATCH, HIDDEN))
    exact, truncated = rtrl_gradients(layer, x, dy), truncated_gradients(layer, x, dy)
    assert max(np.max(np.abs(exact[k] - truncated[k])) for k in exact) < TOLERANCE


def test_truncation_leaves_something_out_over_several_steps():
    rng = np.random.default_rng(5)
    layer = make_layer(True, rng)
    x, dy = rng.standard_normal((STEPS, BATCH, INPUT)), rng.standard_normal((STEPS, BATCH, HIDDEN))
    exact, truncated = rtrl_gradients(layer, x, dy), truncated_gradients(layer, x, dy)
    assert np.max(np.abs(exact["weight_hh_l0"] - truncated["weight_hh_l0"])) > 1e-3


def test_truncated_gradient_is_the_lstms():
    with pytest.raises(ConfigError, match="truncated gradient is the LSTM's"):
        truncated_gradients(GRU(INPUT, HIDDEN, dtype=np.float64), np.zeros((2, 1, INPUT)), np.zeros((2, 1, HIDDEN)))
    with pytest.raises(ConfigError, match="`proj_size`=0"):
        truncated_gradients(LSTM(INPUT, HIDDEN, proj_size=2, dtype=np.float64), np.zeros((2, 1, INPUT)),
                            np.zeros((2, 1, 2)))
