"""PNG plots of results: loss curves, forecasts against the actual series, confusion matrices.

matplotlib is imported inside the functions, so the rest of rnnkit runs without it.
Figures are made with ``matplotlib.figure.Figure`` rather than pyplot: that renders
with the Agg backend, needs no display and keeps no global figure state. Each PNG is
written atomically (``rnnkit.training.atomic``: a temporary file in the target folder,
then a rename over ``path``), so a reader never sees a half-written image; only a PNG is
ever replaced (``check_png_target``), never another file, a device or a link. Each function
also returns the figure it saved, so that a test can read back what was plotted where.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.training.atomic import atomic_write_bytes, check_replaceable

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_curves(records: Sequence[Mapping[str, float]], path: str | Path, title: str = "Loss") -> Figure:
    """Training and validation loss against the step, from records like
    ``{"step": 100, "train_loss": 2.1, "val_loss": 2.3}``; a record may lack either loss."""
    figure, axes = _new_figure()
    plotted = False
    for key, label in (("train_loss", "training"), ("val_loss", "validation")):
        points = [(record["step"], record[key]) for record in records if record.get(key) is not None]
        if points:
            steps, losses = zip(*points)
            axes.plot(steps, losses, label=label, marker="." if len(points) < 50 else None)
            plotted = True
    if not plotted:
        raise DataError(f"no record has a train_loss or val_loss to plot into {path}: train for longer first")
    axes.set(xlabel="step", ylabel="loss", title=title)
    axes.legend()
    _save_png(figure, path)
    return figure


def plot_forecast(
    actual: np.ndarray, forecasts: Mapping[str, np.ndarray], path: str | Path, title: str = "Forecast"
) -> Figure:
    """The actual series and each named forecast over it.

    A forecast shorter than ``actual`` covers its last points (the test part);
    NaN entries are left blank.
    """
    figure, axes = _new_figure(width=8.0)
    axes.plot(np.arange(len(actual)), actual, color="black", linewidth=1.5, label="actual")
    for name, forecast in forecasts.items():
        if len(forecast) > len(actual):
            raise DataError(f"forecast {name!r} has {len(forecast)} points, more than the {len(actual)} actual ones")
        axes.plot(np.arange(len(actual) - len(forecast), len(actual)), forecast, linewidth=1.0, label=name)
    axes.set(xlabel="time step", ylabel="value", title=title)
    axes.legend()
    _save_png(figure, path)
    return figure


def plot_confusion_matrix(
    counts: np.ndarray, labels: Sequence[str], path: str | Path, title: str = "Confusion matrix"
) -> Figure:
    """Counts C[true, predicted] as a heat map, each cell written in."""
    counts = np.asarray(counts)
    if counts.shape != (len(labels), len(labels)):
        raise DataError(f"confusion matrix of shape {counts.shape} does not fit {len(labels)} labels")
    figure, axes = _new_figure(width=4.5, height=4.0)
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = np.arange(len(labels))
    axes.set(xticks=ticks, yticks=ticks, xticklabels=labels, yticklabels=labels)
    axes.set(xlabel="predicted", ylabel="true", title=title)
    dark = counts > counts.max() / 2
    for (row, column), count in np.ndenumerate(counts):
        axes.text(column, row, str(count), ha="center", va="center", color="white" if dark[row, column] else "black")
    _save_png(figure, path)
    return figure


def _new_figure(width: float = 6.0, height: float = 4.0):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png_target(path: str | Path) -> None:
    """``path`` is new, or a PNG image (which a plot may replace); anything else is refused, never replaced."""
    path = Path(path)
    check_replaceable(path)
    if path.exists():
        with open(path, "rb") as file:
            if file.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
                raise ConfigError(f"{path} exists and is not a PNG image: rnnkit replaces only a PNG; "
                                  "pick another path, or move that file away")


def _save_png(figure, path: str | Path) -> None:
    """Render the figure as PNG and write it to ``path`` atomically (``check_png_target`` first)."""
    check_png_target(path)
    png = io.BytesIO()
    with warnings.catch_warnings():              # labels in a script the font lacks (Chinese) show as boxes
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        figure.savefig(png, format="png", dpi=100)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, png.getvalue())
