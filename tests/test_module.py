"""rnnkit/module.py: composition, gradients, modes and state dicts of the base class."""

import numpy as np
import pytest

from rnnkit.layers.recurrent import GRU
from rnnkit.module import Module


class Pair(Module):
    def __init__(self):
        super().__init__()
        self.scale = self.register_parameter("scale", np.ones(2))
        self.rnn = GRU(2, 3, dropout=0.0)


def test_children_appear_under_dotted_names_as_live_arrays():
    model = Pair()
    params, grads = model.parameters(), model.grads
    assert "scale" in params and "rnn.weight_hh_l0" in params
    assert params.keys() == grads.keys()
    params["rnn.bias_ih_l0"][0] = 42.0
    assert model.rnn.parameters()["bias_ih_l0"][0] == 42.0


def test_zero_grad_clears_every_child():
    model = Pair()
    for grad in model.grads.values():
        grad += 1.0
    model.zero_grad()
    assert all(not grad.any() for grad in model.grads.values())


def test_train_and_eval_propagate_to_children():
    model = Pair()
    model.eval()
    assert not model.training and not model.rnn.training
    model.train()
    assert model.rnn.training


def test_state_dict_is_a_copy_and_load_is_in_place():
    model = Pair()
    state = model.state_dict()
    state["scale"][:] = 5.0
    assert model.parameters()["scale"][0] == 1.0
    live = model.parameters()["scale"]
    model.load_state_dict(state)
    assert live[0] == 5.0


def test_load_state_dict_reports_unexpected_keys():
    model = Pair()
    state = model.state_dict() | {"extra": np.zeros(1)}
    with pytest.raises(KeyError, match="unexpected \\['extra'\\]"):
        model.load_state_dict(state)
    model.load_state_dict(state, strict=False)
