"""Figures of rnnkit.inspect, as ``rnnkit.plots`` makes them: matplotlib imported lazily, PNGs written atomically.

A figure is a ``matplotlib.figure.Figure`` (the Agg backend, no display, no pyplot
state); ``save_png`` renders it and writes the file through a temporary file and a
rename, so a reader never sees half an image.
"""

from __future__ import annotations

import io
from pathlib import Path

from rnnkit.training.atomic import atomic_write_bytes, atomic_write_text


def new_figure(width: float = 6.0, height: float = 4.0, layout: str | None = "constrained"):
    """An empty figure (constrained layout, or none: place axes with ``figure.add_axes``)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def save_png(figure, path: str | Path, dpi: int = 100) -> None:
    """Render ``figure`` as PNG and write it to ``path`` atomically (folders made as needed)."""
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=dpi)
    write_bytes(path, png.getvalue())


def write_bytes(path: str | Path, data: bytes) -> None:
    """``data`` into ``path`` atomically, its folder made first."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def write_text(path: str | Path, text: str) -> None:
    """``text`` (UTF-8) into ``path`` atomically, its folder made first."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
