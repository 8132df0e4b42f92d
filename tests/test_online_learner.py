"""The online learner (rnnkit/online/learner.py, network.py, config.py): its gradients, its state, its settings.

The gradient each rule hands the optimizer is checked against an independent
computation with the weights held still (an "optimizer" that only records):
the RTRL rule's per-step gradients sum to BPTT's gradient of the whole stream's loss
(the layer's ``backward`` and ``Linear``'s, through ``to_layers``), the truncated
rule's to ``truncated_gradients`` fed the read-out's errors, and BPTT(h; h) over one
window is BPTT. A learner restored from ``state()`` continues exactly as the original.
"""

from functools import partial

import numpy as np
import pytest

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.layers.recurrent import LSTM
from rnnkit.online import (
    OnlineConfig,
    OnlineLearner,
    OnlineNetwork,
    build_learner,
    build_schedule,
    truncated_gradients,
)
from rnnkit.optim import SGD, Adam, Optimizer

INPUT, HIDDEN, OUTPUT, STEPS = 4, 5, 3, 12


class Recorder(Optimizer):
    """Sums the gradients it is handed and leaves the weights alone."""

    def __init__(self, module):
        super().__init__(module, ())
        self.total = np.zeros_like(module.parameters()["theta"])
        self.calls = 0

    def _update(self, param, grad, work):
        self.total += grad
        self.calls += 1


def stream(rng, steps=STEPS):
    inputs = rng.standard_normal((steps, INPUT))
    targets = (rng.random((steps, OUTPUT)) < 0.5).astype(float)
    return inputs, targets


def learner_for(config: OnlineConfig, optimizer=None, seed=0) -> OnlineLearner:
    learner = build_learner(config, INPUT, OUTPUT, seed)
    if optimizer is not None:
        learner = OnlineLearner(learner.network, config.gradient, optimizer, config.window, config.update_every,
                                config.compiled)
    return learner


def bptt_of_the_stream(network: OnlineNetwork, inputs, targets) -> np.ndarray:
    """dL/dθ of L = sum_t loss_t, by the layer's and Linear's backward over the whole stream."""
    layer, readout = network.to_layers()
    y, _ = layer(inputs[:, None, :])
    pre = readout(y)
    out = 1 / (1 + np.exp(-pre)) if network.output == "sigmoid" else pre
    dh = readout.backward(out - targets[:, None, :])
    layer.backward(dh)
    grads = {f"recurrent.{name}": value for name, value in layer.grads.items()}
    grads.update({f"output.{name}": value for name, value in readout.grads.items()})
    return np.concatenate([grads[name].ravel() for name in network.parameters()])


@pytest.mark.parametrize("config", [
    OnlineConfig(cell="lstm", hidden_size=HIDDEN, gradient="rtrl"),
    OnlineConfig(cell="lstm", hidden_size=HIDDEN, peephole=False, gradient="rtrl", output="linear"),
    OnlineConfig(cell="gru", hidden_size=HIDDEN, reset_after=False, gradient="rtrl"),
    OnlineConfig(cell="rnn", hidden_size=HIDDEN, gradient="rtrl"),
    OnlineConfig(cell="lstm", hidden_size=HIDDEN, gradient="bptt", window=STEPS),
    OnlineConfig(cell="gru", hidden_size=HIDDEN, gradient="bptt", window=STEPS),
], ids=["rtrl-lstm-peephole", "rtrl-lstm-linear", "rtrl-gru-before", "rtrl-rnn", "bptt-lstm", "bptt-gru"])
def test_with_weights_held_still_the_exact_rules_give_bptts_gradient(config):
    rng = np.random.default_rng(0)
    learner = learner_for(config, Recorder)
    inputs, targets = stream(rng)
    expected = bptt_of_the_stream(learner.network, inputs, targets)
    learner.run(inputs, targets)
    assert learner.optimizer.calls == (STEPS if config.gradient == "rtrl" else 1)
    assert np.max(np.abs(learner.optimizer.total - expected)) < 1e-10


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
def test_with_weights_held_still_the_truncated_rule_gives_the_truncated_gradient(compiled):
    rng = np.random.default_rng(1)
    learner = learner_for(OnlineConfig(hidden_size=HIDDEN, compiled=compiled), Recorder)
    inputs, targets = stream(rng)
    network = learner.network
    layer, readout = network.to_layers()
    y, _ = layer(inputs[:, None, :])
    out = 1 / (1 + np.exp(-readout(y)))
    dh = readout.backward(out - targets[:, None, :])               # the read-out's errors, step by step
    truncated = truncated_gradients(layer, inputs[:, None, :], dh)
    expected = {f"recurrent.{name}": value for name, value in truncated.items()}
    expected.update({f"output.{name}": value for name, value in readout.grads.items()})
    learner.run(inputs, targets)
    got = network.layout.views(learner.optimizer.total)
    assert max(np.max(np.abs(got[name] - expected[name])) for name in expected) < 1e-10


@pytest.mark.parametrize("config", [
    OnlineConfig(hidden_size=HIDDEN, optimizer="adam", lr=0.01, compiled=False),
    OnlineConfig(hidden_size=HIDDEN, optimizer="adam", lr=0.01, compiled=True),
    OnlineConfig(hidden_size=HIDDEN, gradient="rtrl", optimizer="momentum", lr=0.01),
    OnlineConfig(cell="gru", hidden_size=HIDDEN, gradient="bptt", window=5, update_every=3, lr=0.01),
], ids=["truncated", "truncated-compiled", "rtrl", "bptt"])
def test_a_learner_restored_from_its_state_continues_exactly(config):
    rng = np.random.default_rng(3)
    inputs, targets = stream(rng, 40)
    original = learner_for(config)
    original.run(inputs[:17], targets[:17])
    for t in range(17, 21):                                    # stop inside a BPTT block: errors pending
        original.learn(inputs[t], targets[t])
    arrays, meta = original.state()
    restored = learner_for(config, seed=99)
    restored.load_state({name: value.copy() for name, value in arrays.items()}, meta)
    assert np.array_equal(original.run(inputs[21:], targets[21:]), restored.run(inputs[21:], targets[21:]))
    assert np.array_equal(original.network.theta, restored.network.theta)


def test_state_is_json_and_arrays():
    import json
    learner = learner_for(OnlineConfig(hidden_size=HIDDEN, optimizer="adam", lr=0.01))
    learner.run(*stream(np.random.default_rng(4)))
    arrays, meta = learner.state()
    json.dumps(meta)
    assert all(isinstance(value, np.ndarray) for value in arrays.values())
    assert {"theta", "state_h", "state_c", "trace", "optimizer.exp_avg.theta"} <= set(arrays)


def test_load_state_refuses_another_learners_state():
    truncated = learner_for(OnlineConfig(hidden_size=HIDDEN))
    arrays, meta = learner_for(OnlineConfig(hidden_size=HIDDEN, gradient="rtrl")).state()
    with pytest.raises(CheckpointError, match="`gradient`"):
        truncated.load_state(arrays, meta)
    arrays, meta = learner_for(OnlineConfig(hidden_size=HIDDEN + 1)).state()
    with pytest.raises(CheckpointError):
        truncated.load_state(arrays, meta)


def test_predict_learns_nothing_and_reset_zeroes_the_state():
    learner = learner_for(OnlineConfig(hidden_size=HIDDEN))
    inputs, targets = stream(np.random.default_rng(5))
    learner.run(inputs, targets)
    theta = learner.network.theta.copy()
    first = learner.predict(inputs[0])
    assert np.array_equal(theta, learner.network.theta)
    assert any(state.any() for state in learner.step.state)
    learner.reset()
    assert not any(state.any() for state in learner.step.state)
    assert np.array_equal(learner.run(inputs[:1])[0], learner.run(inputs[:1], resets=np.array([True]))[0])
    assert first.shape == (OUTPUT,)


def test_network_names_its_parameters_as_a_model_with_a_recurrent_layer_and_a_readout():
    layer = LSTM(INPUT, HIDDEN, peephole=True, dtype=np.float64, rng=0)
    network = OnlineNetwork(layer, OUTPUT, rng=0)
    assert set(network.parameters()) == {f"recurrent.{name}" for name in layer.parameters()} | {
        "output.weight", "output.bias"}
    assert np.array_equal(network.parameters()["recurrent.weight_hh_l0"], layer.parameters()["weight_hh_l0"])
    network.parameters()["output.bias"][0] = 3.0                 # views of θ
    assert 3.0 in network.theta
    copy, readout = network.to_layers()
    assert np.array_equal(readout.bias, network.output_bias)
    assert np.array_equal(copy.parameters()["weight_ci_l0"], layer.parameters()["weight_ci_l0"])


@pytest.mark.parametrize("gradient, lag", [("truncated", 1), ("rtrl", 2), ("bptt", 2)])
def test_a_small_lstm_learns_to_recall_a_symbol_online(gradient, lag):
    """Predict the symbol ``lag`` steps back, learned in 2,500 steps. Recalling two steps back
    takes the path through h_{t-1} that the truncated gradient cuts: RTRL and BPTT learn it."""
    rng = np.random.default_rng(6)
    symbols = rng.integers(3, size=3000)
    inputs, targets = np.eye(3)[symbols], np.eye(3)[np.roll(symbols, lag)]
    network = build_learner(OnlineConfig(hidden_size=8, forget_bias=1.0), 3, 3, 0).network
    learner = OnlineLearner(network, gradient, partial(Adam, lr=0.01), window=4, update_every=1)
    outputs = learner.run(inputs, targets)
    recalled = np.argmax(outputs[-500:], axis=1) == symbols[-500 - lag:-lag]
    assert recalled.mean() > 0.9


@pytest.mark.parametrize("options, message", [
    (dict(gradient="truncated", cell="gru"), "`gradient`='truncated'"),
    (dict(gradient="exact"), "`gradient`"),
    (dict(optimizer="lbfgs"), "`optimizer`"),
    (dict(cell="lstm2"), "`cell`"),
    (dict(hidden_size=0), "`hidden_size`"),
    (dict(lr=0.0), "`lr`"),
])
def test_bad_settings_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        OnlineConfig(**options)


def test_settings_round_trip_through_json():
    config = OnlineConfig(cell="gru", hidden_size=7, gradient="bptt", window=9, update_every=3, optimizer="adam",
                          betas=(0.8, 0.99))
    assert OnlineConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="unknown"):
        OnlineConfig.from_json({"hidden": 3})


def test_initial_weights_follow_the_settings():
    config = OnlineConfig(hidden_size=HIDDEN, forget_bias=2.5, peephole_range=0.0, init_range=0.1)
    p = learner_for(config).network.cell_params
    assert all(not p[name].any() for name in ("weight_ci", "weight_cf", "weight_co"))
    assert np.all(p["bias_ih"][HIDDEN:2 * HIDDEN] == 2.5) and not p["bias_hh"][HIDDEN:2 * HIDDEN].any()
    assert np.abs(p["weight_hh"]).max() <= 0.1
    again = learner_for(config).network.theta
    assert np.array_equal(again, learner_for(config).network.theta)        # the seed decides
    with pytest.raises(ConfigError, match="`forget_bias`"):
        learner_for(OnlineConfig(cell="gru", gradient="rtrl", forget_bias=1.0))


def test_the_learning_rate_schedule_of_the_settings():
    assert build_schedule(OnlineConfig(), learner_for(OnlineConfig(hidden_size=HIDDEN)).optimizer) is None
    config = OnlineConfig(hidden_size=HIDDEN, optimizer="adam", lr=0.01, eps=1e-6, lr_decay=0.5, lr_decay_after=2)
    learner = learner_for(config)
    schedule = build_schedule(config, learner.optimizer)
    assert learner.optimizer.eps == 1e-6
    for _ in range(3):
        schedule.step()
    assert learner.optimizer.lr == pytest.approx(0.01 * 0.5 ** 2)


def test_bptt_window_settings_are_checked():
    with pytest.raises(ConfigError, match="`update_every`"):
        learner_for(OnlineConfig(cell="rnn", gradient="bptt", window=3, update_every=4))


def test_online_network_needs_one_layer_with_biases():
    with pytest.raises(ConfigError, match="`num_layers`=1"):
        OnlineNetwork(LSTM(INPUT, HIDDEN, num_layers=2, dtype=np.float64), OUTPUT)
    with pytest.raises(ConfigError, match="`bias`=True"):
        OnlineNetwork(LSTM(INPUT, HIDDEN, bias=False, dtype=np.float64), OUTPUT)
    with pytest.raises(ConfigError, match="`output`"):
        OnlineNetwork(LSTM(INPUT, HIDDEN, dtype=np.float64), OUTPUT, output="softmax")
    OnlineLearner(OnlineNetwork(LSTM(INPUT, HIDDEN, dtype=np.float64), OUTPUT), "bptt", partial(SGD, lr=0.1))
