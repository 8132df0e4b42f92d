"""Truncated-BPTT batches: shapes, targets one step ahead, lanes that continue, and exact resume."""

import json

import numpy as np
import pytest

from rnnkit.data.batches import ContiguousBatches, split_train_val
from rnnkit.errors import CheckpointError, ConfigError, DataError

IDS = np.arange(1000, dtype=np.int64)  # id i at position i, so positions can be read off the batches


def test_split_is_contiguous_first_ninety_percent_then_the_rest():
    train, val = split_train_val(IDS)
    np.testing.assert_array_equal(train, IDS[:900])
    np.testing.assert_array_equal(val, IDS[900:])


def test_split_rejects_a_fraction_outside_zero_to_one():
    with pytest.raises(ConfigError, match="`val_fraction` is 1.5"):
        split_train_val(IDS, val_fraction=1.5)


def test_batches_are_time_major_with_targets_one_step_ahead():
    batches = ContiguousBatches(IDS, batch_size=4, seq_len=10)
    assert batches.num_batches == len(batches) == 999 // 40
    x, y = batches.batch_at(0)
    assert x.shape == y.shape == (10, 4)
    np.testing.assert_array_equal(y, x + 1)


def test_lanes_are_contiguous_stretches_of_the_text():
    batches = ContiguousBatches(IDS, batch_size=4, seq_len=10)
    x, _ = batches.batch_at(0)
    lane_length = batches.num_batches * 10
    np.testing.assert_array_equal(x[0], np.arange(4) * lane_length)  # lane b starts at b * L
    np.testing.assert_array_equal(x[:, 2], np.arange(2 * lane_length, 2 * lane_length + 10))


def test_each_lane_of_batch_k_plus_1_continues_where_batch_k_ended():
    batches = list(ContiguousBatches(IDS, batch_size=3, seq_len=7))
    for (x, y), (next_x, _) in zip(batches, batches[1:]):
        np.testing.assert_array_equal(next_x[0], x[-1] + 1)  # for every lane at once
        np.testing.assert_array_equal(next_x[0], y[-1])


def test_one_epoch_covers_the_used_text_exactly_once():
    batches = ContiguousBatches(IDS, batch_size=4, seq_len=10)
    seen = np.concatenate([x.T.ravel() for x, _ in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(batches.num_batches * 40))


def test_iteration_advances_the_epoch_after_the_last_batch():
    batches = ContiguousBatches(IDS, batch_size=4, seq_len=10)
    assert len(list(batches)) == batches.num_batches
    assert (batches.epoch, batches.batch) == (1, 0)
    assert len(list(batches)) == batches.num_batches  # a whole second epoch
    assert batches.epoch == 2


def test_resumed_batches_continue_with_the_next_batch():
    batches = ContiguousBatches(IDS, batch_size=4, seq_len=10)
    iterator = iter(batches)
    for _ in range(5):
        next(iterator)
    state = json.loads(json.dumps(batches.state_dict()))  # as it is stored in meta.json
    rest = list(iterator)

    resumed = ContiguousBatches(IDS, batch_size=4, seq_len=10)
    resumed.load_state_dict(state)
    resumed_rest = list(resumed)
    assert len(resumed_rest) == len(rest) == batches.num_batches - 5
    for (x, y), (resumed_x, resumed_y) in zip(rest, resumed_rest):
        np.testing.assert_array_equal(x, resumed_x)
        np.testing.assert_array_equal(y, resumed_y)


def test_resuming_with_another_batch_layout_raises():
    state = ContiguousBatches(IDS, batch_size=4, seq_len=10).state_dict()
    with pytest.raises(CheckpointError, match="same corpus, `batch_size` and `seq_len`"):
        ContiguousBatches(IDS, batch_size=5, seq_len=10).load_state_dict(state)


def test_resuming_at_an_impossible_position_raises():
    batches = ContiguousBatches(IDS, batch_size=4, seq_len=10)
    with pytest.raises(CheckpointError, match="position .* is invalid"):
        batches.load_state_dict({**batches.state_dict(), "batch": batches.num_batches})


def test_text_shorter_than_one_batch_says_how_much_is_needed():
    expected = "has 100 characters.*needs 129: use a smaller `batch_size` or `seq_len`"
    with pytest.raises(DataError, match=expected):
        ContiguousBatches(IDS[:100], batch_size=8, seq_len=16)


def test_exactly_one_batch_worth_of_text_gives_one_batch():
    batches = ContiguousBatches(IDS[:41], batch_size=4, seq_len=10)
    assert batches.num_batches == 1


def test_batch_size_and_sequence_length_must_be_positive():
    with pytest.raises(ConfigError, match="at least 1"):
        ContiguousBatches(IDS, batch_size=0, seq_len=10)
