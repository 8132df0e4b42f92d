import numpy as np
import pytest

from rnnkit.metrics import accuracy, confusion_matrix, mae, precision_recall_f1, rmse

Y_TRUE = [0, 0, 0, 1, 1, 1, 1, 0]
Y_PRED = [0, 1, 0, 1, 1, 0, 1, 0]  # true negatives 3, false positives 1, false negatives 1, true positives 3


def test_confusion_matrix_rows_are_true_columns_predicted():
    assert confusion_matrix(Y_TRUE, Y_PRED).tolist() == [[3, 1], [1, 3]]
    expected = [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert confusion_matrix([0, 2], [1, 2], num_classes=4).tolist() == expected


def test_accuracy_by_hand():
    assert accuracy(Y_TRUE, Y_PRED) == 6 / 8


def test_binary_precision_recall_f1_by_hand():
    # positives: tp 3, fp 1, fn 1 -> precision 3/4, recall 3/4; F1 the same
    assert precision_recall_f1(Y_TRUE, Y_PRED) == pytest.approx((0.75, 0.75, 0.75))
    # class 0 as positive: predicted 0 four times, 3 right; truly 0 four times, 3 found
    assert precision_recall_f1([1, 1, 0, 0, 0], [1, 0, 0, 0, 1], positive=0) == pytest.approx((2 / 3, 2 / 3, 2 / 3))


def test_f1_is_the_harmonic_mean_of_unequal_precision_and_recall():
    precision, recall, f1 = precision_recall_f1([1, 1, 1, 1, 0], [1, 0, 0, 0, 0])
    assert (precision, recall) == (1.0, 0.25)
    assert f1 == pytest.approx(2 * 1.0 * 0.25 / 1.25)


def test_macro_average_weights_classes_equally():
    y_true, y_pred = [0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2]
    # precision per class 1/2, 2/3, 1; recall 1/2, 2/3, 1
    expected = (1 / 2 + 2 / 3 + 1) / 3
    precision, recall, _ = precision_recall_f1(y_true, y_pred, average="macro")
    assert precision == pytest.approx(expected) and recall == pytest.approx(expected)


def test_no_predicted_positives_gives_zero_not_nan():
    assert precision_recall_f1([1, 0, 1], [0, 0, 0]) == (0.0, 0.0, 0.0)


def test_rmse_and_mae_by_hand():
    y_true, y_pred = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 1.0, 4.0])  # errors 1, 0, -2, 0
    assert rmse(y_true, y_pred) == pytest.approx(np.sqrt(5 / 4))
    assert mae(y_true, y_pred) == pytest.approx(3 / 4)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="equal, non-empty shapes"):
        rmse([1.0, 2.0], [1.0])
