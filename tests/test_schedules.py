"""Learning-rate schedules (rnnkit/optim/schedules.py): PyTorch parity, char-rnn decay, state."""

import json

import numpy as np
import pytest

from rnnkit.errors import CheckpointError
from rnnkit.layers.linear import Linear
from rnnkit.optim import SGD, ExponentialAfter, ReduceLROnPlateau, StepLR

# a validation loss that improves, stalls (with changes below the 1e-4 threshold), improves
METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.0, 3.0, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5]


def optimizer(lr=1.0):
    return SGD(Linear(2, 2, rng=0), lr=lr)


def torch_lrs(torch, make_scheduler, metrics):
    """lr after each epoch under a torch scheduler; ``metrics`` is None for epoch-only ones."""
    torch_optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = make_scheduler(torch_optimizer)
    lrs = []
    for metric in metrics:
        torch_optimizer.step()
        scheduler.step() if metric is None else scheduler.step(metric)
        lrs.append(torch_optimizer.param_groups[0]["lr"])
    return lrs


def test_step_lr_matches_torch_over_ten_epochs(torch):
    expected = torch_lrs(
        torch, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), [None] * 10
    )
    schedule = StepLR(optimizer(), step_size=3, gamma=0.5)
    lrs = []
    for _ in range(10):
        schedule.step()
        lrs.append(schedule.optimizer.lr)
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)


def test_reduce_on_plateau_matches_torch(torch):
    options = dict(factor=0.5, patience=2, threshold=1e-4, min_lr=0.1)
    expected = torch_lrs(
        torch, lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **options), METRICS
    )
    schedule = ReduceLROnPlateau(optimizer(), **options)
    lrs = []
    for metric in METRICS:
        schedule.step(metric)
        lrs.append(schedule.optimizer.lr)
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)
    assert lrs[:4] == [1.0] * 4 and lrs[-1] == 0.1  # steady while improving, floored at min_lr


def test_exponential_after_decays_like_char_rnn():
    schedule = ExponentialAfter(optimizer(lr=2e-3), start_epoch=10, factor=0.97)
    for epoch in range(1, 16):
        schedule.step()
        # char-rnn: at the end of epoch e >= 10, lr *= 0.97
        assert schedule.optimizer.lr == pytest.approx(2e-3 * 0.97 ** max(0, epoch - 9), rel=1e-12)


@pytest.mark.parametrize(
    "make, steps",
    [
        (lambda o: StepLR(o, step_size=2, gamma=0.3), [None] * 5),
        (lambda o: ExponentialAfter(o, start_epoch=2, factor=0.9), [None] * 5),
        (lambda o: ReduceLROnPlateau(o, patience=1), METRICS),
    ],
    ids=["step", "exponential-after", "plateau"],
)
def test_schedule_state_round_trips_through_json_and_resumes_identically(make, steps):
    def run(schedule, metrics):
        for metric in metrics:
            schedule.step() if metric is None else schedule.step(metric)

    schedule = make(optimizer())
    half = len(steps) // 2
    run(schedule, steps[:half])
    state = json.loads(json.dumps(schedule.state_dict(), allow_nan=False))
    resumed = make(optimizer(lr=schedule.optimizer.lr))
    resumed.load_state_dict(state)
    run(schedule, steps[half:])
    run(resumed, steps[half:])
    assert resumed.state_dict() == schedule.state_dict()
    assert resumed.optimizer.lr == schedule.optimizer.lr


def test_schedule_rejects_another_schedules_state():
    state = StepLR(optimizer(), step_size=2).state_dict()
    with pytest.raises(CheckpointError, match="saved state is for StepLR, not ExponentialAfter"):
        ExponentialAfter(optimizer()).load_state_dict(state)


@pytest.mark.parametrize(
    "make",
    [
        lambda o: StepLR(o, step_size=0),
        lambda o: ExponentialAfter(o, factor=0.0),
        lambda o: ReduceLROnPlateau(o, factor=1.0),
    ],
    ids=["step-size", "exponential-factor", "plateau-factor"],
)
def test_schedules_reject_invalid_settings(make):
    with pytest.raises(ValueError):
        make(optimizer())


@pytest.mark.parametrize("make, message", [
    (lambda opt: StepLR(opt, step_size=1, gamma=float("nan")), "finite gamma > 0"),
    (lambda opt: ExponentialAfter(opt, factor=float("inf")), "factor must be a finite number > 0"),
    (lambda opt: ReduceLROnPlateau(opt, factor=float("nan")), r"factor must lie in \(0, 1\)"),
])
def test_schedules_refuse_nan_and_infinite_factors(make, message):
    with pytest.raises(ValueError, match=message):
        make(SGD(Linear(2, 2), lr=0.1))
