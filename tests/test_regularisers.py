"""rnnkit/layers/regularisers.py: the recurrent stacks' regularisers as layer options.

Each option (variational input/between-layer/output dropout, recurrent dropout, weight dropout,
zoneout of h and c) is gradchecked in float64 with fixed masks, checked against a torch autograd
version of the papers' equations given the same masks (regulariser_reference.py), run on the
compiled steps against the NumPy reference, and checked to be off (or, for zoneout, the
expectation) in evaluation mode.
"""

import numpy as np
import pytest
from recurrent_checks import gradcheck_layer
from regulariser_reference import compare_with_reference, masks_of

from rnnkit import kernels
from rnnkit.layers.recurrent import GRU, LSTM, RNN

OPTIONS = {
    "input_dropout": dict(input_dropout=0.4),
    "locked_dropout": dict(locked_dropout=0.4),
    "output_dropout": dict(output_dropout=0.4),
    "recurrent_dropout": dict(recurrent_dropout=0.4),
    "weight_dropout": dict(weight_dropout=0.4),
    "zoneout_h": dict(zoneout_h=0.4),
    "zoneout_c": dict(zoneout_c=0.4),
}
ALL_OPTIONS = dict(input_dropout=0.3, locked_dropout=0.3, output_dropout=0.3, recurrent_dropout=0.3,
                   weight_dropout=0.3, zoneout_h=0.3, zoneout_c=0.3)
KINDS = {
    "lstm": lambda **o: LSTM(3, 3, **o),
    "lstm-proj": lambda **o: LSTM(3, 4, proj_size=3, **o),
    "gru": lambda **o: GRU(3, 3, **o),
    "gru-reset-before": lambda **o: GRU(3, 3, reset_after=False, **o),
    "rnn": lambda **o: RNN(3, 3, **o),
}
HAS_CELL_STATE = {"lstm", "lstm-proj"}
REFERENCE_KINDS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def without_c(kind: str, options: dict) -> dict:
    return options if kind in HAS_CELL_STATE else {k: v for k, v in options.items() if k != "zoneout_c"}


OUTSIDE_THE_CELL = ("input_dropout", "locked_dropout", "output_dropout", "weight_dropout")


def cases():
    """Options that act outside the cell's steps on one kind; those inside (recurrent dropout, zoneout) on each."""
    for option in OUTSIDE_THE_CELL:
        yield "lstm", option
    for kind in KINDS:
        for option in ("recurrent_dropout", "zoneout_h", "zoneout_c"):
            if option != "zoneout_c" or kind in HAS_CELL_STATE:
                yield kind, option


def reference_cases():
    for kind in REFERENCE_KINDS:
        for option in [*OPTIONS, "all"]:
            if option != "zoneout_c" or kind == "lstm":
                yield kind, option


# -- gradients -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, option", list(cases()))
def test_each_regulariser_gradients_match_finite_differences(kind, option):
    layers = 2 if option == "locked_dropout" else 1
    layer = KINDS[kind](num_layers=layers, dtype=np.float64, rng=0, **OPTIONS[option])
    result = gradcheck_layer(layer, with_lengths=False, with_initial_state=True, dropout_seed=7)
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("kind", KINDS)
def test_all_regularisers_together_bidirectional_padded_gradients_match_finite_differences(kind):
    layer = KINDS[kind](num_layers=2, bidirectional=True, dtype=np.float64, rng=0, **without_c(kind, ALL_OPTIONS))
    result = gradcheck_layer(layer, with_lengths=True, with_initial_state=True, dropout_seed=7)
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_zoneout_expectation_in_eval_mode_gradients_match_finite_differences(kind):
    layer = KINDS[kind](num_layers=2, dtype=np.float64, rng=0, **without_c(kind, dict(zoneout_h=0.3, zoneout_c=0.6)))
    layer.eval()
    result = gradcheck_layer(layer, with_lengths=True, with_initial_state=True)
    assert result.max_error < 1e-6, result


def test_gradcheck_catches_a_backward_that_draws_fresh_masks():
    """The gradchecks above fail when backward does not reuse forward's masks (they can fail)."""
    layer = LSTM(3, 3, num_layers=2, dtype=np.float64, rng=0, zoneout_h=0.4, recurrent_dropout=0.4)
    result = gradcheck_layer(layer, with_lengths=False, with_initial_state=False, dropout_seed=None)
    assert result.max_error > 1e-3


# -- the papers' equations in torch, with the same masks ------------------------------------------

@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@pytest.mark.parametrize("kind, option", list(reference_cases()))
def test_regularised_stack_equals_torch_autograd_of_the_papers_equations(torch, kind, option, training):
    options = without_c(kind, ALL_OPTIONS if option == "all" else OPTIONS[option])
    layer = REFERENCE_KINDS[kind](4, 5, num_layers=2, dtype=np.float64, rng=0, **options)
    layer.train(training)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3, 4))
    states = [rng.standard_normal((2, 3, 5)) for _ in layer.cell.state_names]
    dy = rng.standard_normal((6, 3, 5))
    dfinal = [rng.standard_normal((2, 3, 5)) for _ in layer.cell.state_names]
    errors = compare_with_reference(torch, layer, kind, x, states, dy, dfinal)
    assert max(errors.values()) < 1e-10, errors


def test_reference_check_fails_when_the_masks_differ(torch):
    """The torch comparison can fail: the same layer against the reference given other masks."""
    layer = LSTM(4, 5, num_layers=2, dtype=np.float64, rng=0, zoneout_h=0.5, recurrent_dropout=0.5)
    rng = np.random.default_rng(1)
    x, dy = rng.standard_normal((6, 3, 4)), rng.standard_normal((6, 3, 5))
    states = [rng.standard_normal((2, 3, 5)) for _ in range(2)]
    layer(x, tuple(states))
    other_draw = masks_of(layer)
    import regulariser_reference
    original = regulariser_reference.masks_of
    regulariser_reference.masks_of = lambda _: other_draw     # masks of an earlier call, not this one's
    try:
        errors = compare_with_reference(torch, layer, "lstm", x, states, dy, [np.zeros((2, 3, 5))] * 2)
    finally:
        regulariser_reference.masks_of = original
    assert max(errors.values()) > 1e-3


# -- the masks: shapes, rates, one per sequence ------------------------------------------------

def test_masks_have_the_shapes_of_their_definitions():
    layer = LSTM(4, 6, num_layers=2, bidirectional=True, rng=0, **ALL_OPTIONS)
    layer(np.zeros((7, 3, 4), np.float32))
    masks = masks_of(layer)
    assert masks.input_mask.shape == (1, 3, 4)
    assert [m.shape for m in masks.gap_masks] == [(1, 3, 12)]
    assert masks.output_mask.shape == (1, 3, 12)
    assert [m.shape for m in masks.hidden_masks] == [(3, 6)] * 4
    assert [m.shape for m in masks.weight_masks] == [(24, 6)] * 4
    assert [[z.shape for z in states] for states in masks.zoneout] == [[(7, 3, 6), (7, 3, 6)]] * 4


def test_mask_rates_are_the_probabilities():
    layer = GRU(50, 100, num_layers=2, rng=0, input_dropout=0.2, locked_dropout=0.3, output_dropout=0.4,
                recurrent_dropout=0.5, weight_dropout=0.6, zoneout_h=0.1)
    layer(np.zeros((40, 64, 50), np.float32))
    masks = masks_of(layer)
    for mask, p in [(masks.input_mask, 0.2), (masks.gap_masks[0], 0.3), (masks.output_mask, 0.4),
                    (masks.hidden_masks[0], 0.5), (masks.weight_masks[1], 0.6)]:
        assert abs(np.mean(mask == 0) - p) < 0.03
        np.testing.assert_allclose(np.unique(mask), [0.0, 1.0 / (1.0 - p)], rtol=1e-6)
    assert abs(masks.zoneout[0][0].mean() - 0.1) < 0.01


def test_input_dropout_drops_the_same_units_at_every_step_and_others_in_other_sequences():
    layer = LSTM(20, 8, rng=0, input_dropout=0.5, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((9, 4, 20))
    y, _ = layer(x)
    dx, _ = layer.backward(np.ones_like(y))
    dropped = dx == 0
    assert dropped.any()
    assert (dropped == dropped[:1]).all()                 # one mask per sequence
    assert not (dropped[:, 0] == dropped[:, 1]).all()     # sequences have their own


def test_zoneout_keeps_some_units_of_the_state_from_one_step_to_the_next():
    layer = GRU(5, 30, rng=0, zoneout_h=0.5)
    y, _ = layer(np.random.default_rng(0).standard_normal((6, 4, 5)).astype(np.float32))
    unchanged = np.mean(y[1:] == y[:-1])
    assert 0.4 < unchanged < 0.6
    layer.eval()
    y, _ = layer(np.random.default_rng(0).standard_normal((6, 4, 5)).astype(np.float32))
    assert np.mean(y[1:] == y[:-1]) < 0.05


def test_each_call_draws_new_masks_and_backward_uses_its_own_call_s():
    layer = LSTM(3, 4, num_layers=2, dtype=np.float64, rng=0, recurrent_dropout=0.5, weight_dropout=0.5)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    y1, _ = layer(x)
    y2, _ = layer(x)
    assert np.abs(y1 - y2).max() > 1e-3


# -- evaluation mode ----------------------------------------------------------------------------

@pytest.mark.parametrize("option", [o for o in OPTIONS if not o.startswith("zoneout")])
def test_dropout_regularisers_are_off_in_eval_mode(option):
    plain = LSTM(4, 6, num_layers=2, rng=0)
    regularised = LSTM(4, 6, num_layers=2, rng=0, **OPTIONS[option])
    x = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)
    regularised.eval()
    np.testing.assert_array_equal(regularised(x)[0], plain(x)[0])
    regularised.train()
    assert np.abs(regularised(x)[0] - plain(x)[0]).max() > 1e-3


def test_zoneout_in_eval_mode_is_the_expectation_and_the_stepper_does_the_same():
    layer = LSTM(4, 6, num_layers=2, rng=0, zoneout_h=0.2, zoneout_c=0.5, dtype=np.float64)
    layer.eval()
    x = np.random.default_rng(0).standard_normal((5, 3, 4))
    y, final = layer(x)
    plain = LSTM(4, 6, num_layers=2, rng=0, dtype=np.float64)
    assert np.abs(y - plain(x)[0]).max() > 1e-3
    stepper = layer.stepper(batch=3)
    stepped = np.stack([stepper(x[t]) for t in range(5)])
    np.testing.assert_allclose(stepped, y, atol=1e-13)
    for ours, theirs in zip(stepper.state, final):
        np.testing.assert_allclose(ours, theirs, atol=1e-13)


# -- the compiled steps ------------------------------------------------------------------------------

@pytest.fixture
def backend():
    before = kernels.backend()
    yield kernels.use
    kernels.use(before)


@pytest.mark.parametrize("kind", ["lstm", "lstm-proj", "gru"])
def test_compiled_steps_with_every_regulariser_match_the_numpy_reference(backend, kind):
    pytest.importorskip("numba")

    def run(name):
        backend(name)
        layer = KINDS[kind](num_layers=2, bidirectional=True, rng=0, **without_c(kind, ALL_OPTIONS))
        assert kernels.step_strategy(layer.cell, np.float32).compiled == (name == "numba")
        rng = np.random.default_rng(1)
        x = rng.standard_normal((6, 4, 3)).astype(np.float32)
        y, state = layer(x, lengths=np.array([6, 2, 5, 1]))
        dx, dstate = layer.backward(np.ones_like(y), state)
        as_list = lambda s: list(s) if isinstance(s, tuple) else [s]     # noqa: E731
        return [y, *as_list(state), dx, *as_list(dstate), *[layer.grads[name].copy() for name in sorted(layer.grads)]]

    for ours, expected in zip(run("numba"), run("numpy")):
        np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=2e-6)


def test_compiled_stepper_is_left_for_the_numpy_steps_with_zoneout(backend):
    pytest.importorskip("numba")
    backend("numba")
    assert LSTM(8, 16).stepper().compiled
    assert not LSTM(8, 16, zoneout_h=0.1).stepper().compiled
    assert LSTM(8, 16, recurrent_dropout=0.5, weight_dropout=0.5).stepper().compiled   # off in eval anyway


# -- the options ------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (dict(input_dropout=1.0), r"`input_dropout` must be a number in \[0, 1\)"),
    (dict(zoneout_h=-0.1), "`zoneout_h` must be"),
    (dict(weight_dropout=True), "`weight_dropout` must be"),
    (dict(recurrent_dropout="0.2"), "`recurrent_dropout` must be"),
    (dict(dropout=0.2, locked_dropout=0.2, num_layers=2), "set one of them to 0"),
])
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        LSTM(3, 4, **options)


def test_zoneout_c_needs_a_cell_state_and_no_peepholes():
    with pytest.raises(ValueError, match="`zoneout_c`.*has none"):
        GRU(3, 4, zoneout_c=0.1)
    with pytest.raises(ValueError, match="`zoneout_c` with peepholes"):
        LSTM(3, 4, peephole=True, zoneout_c=0.1)
    LSTM(3, 4, peephole=True, zoneout_h=0.1)


def test_repr_names_the_regularisers_that_are_on():
    assert repr(LSTM(3, 4, zoneout_c=0.25, weight_dropout=0.5)) == "LSTM(3, 4, weight_dropout=0.5, zoneout_c=0.25)"
    assert repr(GRU(3, 4)) == "GRU(3, 4)"
