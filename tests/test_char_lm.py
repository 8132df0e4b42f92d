"""rnnkit/models/char_lm.py: the whole model's backward against finite differences."""

import numpy as np
import pytest

from rnnkit import gradcheck
from rnnkit.errors import ConfigError
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.char_lm import CharLM, CharLMConfig


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("embedding_dim", [0, 4], ids=["one-hot", "embedding"])
def test_char_lm_gradients_match_finite_differences(cell, embedding_dim):
    config = CharLMConfig(vocab_size=5, cell=cell, hidden_size=3, num_layers=2, embedding_dim=embedding_dim,
                          dropout=0.3)
    model = CharLM(config, dtype=np.float64, rng=0)
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 5, (4, 2)), rng.integers(0, 5, (4, 2))
    state = tuple(rng.standard_normal((2, 2, 3)) for _ in model.rnn.cell.state_names)
    state = state if cell == "lstm" else state[0]

    def loss() -> float:
        model.set_rng(np.random.default_rng(5))   # the same dropout masks every time
        logits, _ = model(inputs, state)
        return softmax_cross_entropy(logits, targets)[0]

    model.zero_grad()
    model.set_rng(np.random.default_rng(5))
    logits, _ = model(inputs, state)
    model.backward(softmax_cross_entropy(logits, targets)[1])
    result = gradcheck(loss, model.parameters(), model.grads)
    assert result.max_error < 1e-6, result


def test_char_lm_carries_state_between_calls():
    model = CharLM(CharLMConfig(vocab_size=6, hidden_size=4, num_layers=1), rng=0)
    model.eval()
    ids = np.random.default_rng(0).integers(0, 6, (10, 1))
    whole, _ = model(ids)
    first, state = model(ids[:4])
    second, _ = model(ids[4:], state)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, atol=1e-6)


def test_char_lm_parameter_names_compose():
    model = CharLM(CharLMConfig(vocab_size=6, hidden_size=4, num_layers=2), rng=0)
    names = set(model.parameters())
    assert {"embedding.weight", "rnn.weight_ih_l1", "decoder.weight", "decoder.bias"} <= names


@pytest.mark.parametrize("field, value, message", [
    ("cell", "transformer", "unknown `cell`"),
    ("hidden_size", 0, "`hidden_size` must be a positive integer"),
    ("embedding_dim", -1, "`embedding_dim` must be 0"),
    ("dropout", 1.5, r"`dropout` must be in \[0, 1\)"),
])
def test_char_lm_config_rejects_bad_values(field, value, message):
    with pytest.raises(ConfigError, match=message):
        CharLMConfig(**{"vocab_size": 5, field: value})


def test_char_lm_config_round_trips_through_json():
    config = CharLMConfig(vocab_size=9, cell="gru", hidden_size=7, num_layers=3, embedding_dim=0, dropout=0.2)
    assert CharLMConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="unknown fields"):
        CharLMConfig.from_json({**config.to_json(), "heads": 4})


@pytest.mark.parametrize("use_table", [True, False], ids=["table", "per-step-projection"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("embedding_dim", [0, 4], ids=["one-hot", "embedding"])
def test_char_stepper_gives_the_logits_of_forward(cell, embedding_dim, use_table, monkeypatch):
    from rnnkit.models.char_lm import CharStepper

    if not use_table:
        monkeypatch.setattr(CharStepper, "MAX_TABLE_ENTRIES", 0)
    model = CharLM(CharLMConfig(vocab_size=7, cell=cell, hidden_size=5, num_layers=2, embedding_dim=embedding_dim),
                   dtype=np.float64, rng=0)
    model.eval()
    ids = np.random.default_rng(3).integers(0, 7, (8, 2))
    logits, final = model(ids)
    stepper = model.stepper(batch=2)
    assert (stepper.table is not None) == use_table
    for t in range(len(ids)):
        np.testing.assert_allclose(stepper(ids[t]), logits[t], atol=1e-12)
    states = [(s, f) for s, f in zip(stepper.state, final)] if cell == "lstm" else [(stepper.state, final)]
    for ours, theirs in states:
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("use_table", [True, False], ids=["table", "per-step-projection"])
def test_char_stepper_in_float32_gives_the_logits_of_forward(use_table, monkeypatch):
    """float32 LSTM: the stepper runs the compiled whole-stack step (when numba is there)."""
    from rnnkit.models.char_lm import CharStepper

    if not use_table:
        monkeypatch.setattr(CharStepper, "MAX_TABLE_ENTRIES", 0)
    model = CharLM(CharLMConfig(vocab_size=7, hidden_size=6, num_layers=2, embedding_dim=4), rng=0)
    model.eval()
    ids = np.random.default_rng(3).integers(0, 7, (8, 2))
    logits, (h_n, c_n) = model(ids)
    stepper = model.stepper(batch=2)
    for t in range(len(ids)):
        np.testing.assert_allclose(stepper(ids[t]), logits[t], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stepper.state[0], h_n, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stepper.state[1], c_n, rtol=1e-5, atol=1e-6)


def test_char_stepper_rejects_ids_outside_the_vocabulary():
    stepper = CharLM(CharLMConfig(vocab_size=5, hidden_size=3, num_layers=1), rng=0).stepper()
    with pytest.raises(ValueError, match=r"ids: expected integers in \[0, 5\)"):
        stepper(np.array([5]))


def test_a_config_without_its_vocabulary_size_builds_no_model():
    config = CharLMConfig(hidden_size=8)               # vocab_size 0: the corpus has not been read yet
    assert config.vocab_size == 0
    with pytest.raises(ConfigError, match="`vocab_size` is 0: it comes from the data"):
        CharLM(config)
    with pytest.raises(ConfigError, match="`vocab_size` must be a positive integer"):
        CharLMConfig(vocab_size=-3)


# -- regularisers and tied weights ---------------------------------------------------------------

REGULARISED = dict(input_dropout=0.2, locked_dropout=0.3, output_dropout=0.2, recurrent_dropout=0.3,
                   weight_dropout=0.4, zoneout_h=0.2, zoneout_c=0.3, embedding_dropout=0.3)


@pytest.mark.parametrize("tie_weights", [False, True], ids=["untied", "tied"])
def test_regularised_char_lm_gradients_match_finite_differences(tie_weights):
    config = CharLMConfig(vocab_size=5, hidden_size=3, num_layers=2, embedding_dim=3, tie_weights=tie_weights,
                          **REGULARISED)
    model = CharLM(config, dtype=np.float64, rng=0)
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 5, (4, 2)), rng.integers(0, 5, (4, 2))

    def loss() -> float:
        model.set_rng(np.random.default_rng(5))   # the same masks every time
        logits, _ = model(inputs)
        return softmax_cross_entropy(logits, targets)[0]

    model.zero_grad()
    model.set_rng(np.random.default_rng(5))
    logits, _ = model(inputs)
    model.backward(softmax_cross_entropy(logits, targets)[1])
    result = gradcheck(loss, model.parameters(), model.grads)
    assert result.max_error < 1e-6, result


def test_tied_char_lm_decodes_with_the_embedding_and_stores_it_once():
    model = CharLM(CharLMConfig(vocab_size=7, hidden_size=4, num_layers=1, embedding_dim=4, tie_weights=True), rng=0)
    assert model.decoder.weight is model.embedding.weight
    assert "decoder.weight" not in model.state_dict() and "decoder.bias" in model.state_dict()


@pytest.mark.parametrize("options", [dict(zoneout_h=0.3, zoneout_c=0.2, tie_weights=True), REGULARISED],
                         ids=["zoneout-tied", "all"])
def test_regularised_char_stepper_gives_the_logits_of_forward_in_eval_mode(options):
    model = CharLM(CharLMConfig(vocab_size=7, hidden_size=4, num_layers=2, embedding_dim=4, **options), rng=0)
    model.eval()
    ids = np.random.default_rng(3).integers(0, 7, (8, 2))
    logits, _ = model(ids)
    stepper = model.stepper(batch=2)
    for t in range(len(ids)):
        np.testing.assert_allclose(stepper(ids[t]), logits[t], rtol=1e-5, atol=1e-6)


def test_an_older_spec_without_the_regularisers_loads_with_them_off():
    old = {"vocab_size": 9, "cell": "gru", "hidden_size": 7, "num_layers": 3, "embedding_dim": 0, "dropout": 0.2}
    config = CharLMConfig.from_json(old)
    assert config.stack_regularisers() == {} and not config.tie_weights and config.embedding_dropout == 0.0
    assert CharLMConfig.from_json(CharLMConfig(vocab_size=9, tie_weights=True, embedding_dim=256,
                                               **REGULARISED).to_json()).zoneout_c == 0.3


@pytest.mark.parametrize("fields, message", [
    (dict(zoneout_h=1.0), r"`zoneout_h` must be in \[0, 1\)"),
    (dict(weight_dropout="0.5"), "`weight_dropout` must be a number"),
    (dict(cell="gru", zoneout_c=0.1), "`zoneout_c` zones out the LSTM's cell state"),
    (dict(cell="mingru", input_dropout=0.1), "`input_dropout` is for the lstm, gru and rnn cells"),
    (dict(layer_norm=True, recurrent_dropout=0.1), "`recurrent_dropout` is not implemented for `layer_norm`"),
    (dict(dropout=0.1, locked_dropout=0.1), "set one of them to 0"),
    (dict(embedding_dim=0, embedding_dropout=0.1), "`embedding_dim` is 0"),
    (dict(embedding_dim=64, tie_weights=True), "`tie_weights` needs `embedding_dim` = `hidden_size`"),
    (dict(tie_weights=1), "`tie_weights` must be true or false"),
])
def test_char_lm_config_refuses_regularisers_it_cannot_build(fields, message):
    with pytest.raises(ConfigError, match=message):
        CharLMConfig(vocab_size=5, **fields)


@pytest.mark.parametrize("tie_weights", [False, True], ids=["untied", "tied"])
def test_init_range_draws_every_parameter_uniformly_in_it(tie_weights):
    config = CharLMConfig(vocab_size=50, hidden_size=20, embedding_dim=20, num_layers=2, init_range=0.1,
                          tie_weights=tie_weights)
    parameters = CharLM(config, rng=0).parameters()
    default = CharLM(CharLMConfig(**{**config.to_json(), "init_range": 0.0}), rng=0).parameters()
    for name, value in parameters.items():
        assert np.abs(value).max() <= 0.1 and np.abs(value).max() > 0.08, name
        assert value.std() == pytest.approx(0.1 / np.sqrt(3), rel=0.35), name      # U(-r, r): sd r / sqrt(3)
    assert not np.array_equal(parameters["rnn.bias_ih_l0"], default["rnn.bias_ih_l0"])
    assert np.array_equal(CharLM(config, rng=0).parameters()["rnn.weight_hh_l1"], parameters["rnn.weight_hh_l1"])


def test_an_older_spec_without_init_range_keeps_the_layers_initialisation():
    old = {"vocab_size": 9, "cell": "lstm", "hidden_size": 7, "num_layers": 1, "embedding_dim": 3, "dropout": 0.0}
    assert CharLMConfig.from_json(old).init_range == 0.0
    for wrong in (-0.1, float("inf"), "0.1", True):
        with pytest.raises(ConfigError, match="`init_range` must be a finite number >= 0"):
            CharLMConfig(vocab_size=5, init_range=wrong)
