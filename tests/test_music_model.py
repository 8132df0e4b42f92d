"""rnnkit/models/music.py: the whole model's backward on padded batches, the stepper against forward,
generation, scoring, the config."""

import numpy as np
import pytest

from rnnkit.baselines_music import MarginalKeys, score
from rnnkit.data.piano_roll import frames_to_roll, pad_rolls, read_roll_json
from rnnkit.errors import ConfigError
from rnnkit.gradcheck import gradcheck
from rnnkit.losses_music import frame_nll, scored_frames
from rnnkit.models.music import MusicConfig, MusicModel, generate, score_rolls
from rnnkit.optim import Adam

KEYS, STEPS = 5, 4
LENGTHS = np.array([4, 2, 3])


def small_model(cell="lstm", output="bernoulli", dtype=np.float64, keys=KEYS, **options):
    config = MusicConfig(cell=cell, hidden_size=3, num_layers=2, output=output, nade_hidden_size=3, num_keys=keys,
                         **{"dropout": 0.0, "input_dropout": 0.0, **options})
    return MusicModel(config, dtype=dtype, rng=0)


def padded_frames(seed=0, lengths=LENGTHS, keys=KEYS):
    """Random frames (T, B, K), silent past each piece's end."""
    rng = np.random.default_rng(seed)
    frames = (rng.random((int(lengths.max()), len(lengths), keys)) < 0.4).astype(np.float64)
    frames[np.arange(len(frames))[:, None] >= lengths] = 0.0
    return frames


@pytest.mark.parametrize("output", ["bernoulli", "nade"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_music_model_gradients_match_finite_differences(cell, output):
    model = small_model(cell, output, dropout=0.3, input_dropout=0.2)
    frames = padded_frames()
    mask = scored_frames(LENGTHS, STEPS, first_frame=True)

    def loss() -> float:
        model.set_rng(np.random.default_rng(5))       # the same dropout masks every time
        return frame_nll(model(frames, LENGTHS), mask)[0]

    model.zero_grad()
    model.set_rng(np.random.default_rng(5))
    model.backward(frame_nll(model(frames, LENGTHS), mask)[1])
    result = gradcheck(loss, model.parameters(), model.grads)
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("output", ["bernoulli", "nade"])
def test_a_padded_batch_scores_each_piece_as_it_would_alone(output):
    model = small_model("gru", output)
    frames = padded_frames(1)
    together = model(frames, LENGTHS)
    for b, length in enumerate(LENGTHS):
        alone = model(frames[:length, b:b + 1])
        np.testing.assert_allclose(together[:length, b], alone[:, 0], rtol=1e-12)
        assert not together[length:, b].any()                     # 0 past the end


@pytest.mark.parametrize("output", ["bernoulli", "nade"])
def test_padding_gets_no_gradient(output):
    model = small_model("lstm", output)
    frames = padded_frames(2)
    model.zero_grad()
    model(frames, LENGTHS)
    model.backward(np.where(scored_frames(LENGTHS, STEPS, True), -1.0, 0.0))
    padded_grads = {k: v.copy() for k, v in model.grads.items()}
    model.zero_grad()
    model(frames, LENGTHS)
    model.backward(-np.ones((STEPS, len(LENGTHS))))               # any gradient at padded frames is dropped
    for name, grad in model.grads.items():
        np.testing.assert_allclose(grad, padded_grads[name], rtol=1e-12, err_msg=name)


def test_the_input_is_the_start_bit_then_the_previous_frame():
    model = small_model()
    frames = padded_frames()
    x = model.inputs(frames)
    assert x.shape == (STEPS, 3, KEYS + 1)
    assert (x[0, :, KEYS] == 1).all() and not x[0, :, :KEYS].any() and not x[1:, :, KEYS].any()
    np.testing.assert_array_equal(x[1:, :, :KEYS], frames[:-1])


@pytest.mark.parametrize("output", ["bernoulli", "nade"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_stepper_scores_frames_as_forward_does(cell, output):
    model = small_model(cell, output, dropout=0.5)
    model.eval()
    frames = padded_frames(3, lengths=np.array([4, 4]))
    expected = model(frames)
    stepper = model.stepper(batch=2)
    stepped = np.array([stepper.observe(frames[t]) for t in range(STEPS)])
    np.testing.assert_allclose(stepped, expected, rtol=1e-12)


@pytest.mark.parametrize("output", ["bernoulli", "nade"])
def test_generate_keeps_the_primer_and_repeats_with_the_seed(output):
    model = small_model("lstm", output, keys=88, dtype=np.float32)
    primer, _ = frames_to_roll([[60, 64, 67], [62, 65, 69]])
    first = generate(model, 6, np.random.default_rng(0), temperature=0.8, primer=primer)
    again = generate(model, 6, np.random.default_rng(0), temperature=0.8, primer=primer)
    assert first.shape == (8, 88) and first.dtype == bool
    np.testing.assert_array_equal(first[:2], primer)
    np.testing.assert_array_equal(first, again)
    assert generate(model, 3, np.random.default_rng(0)).shape == (3, 88)


def test_sampling_from_the_stepper_draws_from_the_model():
    """The frequency of each frame sampled first equals its probability under the model."""
    model = small_model("gru", "nade", keys=2)
    model.eval()
    draws = 20000
    stepper = model.stepper(batch=draws)
    samples = stepper.sample(np.random.default_rng(0))
    frequencies = np.bincount(samples @ np.array([2, 1]), minlength=4) / draws
    frames = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)[None]
    probabilities = np.exp(model(frames)[0])                         # four pieces of one frame each
    np.testing.assert_allclose(frequencies, probabilities, atol=4 * np.sqrt(0.25 / draws))


@pytest.mark.parametrize("length, temperature, message", [
    (0, 1.0, "`length` must be a positive number of frames"),
    (3, 0.0, "`temperature` must be positive"),
])
def test_generate_checks_its_arguments(length, temperature, message):
    with pytest.raises(ConfigError, match=message):
        generate(small_model(), length, np.random.default_rng(0), temperature)


def test_score_rolls_counts_frames_two_to_t_and_restores_the_mode():
    model = small_model("lstm", "nade", keys=88, dtype=np.float32, dropout=0.5)
    rolls = [frames_to_roll([[60 + i % 5, 64]] * n)[0] for i, n in enumerate((5, 3, 7))]
    result = score_rolls(model, rolls, batch_size=2)
    assert result.frames == 4 + 2 + 6 and model.training
    with_first = score_rolls(model, rolls, first_frame=True)
    assert with_first.frames == 15 and with_first.total_nats > result.total_nats
    model.eval()
    one_by_one = sum(-float(model(roll[:, None].astype(np.float32))[1:].sum()) for roll in rolls)
    assert result.total_nats == pytest.approx(one_by_one, rel=1e-5)


@pytest.mark.parametrize("field, value, message", [
    ("cell", "lstmx", "unknown `cell`"),
    ("output", "softmax", "unknown `output` 'softmax': choose one of bernoulli, nade"),
    ("nade_hidden_size", 0, "`nade_hidden_size` must be a positive integer"),
    ("dropout", 1.0, r"`dropout` must be in \[0, 1\)"),
])
def test_music_config_rejects_bad_values(field, value, message):
    with pytest.raises(ConfigError, match=message):
        MusicConfig(**{field: value})


def test_music_config_round_trips_through_json():
    config = MusicConfig(cell="gru", hidden_size=64, num_layers=2, dropout=0.1, output="nade", nade_hidden_size=32)
    assert MusicConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="unknown fields"):
        MusicConfig.from_json({**config.to_json(), "heads": 2})


def test_parameter_names_compose():
    names = set(small_model(output="nade").parameters())
    assert {"rnn.weight_ih_l0", "output.weight_in", "output.weight_out", "output.visible_bias.weight",
            "output.hidden_bias.bias"} <= names
    assert "output.logits.weight" in small_model().parameters()


def test_a_few_updates_on_the_jsb_chorales_beat_the_marginal_baseline(data_dir):
    splits = read_roll_json(data_dir / "jsb_chorales" / "jsb_chorales_quarter.json")
    model = MusicModel(MusicConfig(hidden_size=32, dropout=0.0, input_dropout=0.0), rng=0)
    marginal = MarginalKeys().fit(splits["train"])
    model.output.init_key_bias(marginal.key_probabilities)
    assert score_rolls(model, splits["valid"][:20]).nats_per_frame == pytest.approx(
        score(marginal, splits["valid"][:20]).nats_per_frame, abs=0.01)       # where training starts
    optimizer, rng = Adam(model, lr=1e-2), np.random.default_rng(0)
    for _ in range(40):
        frames, lengths = pad_rolls([splits["train"][i] for i in rng.choice(229, 8, replace=False)])
        model.zero_grad()
        model.backward(frame_nll(model(frames, lengths), scored_frames(lengths, len(frames), True))[1])
        optimizer.step()
    assert score_rolls(model, splits["valid"][:20]).nats_per_frame < 10.0
