import numpy as np
import pytest

from rnnkit.errors import DataError
from rnnkit.plots import plot_confusion_matrix, plot_curves, plot_forecast

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_plot_curves_writes_a_png_even_when_validation_is_sparse(tmp_path):
    records = [{"step": s, "train_loss": 2.0 / (s + 1)} for s in range(20)]
    for record in records[::5]:
        record["val_loss"] = 2.2 / (record["step"] + 1)
    path = tmp_path / "curves.png"
    plot_curves(records, path)
    assert_png(path)


def test_plot_curves_without_losses_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no record has a train_loss or val_loss"):
        plot_curves([{"step": 1}], tmp_path / "curves.png")


def test_plot_forecast_aligns_short_forecasts_with_the_end(tmp_path):
    actual = np.sin(np.arange(48) / 4)
    path = tmp_path / "forecast.png"
    plot_forecast(actual, {"persistence": actual[-13:-1], "model": np.r_[np.nan, actual[-11:]]}, path, "test")
    assert_png(path)


def test_plot_confusion_matrix_writes_a_png_over_an_old_one(tmp_path):
    path = tmp_path / "cm.png"
    path.write_bytes(b"old")
    plot_confusion_matrix(np.array([[40, 5], [8, 50]]), ["negative", "positive"], path)
    assert_png(path)
