"""rnnkit/inspect/gradients.py: state gradient norms against PyTorch autograd, profiles over text, pictures."""

import numpy as np
import pytest

from rnnkit.errors import ConfigError, DataError
from rnnkit.inspect.gradients import (compare_gradient_distance, loss_gradient_by_distance, state_gradient_norms,
                                      window_gradient_norms)
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.models.char_lm import CharLM, CharLMConfig

STEPS, BATCH, INPUT, HIDDEN = 9, 3, 4, 5
VARIANTS = {
    "rnn-tanh": lambda: RNN(INPUT, HIDDEN, dtype=np.float64, rng=1),
    "rnn-relu": lambda: RNN(INPUT, HIDDEN, nonlinearity="relu", dtype=np.float64, rng=1),
    "lstm": lambda: LSTM(INPUT, HIDDEN, dtype=np.float64, rng=1),
    "lstm-peephole": lambda: LSTM(INPUT, HIDDEN, peephole=True, dtype=np.float64, rng=1),
    "gru-reset-after": lambda: GRU(INPUT, HIDDEN, dtype=np.float64, rng=1),
    "gru-reset-before": lambda: GRU(INPUT, HIDDEN, reset_after=False, dtype=np.float64, rng=1),
}


# -- an independent reference: each step written in torch from the papers, retain_grad on every state -------

def torch_step(torch, layer, p, x_t, h, c):
    """One step of ``layer``'s cell in torch, from its equations (rnnkit/cells/*.py docstrings)."""
    if isinstance(layer, RNN):
        a = x_t @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
        return (torch.tanh(a) if layer.cell.nonlinearity == "tanh" else torch.relu(a)), None
    if isinstance(layer, LSTM):
        z = x_t @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
        z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
        peep = {name: p.get(name, torch.zeros(HIDDEN, dtype=torch.float64)) for name in
                ("weight_ci", "weight_cf", "weight_co")}
        i = torch.sigmoid(z_i + peep["weight_ci"] * c)
        f = torch.sigmoid(z_f + peep["weight_cf"] * c)
        c_new = f * c + i * torch.tanh(z_g)
        o = torch.sigmoid(z_o + peep["weight_co"] * c_new)
        return o * torch.tanh(c_new), c_new
    W_ir, W_iz, W_in = p["weight_ih"].chunk(3)
    W_hr, W_hz, W_hn = p["weight_hh"].chunk(3)
    b_ir, b_iz, b_in = p["bias_ih"].chunk(3)
    b_hr, b_hz, b_hn = p["bias_hh"].chunk(3)
    r = torch.sigmoid(x_t @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x_t @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    if layer.reset_after:
        n = torch.tanh(x_t @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    else:
        n = torch.tanh(x_t @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    return (1 - z) * n + z * h, None


def torch_state_gradient_norms(torch, layer, x, dh_T):
    p = {name: torch.tensor(np.array(value)) for name, value in layer.cell_parameters(0).items()}
    h = torch.zeros(BATCH, HIDDEN, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(BATCH, HIDDEN, dtype=torch.float64, requires_grad=True)
    hs, cs = [h], [c]
    for x_t in torch.tensor(x):
        h, c_new = torch_step(torch, layer, p, x_t, h, c)
        h.retain_grad()
        hs.append(h)
        if c_new is not None:
            c = c_new
            c.retain_grad()
            cs.append(c)
    (h * torch.tensor(dh_T)).sum().backward()
    norms = {"h": np.array([float(state.grad.norm()) for state in hs])}
    if isinstance(layer, LSTM):
        norms["c"] = np.array([float(state.grad.norm()) for state in cs])
    return norms


@pytest.mark.parametrize("given_dh", [False, True], ids=["ones", "random"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_state_gradient_norms_match_torch_autograd(torch, variant, given_dh):
    layer = VARIANTS[variant]()
    rng = np.random.default_rng(0)
    if layer.cell.num_gates == 4 and layer.cell.peephole:
        for name in ("weight_ci_l0", "weight_cf_l0", "weight_co_l0"):
            layer.parameters()[name][:] = rng.uniform(-1, 1, HIDDEN)
    x = rng.standard_normal((STEPS, BATCH, INPUT))
    dh_T = rng.standard_normal((BATCH, HIDDEN)) if given_dh else np.ones((BATCH, HIDDEN))
    ours = state_gradient_norms(layer, x, dh_T if given_dh else None)
    reference = torch_state_gradient_norms(torch, layer, x, dh_T)
    assert ours.keys() == reference.keys()
    for name in ours:
        assert ours[name].shape == (STEPS + 1,)
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-10, atol=0)
    assert ours["h"][-1] == pytest.approx(np.linalg.norm(dh_T), rel=1e-12)


def test_state_gradient_norms_leave_the_layer_untouched():
    layer = VARIANTS["lstm"]()
    x = np.random.default_rng(0).standard_normal((STEPS, BATCH, INPUT))
    before = {name: grad.copy() for name, grad in layer.grads.items()}
    state_gradient_norms(layer, x)
    for name, grad in layer.grads.items():
        np.testing.assert_array_equal(grad, before[name])


def test_a_tanh_rnn_with_a_small_recurrent_matrix_forgets_geometrically():
    """dL/dh_{k-1} = (dL/dh_k * (1 - h_k^2)) W_hh: with ||W_hh|| = 0.5 each step at least halves it."""
    layer = RNN(INPUT, HIDDEN, dtype=np.float64, rng=0)
    weight = layer.parameters()["weight_hh_l0"]
    weight *= 0.5 / np.linalg.norm(weight, 2)
    norms = state_gradient_norms(layer, np.random.default_rng(0).standard_normal((30, 2, INPUT)))["h"]
    assert np.all(norms[:-1] <= 0.5 * norms[1:] + 1e-15)


@pytest.mark.parametrize("make, message", [
    (lambda: LSTM(INPUT, HIDDEN, num_layers=2), "`layer` has 2 layers"),
    (lambda: GRU(INPUT, HIDDEN, bidirectional=True), "`layer` is bidirectional"),
])
def test_stacks_and_bidirectional_layers_are_refused(make, message):
    with pytest.raises(ConfigError, match=message):
        state_gradient_norms(make(), np.zeros((3, 1, INPUT), np.float32))


def test_a_layer_with_zoneout_is_refused_as_the_replay_does_not_mix_its_states():
    with pytest.raises(ConfigError, match="the layer has zoneout"):
        state_gradient_norms(LSTM(INPUT, HIDDEN, zoneout_c=0.1), np.zeros((3, 1, INPUT), np.float32))
    state_gradient_norms(LSTM(INPUT, HIDDEN, recurrent_dropout=0.3), np.zeros((3, 1, INPUT), np.float32))


def test_a_badly_shaped_dh_T_is_refused():
    with pytest.raises(ConfigError, match="`dh_T` must have shape"):
        state_gradient_norms(RNN(INPUT, HIDDEN), np.zeros((3, 2, INPUT), np.float32), np.ones((2, 7)))


# -- the loss at t against the state d steps back, on text --------------------------------------------------

def tiny_char_model(cell="lstm", num_layers=1, dtype=np.float64):
    config = CharLMConfig(vocab_size=7, cell=cell, hidden_size=6, num_layers=num_layers, embedding_dim=3)
    return CharLM(config, dtype=dtype, rng=0)


def loss_at_last_step(model, window, target):
    logits, _ = model(window[:, None])
    z = logits[-1, 0]
    return np.log(np.exp(z - z.max()).sum()) + z.max() - z[target]


@pytest.mark.parametrize("num_layers, layer_index", [(1, 0), (2, 1), (2, 0)])
def test_window_gradients_match_finite_differences_of_the_loss(num_layers, layer_index):
    """Perturb h_k of one layer (k = 4) and run the rest of the sequence: dE/dh_k by central differences."""
    model = tiny_char_model("gru", num_layers)
    window, target = np.array([1, 4, 2, 6, 0, 3, 3, 5]), 2
    norms = window_gradient_norms(model, window[:, None], np.array([target]), layer_index)
    k, eps = 4, 1e-6
    numeric = np.zeros(6)
    for unit in range(6):
        losses = []
        for sign in (1, -1):
            losses.append(loss_with_perturbed_state(model, window, target, layer_index, k, unit, sign * eps))
        numeric[unit] = (losses[0] - losses[1]) / (2 * eps)
    assert norms[k, 0] == pytest.approx(np.linalg.norm(numeric), rel=1e-6)


def loss_with_perturbed_state(model, window, target, layer_index, k, unit, delta):
    """E at the last step when layer ``layer_index``'s h_k (the state before step k, k > 0) moves by ``delta``."""
    from rnnkit.layers.time_loop import forward_through_time
    rnn = model.rnn
    layer_input = model.embedding(window[:, None])
    for layer in range(rnn.num_layers):
        params = rnn.cell_parameters(layer)
        first, _, _ = forward_through_time(rnn.cell, params, layer_input[:k], (np.zeros((1, 6)),))
        if layer == layer_index:
            state = first[-1].copy()
            state[0, unit] += delta
            rest, _, _ = forward_through_time(rnn.cell, params, layer_input[k:], (state,))
            layer_input = np.concatenate([first[:-1], state[None], rest])     # h_k is also output k-1
        else:
            layer_input, _, _ = forward_through_time(rnn.cell, params, layer_input, (np.zeros((1, 6)),))
    z = model.decoder(layer_input[-1, 0])
    return np.log(np.exp(z - z.max()).sum()) + z.max() - z[target]


def test_loss_gradient_by_distance_summarises_the_windows():
    model = tiny_char_model()
    ids = np.random.default_rng(0).integers(0, 7, 300)
    profile = loss_gradient_by_distance(model, ids, max_distance=20, windows=16, warmup=5, rng=3)
    assert profile["distance"].tolist() == list(range(21))
    assert np.all(profile["q10"] <= profile["median"]) and np.all(profile["median"] <= profile["q90"])
    assert np.all(profile["mean"] > 0)
    assert profile["mean"][-1] < profile["mean"][0]       # an untrained model forgets


def test_loss_gradient_by_distance_needs_enough_text():
    with pytest.raises(DataError, match="the text has 30 characters"):
        loss_gradient_by_distance(tiny_char_model(), np.zeros(30, np.int64), max_distance=40)


def test_compare_gradient_distance_writes_png_and_csv(tmp_path):
    ids = np.random.default_rng(0).integers(0, 7, 200)
    models = {cell: {"init": tiny_char_model(cell, dtype=np.float32)} for cell in ("rnn", "lstm", "gru")}
    profiles = compare_gradient_distance(models, ids, tmp_path / "g.png", tmp_path / "g.csv", max_distance=10,
                                         windows=4, warmup=2)
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    rows = (tmp_path / "g.csv").read_text().splitlines()
    assert rows[0] == "cell,stage,distance,mean,median,q10,q90" and len(rows) == 1 + 3 * 11
    assert set(profiles) == {"rnn", "lstm", "gru"}
