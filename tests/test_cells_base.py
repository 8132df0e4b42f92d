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
