"""rnnkit/layers/zoneout.py: the mixing of a state and the split of its gradient, on their own."""

import numpy as np

from rnnkit.layers.zoneout import Zoneout, mix_states


def test_training_mix_keeps_exactly_the_drawn_units_and_takes_the_new_value_elsewhere():
    zoneout = Zoneout.draw(np.random.default_rng(0), 0.5, (3, 4, 6), training=True)
    previous = np.random.default_rng(1).standard_normal((4, 6))
    new = np.random.default_rng(2).standard_normal((4, 6))
    mixed = new.copy()
    zoneout.mix(previous, mixed, 1)
    kept = zoneout.kept[1] == 1.0
    assert 0 < kept.sum() < kept.size and set(np.unique(zoneout.kept)) == {0.0, 1.0}
    np.testing.assert_array_equal(mixed[kept], previous[kept])
    np.testing.assert_array_equal(mixed[~kept], new[~kept])


def test_evaluation_mix_is_the_expectation():
    zoneout = Zoneout.draw(np.random.default_rng(0), 0.3, (3, 4, 6), training=False)
    assert zoneout.kept is None
    previous, new = np.full((4, 6), 2.0), np.full((4, 6), 10.0)
    mixed = new.copy()
    zoneout.mix(previous, mixed, 0)
    np.testing.assert_allclose(mixed, 0.3 * 2.0 + 0.7 * 10.0)


def test_the_part_around_the_step_is_d_t_and_all_of_it_past_a_sequence_s_end():
    alive = np.array([[True], [False]])
    training = Zoneout.draw(np.random.default_rng(0), 0.4, (2, 2, 5), training=True)
    np.testing.assert_array_equal(training.around(1, None, np.float32), training.kept[1])
    np.testing.assert_array_equal(training.around(1, alive, np.float32), [training.kept[1, 0], np.ones(5)])
    evaluation = Zoneout.draw(np.random.default_rng(0), 0.4, (2, 2, 5), training=False)
    assert evaluation.around(0, None, np.float32) == np.float32(0.4)
    np.testing.assert_array_equal(evaluation.around(0, alive, np.float32), [[np.float32(0.4)], [1.0]])


def test_the_split_keeps_float32_gradients_float32():
    ds = np.ones((2, 5), np.float32)
    for training in (True, False):
        zoneout = Zoneout.draw(np.random.default_rng(0), 0.4, (2, 2, 5), training=training)
        for alive in (None, np.array([[True], [False]])):
            assert (ds * zoneout.around(0, alive, np.float32)).dtype == np.float32


def test_no_zoneout_draws_nothing_and_mixes_nothing():
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    assert Zoneout.draw(rng, 0.0, (3, 4, 6), training=True) is None
    assert rng.bit_generator.state == before
    states = [np.arange(6.0).reshape(2, 3)]
    mix_states(states, [None], 0)
    np.testing.assert_array_equal(states[0], np.arange(6.0).reshape(2, 3))
