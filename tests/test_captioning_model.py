"""The caption model (rnnkit/models/captioner.py): each way of conditioning on the image gradchecked,
against a PyTorch autograd version of its equations, stepped one token at a time, decoded."""

import numpy as np
import pytest

from rnnkit.data.padding import pad_batch
from rnnkit.errors import ConfigError
from rnnkit.gradcheck import gradcheck, relative_error
from rnnkit.models.captioner import CaptionBatch, Captioner, CaptionerConfig
from rnnkit.models.decoder import BOS_ID, EOS_ID
from rnnkit.models.decoding import decode_beam, decode_greedy, decode_sample

CAPTIONS = [[4, 5, 6], [7, 4], [5, 6, 7, 8, 4]]
VOCAB, FEATURES = 9, 5


def tiny_batch(captions=CAPTIONS, seed=0) -> CaptionBatch:
    features = np.random.default_rng(seed).uniform(0, 2, (len(captions), FEATURES))
    target_inputs, _ = pad_batch([[BOS_ID, *c] for c in captions])
    target_outputs, _ = pad_batch([[*c, EOS_ID] for c in captions])
    return CaptionBatch(features, target_inputs, target_outputs)


def tiny_model(dtype=np.float64, scale=0.6, **options) -> Captioner:
    """A small model; ``scale``: parameters redrawn from N(0, scale^2), so that every gradient is well above
    the finite differences' rounding."""
    fields = dict(vocab_size=VOCAB, feature_size=FEATURES, embedding_dim=4, hidden_size=4, dropout=0.0)
    model = Captioner(CaptionerConfig(**{**fields, **options}), dtype=dtype, rng=0)
    if scale:
        rng = np.random.default_rng(1)
        for value in model.parameters().values():
            value[...] = rng.standard_normal(value.shape) * scale
    return model


def loss_and_gradients(model, batch, dropout_seed=5):
    model.set_rng(np.random.default_rng(dropout_seed))       # the same dropout masks at every call
    return model.loss(model(batch.features, batch.target_inputs), batch)


# conditioning, cell, layers, tied, label smoothing, dropout
GRADCHECK_CASES = [
    ("concat", "lstm", 1, False, 0.0, 0.0),
    ("concat", "gru", 2, True, 0.1, 0.3),
    ("init", "lstm", 2, False, 0.0, 0.3),
    ("init", "gru", 1, True, 0.1, 0.0),
    ("first", "lstm", 1, True, 0.0, 0.3),
    ("first", "gru", 2, False, 0.1, 0.0),
]
CASE_IDS = ["-".join(str(field) for field in case) for case in GRADCHECK_CASES]


def case_options(conditioning, cell, layers, tied, smoothing, dropout):
    return dict(conditioning=conditioning, cell=cell, num_layers=layers, tied_embeddings=tied,
                label_smoothing=smoothing, dropout=dropout)


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=CASE_IDS)
def test_every_conditioning_passes_gradcheck(case):
    model, batch = tiny_model(**case_options(*case)), tiny_batch()
    model.zero_grad()
    _, dlogits = loss_and_gradients(model, batch)
    model.backward(dlogits)
    image = [name for name in model.grads if name.startswith("image")]
    assert image and all(np.any(model.grads[name] != 0) for name in image)       # the image's path is checked
    result = gradcheck(lambda: loss_and_gradients(model, batch)[0], model.parameters(), model.grads, eps=1e-5)
    assert result.max_error < 1e-6, result


# -- PyTorch autograd on the same equations, written here from the module docstring --------------------
def torch_reference(torch, model: Captioner, batch: CaptionBatch):
    """The loss and logits of ``model``'s equations in torch (no dropout), from leaf tensors named as its
    parameters."""
    config = model.config
    params = {name: torch.tensor(value, requires_grad=True) for name, value in model.parameters().items()}
    L, H, E = config.num_layers, config.hidden_size, config.embedding_dim
    features = torch.tensor(batch.features)
    embedded = params["target_embedding.weight"][torch.tensor(batch.target_inputs)]         # (T, B, E)
    steps = embedded.shape[0]
    recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[config.cell]
    input_size = 2 * E if config.conditioning == "concat" else E
    decoder = recurrent(input_size, H, L, dtype=torch.float64)
    weights = {name[len("decoder."):]: value for name, value in params.items() if name.startswith("decoder.")}

    state = None
    if config.conditioning == "init":                     # s0_k = tanh(x W_k^T + b_k), (B, L H) -> (L, B, H)
        states = [torch.tanh(features @ params[f"{name}.weight"].T + params[f"{name}.bias"])
                  .reshape(-1, L, H).transpose(0, 1)
                  for name in (("image_h", "image_c") if config.cell == "lstm" else ("image_h",))]
        state = tuple(states) if config.cell == "lstm" else states[0]
        inputs = embedded
    else:
        image = features @ params["image.weight"].T + params["image.bias"]                   # v (B, E)
        if config.conditioning == "concat":
            inputs = torch.cat([embedded, image.expand(steps, *image.shape)], -1)
        else:
            inputs = torch.cat([image[None], embedded[1:]])
    arguments = (inputs,) if state is None else (inputs, state)
    outputs, _ = torch.func.functional_call(decoder, weights, arguments)
    if config.tied_embeddings:
        logits = outputs @ params["target_embedding.weight"].T + params["output_bias"]
    else:
        logits = outputs @ params["output.weight"].T + params["output.bias"]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             torch.tensor(batch.target_outputs).reshape(-1), ignore_index=0,
                                             label_smoothing=config.label_smoothing)
    return loss, logits, params


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("conditioning", ["concat", "init", "first"])
def test_captioner_matches_torch_autograd(torch, conditioning, cell, layers):
    model = tiny_model(scale=0, conditioning=conditioning, cell=cell, num_layers=layers, label_smoothing=0.1,
                       tied_embeddings=layers == 2)
    batch = tiny_batch()
    model.zero_grad()
    logits = model(batch.features, batch.target_inputs)
    loss, dlogits = model.loss(logits, batch)
    model.backward(dlogits)

    loss_t, logits_t, params_t = torch_reference(torch, model, batch)
    loss_t.backward()
    errors = {"loss": abs(loss - loss_t.item()) / abs(loss_t.item()),
              "logits": relative_error(logits, logits_t.detach().numpy())}
    errors.update({name: relative_error(model.grads[name], params_t[name].grad.numpy()) for name in model.grads})
    assert max(errors.values()) < 1e-10, errors


# -- behaviour ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("conditioning", ["concat", "init", "first"])
def test_the_caption_depends_on_the_image(conditioning):
    model = tiny_model(conditioning=conditioning).eval()
    batch = tiny_batch()
    logits = model(batch.features, batch.target_inputs)
    other = model(batch.features[::-1].copy(), batch.target_inputs)
    assert not np.allclose(logits, other)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("conditioning", ["concat", "init", "first"])
def test_stepper_gives_forward_logits_one_token_at_a_time(conditioning, cell):
    model = tiny_model(conditioning=conditioning, cell=cell, num_layers=2, dropout=0.3).eval()
    batch = tiny_batch()
    logits = model(batch.features, batch.target_inputs)
    stepper = model.stepper(batch.features)
    stepped = np.stack([stepper(ids) for ids in batch.target_inputs])
    np.testing.assert_allclose(stepped, logits, atol=1e-12)
    assert stepper.attention is None


@pytest.mark.parametrize("conditioning", ["concat", "init", "first"])
def test_stepper_select_reorders_and_drops_rows(conditioning):
    model = tiny_model(conditioning=conditioning, num_layers=2).eval()
    features = tiny_batch().features
    stepper = model.stepper(features, repeats=2)                                 # rows: 0 0 1 1 2 2
    first = stepper(np.full(6, BOS_ID))
    stepper.select(np.array([5, 0]))                                            # image 2, then image 0
    second = stepper(np.array([6, 7]))
    alone = model.stepper(features[[2, 0]])
    np.testing.assert_allclose(alone(np.full(2, BOS_ID)), first[[5, 0]], atol=1e-12)
    np.testing.assert_allclose(alone(np.array([6, 7])), second, atol=1e-12)


@pytest.mark.parametrize("conditioning", ["concat", "init", "first"])
def test_shared_decoding_beam_one_is_greedy_and_beam_never_below_it(conditioning):
    model = tiny_model(conditioning=conditioning, scale=1.5)
    features = np.random.default_rng(3).uniform(0, 2, (6, FEATURES))
    decoding = model.decoding(features, max_length=8)
    paths = decode_greedy(decoding, alpha=0.6)
    for (one,), path in zip(decode_beam(decoding, beam_size=1, alpha=0.6), paths):
        assert one.tokens == path.tokens and abs(one.score - path.score) < 1e-12
        assert one.attention is None
    for (best,), path in zip(decode_beam(decoding, beam_size=3, alpha=0.6), paths):
        assert best.score >= path.score - 1e-12 and len(best.tokens) < 8
    drawn = decode_sample(decoding, np.random.default_rng(0))
    assert len(drawn) == 6 and all(len(h.tokens) < 8 for h in drawn)
    assert model.training                                                       # decoding restored the mode


def test_float32_agrees_with_float64():
    batch, results = tiny_batch(), []
    for dtype in (np.float64, np.float32):
        model = tiny_model(dtype=dtype, scale=0, num_layers=2, dropout=0.3)
        model.zero_grad()
        loss, dlogits = loss_and_gradients(model, batch)
        model.backward(dlogits)
        results.append((loss, model.grads))
    (loss64, grads64), (loss32, grads32) = results
    assert abs(loss32 - loss64) < 1e-5 * loss64
    assert max(relative_error(grads32[name], grads64[name]) for name in grads64) < 1e-4


def test_config_round_trips_through_json_and_bad_options_are_one_line_errors():
    config = CaptionerConfig(vocab_size=5, feature_size=6, conditioning="init", cell="gru")
    assert CaptionerConfig.from_json(config.to_json()) == config
    for options, message in [(dict(conditioning="bias"), "unknown `conditioning` 'bias'"),
                             (dict(cell="rnn"), "unknown `cell`"),
                             (dict(tied_embeddings=True, embedding_dim=8), "`tied_embeddings` needs"),
                             (dict(feature_dropout=1.5), "`feature_dropout`")]:
        with pytest.raises(ConfigError, match=message) as error:
            CaptionerConfig(**{"vocab_size": 5, "feature_size": 6, **options})
        assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="`feature_size` is 0"):
        Captioner(CaptionerConfig(vocab_size=5))
    with pytest.raises(ValueError, match=r"features: expected shape \(B, 5\)"):
        tiny_model()(np.zeros((3, 4)), tiny_batch().target_inputs)
