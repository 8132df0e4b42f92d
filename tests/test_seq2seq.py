"""The sequence-to-sequence model (rnnkit/models/seq2seq.py): gradients, a PyTorch reference, stepping, options."""

import numpy as np
import pytest

from rnnkit.data.padding import pad_batch
from rnnkit.errors import ConfigError
from rnnkit.gradcheck import gradcheck, relative_error
from rnnkit.models.decoding import beam_search, greedy
from rnnkit.models.seq2seq import BOS_ID, EOS_ID, Seq2Seq, Seq2SeqConfig, TranslationBatch, label_smoothed_cross_entropy

SOURCES = [[4, 5, 6], [7, 4], [5, 6, 7, 8]]
TARGETS = [[4, 5], [6, 7, 8], [5]]
VOCAB = 9


def tiny_batch(sources=SOURCES, targets=TARGETS) -> TranslationBatch:
    source, lengths = pad_batch(sources)
    target_inputs, _ = pad_batch([[BOS_ID, *t] for t in targets])
    target_outputs, _ = pad_batch([[*t, EOS_ID] for t in targets])
    return TranslationBatch(source, lengths, target_inputs, target_outputs)


def tiny_model(dtype=np.float64, scale=0.8, **options) -> Seq2Seq:
    """A float64 model; ``scale``: parameters redrawn from N(0, scale^2), so that every gradient is well
    above the finite differences' rounding (at PyTorch's init the attention's are ~1e-7)."""
    fields = dict(source_vocab_size=VOCAB, target_vocab_size=VOCAB, embedding_dim=4, hidden_size=4,
                  attention_size=3, dropout=0.0)
    model = Seq2Seq(Seq2SeqConfig(**{**fields, **options}), dtype=dtype, rng=0)
    if scale:
        rng = np.random.default_rng(1)
        for value in model.parameters().values():
            value[...] = rng.standard_normal(value.shape) * scale
    return model


def loss_and_gradients(model, batch, dropout_seed=5):
    model.set_rng(np.random.default_rng(dropout_seed))       # the same dropout masks at every call
    loss, dlogits = model.loss(model(batch.source, batch.source_lengths, batch.target_inputs), batch)
    return loss, dlogits


# cell, attention, input feeding, bridge, layers, bidirectional, tied, label smoothing, dropout
GRADCHECK_CASES = [
    ("lstm", "general", True, "linear", 1, True, False, 0.0, 0.0),
    ("lstm", "dot", False, "zeros", 2, True, True, 0.1, 0.0),
    ("lstm", "additive", False, "linear", 2, False, False, 0.0, 0.3),
    ("lstm", "general", True, "linear", 2, True, True, 0.2, 0.3),
    ("gru", "additive", True, "linear", 2, True, False, 0.1, 0.0),
    ("gru", "dot", True, "zeros", 1, False, True, 0.0, 0.3),
    ("gru", "general", False, "linear", 1, True, False, 0.1, 0.0),
    ("lstm", "none", False, "linear", 2, True, False, 0.1, 0.0),
    ("gru", "none", False, "linear", 1, False, True, 0.0, 0.3),
]
CASE_IDS = ["-".join(str(field) for field in case) for case in GRADCHECK_CASES]


def case_options(cell, attention, feeding, bridge, layers, bidirectional, tied, smoothing, dropout):
    return dict(cell=cell, attention=attention, input_feeding=feeding, bridge=bridge, num_layers=layers,
                bidirectional=bidirectional, tied_embeddings=tied, label_smoothing=smoothing, dropout=dropout)


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=CASE_IDS)
def test_seq2seq_gradients_match_finite_differences(case):
    model, batch = tiny_model(**case_options(*case)), tiny_batch()
    model.zero_grad()
    _, dlogits = loss_and_gradients(model, batch)
    model.backward(dlogits)
    result = gradcheck(lambda: loss_and_gradients(model, batch)[0], model.parameters(), model.grads, eps=1e-5)
    assert result.max_error < 1e-6, result


# -- PyTorch autograd on the same equations, written here from the module docstring --------------------
def torch_reference(torch, model: Seq2Seq, batch: TranslationBatch):
    """The loss and logits of ``model``'s equations in torch, from leaf tensors named as its parameters."""
    F = torch.nn.functional
    config = model.config
    params = {name: torch.tensor(value, requires_grad=True) for name, value in model.parameters().items()}
    directions = 2 if config.bidirectional else 1
    recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[config.cell]
    encoder = recurrent(config.embedding_dim, config.hidden_size // directions, config.num_layers,
                        bidirectional=config.bidirectional, dtype=torch.float64)
    decoder_input = config.embedding_dim + (config.hidden_size if config.input_feeding else 0)
    decoder = recurrent(decoder_input, config.hidden_size, config.num_layers, dtype=torch.float64)

    def prefixed(prefix):
        return {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)}

    # encoder over the packed source
    lengths = torch.tensor(batch.source_lengths)
    embedded = params["source_embedding.weight"][torch.tensor(batch.source)]
    packed = torch.nn.utils.rnn.pack_padded_sequence(embedded, lengths, enforce_sorted=False)
    outputs, finals = torch.func.functional_call(encoder, prefixed("encoder."), (packed,))
    memory, _ = torch.nn.utils.rnn.pad_packed_sequence(outputs, total_length=batch.source.shape[0])
    memory = memory.transpose(0, 1)                                             # (B, S, H)
    mask = torch.arange(batch.source.shape[0])[None, :] < lengths[:, None]      # (B, S)

    # bridge: s0_k = tanh([forward_k; backward_k] W_b^T + b_b)
    finals = finals if isinstance(finals, tuple) else (finals,)
    state = None
    if config.bridge == "linear":
        bridged = []
        for name, final in zip(("bridge_h", "bridge_c"), finals):
            joined = torch.cat([final[k * directions:(k + 1) * directions] for k in range(config.num_layers)])
            joined = torch.cat(list(joined.reshape(config.num_layers, directions, *joined.shape[1:]).unbind(1)), -1)
            bridged.append(torch.tanh(joined @ params[f"{name}.weight"].T + params[f"{name}.bias"]))
        state = tuple(bridged) if config.cell == "lstm" else bridged[0]

    # decoder, one step at a time
    target_embedded = params["target_embedding.weight"][torch.tensor(batch.target_inputs)]
    feed = torch.zeros(batch.source.shape[1], config.hidden_size, dtype=torch.float64)
    attentional = []
    for t in range(batch.target_inputs.shape[0]):
        step_input = torch.cat([target_embedded[t], feed], -1) if config.input_feeding else target_embedded[t]
        arguments = (step_input[None],) if state is None else (step_input[None], state)
        output, state = torch.func.functional_call(decoder, prefixed("decoder."), arguments)
        s = output[0]                                                           # (B, H)
        if config.attention == "none":                                          # h~_t = s_t
            attentional.append(s)
            continue
        if config.attention == "dot":
            scores = torch.einsum("bq,bjq->bj", s, memory)
        elif config.attention == "general":
            scores = torch.einsum("bq,qm,bjm->bj", s, params["attention.weight_a"], memory)
        else:
            projected = (s @ params["attention.weight_s"].T)[:, None, :]
            hidden = torch.tanh(projected + memory @ params["attention.weight_h"].T)
            scores = hidden @ params["attention.v"]
        weights = torch.softmax(scores.masked_fill(~mask, -torch.inf), dim=-1)
        context = torch.einsum("bj,bjm->bm", weights, memory)
        feed = torch.tanh(torch.cat([context, s], -1) @ params["combine.weight"].T)
        attentional.append(feed)
    attentional = torch.stack(attentional)
    if config.tied_embeddings:
        logits = attentional @ params["target_embedding.weight"].T + params["output_bias"]
    else:
        logits = attentional @ params["output.weight"].T + params["output.bias"]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.tensor(batch.target_outputs).reshape(-1),
                           ignore_index=0, label_smoothing=config.label_smoothing)
    return loss, logits, params


PARITY_STRUCTURES = {
    "2layer-bi-linear-smoothed": dict(num_layers=2, bidirectional=True, bridge="linear", label_smoothing=0.1),
    "1layer-uni-zeros-tied": dict(num_layers=1, bidirectional=False, bridge="zeros", tied_embeddings=True),
}


@pytest.mark.parametrize("structure", PARITY_STRUCTURES)
@pytest.mark.parametrize("feeding", [True, False], ids=["feeding", "nofeeding"])
@pytest.mark.parametrize("attention", ["additive", "dot", "general"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_seq2seq_matches_torch_autograd(torch, cell, attention, feeding, structure):
    model = tiny_model(scale=0, cell=cell, attention=attention, input_feeding=feeding,
                       **PARITY_STRUCTURES[structure])
    batch = tiny_batch()
    model.zero_grad()
    logits = model(batch.source, batch.source_lengths, batch.target_inputs)
    loss, dlogits = model.loss(logits, batch)
    model.backward(dlogits)

    loss_t, logits_t, params_t = torch_reference(torch, model, batch)
    loss_t.backward()
    errors = {"loss": abs(loss - loss_t.item()) / abs(loss_t.item()),
              "logits": relative_error(logits, logits_t.detach().numpy())}
    errors.update({name: relative_error(model.grads[name], params_t[name].grad.numpy()) for name in model.grads})
    assert max(errors.values()) < 1e-10, errors


def test_label_smoothing_is_torch_cross_entropy_with_label_smoothing(torch):
    rng = np.random.default_rng(0)
    logits, targets = rng.standard_normal((4, 3, 7)), rng.integers(1, 7, (4, 3))
    targets[3, 1:] = 0
    loss, grad = label_smoothed_cross_entropy(logits, targets, targets != 0, 0.15)
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(logits_t.reshape(-1, 7), torch.tensor(targets).reshape(-1),
                                               ignore_index=0, label_smoothing=0.15)
    loss_t.backward()
    assert abs(loss - loss_t.item()) < 1e-14
    assert relative_error(grad, logits_t.grad.numpy()) < 1e-13


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_seq2seq_without_attention_matches_torch_autograd(torch, cell):
    model = tiny_model(scale=0, cell=cell, attention="none", input_feeding=False, num_layers=2)
    batch = tiny_batch()
    model.zero_grad()
    loss, dlogits = model.loss(model(batch.source, batch.source_lengths, batch.target_inputs), batch)
    model.backward(dlogits)
    loss_t, _, params_t = torch_reference(torch, model, batch)
    loss_t.backward()
    assert "attention.weight_a" not in model.grads and "combine.weight" not in model.grads
    assert abs(loss - loss_t.item()) < 1e-12 * abs(loss_t.item())
    assert max(relative_error(model.grads[name], params_t[name].grad.numpy()) for name in model.grads) < 1e-10
    assert np.abs(model.grads["encoder.weight_ih_l0"]).max() > 0       # the source is reached through the bridge


# -- behaviour ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("feeding", [True, False], ids=["feeding", "nofeeding"])
def test_padded_batch_gives_each_pair_its_own_logits(feeding):
    model = tiny_model(num_layers=2, input_feeding=feeding, dropout=0.3).eval()
    batch = tiny_batch()
    logits = model(batch.source, batch.source_lengths, batch.target_inputs)
    for b, (source, target) in enumerate(zip(SOURCES, TARGETS)):
        alone = tiny_batch([source], [target])
        alone_logits = model(alone.source, alone.source_lengths, alone.target_inputs)
        np.testing.assert_allclose(logits[:len(target) + 1, b], alone_logits[:, 0], atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("feeding", [True, False], ids=["feeding", "nofeeding"])
def test_stepper_gives_forward_logits_one_token_at_a_time(cell, feeding):
    model = tiny_model(cell=cell, num_layers=2, input_feeding=feeding, dropout=0.3).eval()
    batch = tiny_batch()
    logits = model(batch.source, batch.source_lengths, batch.target_inputs)
    stepper = model.stepper(batch.source, batch.source_lengths)
    stepped = np.stack([stepper(ids) for ids in batch.target_inputs])
    np.testing.assert_allclose(stepped, logits, atol=1e-12)
    assert stepper.attention.shape == (len(SOURCES), batch.source.shape[0])


def test_stepper_without_attention_gives_forward_logits_and_no_weights():
    model = tiny_model(attention="none", input_feeding=False, num_layers=2).eval()
    batch = tiny_batch()
    logits = model(batch.source, batch.source_lengths, batch.target_inputs)
    stepper = model.stepper(batch.source, batch.source_lengths)
    np.testing.assert_allclose(np.stack([stepper(ids) for ids in batch.target_inputs]), logits, atol=1e-12)
    assert stepper.attention is None
    hypotheses = beam_search(model, batch.source, batch.source_lengths, 3, max_length=6)
    assert all(n_best[0].attention is None for n_best in hypotheses)
    assert [h.tokens for h in greedy(model, batch.source, batch.source_lengths, max_length=6)] == \
        [n_best[0].tokens for n_best in beam_search(model, batch.source, batch.source_lengths, 1, max_length=6)]


def test_stepper_select_reorders_and_drops_rows():
    model = tiny_model(num_layers=2).eval()
    batch = tiny_batch()
    stepper = model.stepper(batch.source, batch.source_lengths, repeats=2)      # rows: 0 0 1 1 2 2
    first = stepper(np.full(6, BOS_ID))
    stepper.select(np.array([5, 0]))                                          # sentence 2, then sentence 0
    second = stepper(np.array([6, 7]))
    alone = model.stepper(batch.source[:, [2, 0]], batch.source_lengths[[2, 0]])
    np.testing.assert_allclose(alone(np.full(2, BOS_ID)), first[[5, 0]], atol=1e-12)
    np.testing.assert_allclose(alone(np.array([6, 7])), second, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("feeding", [True, False], ids=["feeding", "nofeeding"])
def test_float32_with_compiled_steps_agrees_with_float64(cell, feeding):
    batch, results = tiny_batch(), []
    for dtype in (np.float64, np.float32):
        model = tiny_model(dtype=dtype, scale=0, cell=cell, num_layers=2, input_feeding=feeding, dropout=0.3)
        model.zero_grad()
        loss, dlogits = loss_and_gradients(model, batch)
        model.backward(dlogits)
        results.append((loss, model.grads))
    (loss64, grads64), (loss32, grads32) = results
    assert abs(loss32 - loss64) < 1e-5 * loss64
    assert max(relative_error(grads32[name], grads64[name]) for name in grads64) < 1e-4


def test_config_round_trips_through_json():
    config = Seq2SeqConfig(source_vocab_size=5, target_vocab_size=6, cell="gru", attention="additive")
    assert Seq2SeqConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("options,message", [
    (dict(cell="rnn"), "unknown `cell` 'rnn'"),
    (dict(attention="bilinear"), "unknown `attention` 'bilinear'"),
    (dict(bridge="copy"), "unknown `bridge` 'copy'"),
    (dict(hidden_size=5), "`hidden_size` must be even with a bidirectional encoder"),
    (dict(tied_embeddings=True, embedding_dim=8), "`tied_embeddings` needs `embedding_dim` = `hidden_size`"),
    (dict(label_smoothing=1.0), "`label_smoothing` must be in"),
    (dict(attention_size=-1), "`attention_size` must be 0"),
    (dict(attention="none"), "with `attention`='none' set `input_feeding` false"),
    (dict(attention="none", input_feeding=False, bridge="zeros"), "the decoder never sees the source"),
])
def test_bad_options_are_one_line_config_errors(options, message):
    with pytest.raises(ConfigError, match=message) as error:
        Seq2SeqConfig(**{"source_vocab_size": 5, "target_vocab_size": 5, **options})
    assert "\n" not in str(error.value)


def test_a_model_needs_its_vocabulary_sizes():
    with pytest.raises(ConfigError, match="`source_vocab_size` is 0"):
        Seq2Seq(Seq2SeqConfig())


def test_parameter_names_are_those_translation_checkpoints_hold():
    """The decoder is shared with the captioner (rnnkit.models.decoder); a translator's state dict keeps the
    names and shapes its checkpoints were written with."""
    model = Seq2Seq(Seq2SeqConfig(source_vocab_size=5, target_vocab_size=6, embedding_dim=4, hidden_size=4))
    expected = {"source_embedding.weight": (5, 4), "bridge_h.weight": (4, 4), "bridge_h.bias": (4,),
                "bridge_c.weight": (4, 4), "bridge_c.bias": (4,), "target_embedding.weight": (6, 4),
                "decoder.weight_ih_l0": (16, 8), "decoder.weight_hh_l0": (16, 4), "decoder.bias_ih_l0": (16,),
                "decoder.bias_hh_l0": (16,), "attention.weight_a": (4, 4), "combine.weight": (4, 8),
                "output.weight": (6, 4), "output.bias": (6,)}
    for suffix in ("", "_reverse"):
        expected.update({f"encoder.weight_ih_l0{suffix}": (8, 4), f"encoder.weight_hh_l0{suffix}": (8, 2),
                         f"encoder.bias_ih_l0{suffix}": (8,), f"encoder.bias_hh_l0{suffix}": (8,)})
    assert {name: value.shape for name, value in model.state_dict().items()} == expected
    tied = Seq2Seq(Seq2SeqConfig(source_vocab_size=5, target_vocab_size=6, embedding_dim=4, hidden_size=4,
                                 tied_embeddings=True, cell="gru"))
    assert "output_bias" in tied.state_dict() and not any(name.startswith("output.") for name in tied.state_dict())
