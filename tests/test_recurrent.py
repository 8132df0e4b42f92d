"""Composition in rnnkit/layers/recurrent.py: dropout, lengths, layouts, state dicts, input checks."""

import numpy as np
import pytest
from recurrent_checks import gradcheck_layer

from rnnkit.layers.recurrent import GRU, LSTM, RNN

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@pytest.mark.parametrize("kind", LAYERS)
def test_dropout_between_layers_gradients_match_finite_differences(kind):
    layer = LAYERS[kind](3, 3, num_layers=3, dropout=0.4, bidirectional=True, dtype=np.float64, rng=0)
    result = gradcheck_layer(layer, with_lengths=True, with_initial_state=True, dropout_seed=7)
    assert result.max_error < 1e-6, result


def test_dropout_is_identity_in_eval_mode_and_active_in_training():
    layer = LSTM(4, 8, num_layers=2, dropout=0.5, rng=0)
    x = np.random.default_rng(0).standard_normal((6, 2, 4)).astype(np.float32)
    train_a, _ = layer(x)
    train_b, _ = layer(x)
    layer.eval()
    eval_a, _ = layer(x)
    eval_b, _ = layer(x)
    np.testing.assert_array_equal(eval_a, eval_b)
    assert np.abs(train_a - train_b).max() > 1e-3
    assert np.abs(train_a - eval_a).max() > 1e-3


@pytest.mark.parametrize("kind", LAYERS)
def test_padded_batch_gives_each_sequence_alone(kind):
    rng = np.random.default_rng(0)
    layer = LAYERS[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
    lengths = np.array([5, 2, 4])
    x = rng.standard_normal((5, 3, 3))
    y, final = layer(x, lengths=lengths)
    h_n = final[0] if isinstance(final, tuple) else final
    for b, length in enumerate(lengths):
        y_alone, final_alone = layer(x[:length, b])
        h_alone = final_alone[0] if isinstance(final_alone, tuple) else final_alone
        np.testing.assert_allclose(y[:length, b], y_alone, atol=1e-12)
        np.testing.assert_array_equal(y[length:, b], 0.0)
        np.testing.assert_allclose(h_n[:, b], h_alone, atol=1e-12)


def test_batch_first_is_the_transpose_of_time_first():
    time_first = GRU(3, 4, num_layers=2, dtype=np.float64, rng=0)
    batch_first = GRU(3, 4, num_layers=2, batch_first=True, dtype=np.float64, rng=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    y_time, h_time = time_first(x)
    y_batch, h_batch = batch_first(x.transpose(1, 0, 2).copy())
    np.testing.assert_allclose(y_batch, y_time.transpose(1, 0, 2))
    np.testing.assert_allclose(h_batch, h_time)   # states stay (layers, B, H), as PyTorch
    dx, _ = batch_first.backward(np.ones_like(y_batch))
    assert dx.shape == (2, 5, 3)


def test_state_dict_round_trip_reproduces_outputs():
    source = LSTM(3, 4, num_layers=2, bidirectional=True, peephole=True, rng=1)
    target = LSTM(3, 4, num_layers=2, bidirectional=True, peephole=True, rng=2)
    target.load_state_dict(source.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(source(x)[0], target(x)[0])


def test_state_dict_uses_torch_names_and_no_bias_without_bias():
    layer = GRU(3, 4, num_layers=2, bias=False, bidirectional=True)
    assert sorted(layer.state_dict()) == sorted(
        f"weight_{kind}_l{k}{suffix}" for kind in ("ih", "hh") for k in (0, 1) for suffix in ("", "_reverse"))
    assert layer.state_dict()["weight_ih_l1"].shape == (12, 8)


def test_load_state_dict_names_the_mismatch():
    layer = RNN(3, 4)
    state = layer.state_dict()
    state["weight_hh_l0"] = np.zeros((4, 5))
    with pytest.raises(ValueError, match="weight_hh_l0"):
        layer.load_state_dict(state)
    del state["weight_hh_l0"]
    with pytest.raises(KeyError, match="missing"):
        layer.load_state_dict(state)


def test_backward_accumulates_until_zero_grad():
    layer = RNN(3, 4, dtype=np.float64, rng=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    y, _ = layer(x)
    layer.backward(np.ones_like(y))
    once = layer.grads["weight_hh_l0"].copy()
    layer(x)
    layer.backward(np.ones_like(y))
    np.testing.assert_allclose(layer.grads["weight_hh_l0"], 2 * once)
    layer.zero_grad()
    assert all(not g.any() for g in layer.grads.values())


@pytest.mark.parametrize("bad_x, message", [
    (np.zeros((2, 3, 4, 5), np.float32), "2-D"),
    (np.zeros((5, 2, 7), np.float32), "input_size=3"),
    (np.zeros((5, 2, 3), np.float64), "dtype float64"),
    (np.zeros((5, 2, 3), np.int64), "dtype int64"),
    (np.full((5, 2, 3), np.nan, np.float32), "NaN"),
    (np.zeros((0, 2, 3), np.float32), "positive"),
    ([[0.0, 1.0, 2.0]], "2-D"),
])
def test_bad_input_raises_value_error_naming_it(bad_x, message):
    with pytest.raises(ValueError, match=message):
        RNN(3, 4)(bad_x)


@pytest.mark.parametrize("lengths, message", [
    (np.array([5, 0]), r"\[1, 5\]"),
    (np.array([6, 2]), r"\[1, 5\]"),
    (np.array([5, 2, 1]), "2 integers"),
    (np.array([5.0, 2.0]), "integers"),
])
def test_bad_lengths_raise_value_error(lengths, message):
    with pytest.raises(ValueError, match=message):
        GRU(3, 4)(np.zeros((5, 2, 3), np.float32), lengths=lengths)


def test_initial_state_batch_mismatch_is_named():
    layer = LSTM(3, 4, num_layers=2)
    x = np.zeros((5, 2, 3), np.float32)
    h0 = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"hx \(h\): expected shape \(2, 2, 4\)"):
        layer(x, (h0, h0))
    with pytest.raises(ValueError, match="tuple"):
        layer(x, h0)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        RNN(3, 4).backward(np.zeros((5, 2, 4)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(hidden_size=0), "hidden_size"),
    (dict(num_layers=0), "num_layers"),
    (dict(dropout=1.0), "dropout"),
    (dict(dtype=np.int32), "dtype"),
])
def test_bad_constructor_arguments_are_rejected(kwargs, message):
    args = dict(input_size=3, hidden_size=4) | kwargs
    with pytest.raises(ValueError, match=message):
        RNN(**args)


@pytest.mark.parametrize("make, message", [
    (lambda: LSTM(3, hidden_size=-1), r"hidden_size must be a positive integer, got -1"),
    (lambda: LSTM(3, 4, proj_size=4), r"proj_size must be 0 or in \[1, hidden_size\)"),
    (lambda: LSTM(3, 4, proj_size=1.5), "proj_size must be an integer"),
    (lambda: LSTM(3, 4, forget_bias=float("nan")), "forget_bias must be None or a finite number"),
    (lambda: LSTM(3, 4, peephole="yes"), "peephole must be True or False, got 'yes'"),
    (lambda: GRU(3, 4, bidirectional="no"), "bidirectional must be True or False, got 'no'"),
    (lambda: GRU(3, 4, reset_after="yes"), "reset_after must be True or False, got 'yes'"),
    (lambda: RNN(3, 4, batch_first=1), "batch_first must be True or False, got 1"),
    (lambda: RNN(3, 4, bias=None), "bias must be True or False, got None"),
    (lambda: RNN(3, 4, dropout=float("nan")), r"dropout must be a number in \[0, 1\), got nan"),
    (lambda: RNN(True, 4), "input_size must be a positive integer, got True"),
    (lambda: RNN(3, 4, num_layers=2.0), "num_layers must be a positive integer, got 2.0"),
])
def test_nonsense_arguments_are_refused_naming_the_argument_that_is_wrong(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_wrong_input_dtype_suggests_only_dtypes_the_layer_takes():
    with pytest.raises(ValueError, match=r"pass x.astype\(np.float32\)$"):
        RNN(3, 4)(np.zeros((5, 2, 3), np.int64))
    with pytest.raises(ValueError, match=r"or build the layer with dtype=np.float64$"):
        RNN(3, 4)(np.zeros((5, 2, 3), np.float64))
    RNN(3, 4, dtype=np.float64)(np.zeros((5, 2, 3), np.float64))      # what the advice says works


def test_repr_shows_the_options_like_torch():
    assert repr(LSTM(10, 20, num_layers=2, bidirectional=True)) == "LSTM(10, 20, num_layers=2, bidirectional=True)"


@pytest.mark.parametrize("kind, options", [("rnn", {}), ("lstm", {"proj_size": 2, "peephole": True}),
                                           ("gru", {}), ("gru", {"reset_after": False})])
def test_step_by_step_equals_forward_over_the_sequence(kind, options):
    layer = LAYERS[kind](3, 4, num_layers=2, dtype=np.float64, rng=0, **options)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    y, final = layer(x)
    state = None
    for t in range(5):
        y_t, state = layer.step(x[t], state)
        np.testing.assert_allclose(y_t, y[t], atol=1e-14)
    for ours, theirs in zip(state if isinstance(state, tuple) else (state,),
                            final if isinstance(final, tuple) else (final,)):
        np.testing.assert_allclose(ours, theirs, atol=1e-14)


def test_step_refuses_a_bidirectional_layer():
    with pytest.raises(ValueError, match="bidirectional"):
        GRU(3, 4, bidirectional=True).step(np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("kind", LAYERS)
def test_outputs_and_states_of_a_call_survive_the_next_call(kind):
    """The layer reuses its internal buffers between calls; what it hands out must stay put."""
    layer = LAYERS[kind](3, 4, num_layers=2, bidirectional=True, rng=0)
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 5, 2, 3)).astype(np.float32)
    y1, state1 = layer(x1)
    kept_y, kept_state = y1.copy(), [s.copy() for s in (state1 if isinstance(state1, tuple) else (state1,))]
    dx1, dstate1 = layer.backward(np.ones_like(y1))
    kept_dx = dx1.copy()
    y2, _ = layer(x2)
    layer.backward(np.ones_like(y2))
    np.testing.assert_array_equal(y1, kept_y)
    np.testing.assert_array_equal(dx1, kept_dx)
    for now, kept in zip(state1 if isinstance(state1, tuple) else (state1,), kept_state):
        np.testing.assert_array_equal(now, kept)


@pytest.mark.parametrize("kind", LAYERS)
def test_repeated_calls_give_the_same_gradients_as_the_first(kind):
    layer = LAYERS[kind](3, 4, num_layers=2, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 2, 3)).astype(np.float32)
    grads = []
    for _ in range(3):
        layer.zero_grad()
        y, _ = layer(x)
        layer.backward(np.ones_like(y))
        grads.append({name: g.copy() for name, g in layer.grads.items()})
    for later in grads[1:]:
        for name in grads[0]:
            np.testing.assert_array_equal(later[name], grads[0][name])


@pytest.mark.parametrize("kind", LAYERS)
def test_stepping_between_an_unbatched_forward_and_its_backward_changes_nothing(kind):
    """A call's layout (unbatched, batch_first) lives in its forward cache, not on the layer."""
    layer = LAYERS[kind](3, 4, num_layers=2, dtype=np.float64, rng=0)
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))

    def forward_and_backward(between):
        layer.zero_grad()
        layer(x)
        between()
        dx, dstate = layer.backward(dy)
        return [dx, *(dstate if isinstance(dstate, tuple) else (dstate,)), *(g.copy() for g in layer.grads.values())]

    alone = forward_and_backward(lambda: None)
    with_stepper = forward_and_backward(lambda: layer.stepper()(np.ones((1, 3))))
    with_batched_step = forward_and_backward(lambda: layer.step(np.ones((2, 3))))
    assert alone[0].shape == (5, 3)
    for a, b, c in zip(alone, with_stepper, with_batched_step):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_a_batched_call_between_forward_and_backward_does_not_change_the_first_calls_layout():
    layer = GRU(3, 4, batch_first=True, dtype=np.float64, rng=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))        # (B, T, I)
    y, _ = layer(x)
    layer.batch_first = False                                     # the layout of the call is kept
    dx, _ = layer.backward(np.ones_like(y))
    assert dx.shape == (2, 5, 3)


def test_cell_parameters_are_the_layers_own_arrays_read_only():
    layer = LSTM(3, 4, num_layers=2, bidirectional=True, peephole=True, rng=0)
    params = layer.cell_parameters(1, direction=1)
    assert params["weight_ih"] is layer.parameters()["weight_ih_l1_reverse"]
    assert params["weight_ci"] is layer.parameters()["weight_ci_l1_reverse"]
    with pytest.raises(TypeError):
        params["weight_ih"] = np.zeros((16, 8), np.float32)
    with pytest.raises(IndexError, match="no layer 2"):
        layer.cell_parameters(2)
