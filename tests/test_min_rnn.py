"""minGRU and minLSTM (rnnkit/cells/min_rnn.py, cells/linear_scan.py, layers/min_rnn.py).

The independent reference is torch autograd over the equations of Feng et al. (2024,
"Were RNNs All We Needed?"), written here in the paper's notation and sharing no code
with rnnkit: the sequential form (one sequence, one step at a time, the minLSTM's gates
normalised by division) through ``paper_reference.run_stack`` for stacks, directions and
lengths, and the parallel log-space form of the paper's appendix B (``torch.cumsum``,
``torch.logcumsumexp``). Both use the paper's log-space cells, whose candidate goes
through g(x) = x + 0.5 (x >= 0), sigmoid(x) (x < 0).
"""

import numpy as np
import pytest
from paper_reference import run_stack
from recurrent_checks import STRUCTURE_IDS, STRUCTURE_MATRIX, gradcheck_layer

from rnnkit.cells.linear_scan import log_scan, reverse_scan, sequential_scan, signed_log_scan
from rnnkit.gradcheck import relative_error
from rnnkit.layers.min_rnn import MinGRU, MinLSTM
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.char_lm import RECURRENT_LAYERS, CharLM, CharLMConfig
from rnnkit.optim import Adam

LAYERS = {"mingru": MinGRU, "minlstm": MinLSTM}
SCANS = ["sequential", "log"]
INPUT_SIZE, HIDDEN_SIZE, STEPS, BATCH = 3, 3, 5, 3
LENGTHS = np.array([5, 2, 3])


# -- the paper's equations in torch ------------------------------------------------------------


def paper_g(torch, x):
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def paper_log_g(torch, x):
    return torch.where(x >= 0, (torch.nn.functional.relu(x) + 0.5).log(), -torch.nn.functional.softplus(-x))


def paper_step(torch, cell):
    """One step of the sequential minGRU or minLSTM for one sequence: x (I,), state (h,)."""
    def min_gru(x, state, P):
        (h,) = state
        z = torch.sigmoid(P["W_z"] @ x + P["b_z"])
        h_tilde = paper_g(torch, P["W_h"] @ x + P["b_h"])
        return ((1 - z) * h + z * h_tilde,)

    def min_lstm(x, state, P):
        (h,) = state
        f = torch.sigmoid(P["W_f"] @ x + P["b_f"])
        i = torch.sigmoid(P["W_i"] @ x + P["b_i"])
        f_prime, i_prime = f / (f + i), i / (f + i)
        h_tilde = paper_g(torch, P["W_h"] @ x + P["b_h"])
        return (f_prime * h + i_prime * h_tilde,)

    return min_gru if cell == "mingru" else min_lstm


def paper_parallel(torch, cell, x, h0, P):
    """The paper's log-space parallel mode (appendix B) for one layer: x (T, B, I), h0 (B, H) > 0."""
    F = torch.nn.functional
    if cell == "mingru":
        k = x @ P["W_z"].T + P["b_z"]
        log_coeffs, log_z = -F.softplus(k), -F.softplus(-k)
    else:
        diff = F.softplus(-(x @ P["W_f"].T + P["b_f"])) - F.softplus(-(x @ P["W_i"].T + P["b_i"]))
        log_coeffs, log_z = -F.softplus(diff), -F.softplus(-diff)
    log_values = torch.cat([h0.log()[None], log_z + paper_log_g(torch, x @ P["W_h"].T + P["b_h"])])
    a_star = F.pad(torch.cumsum(log_coeffs, dim=0), (0, 0, 0, 0, 1, 0))
    log_h = a_star + torch.logcumsumexp(log_values - a_star, dim=0)
    return torch.exp(log_h)[1:]


PAPER_NAMES = {"mingru": ["z", "h"], "minlstm": ["i", "f", "h"]}   # the row blocks of weight_ih, in order


def paper_parameters(torch, layer, cell):
    """Per (layer, direction): the paper's W_*, b_* as float64 leaf tensors cut from rnnkit's weight_ih, bias_ih."""
    params = []
    for k in range(layer.num_layers * layer.num_directions):
        p = layer.cell_parameters(k // layer.num_directions, k % layer.num_directions)
        blocks = {}
        for index, name in enumerate(PAPER_NAMES[cell]):
            rows = slice(index * layer.hidden_size, (index + 1) * layer.hidden_size)
            blocks[f"W_{name}"] = torch.tensor(p["weight_ih"][rows], requires_grad=True)
            blocks[f"b_{name}"] = torch.tensor(p["bias_ih"][rows], requires_grad=True)
        params.append(blocks)
    return params


def parameter_errors(layer, cell, params) -> dict[str, float]:
    """rnnkit's weight and bias gradients against the reference's, blocks joined in rnnkit's row order."""
    errors = {}
    for k, blocks in enumerate(params):
        suffix = f"_l{k // layer.num_directions}" + ("_reverse" if k % layer.num_directions else "")
        for kind, prefix in (("weight_ih", "W"), ("bias_ih", "b")):
            theirs = np.concatenate([blocks[f"{prefix}_{name}"].grad.numpy() for name in PAPER_NAMES[cell]])
            errors[kind + suffix] = relative_error(layer.grads[kind + suffix], theirs)
    return errors


def run_both(layer, x, h0, lengths, rng):
    """rnnkit's outputs and gradients for random upstream gradients (dy, dh_n), which it returns too."""
    y, h_n = layer(x, h0, lengths)
    dy, dh_n = rng.standard_normal(y.shape), rng.standard_normal(h_n.shape)
    layer.zero_grad()
    dx, dh0 = layer.backward(dy, dh_n)
    return y, h_n, dx, dh0, dy, dh_n


# -- against the paper's sequential equations: stacks, directions, lengths, h0 --------------------


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("cell", LAYERS)
@pytest.mark.parametrize("num_layers, bidirectional, with_lengths, with_h0", STRUCTURE_MATRIX, ids=STRUCTURE_IDS)
def test_min_layer_matches_the_papers_sequential_equations_in_torch(torch, cell, scan, num_layers, bidirectional,
                                                                   with_lengths, with_h0):
    layer = LAYERS[cell](INPUT_SIZE, HIDDEN_SIZE, num_layers, bidirectional=bidirectional, dtype=np.float64,
                         rng=0, scan=scan)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((STEPS, BATCH, INPUT_SIZE))
    h0 = rng.standard_normal((num_layers * layer.num_directions, BATCH, HIDDEN_SIZE)) if with_h0 else None
    lengths = LENGTHS if with_lengths else None
    y, h_n, dx, dh0, dy, dh_n = run_both(layer, x, h0, lengths, rng)

    x_t = torch.tensor(x, requires_grad=True)
    h0_t = torch.tensor(np.zeros_like(h_n) if h0 is None else h0, requires_grad=True)
    params = paper_parameters(torch, layer, cell)
    y_t, (h_n_t,) = run_stack(paper_step(torch, cell), x_t, lengths, params, (h0_t,), num_layers,
                              layer.num_directions)
    ((y_t * torch.tensor(dy)).sum() + (h_n_t * torch.tensor(dh_n)).sum()).backward()

    errors = {"y": relative_error(y, y_t.detach().numpy()), "h_n": relative_error(h_n, h_n_t.detach().numpy()),
              "dx": relative_error(dx, x_t.grad.numpy()), "dh0": relative_error(dh0, h0_t.grad.numpy()),
              **parameter_errors(layer, cell, params)}
    assert max(errors.values()) < 1e-10, errors


# -- against the paper's parallel log-space code ----------------------------------------------


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("cell", LAYERS)
def test_min_layer_matches_the_papers_parallel_log_space_scan_in_torch(torch, cell, scan):
    layer = LAYERS[cell](INPUT_SIZE, HIDDEN_SIZE, dtype=np.float64, rng=0, scan=scan)
    rng = np.random.default_rng(2)
    steps = 40
    x = 2 * rng.standard_normal((steps, BATCH, INPUT_SIZE))
    h0 = rng.uniform(0.1, 1.0, (1, BATCH, HIDDEN_SIZE))           # the paper's scan takes log h0
    y, h_n, dx, dh0, dy, dh_n = run_both(layer, x, h0, None, rng)

    x_t, h0_t = torch.tensor(x, requires_grad=True), torch.tensor(h0[0], requires_grad=True)
    params = paper_parameters(torch, layer, cell)
    y_t = paper_parallel(torch, cell, x_t, h0_t, params[0])
    ((y_t * torch.tensor(dy)).sum() + (y_t[-1] * torch.tensor(dh_n[0])).sum()).backward()

    errors = {"y": relative_error(y, y_t.detach().numpy()), "h_n": relative_error(h_n[0], y_t[-1].detach().numpy()),
              "dx": relative_error(dx, x_t.grad.numpy()), "dh0": relative_error(dh0[0], h0_t.grad.numpy()),
              **parameter_errors(layer, cell, params)}
    assert max(errors.values()) < 1e-10, errors


# -- gradients against finite differences --------------------------------------------------------

GRADCHECK_STRUCTURES = [(1, False, False, False), (1, False, True, True), (2, False, False, True),
                        (2, True, True, True)]


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("cell", LAYERS)
@pytest.mark.parametrize("num_layers, bidirectional, with_lengths, with_h0", GRADCHECK_STRUCTURES,
                         ids=[STRUCTURE_IDS[STRUCTURE_MATRIX.index(s)] for s in GRADCHECK_STRUCTURES])
def test_min_layer_gradients_match_finite_differences(cell, scan, num_layers, bidirectional, with_lengths, with_h0):
    layer = LAYERS[cell](INPUT_SIZE, HIDDEN_SIZE, num_layers, bidirectional=bidirectional, dtype=np.float64,
                         rng=0, scan=scan)
    result = gradcheck_layer(layer, with_lengths, with_h0)
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("cell", LAYERS)
def test_min_layer_gradients_with_dropout_between_layers_match_finite_differences(cell):
    layer = LAYERS[cell](INPUT_SIZE, HIDDEN_SIZE, 2, dropout=0.4, dtype=np.float64, rng=0)
    result = gradcheck_layer(layer, with_lengths=True, with_initial_state=True, dropout_seed=3)
    assert result.max_error < 1e-6, result


# -- the sequential step mode equals the parallel mode ----------------------------------------


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("cell", LAYERS)
def test_stepping_one_step_at_a_time_equals_the_parallel_forward(cell, scan):
    layer = LAYERS[cell](INPUT_SIZE, HIDDEN_SIZE, 3, dtype=np.float64, rng=0, scan=scan)
    rng = np.random.default_rng(3)
    x = 2 * rng.standard_normal((30, BATCH, INPUT_SIZE))
    h0 = rng.standard_normal((3, BATCH, HIDDEN_SIZE))
    y, h_n = layer(x, h0)
    stepper = layer.stepper(h0, batch=BATCH)
    stepped = np.stack([stepper(x_t) for x_t in x])
    assert np.abs(stepped - y).max() < 1e-12
    assert np.abs(stepper.state - h_n).max() < 1e-12
    first, state = layer(x[:11], h0)                     # a carried state continues the sequence
    second, _ = layer(x[11:], state)
    assert np.abs(np.concatenate([first, second]) - y).max() < 1e-12


def test_a_stepper_refuses_a_bidirectional_layer():
    with pytest.raises(ValueError, match="bidirectional"):
        MinGRU(INPUT_SIZE, HIDDEN_SIZE, bidirectional=True).stepper()


# -- the two scans ---------------------------------------------------------------------------------


def test_the_log_space_scan_equals_the_sequential_loop_forward_and_reverse():
    rng = np.random.default_rng(4)
    shape = (50, 4, 6)
    a, b = rng.uniform(0.01, 1.0, shape), rng.uniform(0.0, 2.0, shape)
    h0, dy, dh_n = rng.standard_normal(shape[1:]), rng.standard_normal(shape), rng.standard_normal(shape[1:])
    expected = sequential_scan(a, b, h0)
    with np.errstate(divide="ignore"):
        assert relative_error(log_scan(np.log(a), np.log(b), h0), expected) < 1e-12
    assert relative_error(signed_log_scan(np.log(a), b - 1.0, h0), sequential_scan(a, b - 1.0, h0)) < 1e-12
    G, dh0 = reverse_scan(a, dy, dh_n)
    G_log, dh0_log = reverse_scan(a, dy, dh_n, "log", np.log(a))
    assert relative_error(G_log, G) < 1e-12 and relative_error(dh0_log, dh0) < 1e-12


def test_the_reverse_scan_is_the_gradient_of_the_scan_written_out():
    rng = np.random.default_rng(5)
    a, dy, dh_n = rng.uniform(0, 1, (6, 2, 3)), rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 3))
    G, dh0 = reverse_scan(a, dy, dh_n)
    later = dh_n
    for t in reversed(range(6)):                        # G_t = dy_t + a_{t+1} G_{t+1}, G_T = dy_T + dh_n
        np.testing.assert_allclose(G[t], dy[t] + later, rtol=1e-14)
        later = a[t] * G[t]
    np.testing.assert_allclose(dh0, later, rtol=1e-14)


def test_the_float32_log_space_scan_stays_close_over_a_long_strongly_decaying_sequence():
    rng = np.random.default_rng(6)
    shape = (3000, 2, 8)
    a = rng.uniform(0.3, 0.9, shape)                     # log prod a reaches about -1600
    b = rng.uniform(0.1, 1.0, shape)
    exact = sequential_scan(a, b, np.zeros(shape[1:]))
    log_32 = log_scan(np.log(a).astype(np.float32), np.log(b).astype(np.float32), np.zeros(shape[1:], np.float32))
    sequential_32 = sequential_scan(a.astype(np.float32), b.astype(np.float32), np.zeros(shape[1:], np.float32))
    assert np.isfinite(log_32).all()
    assert relative_error(sequential_32, exact) < 1e-5
    assert relative_error(log_32, exact) < 1e-3          # the cost of a*_t's size in float32 (1.2e-4 measured)


def test_padding_steps_change_neither_outputs_nor_final_states():
    layer = MinLSTM(INPUT_SIZE, HIDDEN_SIZE, 2, dtype=np.float64, rng=0)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((STEPS, BATCH, INPUT_SIZE))
    y, h_n = layer(x, None, LENGTHS)
    for b, length in enumerate(LENGTHS):
        alone, h_alone = layer(x[:length, b:b + 1])
        np.testing.assert_allclose(y[:length, b:b + 1], alone, rtol=1e-13)
        assert not y[length:, b].any()
        np.testing.assert_allclose(h_n[:, b:b + 1], h_alone, rtol=1e-13)


# -- options and errors ----------------------------------------------------------------------------


def test_parameters_carry_pytorch_style_names_and_no_hidden_weights():
    layer = MinLSTM(4, 5, 2, bidirectional=True)
    shapes = {name: value.shape for name, value in layer.parameters().items()}
    assert shapes == {"weight_ih_l0": (15, 4), "bias_ih_l0": (15,), "weight_ih_l0_reverse": (15, 4),
                      "bias_ih_l0_reverse": (15,), "weight_ih_l1": (15, 10), "bias_ih_l1": (15,),
                      "weight_ih_l1_reverse": (15, 10), "bias_ih_l1_reverse": (15,)}
    assert set(MinGRU(4, 5, bias=False).parameters()) == {"weight_ih_l0"}


def test_batch_first_and_unbatched_inputs_give_the_time_major_results():
    layer = MinGRU(INPUT_SIZE, HIDDEN_SIZE, 2, dtype=np.float64, rng=0)
    x = np.random.default_rng(8).standard_normal((STEPS, BATCH, INPUT_SIZE))
    y, h_n = layer(x)
    batch_first = MinGRU(INPUT_SIZE, HIDDEN_SIZE, 2, batch_first=True, dtype=np.float64, rng=0)
    y_bf, h_bf = batch_first(x.transpose(1, 0, 2))
    np.testing.assert_array_equal(y_bf.transpose(1, 0, 2), y)
    np.testing.assert_array_equal(h_bf, h_n)
    y_one, h_one = layer(x[:, 0])
    np.testing.assert_allclose(y_one, y[:, 0], rtol=1e-13)
    np.testing.assert_allclose(h_one, h_n[:, 0], rtol=1e-13)


@pytest.mark.parametrize("options, error, message", [
    (dict(scan="parallel"), ValueError, "scan must be one of sequential, log"),
    (dict(dropout=1.0), ValueError, "dropout must be a number in"),
    (dict(bidirectional="no"), ValueError, "bidirectional must be True or False"),
    (dict(layer_norm=True), TypeError, "layer_norm"),
])
def test_min_layers_refuse_bad_options(options, error, message):
    with pytest.raises(error, match=message):
        MinGRU(INPUT_SIZE, HIDDEN_SIZE, **options)


# -- in the models -------------------------------------------------------------------------------


def test_models_offer_the_min_cells():
    assert RECURRENT_LAYERS["mingru"] is MinGRU and RECURRENT_LAYERS["minlstm"] is MinLSTM


@pytest.mark.parametrize("cell", LAYERS)
def test_a_char_lm_with_a_min_cell_learns_and_samples(cell):
    from rnnkit.data.vocab import CharVocab
    from rnnkit.tasks.sampling import generate

    vocab = CharVocab("abcd\n")
    ids = np.array(vocab.encode("abcd\n" * 40))
    model = CharLM(CharLMConfig(vocab_size=len(vocab), cell=cell, hidden_size=16, num_layers=2, embedding_dim=8,
                                dropout=0.1), rng=0)
    optimizer = Adam(model, lr=0.02)
    inputs, targets = ids[:100].reshape(5, 20).T, ids[1:101].reshape(5, 20).T       # (T, B): 5 lanes of 20
    losses = []
    for _ in range(40):
        model.zero_grad()
        logits, _ = model(inputs)
        loss, dlogits = softmax_cross_entropy(logits, targets)
        model.backward(dlogits)
        optimizer.step()
        losses.append(loss)
    assert losses[-1] < 0.5 * losses[0], losses
    text = "".join(generate(model, vocab, 20, prime="ab", greedy=True, rng=0))
    assert text.startswith("cd\nabcd"), text


@pytest.mark.parametrize("cell", LAYERS)
def test_the_char_steppers_logits_equal_forwards(cell):
    model = CharLM(CharLMConfig(vocab_size=7, cell=cell, hidden_size=5, num_layers=2, embedding_dim=4),
                   dtype=np.float64, rng=0).eval()
    ids = np.random.default_rng(9).integers(0, 7, (12, 2))
    logits, state = model(ids)
    stepper = model.stepper(batch=2)
    stepped = np.stack([stepper(ids_t) for ids_t in ids])
    assert np.abs(stepped - logits).max() < 1e-12
    assert np.abs(stepper.state - state).max() < 1e-12


@pytest.mark.parametrize("cell", LAYERS)
def test_the_classifier_forecaster_and_music_model_build_with_a_min_cell(cell):
    from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
    from rnnkit.models.forecaster import Forecaster, ForecasterConfig
    from rnnkit.models.music import MusicConfig, MusicModel, generate

    rng = np.random.default_rng(10)
    classifier = SequenceClassifier(ClassifierConfig(vocab_size=9, cell=cell, embedding_dim=4, hidden_size=3), rng=0)
    classifier.backward(np.ones_like(classifier(rng.integers(1, 9, (6, 3)), np.array([6, 2, 4]))))
    forecaster = Forecaster(ForecasterConfig(cell=cell, hidden_size=3, num_layers=2), rng=0)
    forecaster.backward(np.ones_like(forecaster(rng.standard_normal((8, 2, 1)).astype(np.float32))))
    music = MusicModel(MusicConfig(cell=cell, hidden_size=4, num_keys=5), rng=0)
    music.backward(np.ones_like(music(rng.integers(0, 2, (7, 2, 5)).astype(np.float32), np.array([7, 4]))))
    assert generate(music, 6, rng).shape == (6, 5)                  # through the stepper
    for model in (classifier, forecaster, music):
        assert np.abs(model.grads["rnn.weight_ih_l0"]).sum() > 0
