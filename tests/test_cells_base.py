"""rnnkit/cells/base.py: what every cell shares (the workspace of reused buffers)."""

import numpy as np

from rnnkit.cells.base import Workspace


def test_workspace_lends_the_same_buffer_for_the_same_shape_and_a_new_one_otherwise():
    space = Workspace()
    first = space.empty("gates", (2, 3), np.float32)
    assert space.empty("gates", (2, 3), np.float32) is first
    assert space.empty("gates", (2, 4), np.float32).shape == (2, 4)
    assert space.empty("gates", (2, 4), np.float64).dtype == np.float64
    assert space.empty("other", (2, 3), np.float32) is not first


def test_each_cell_allocates_its_typed_cache_with_the_documented_shapes():
    from rnnkit.cells import GRUCell, LSTMCell, RNNCell

    steps, batch = 5, 2
    rnn = RNNCell(4).allocate(steps, batch, np.float32)
    assert rnn.h.shape == (steps + 1, batch, 4)
    lstm = LSTMCell(4, proj_size=3).allocate(steps, batch, np.float32)
    assert (lstm.h.shape, lstm.c.shape, lstm.gates.shape) == ((6, 2, 3), (6, 2, 4), (5, 2, 16))
    assert lstm.m.shape == (5, 2, 4) and lstm.dh.shape == (5, 2, 3)
    assert LSTMCell(4).allocate(steps, batch, np.float32).m is None
    gru = GRUCell(4).allocate(steps, batch, np.float64)
    assert (gru.gates.shape, gru.reset_term.shape, gru.h.dtype) == ((5, 2, 12), (5, 2, 4), np.float64)
