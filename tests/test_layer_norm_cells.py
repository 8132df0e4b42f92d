"""rnnkit/cells/layer_norm.py, layer_norm_lstm.py, layer_norm_gru.py and the `layer_norm` option of LSTM and GRU:
finite differences, a torch autograd version written from the paper's equations, the option off, generation."""

import numpy as np
import pytest
from recurrent_checks import gradcheck_layer, pack, unpack

from rnnkit import gradcheck, kernels
from rnnkit.cells.layer_norm import EPS, normalize, normalize_backward
from rnnkit.errors import ConfigError
from rnnkit.gradcheck import relative_error
from rnnkit.layers.recurrent import GRU, LSTM
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.char_lm import CharLM, CharLMConfig, CharStepper

INPUT_SIZE, HIDDEN_SIZE, STEPS, BATCH = 3, 3, 5, 3
LENGTHS_5 = np.array([5, 2, 4])
VARIANTS = {
    "lstm": lambda **o: LSTM(INPUT_SIZE, HIDDEN_SIZE, layer_norm=True, **o),
    "lstm-peephole": lambda **o: LSTM(INPUT_SIZE, HIDDEN_SIZE, layer_norm=True, peephole=True, **o),
    "gru": lambda **o: GRU(INPUT_SIZE, HIDDEN_SIZE, layer_norm=True, **o),
}


def randomize_norms(layer, seed=7):
    """Gains and biases away from their start (1, 0), so that mixing one up with another shows."""
    rng = np.random.default_rng(seed)
    for name, value in layer.parameters().items():
        if name.startswith("ln_"):
            value[...] = (1.0 if "_weight" in name else 0.0) + rng.uniform(-0.5, 0.5, value.shape)


# -- the normalisation itself ---------------------------------------------------------------------


def test_normalize_and_its_backward_match_torch_layer_norm(torch):
    rng = np.random.default_rng(0)
    a, dy = 3.0 * rng.standard_normal((5, 12)) + 1.0, rng.standard_normal((5, 12))
    a[0] = 0.0                                                  # a zero row: sigma is sqrt(eps)
    a[1] *= 1e-3                                                # a row whose variance is near eps
    normalized, inv_sigma = np.empty_like(a), np.empty((5, 1))
    normalize(a, normalized, inv_sigma)
    a_t = torch.tensor(a, requires_grad=True)
    y_t = torch.nn.functional.layer_norm(a_t, (12,), eps=EPS)
    (y_t * torch.tensor(dy)).sum().backward()
    assert relative_error(normalized, y_t.detach().numpy()) < 1e-12
    assert relative_error(normalize_backward(dy, normalized, inv_sigma), a_t.grad.numpy()) < 1e-12


def test_normalize_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    a, g = rng.standard_normal((2, 3, 6))
    normalized, inv_sigma = np.empty_like(a), np.empty((3, 1))

    def loss():
        return float(np.sum(normalize(a, normalized, inv_sigma) * g))

    loss()
    result = gradcheck(loss, {"a": a}, {"a": normalize_backward(g, normalized.copy(), inv_sigma.copy())})
    assert result.max_error < 1e-8, result


# -- the cells in the layer: finite differences ----------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("num_layers, bidirectional, with_lengths, with_state",
                         [(1, False, False, False), (1, True, True, True)],
                         ids=["uni-full-zero", "bi-lengths-h0"])
def test_layer_norm_cell_gradients_match_finite_differences(variant, num_layers, bidirectional, with_lengths,
                                                            with_state):
    layer = VARIANTS[variant](num_layers=num_layers, bidirectional=bidirectional, dtype=np.float64, rng=0)
    randomize_norms(layer)
    result = gradcheck_layer(layer, with_lengths, with_state)
    assert result.max_error < 1e-6, result


def test_layer_norm_lstm_gradients_match_finite_differences_without_bias():
    layer = LSTM(INPUT_SIZE, HIDDEN_SIZE, bias=False, layer_norm=True, dtype=np.float64, rng=0)
    randomize_norms(layer)
    assert "bias_ih_l0" not in layer.parameters() and "ln_ih_bias_l0" in layer.parameters()
    result = gradcheck_layer(layer, with_lengths=True, with_initial_state=False)
    assert result.max_error < 1e-6, result


# -- an independent reference: the paper's equations in torch autograd -----------------------------


def torch_layer_norm(torch, a, gain, bias):
    """LN(a; gain, bias) over the last axis, written out: (a - mu) / sqrt(var + eps) * gain + bias."""
    mu = a.mean(dim=-1, keepdim=True)
    variance = ((a - mu) ** 2).mean(dim=-1, keepdim=True)
    return (a - mu) / torch.sqrt(variance + EPS) * gain + bias


def torch_ln_lstm_step(torch, P, x, state):
    """Ba et al. 2016, layer-normalised LSTM, gates in PyTorch's order i, f, g, o; peepholes when given."""
    h, c = state
    z = (torch_layer_norm(torch, x @ P["weight_ih"].T, P["ln_ih_weight"], P["ln_ih_bias"])
         + torch_layer_norm(torch, h @ P["weight_hh"].T, P["ln_hh_weight"], P["ln_hh_bias"])
         + P["bias_ih"] + P["bias_hh"])
    z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
    zero = torch.zeros_like(c[0])
    i = torch.sigmoid(z_i + P.get("weight_ci", zero) * c)
    f = torch.sigmoid(z_f + P.get("weight_cf", zero) * c)
    c_new = f * c + i * torch.tanh(z_g)
    o = torch.sigmoid(z_o + P.get("weight_co", zero) * c_new)
    h_new = o * torch.tanh(torch_layer_norm(torch, c_new, P["ln_cell_weight"], P["ln_cell_bias"]))
    return h_new, c_new


def torch_ln_gru_step(torch, P, x, state):
    """Both projections normalised, then the reset-after GRU: n = tanh(u_n + r * v_n)."""
    (h,) = state
    u = torch_layer_norm(torch, x @ P["weight_ih"].T, P["ln_ih_weight"], P["ln_ih_bias"]) + P["bias_ih"]
    v = torch_layer_norm(torch, h @ P["weight_hh"].T, P["ln_hh_weight"], P["ln_hh_bias"]) + P["bias_hh"]
    u_r, u_z, u_n = u.chunk(3, dim=1)
    v_r, v_z, v_n = v.chunk(3, dim=1)
    r, z = torch.sigmoid(u_r + v_r), torch.sigmoid(u_z + v_z)
    n = torch.tanh(u_n + r * v_n)
    return ((1 - z) * n + z * h,)


def torch_direction(torch, step, P, x, state, lengths, reverse):
    """One direction over x (T, B, I): each sequence alone, the reverse one read backwards from its own end."""
    steps, batch = x.shape[:2]
    outputs = torch.zeros(steps, batch, state[0].shape[-1], dtype=x.dtype)
    finals = []
    for b in range(batch):
        s = tuple(part[b:b + 1] for part in state)
        order = range(lengths[b])
        for t in (reversed(order) if reverse else order):
            s = step(torch, P, x[t, b:b + 1], s)
            outputs[t, b] = s[0][0]
        finals.append(s)
    return outputs, tuple(torch.cat([f[k] for f in finals]) for k in range(len(state)))


def torch_stack(torch, step, params, x, initial, lengths, num_layers, directions):
    layer_input, finals = x, [[] for _ in initial]
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            y, final = torch_direction(torch, step, params[k], layer_input, tuple(s[k] for s in initial),
                                       lengths, reverse=direction == 1)
            outputs.append(y)
            for buffer, part in zip(finals, final):
                buffer.append(part)
        layer_input = torch.cat(outputs, dim=-1)
    return layer_input, tuple(torch.stack(parts) for parts in finals)


@pytest.mark.parametrize("variant", VARIANTS)
def test_layer_norm_layer_matches_torch_autograd_of_the_papers_equations(torch, variant):
    """2 layers, bidirectional, lengths, initial states: outputs, final states and every gradient within 1e-10."""
    layer = VARIANTS[variant](num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    randomize_norms(layer)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((STEPS, BATCH, INPUT_SIZE))
    initial = [rng.standard_normal((4, BATCH, size)) for size in layer.cell.state_sizes]
    y, final = layer(x, pack(layer, initial), LENGTHS_5)
    dy = rng.standard_normal(y.shape)
    dfinal = [rng.standard_normal(s.shape) for s in unpack(final)]
    layer.zero_grad()
    dx, dinitial = layer.backward(dy, pack(layer, dfinal))

    params = [{name: torch.tensor(np.array(value), requires_grad=True) for name, value in
               layer.cell_parameters(k // 2, k % 2).items()} for k in range(4)]
    x_t = torch.tensor(x, requires_grad=True)
    initial_t = [torch.tensor(s, requires_grad=True) for s in initial]
    step = torch_ln_gru_step if variant == "gru" else torch_ln_lstm_step
    y_t, final_t = torch_stack(torch, step, params, x_t, initial_t, LENGTHS_5, num_layers=2, directions=2)
    loss = (y_t * torch.tensor(dy)).sum() + sum((s * torch.tensor(d)).sum() for s, d in zip(final_t, dfinal))
    loss.backward()

    errors = {"y": relative_error(y, y_t.detach().numpy()), "dx": relative_error(dx, x_t.grad.numpy())}
    for name, ours, theirs, dours, state_t in zip(layer.cell.state_names, unpack(final), final_t,
                                                 unpack(dinitial), initial_t):
        errors[f"{name}_n"] = relative_error(ours, theirs.detach().numpy())
        errors[f"d{name}0"] = relative_error(dours, state_t.grad.numpy())
    for k, torch_params in enumerate(params):
        suffix = f"_l{k // 2}" + ("_reverse" if k % 2 else "")
        for name, value in torch_params.items():
            errors[name + suffix] = relative_error(layer.grads[name + suffix], value.grad.numpy())
    assert set(layer.parameters()) < set(errors)                # every parameter compared
    assert max(errors.values()) < 1e-10, errors


# -- the option: names, start values, off, errors, the NumPy fallback -------------------------------


def test_layer_norm_parameters_are_named_and_start_as_torch_layer_norm():
    lstm = LSTM(INPUT_SIZE, HIDDEN_SIZE, 2, bidirectional=True, layer_norm=True, rng=0)
    shapes = {name: value.shape for name, value in lstm.parameters().items() if name.startswith("ln_")}
    assert shapes["ln_ih_weight_l1_reverse"] == shapes["ln_hh_bias_l0"] == (4 * HIDDEN_SIZE,)
    assert shapes["ln_cell_weight_l0"] == shapes["ln_cell_bias_l1_reverse"] == (HIDDEN_SIZE,)
    assert len(shapes) == 6 * 4
    gru = GRU(INPUT_SIZE, HIDDEN_SIZE, layer_norm=True, rng=0)
    assert sorted(name for name in gru.parameters() if name.startswith("ln_")) == [
        "ln_hh_bias_l0", "ln_hh_weight_l0", "ln_ih_bias_l0", "ln_ih_weight_l0"]
    for layer in (lstm, gru):
        for name, value in layer.parameters().items():
            if name.startswith("ln_"):
                np.testing.assert_array_equal(value, 1.0 if "_weight" in name else 0.0)


@pytest.mark.parametrize("make, options", [(LSTM, {}), (LSTM, {"peephole": True}), (GRU, {})],
                         ids=["lstm", "lstm-peephole", "gru"])
def test_layer_norm_draws_the_other_weights_as_the_plain_layer_does(make, options):
    plain = make(INPUT_SIZE, HIDDEN_SIZE, 2, bidirectional=True, rng=3, **options)
    normed = make(INPUT_SIZE, HIDDEN_SIZE, 2, bidirectional=True, rng=3, layer_norm=True, **options)
    plain_params = plain.parameters()
    normed_params = {k: v for k, v in normed.parameters().items() if not k.startswith("ln_")}
    assert list(normed_params) == list(plain_params)
    for name, value in plain_params.items():
        np.testing.assert_array_equal(normed_params[name], value)


@pytest.mark.parametrize("make", [LSTM, GRU])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_off_is_the_plain_layer_bit_for_bit(make, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((STEPS, BATCH, INPUT_SIZE)).astype(dtype)
    dy = rng.standard_normal((STEPS, BATCH, 2 * HIDDEN_SIZE)).astype(dtype)
    results = []
    for options in ({}, {"layer_norm": False}):
        layer = make(INPUT_SIZE, HIDDEN_SIZE, 2, bidirectional=True, dtype=dtype, rng=5, **options)
        assert not any(name.startswith("ln_") for name in layer.parameters())
        y, _ = layer(x, lengths=LENGTHS_5)
        dx, _ = layer.backward(dy)
        results.append([y, dx, *layer.grads.values()])
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("variant", VARIANTS)
def test_layer_norm_cells_run_on_the_numpy_steps_in_float32_and_agree_with_float64(variant):
    layer32 = VARIANTS[variant](num_layers=2, dtype=np.float32, rng=0)
    layer64 = VARIANTS[variant](num_layers=2, dtype=np.float64, rng=0)
    assert not kernels.step_strategy(layer32.cell, np.float32).compiled
    x = np.random.default_rng(6).standard_normal((STEPS, BATCH, INPUT_SIZE))
    y32, _ = layer32(x.astype(np.float32))
    y64, _ = layer64(x)
    assert relative_error(y32, y64) < 1e-5
    assert np.abs(y64).max() > 0.05


@pytest.mark.parametrize("make, options, message", [
    (LSTM, dict(proj_size=2), "`layer_norm` has no projection"),
    (GRU, dict(reset_after=False), "`layer_norm` is reset-after only"),
    (LSTM, dict(layer_norm="yes"), "layer_norm must be True or False"),
    (GRU, dict(layer_norm=1), "layer_norm must be True or False"),
])
def test_layer_norm_refuses_what_it_cannot_do(make, options, message):
    with pytest.raises(ValueError, match=message):
        make(INPUT_SIZE, HIDDEN_SIZE, **{"layer_norm": True, **options})


def test_layer_norm_changes_the_output_and_its_gains_matter():
    x = np.random.default_rng(8).standard_normal((STEPS, BATCH, INPUT_SIZE))
    plain = LSTM(INPUT_SIZE, HIDDEN_SIZE, dtype=np.float64, rng=0)
    normed = LSTM(INPUT_SIZE, HIDDEN_SIZE, layer_norm=True, dtype=np.float64, rng=0)
    y_normed, _ = normed(x)
    assert np.abs(plain(x)[0] - y_normed).max() > 1e-2
    normed.parameters()["ln_cell_weight_l0"][...] = 0.0       # h_t = o * tanh(beta_c) = 0
    np.testing.assert_array_equal(normed(x)[0], 0.0)


# -- generation: the stepper and a character model -----------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_stepper_equals_forward_from_the_same_state(variant, dtype):
    layer = VARIANTS[variant](num_layers=2, dtype=dtype, rng=0)
    randomize_norms(layer)
    layer.eval()
    rng = np.random.default_rng(9)
    x = rng.standard_normal((STEPS, BATCH, INPUT_SIZE)).astype(dtype)
    h0 = pack(layer, [rng.standard_normal((2, BATCH, size)).astype(dtype) for size in layer.cell.state_sizes])
    y, final = layer(x, h0)
    stepper = layer.stepper(h0, batch=BATCH)
    tolerance = 1e-13 if dtype == np.float64 else 1e-5
    for t in range(STEPS):
        np.testing.assert_allclose(stepper(x[t]), y[t], atol=tolerance)
    for ours, theirs in zip(unpack(stepper.state), unpack(final)):
        np.testing.assert_allclose(ours, theirs, atol=tolerance)


@pytest.mark.parametrize("use_table", [True, False], ids=["table", "per-step-projection"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_char_lm_with_layer_norm_generates_the_logits_of_forward(cell, use_table, monkeypatch):
    if not use_table:
        monkeypatch.setattr(CharStepper, "MAX_TABLE_ENTRIES", 0)
    config = CharLMConfig(vocab_size=7, cell=cell, hidden_size=5, num_layers=2, embedding_dim=4, layer_norm=True)
    model = CharLM(config, dtype=np.float64, rng=0)
    randomize_norms(model.rnn)
    model.eval()
    ids = np.random.default_rng(3).integers(0, 7, (8, 2))
    logits, final = model(ids)
    stepper = model.stepper(batch=2)
    assert (stepper.table is not None) == use_table
    for t in range(len(ids)):
        np.testing.assert_allclose(stepper(ids[t]), logits[t], atol=1e-12)
    for ours, theirs in zip(unpack(stepper.state), unpack(final)):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_char_lm_with_layer_norm_gradients_match_finite_differences(cell):
    config = CharLMConfig(vocab_size=5, cell=cell, hidden_size=3, num_layers=2, embedding_dim=4, layer_norm=True)
    model = CharLM(config, dtype=np.float64, rng=0)
    randomize_norms(model.rnn)
    assert "rnn.ln_ih_weight_l1" in model.parameters()
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 5, (4, 2)), rng.integers(0, 5, (4, 2))

    def loss() -> float:
        return softmax_cross_entropy(model(inputs)[0], targets)[0]

    model.zero_grad()
    model.backward(softmax_cross_entropy(model(inputs)[0], targets)[1])
    result = gradcheck(loss, model.parameters(), model.grads)
    assert result.max_error < 1e-6, result


def test_char_lm_config_layer_norm_defaults_off_for_older_specs_and_is_checked():
    old = {"vocab_size": 9, "cell": "gru", "hidden_size": 7, "num_layers": 1, "embedding_dim": 0, "dropout": 0.0}
    assert CharLMConfig.from_json(old).layer_norm is False
    config = CharLMConfig(vocab_size=9, cell="lstm", layer_norm=True)
    assert CharLMConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="`layer_norm` is for the lstm and gru cells, not 'rnn'"):
        CharLMConfig(vocab_size=9, cell="rnn", layer_norm=True)
    with pytest.raises(ConfigError, match="`layer_norm` must be true or false"):
        CharLMConfig(vocab_size=9, layer_norm="yes")


# -- what cannot carry it: the exchange formats --------------------------------------------------


def test_layer_norm_models_are_refused_by_every_export_format_and_nothing_is_written(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("h5py")
    from rnnkit.interop.keras_h5 import save_keras_weights
    from rnnkit.interop.onnx import export_onnx
    from rnnkit.interop.torch import export_torch

    model = CharLM(CharLMConfig(vocab_size=5, cell="gru", hidden_size=4, layer_norm=True), rng=0)
    for export in (export_torch, export_onnx, save_keras_weights):
        for source in (model, LSTM(INPUT_SIZE, HIDDEN_SIZE, layer_norm=True)):
            with pytest.raises(ConfigError, match=r"no exchange format here has a layer-normalised LSTM or GRU"):
                export(source, tmp_path / "exported")
    assert not list(tmp_path.iterdir())
