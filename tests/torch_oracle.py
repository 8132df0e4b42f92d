"""PyTorch as a test oracle: ``torch = require_torch()`` at the top of a test module.

Without torch installed the module's tests are skipped, except under CI (the ``CI``
environment variable set), where a missing oracle must fail the run rather than
silently skip the comparisons.
"""

import os

import pytest


def require_torch():
    """The ``torch`` module; skips the calling test module (fails under CI) if it is missing."""
    try:
        import torch
    except ImportError as error:
        if os.environ.get("CI"):
            raise ImportError(
                "torch is needed as the test oracle under CI: pip install -e '.[test]'"
            ) from error
        pytest.skip("torch is not installed (the test oracle)", allow_module_level=True)
    return torch
