import warnings
from pathlib import Path

import numpy as np
import pytest

from rnnkit.errors import ConfigError, DataError
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
    plot_confusion_matrix(np.array([[1, 0], [0, 1]]), ["negative", "positive"], path)
    old = path.read_bytes()
    plot_confusion_matrix(np.array([[40, 5], [8, 50]]), ["negative", "positive"], path)
    assert_png(path)
    assert path.read_bytes() != old


def test_a_plot_never_replaces_what_is_not_a_png(tmp_path):
    text, link = tmp_path / "notes.png", tmp_path / "link.png"
    text.write_text("mine")
    link.symlink_to(text)
    for path, what in ((text, "exists and is not a PNG image"), (link, "is a symbolic link"),
                       (Path("/dev/null"), "is a device"), (tmp_path, "is a directory")):
        with pytest.raises(ConfigError, match=what):
            plot_confusion_matrix(np.array([[1, 0], [0, 1]]), ["a", "b"], path)
    assert text.read_text() == "mine" and link.is_symlink() and Path("/dev/null").is_char_device()


# -- what is plotted where: each would fail if a curve were drawn against its index -------------------------

def lines_by_label(figure):
    (axes,) = figure.axes
    return {line.get_label(): line for line in axes.get_lines()}


def sparse_records():
    """Training loss at every step 0..19, validation only at steps 4, 9, 14, 19 (every 5th, not from 0)."""
    records = [{"step": s, "train_loss": 3.0 - 0.05 * s} for s in range(20)]
    for record in records[4::5]:
        record["val_loss"] = 1.0 + 0.01 * record["step"]
    return records


def test_plot_curves_puts_each_validation_point_at_its_step(tmp_path):
    records = sparse_records()
    figure = plot_curves(records, tmp_path / "curves.png")
    lines = lines_by_label(figure)
    np.testing.assert_array_equal(lines["training"].get_xdata(), np.arange(20))
    np.testing.assert_allclose(lines["training"].get_ydata(), [r["train_loss"] for r in records])
    np.testing.assert_array_equal(lines["validation"].get_xdata(), [4, 9, 14, 19])   # not 0, 1, 2, 3
    np.testing.assert_allclose(lines["validation"].get_ydata(), [1.04, 1.09, 1.14, 1.19])


def test_plot_curves_png_shows_the_validation_markers_at_their_steps(tmp_path):
    """Read the PNG back: at the pixel where step 9's validation loss belongs there is the validation
    colour, and at the pixel where the second validation point would sit if drawn against its
    index (x = 1) there is none."""
    import matplotlib.colors
    import matplotlib.image

    path = tmp_path / "curves.png"
    figure = plot_curves(sparse_records(), path)
    image = matplotlib.image.imread(path)[..., :3]                # rows from the top, RGB in [0, 1]
    (axes,) = figure.axes
    colour = np.array(matplotlib.colors.to_rgb(lines_by_label(figure)["validation"].get_color()))
    assert not np.allclose(colour, matplotlib.colors.to_rgb(lines_by_label(figure)["training"].get_color()))

    def colour_near(step, loss) -> bool:
        x, y = axes.transData.transform((step, loss))             # the same dpi (100) as the saved PNG
        row, column = int(round(image.shape[0] - y)), int(round(x))
        patch = image[row - 2:row + 3, column - 2:column + 3]
        return bool(np.any(np.abs(patch - colour).max(axis=-1) < 0.1))

    assert figure.get_dpi() == 100 and image.shape[:2] == (400, 600)
    for step in (4, 9, 14, 19):
        assert colour_near(step, 1.0 + 0.01 * step)
    assert not colour_near(1, 1.09)


def test_plot_forecast_covers_the_last_points_with_a_short_forecast(tmp_path):
    actual = np.sin(np.arange(48) / 4)
    forecast = actual[-12:] + 0.1
    lines = lines_by_label(plot_forecast(actual, {"model": forecast}, tmp_path / "forecast.png"))
    np.testing.assert_array_equal(lines["actual"].get_xdata(), np.arange(48))
    np.testing.assert_array_equal(lines["model"].get_xdata(), np.arange(36, 48))
    np.testing.assert_array_equal(lines["model"].get_ydata(), forecast)


def test_plot_confusion_matrix_writes_each_count_in_its_cell(tmp_path):
    counts = np.array([[40, 5], [8, 50]])
    figure = plot_confusion_matrix(counts, ["negative", "positive"], tmp_path / "cm.png")
    axes = figure.axes[0]
    np.testing.assert_array_equal(axes.images[0].get_array(), counts)     # row = true, column = predicted
    written = {text.get_position(): text.get_text() for text in axes.texts}
    assert written == {(0, 0): "40", (1, 0): "5", (0, 1): "8", (1, 1): "50"}   # (x = predicted, y = true)
    assert [t.get_text() for t in axes.get_xticklabels()] == ["negative", "positive"]


def test_labels_in_a_script_the_font_lacks_give_no_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_confusion_matrix(np.array([[3, 1], [0, 4]]), ["正面", "負面"], tmp_path / "cm.png")
    assert_png(tmp_path / "cm.png")
