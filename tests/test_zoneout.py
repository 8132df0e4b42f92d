"""rnnkit/layers/zoneout.py: the mixing of a state and the split of its gradient, on their own."""

import numpy as np

from rnnkit.layers.zoneout import Zoneout, mix_states


def test_training_mix_keeps_exactly_the_drawn_units_and_takes_the_new_value_elsewhere():
    zoneout = Zoneout.draw(np.random.default_rng(0), 0.5, (3, 4, 6), training=True)
    previous = np.random.default_rng(1).standard_normal((4, 6))
    new = np.random.default_rng(2).standard_normal((4, 6))
    mixed = new.copy()
    zoneout.mix(previous, mixed, 1)
    kept = zoneout.kept[1]
    assert 0 < kept.sum() < kept.size
    np.testing.assert_array_equal(mixed[kept], previous[kept])
    np.testing.assert_array_equal(mixed[~kept], new[~kept])


def test_evaluation_mix_is_the_expectation():
    zoneout = Zoneout.draw(np.random.default_rng(0), 0.3, (3, 4, 6), training=False)
    assert zoneout.kept is None
    previous, new = np.full((4, 6), 2.0), np.full((4, 6), 10.0)
    mixed = new.copy()
    zoneout.mix(previous, mixed, 0)
    np.testing.assert_allclose(mixed, 0.3 * 2.0 + 0.7 * 10.0)


def test_split_sends_each_part_of_the_gradient_through_or_around_and_dead_steps_around():
    alive = np.array([[True], [False]])
    for training in (True, False):
        zoneout = Zoneout.draw(np.random.default_rng(0), 0.4, (2, 2, 5), training=training)
        through, around = zoneout.split(0, alive, np.float32)
        total = np.broadcast_to(np.asarray(through, np.float32) + np.asarray(around, np.float32), (2, 5))
        np.testing.assert_array_equal(total, 1.0)
        np.testing.assert_array_equal(np.broadcast_to(through, (2, 5))[1], 0.0)     # past the end: all around


def test_split_keeps_float32_gradients_float32():
    zoneout = Zoneout.draw(np.random.default_rng(0), 0.4, (2, 2, 5), training=False)
    ds = np.ones((2, 5), np.float32)
    for alive in (None, np.array([[True], [False]])):
        through, around = zoneout.split(0, alive, np.float32)
        assert (ds * through).dtype == np.float32 and (ds * around).dtype == np.float32


def test_no_zoneout_draws_nothing_and_mixes_nothing():
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    assert Zoneout.draw(rng, 0.0, (3, 4, 6), training=True) is None
    assert rng.bit_generator.state == before
    states = [np.arange(6.0).reshape(2, 3)]
    mix_states(states, [None], 0)
    np.testing.assert_array_equal(states[0], np.arange(6.0).reshape(2, 3))
