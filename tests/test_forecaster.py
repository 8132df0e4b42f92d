import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.gradcheck import gradcheck
from rnnkit.losses import mse_loss
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.optim import Adam


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers,horizon", [(1, 1), (2, 3)])
def test_forecaster_backward_matches_finite_differences(cell, layers, horizon):
    config = ForecasterConfig(cell=cell, input_size=2, hidden_size=3, num_layers=layers, horizon=horizon)
    model = Forecaster(config, dtype=np.float64, rng=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4, 2))
    target = rng.standard_normal((4, horizon))

    def loss():
        return mse_loss(model(x), target)[0]

    model.zero_grad()
    model.backward(mse_loss(model(x), target)[1])
    result = gradcheck(loss, model.parameters(), model.grads)
    assert result.max_error < 1e-6, result


def test_forecaster_predicts_horizon_values_per_window():
    model = Forecaster(ForecasterConfig(horizon=4, hidden_size=5), rng=0)
    prediction = model(np.zeros((12, 7, 1), np.float32))
    assert prediction.shape == (7, 4) and prediction.dtype == np.float32


def test_forecaster_learns_a_sine_wave_one_step_ahead():
    series = np.sin(np.arange(300) * 0.3)
    windows = np.lib.stride_tricks.sliding_window_view(series, 9)
    x, y = windows[:, :8].T[:, :, None].copy(), windows[:, 8:].copy()
    model = Forecaster(ForecasterConfig(hidden_size=8), dtype=np.float64, rng=0)
    optimizer = Adam(model, lr=0.02)
    for _ in range(150):
        model.zero_grad()
        loss, grad = mse_loss(model(x), y)
        model.backward(grad)
        optimizer.step()
    assert loss < 0.01 * np.var(y)


def test_forecaster_rejects_a_flat_input():
    with pytest.raises(ValueError, match="window batch"):
        Forecaster(ForecasterConfig(), rng=0)(np.zeros((5, 1), np.float32))


def test_bad_horizon_is_a_config_error():
    with pytest.raises(ConfigError, match="`horizon` must be a positive integer"):
        ForecasterConfig(horizon=0)
