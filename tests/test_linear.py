"""Linear (rnnkit/layers/linear.py): finite differences, PyTorch parity, init and errors."""

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.linear import Linear

IN, OUT = 4, 3
SHAPE = (5, 2, IN)  # (T, B, I): applied at every time step


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_linear_gradients_match_finite_differences(bias):
    rng = np.random.default_rng(0)
    layer = Linear(IN, OUT, bias=bias, dtype=np.float64, rng=1)
    x = rng.standard_normal(SHAPE)
    dy = rng.standard_normal(SHAPE[:-1] + (OUT,))
    layer(x)
    dx = layer.backward(dy)
    result = gradcheck(
        lambda: float(np.sum(layer(x) * dy)),
        {"x": x, **layer.parameters()},
        {"x": dx, **layer.grads},
    )
    assert result.max_error < 1e-6, result


def test_linear_matches_torch_on_a_sequence(torch):
    rng = np.random.default_rng(2)
    layer = Linear(IN, OUT, dtype=np.float64, rng=3)
    torch_layer = torch.nn.Linear(IN, OUT).double()
    torch_layer.load_state_dict({n: torch.tensor(value) for n, value in layer.state_dict().items()})
    x = rng.standard_normal(SHAPE)
    dy = rng.standard_normal(SHAPE[:-1] + (OUT,))

    x_t = torch.tensor(x, requires_grad=True)
    y_t = torch_layer(x_t)
    y_t.backward(torch.tensor(dy))
    y = layer(x)
    dx = layer.backward(dy)

    np.testing.assert_allclose(y, y_t.detach().numpy(), atol=1e-14)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), atol=1e-14)
    for name, param in torch_layer.named_parameters():
        np.testing.assert_allclose(layer.grads[name], param.grad.numpy(), atol=1e-13)


def test_linear_init_is_uniform_within_one_over_root_fan_in():
    layer = Linear(100, 200, rng=0)
    bound = 1.0 / np.sqrt(100)
    assert layer.weight.shape == (200, 100) and layer.bias.shape == (200,)
    assert layer.weight.dtype == np.float32
    assert np.abs(layer.weight).max() <= bound
    assert np.abs(layer.weight).max() > 0.99 * bound  # spread over the whole interval
    assert np.abs(layer.bias).max() <= bound
    np.testing.assert_array_equal(layer.weight, Linear(100, 200, rng=0).weight)


def test_linear_without_bias_has_only_a_weight():
    layer = Linear(IN, OUT, bias=False, rng=0)
    assert list(layer.parameters()) == ["weight"]
    x = np.ones((2, IN), dtype=np.float32)
    np.testing.assert_allclose(layer(x), x @ layer.weight.T)


def test_linear_gradients_accumulate_over_calls():
    layer = Linear(IN, OUT, dtype=np.float64, rng=0)
    x, dy = np.ones((2, IN)), np.ones((2, OUT))
    for _ in range(3):
        layer(x)
        layer.backward(dy)
    np.testing.assert_array_equal(layer.grads["weight"], 6.0)  # 3 calls x 2 rows
    np.testing.assert_array_equal(layer.grads["bias"], 6.0)


def test_linear_rejects_wrong_input_and_gradient_shapes():
    layer = Linear(IN, OUT, rng=0)
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 4\)"):
        layer(np.zeros((2, IN + 1)))
    layer(np.zeros(SHAPE))
    with pytest.raises(ValueError, match=r"dy: expected shape \(5, 2, 3\)"):
        layer.backward(np.zeros((5, 2, OUT + 1)))


# -- TiedLinear: the output layer's weight is the embedding's --------------------------------------

def tied_pair(dtype=np.float64):
    from rnnkit.layers.embedding import Embedding
    from rnnkit.layers.linear import TiedLinear
    embedding = Embedding(6, IN, dtype=dtype, rng=0)
    return embedding, TiedLinear(embedding, rng=1)


def test_tied_linear_shares_the_embedding_weight_and_owns_only_its_bias():
    embedding, tied = tied_pair()
    assert tied.weight is embedding.weight
    assert list(tied.parameters()) == ["bias"]
    assert (tied.in_features, tied.out_features) == (IN, 6)


def test_tied_linear_gradients_of_both_uses_add_and_match_finite_differences():
    embedding, tied = tied_pair()
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 6, (5, 2))
    dy = rng.standard_normal((5, 2, 6))
    tied(embedding(ids))
    embedding.backward(tied.backward(dy))
    result = gradcheck(lambda: float(np.sum(tied(embedding(ids)) * dy)),
                       {"embedding": embedding.weight, "bias": tied.bias},
                       {"embedding": embedding.grads["weight"], "bias": tied.grads["bias"]})
    assert result.max_error < 1e-6, result


def test_tied_linear_matches_torch_with_the_weight_shared(torch):
    embedding, tied = tied_pair()
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 6, (5, 2))
    dy = rng.standard_normal((5, 2, 6))
    y = tied(embedding(ids))
    embedding.backward(tied.backward(dy))

    weight = torch.tensor(embedding.weight.copy(), requires_grad=True)
    bias = torch.tensor(tied.bias.copy(), requires_grad=True)
    y_t = torch.nn.functional.linear(torch.nn.functional.embedding(torch.tensor(ids), weight), weight, bias)
    (y_t * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(embedding.grads["weight"], weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tied.grads["bias"], bias.grad.numpy(), rtol=1e-10, atol=1e-12)
