"""rnnkit/baselines_music.py: the counts behind both baselines, and their numbers on the JSB chorales."""

import numpy as np
import pytest

from rnnkit.baselines_music import MarginalKeys, PreviousFrameKeys, bernoulli_frame_nll, predicted_pairs, score
from rnnkit.data.piano_roll import frames_to_roll, read_roll_json
from rnnkit.errors import ConfigError, DataError

A, C = 57 - 21, 60 - 21     # key indices of A3 and C4


def rolls():
    return [frames_to_roll([[60], [60], [57, 60], [57]])[0], frames_to_roll([[57], [60]])[0]]


def test_predicted_pairs_are_frames_1_to_t_minus_1_and_2_to_t():
    previous, frames = predicted_pairs(rolls())
    assert len(previous) == len(frames) == 4
    assert previous[:, C].tolist() == [True, True, True, False] and frames[:, C].tolist() == [True, True, False, True]


def test_marginal_keys_count_predicted_frames_with_additive_smoothing():
    baseline = MarginalKeys(smoothing=0.5).fit(rolls())
    assert baseline.key_probabilities[C] == pytest.approx((3 + 0.5) / (4 + 1))
    assert baseline.key_probabilities[A] == pytest.approx((2 + 0.5) / (4 + 1))
    assert baseline.key_probabilities[0] == pytest.approx(0.5 / 5)


def test_previous_frame_keys_count_transitions_per_key():
    baseline = PreviousFrameKeys(smoothing=1.0).fit(rolls())
    assert baseline.stay_on[C] == pytest.approx((2 + 1) / (3 + 2))          # C: on->on twice of 3
    assert baseline.turn_on[C] == pytest.approx((1 + 1) / (1 + 2))          # off->on once of 1
    assert baseline.stay_on[A] == pytest.approx((1 + 1) / (2 + 2))
    previous = np.zeros((1, 88), bool)
    previous[0, C] = True
    probabilities = baseline.probabilities(previous)[0]
    assert probabilities[C] == baseline.stay_on[C] and probabilities[A] == baseline.turn_on[A]


def test_score_sums_bernoulli_nll_over_keys_and_averages_over_predicted_frames():
    baseline = MarginalKeys().fit(rolls())
    _, frames = predicted_pairs(rolls())
    p = baseline.key_probabilities
    expected = -np.sum(frames * np.log(p) + (1 - frames) * np.log(1 - p)) / 4
    result = score(baseline, rolls())
    assert result.frames == 4 and result.nats_per_frame == pytest.approx(expected)
    assert bernoulli_frame_nll(np.full((1, 2), 0.5), np.array([[1, 0]])) == pytest.approx([2 * np.log(2)])


def test_baselines_refuse_bad_use():
    with pytest.raises(ConfigError, match="`smoothing` must be positive"):
        MarginalKeys(smoothing=0)
    with pytest.raises(ConfigError, match="PreviousFrameKeys has not been fitted"):
        score(PreviousFrameKeys(), rolls())
    with pytest.raises(DataError, match="no piece has two frames"):
        MarginalKeys().fit([frames_to_roll([[60]])[0]])


def test_baselines_reproduce_the_reference_numbers_on_the_jsb_test_split(data_dir):
    splits = read_roll_json(data_dir / "jsb_chorales" / "jsb_chorales_quarter.json")
    marginal = score(MarginalKeys().fit(splits["train"]), splits["test"])
    previous = score(PreviousFrameKeys().fit(splits["train"]), splits["test"])
    assert marginal.frames == previous.frames == 4725 - 77
    assert marginal.nats_per_frame == pytest.approx(11.09, abs=0.005)
    assert previous.nats_per_frame == pytest.approx(10.49, abs=0.005)
