"""Losses (rnnkit/losses.py): finite differences, PyTorch parity, masking and errors."""

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.losses import log_softmax, mse_loss, softmax, softmax_cross_entropy

STEPS, BATCH, CLASSES = 3, 2, 5
IGNORED = -100  # PyTorch's ignore_index: the target at a masked position


def random_problem(seed=0):
    """Logits (T, B, V), targets (T, B) with some positions ignored, the mask saying which."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((STEPS, BATCH, CLASSES)) * 2.0
    targets = rng.integers(0, CLASSES, (STEPS, BATCH))
    mask = np.ones((STEPS, BATCH), dtype=bool)
    mask[2, 1] = mask[1, 0] = False  # two padded positions
    targets[~mask] = IGNORED
    class_weights = rng.uniform(0.5, 2.0, CLASSES)
    return logits, targets, mask, class_weights


def test_softmax_and_log_softmax_are_stable_for_huge_logits():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]])
    probs, log_probs = softmax(x), log_softmax(x)
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(log_probs[0, :2], np.log(0.5))
    assert np.all(np.isfinite(log_probs))
    np.testing.assert_allclose(np.exp(log_probs), probs)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "class-weights"])
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradient_matches_finite_differences(reduction, masked, weighted):
    logits, targets, mask, class_weights = random_problem()
    if not masked:
        targets[~mask] = 0
    options = dict(
        mask=mask if masked else None,
        reduction=reduction,
        class_weights=class_weights if weighted else None,
    )
    _, grad = softmax_cross_entropy(logits, targets, **options)
    result = gradcheck(
        lambda: softmax_cross_entropy(logits, targets, **options)[0],
        {"logits": logits},
        {"logits": grad},
    )
    assert result.max_error < 1e-6, result
    if masked:
        assert np.all(grad[~mask] == 0.0)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "class-weights"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_with_mask_matches_torch_ignore_index(torch, reduction, weighted):
    logits, targets, mask, class_weights = random_problem(seed=1)
    logits_t = torch.tensor(logits.reshape(-1, CLASSES), requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(
        logits_t,
        torch.tensor(targets.reshape(-1)),
        weight=torch.tensor(class_weights) if weighted else None,
        ignore_index=IGNORED,
        reduction=reduction,
    )
    loss_t.backward()
    loss, grad = softmax_cross_entropy(
        logits, targets, mask=mask, reduction=reduction,
        class_weights=class_weights if weighted else None,
    )
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(grad.reshape(-1, CLASSES), logits_t.grad.numpy(), atol=1e-14)


def test_cross_entropy_masked_mean_equals_torch_unreduced_losses_averaged_over_kept_positions(
    torch,
):
    logits, targets, mask, _ = random_problem(seed=2)
    per_position = torch.nn.functional.cross_entropy(
        torch.tensor(logits).permute(0, 2, 1),  # torch wants the class axis second: (T, V, B)
        torch.tensor(np.where(mask, targets, 0)),
        reduction="none",
    ).numpy()
    loss, _ = softmax_cross_entropy(logits, targets, mask=mask)
    assert loss == pytest.approx(per_position[mask].mean(), rel=1e-12)


def test_cross_entropy_sum_is_the_sum_of_per_step_losses():
    logits, targets, _, _ = random_problem(seed=3)
    total, _ = softmax_cross_entropy(logits, targets % CLASSES, reduction="sum")
    per_step = [
        softmax_cross_entropy(logits[t], targets[t] % CLASSES, reduction="sum")[0]
        for t in range(STEPS)
    ]
    assert total == pytest.approx(sum(per_step), rel=1e-12)


def test_cross_entropy_of_uniform_logits_is_log_of_class_count():
    loss, grad = softmax_cross_entropy(np.zeros((4, CLASSES)), np.arange(4))
    assert loss == pytest.approx(np.log(CLASSES))
    np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-15)  # p - onehot sums to 0


def test_cross_entropy_with_everything_masked_is_zero():
    logits, targets, mask, _ = random_problem()
    loss, grad = softmax_cross_entropy(logits, targets, mask=np.zeros_like(mask))
    assert loss == 0.0
    assert not np.any(grad)


def test_cross_entropy_keeps_float32_gradients_float32():
    logits, targets, mask, _ = random_problem()
    loss, grad = softmax_cross_entropy(logits.astype(np.float32), targets, mask=mask)
    assert grad.dtype == np.float32
    assert loss == pytest.approx(softmax_cross_entropy(logits, targets, mask=mask)[0], rel=1e-5)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(targets=np.zeros((STEPS, BATCH + 1), dtype=int)), "targets: expected shape"),
        (dict(targets=np.full((STEPS, BATCH), CLASSES)), r"targets: expected integers in \[0, 5\)"),
        (dict(targets=np.zeros((STEPS, BATCH))), "targets: expected integers, got dtype float64"),
        (dict(mask=np.ones(STEPS, dtype=bool)), "mask: expected shape"),
        (dict(reduction="average"), "reduction: expected one of"),
        (dict(class_weights=np.ones(CLASSES + 1)), "class_weights: expected shape"),
    ],
    ids=["target-shape", "target-range", "float-targets", "mask-shape", "reduction", "weights"],
)
def test_cross_entropy_rejects_bad_arguments(change, message):
    logits, targets, _, _ = random_problem()
    arguments = {"logits": logits, "targets": targets % CLASSES, **change}
    with pytest.raises(ValueError, match=message):
        softmax_cross_entropy(**arguments)


@pytest.mark.parametrize("mask_kind", ["none", "elementwise", "per-step"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_gradient_matches_finite_differences(reduction, mask_kind):
    rng = np.random.default_rng(4)
    pred, target = rng.standard_normal((2, STEPS, BATCH, 3))
    mask = {
        "none": None,
        "elementwise": rng.random((STEPS, BATCH, 3)) > 0.3,
        "per-step": np.array([[1, 1], [1, 0], [0, 1]], dtype=bool),  # (T, B): whole steps
    }[mask_kind]
    _, grad = mse_loss(pred, target, mask=mask, reduction=reduction)
    result = gradcheck(
        lambda: mse_loss(pred, target, mask=mask, reduction=reduction)[0],
        {"pred": pred},
        {"pred": grad},
    )
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_matches_torch(torch, reduction):
    rng = np.random.default_rng(5)
    pred, target = rng.standard_normal((2, STEPS, BATCH, 3))
    pred_t = torch.tensor(pred, requires_grad=True)
    loss_t = torch.nn.functional.mse_loss(pred_t, torch.tensor(target), reduction=reduction)
    loss_t.backward()
    loss, grad = mse_loss(pred, target, reduction=reduction)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(grad, pred_t.grad.numpy(), atol=1e-14)


def test_mse_per_step_mask_averages_over_kept_steps_only():
    rng = np.random.default_rng(6)
    pred, target = rng.standard_normal((2, STEPS, BATCH, 3))
    mask = np.array([[1, 1], [1, 0], [0, 0]], dtype=bool)
    loss, grad = mse_loss(pred, target, mask=mask)
    assert loss == pytest.approx(np.mean((pred[mask] - target[mask]) ** 2), rel=1e-12)
    assert not np.any(grad[~mask])


@pytest.mark.parametrize(
    "target_shape, mask_shape, message",
    [
        ((STEPS, BATCH), None, "target: expected shape"),
        ((STEPS, BATCH, 3), (BATCH, 3), "mask: expected shape"),
    ],
    ids=["target-shape", "mask-shape"],
)
def test_mse_rejects_mismatched_shapes(target_shape, mask_shape, message):
    mask = None if mask_shape is None else np.ones(mask_shape, dtype=bool)
    with pytest.raises(ValueError, match=message):
        mse_loss(np.zeros((STEPS, BATCH, 3)), np.zeros(target_shape), mask=mask)
