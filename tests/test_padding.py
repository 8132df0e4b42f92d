import numpy as np
import pytest

from rnnkit.data.padding import bucket_batches, pad_batch
from rnnkit.errors import DataError


def test_pad_batch_is_time_major_with_pads_after_each_sequence():
    ids, lengths = pad_batch([[5, 6, 7], [8], [9, 10]], pad_id=0)
    assert ids.shape == (3, 3)
    assert ids.tolist() == [[5, 8, 9], [6, 0, 10], [7, 0, 0]]
    assert lengths.tolist() == [3, 1, 2]


def test_pad_batch_batch_major_is_the_transpose():
    sequences = [np.array([1, 2]), np.array([3, 4, 5, 6])]
    time_major, _ = pad_batch(sequences, pad_id=-1)
    batch_major, _ = pad_batch(sequences, pad_id=-1, time_major=False)
    assert batch_major.shape == (2, 4)
    np.testing.assert_array_equal(batch_major, time_major.T)
    assert batch_major[0].tolist() == [1, 2, -1, -1]


def test_pad_batch_rejects_an_empty_sequence():
    with pytest.raises(DataError, match="sequence 1 of the batch is empty"):
        pad_batch([[1], []])


def test_bucket_batches_cover_every_index_once():
    lengths = np.random.default_rng(0).integers(1, 50, size=103)
    batches = bucket_batches(lengths, batch_size=10, rng=np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    assert sorted(len(batch) for batch in batches) == [3] + [10] * 10


def test_bucket_batches_pad_less_than_random_batches():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=1000)

    def padding(batches):
        return sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in batches)

    random_batches = np.array_split(rng.permutation(1000), 50)
    bucketed = bucket_batches(lengths, batch_size=20, rng=rng)
    assert padding(bucketed) < padding(random_batches) / 10


def test_bucket_batches_without_shuffle_run_from_short_to_long_deterministically():
    lengths = [5, 1, 3, 2, 4, 1]
    batches = bucket_batches(lengths, batch_size=2, rng=None, shuffle=False)
    assert [b.tolist() for b in batches] == [[1, 5], [3, 2], [4, 0]]


def test_bucket_batches_shuffle_depends_on_the_seed():
    lengths = np.arange(100) % 7
    first = bucket_batches(lengths, 5, np.random.default_rng(0))
    again = bucket_batches(lengths, 5, np.random.default_rng(0))
    other = bucket_batches(lengths, 5, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
