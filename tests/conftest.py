import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))   # shared helpers: recurrent_checks, torch_oracle

from torch_oracle import require_torch  # noqa: E402

# Property-based tests run a few examples by default; RNNKIT_FUZZ_EXAMPLES=5000 makes a long fuzz run.
# (Tests that set max_examples themselves read the same variable.)
FUZZ_EXAMPLES = int(os.environ.get("RNNKIT_FUZZ_EXAMPLES", "25"))
settings.register_profile("rnnkit", max_examples=FUZZ_EXAMPLES, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rnnkit")


@pytest.fixture(scope="session")
def torch():
    """PyTorch 2.13.0 as oracle: skipped without it, except in CI where that fails."""
    return require_torch()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets: $RNNKIT_DATA, default ../shared/data beside the repository."""
    root = Path(__file__).resolve().parent.parent
    path = root / os.environ.get("RNNKIT_DATA", "../shared/data")   # relative to the repository root
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"data directory {path} not found (set RNNKIT_DATA)")
        pytest.skip(f"data directory {path} not found (set RNNKIT_DATA to ../shared/data)")
    return path
