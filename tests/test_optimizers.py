"""Optimizers (rnnkit/optim/optimizers.py): PyTorch parity, in-place updates, state dicts."""

import json

import numpy as np
import pytest

from rnnkit.errors import CheckpointError
from rnnkit.layers.linear import Linear
from rnnkit.module import Module
from rnnkit.optim import SGD, Adagrad, Adam, AdamW, RMSprop

STEPS = 5

# (optimizer, options): each is run against torch.optim.<same name> with the same options
CONFIGS = {
    "sgd": (SGD, dict(lr=0.1)),
    "sgd-momentum": (SGD, dict(lr=0.1, momentum=0.9)),
    "sgd-nesterov": (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "sgd-dampening": (SGD, dict(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.1)),
    "adagrad": (Adagrad, dict(lr=0.1, eps=1e-8)),
    "adagrad-decay": (Adagrad, dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    "rmsprop": (RMSprop, dict(lr=0.01, alpha=0.95)),
    "rmsprop-momentum": (RMSprop, dict(lr=0.01, momentum=0.9, weight_decay=0.01)),
    "adam": (Adam, dict(lr=0.01)),
    "adam-l2": (Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "adamw": (AdamW, dict(lr=0.01)),
    "adamw-strong": (AdamW, dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.5)),
}


class TwoLayers(Module):
    """Parameters under dotted names: first.weight, first.bias, second.weight."""

    def __init__(self, dtype=np.float64, seed=0):
        super().__init__()
        self.first = Linear(4, 3, dtype=dtype, rng=seed)
        self.second = Linear(3, 2, bias=False, dtype=dtype, rng=seed + 1)


def set_random_grads(module, rng):
    for grad in module.grads.values():
        grad[...] = rng.standard_normal(grad.shape)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_optimizer_matches_torch_over_five_steps(torch, name):
    optimizer_class, options = CONFIGS[name]
    module = TwoLayers()
    torch_params = {n: torch.tensor(p, requires_grad=True) for n, p in module.parameters().items()}
    optimizer = optimizer_class(module, **options)
    torch_optimizer = getattr(torch.optim, optimizer_class.__name__)(
        list(torch_params.values()), **options
    )
    rng = np.random.default_rng(1)
    for step in range(STEPS):
        set_random_grads(module, rng)
        for n, param in torch_params.items():
            param.grad = torch.tensor(module.grads[n])
        if step == 3:  # a schedule changes lr between steps
            optimizer.lr *= 0.5
            torch_optimizer.param_groups[0]["lr"] *= 0.5
        optimizer.step()
        torch_optimizer.step()
    for n, param in module.parameters().items():
        np.testing.assert_allclose(param, torch_params[n].detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["sgd-nesterov", "adagrad", "rmsprop-momentum", "adamw"])
def test_optimizer_updates_parameters_in_place_and_keeps_float32(name):
    optimizer_class, options = CONFIGS[name]
    module = TwoLayers(dtype=np.float32)
    arrays = module.parameters()
    before = {n: p.copy() for n, p in arrays.items()}
    optimizer = optimizer_class(module, **options)
    set_random_grads(module, np.random.default_rng(0))
    optimizer.step()
    for n, param in module.parameters().items():
        assert param is arrays[n] and param.dtype == np.float32
        assert not np.array_equal(param, before[n])


@pytest.mark.parametrize("name", ["sgd-momentum", "adagrad-decay", "rmsprop-momentum", "adam"])
def test_state_dict_round_trip_resumes_identically(name):
    optimizer_class, options = CONFIGS[name]
    rng = np.random.default_rng(2)
    module = TwoLayers()
    optimizer = optimizer_class(module, **options)
    for _ in range(3):
        set_random_grads(module, rng)
        optimizer.step()
    arrays, scalars = optimizer.state_dict()
    resumed_module = TwoLayers(seed=10)
    resumed_module.load_state_dict(module.state_dict())
    resumed = optimizer_class(resumed_module, **dict(options, lr=123.0))  # lr comes from the state
    resumed.load_state_dict(arrays, json.loads(json.dumps(scalars)))
    assert resumed.lr == options["lr"] and resumed.step_count == 3
    for _ in range(2):
        set_random_grads(module, rng)
        for n, grad in resumed_module.grads.items():
            grad[...] = module.grads[n]
        optimizer.step()
        resumed.step()
    for n, param in module.parameters().items():
        np.testing.assert_array_equal(resumed_module.parameters()[n], param)


def test_state_dict_names_each_buffer_after_its_parameter():
    optimizer = Adam(TwoLayers())
    arrays, scalars = optimizer.state_dict()
    assert sorted(arrays) == sorted(
        f"{buffer}.{param}"
        for buffer in ("exp_avg", "exp_avg_sq")
        for param in ("first.weight", "first.bias", "second.weight")
    )
    assert scalars == {
        "type": "Adam", "step_count": 0, "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8,
        "weight_decay": 0.0,
    }


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda arrays, _: arrays.pop("exp_avg.first.bias"), r"missing \['exp_avg.first.bias'\]"),
        (lambda arrays, _: arrays.update({"exp_avg.first.bias": np.zeros(5)}), r"shape \(3,\)"),
        (lambda _, scalars: scalars.update(type="SGD"), "saved state is for SGD, not Adam"),
        (lambda _, scalars: scalars.pop("betas"), "lacks betas"),
    ],
    ids=["missing-buffer", "wrong-shape", "other-optimizer", "missing-setting"],
)
def test_load_state_dict_rejects_state_that_does_not_fit(corrupt, message):
    arrays, scalars = Adam(TwoLayers()).state_dict()
    corrupt(arrays, scalars)
    optimizer = Adam(TwoLayers())
    with pytest.raises(CheckpointError, match=message):
        optimizer.load_state_dict(arrays, scalars)


def test_zero_grad_clears_the_module_gradients():
    module = TwoLayers()
    set_random_grads(module, np.random.default_rng(0))
    SGD(module, lr=0.1).zero_grad()
    assert not any(np.any(grad) for grad in module.grads.values())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda m: SGD(m, lr=-1.0), "lr must be a finite number >= 0"),
        (lambda m: Adam(m, lr=float("nan")), "lr must be a finite number >= 0, got nan"),
        (lambda m: Adagrad(m, lr=float("inf")), "lr must be a finite number >= 0, got inf"),
        (lambda m: RMSprop(m, eps=float("nan")), "eps must be a finite number >= 0, got nan"),
        (lambda m: SGD(m, lr=0.1, nesterov=True), "nesterov momentum needs momentum > 0"),
        (lambda m: RMSprop(m, alpha=1.0), r"alpha must lie in \[0, 1\)"),
        (lambda m: Adam(m, betas=(0.9, 1.0)), r"betas\[1\] must lie in \[0, 1\)"),
        (lambda m: Adam(m, betas=(float("nan"), 0.9)), r"betas\[0\] must lie in \[0, 1\)"),
    ],
    ids=["negative-lr", "nan-lr", "inf-lr", "nan-eps", "nesterov-without-momentum", "alpha", "beta2", "nan-beta1"],
)
def test_optimizers_reject_invalid_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make(TwoLayers())
