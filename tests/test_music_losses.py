"""rnnkit/losses_music.py: which frames count, and the mean NLL's gradient."""

import numpy as np
import pytest

from rnnkit.errors import DataError
from rnnkit.gradcheck import gradcheck
from rnnkit.losses_music import FrameScore, frame_nll, scored_frames


def test_scored_frames_skip_padding_and_by_default_the_first_frame():
    lengths = np.array([3, 1, 2])
    assert scored_frames(lengths, 3).astype(int).tolist() == [[0, 0, 0], [1, 0, 1], [1, 0, 0]]
    assert scored_frames(lengths, 3, first_frame=True).astype(int).tolist() == [[1, 1, 1], [1, 0, 1], [1, 0, 0]]


def test_frame_nll_is_the_mean_over_scored_frames_and_its_gradient_checks():
    rng = np.random.default_rng(0)
    log_probs = -rng.random((4, 3)) * 10
    mask = scored_frames(np.array([4, 2, 3]), 4)
    loss, grad = frame_nll(log_probs, mask)
    assert loss == pytest.approx(-log_probs[mask].mean())
    assert not grad[~mask].any()
    result = gradcheck(lambda: frame_nll(log_probs, mask)[0], {"log_probs": log_probs}, {"log_probs": grad})
    assert result.max_error < 1e-8, result


def test_frame_nll_keeps_float32_and_refuses_nothing_to_score():
    loss, grad = frame_nll(np.full((2, 2), -3.0, np.float32), np.ones((2, 2), bool))
    assert grad.dtype == np.float32 and loss == pytest.approx(3.0)
    with pytest.raises(DataError, match="no frame to score"):
        frame_nll(np.zeros((1, 2)), scored_frames(np.array([1, 1]), 1))
    with pytest.raises(ValueError, match="mask: expected shape"):
        frame_nll(np.zeros((2, 2)), np.ones((2, 3), bool))


def test_frame_score_divides_by_the_frames():
    assert FrameScore(84.0, 10).nats_per_frame == 8.4
