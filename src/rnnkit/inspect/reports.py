"""The workflows of ``rnnkit inspect ...`` on a character model and a text: numbers returned, files written.

Each takes a model (``rnnkit.models.char_lm.CharLM``, e.g. ``language_model.load_run(path).model``),
its vocabulary (``run.spec.vocab``) and the text, and writes into an output folder:

    cells_report       cells.csv (the best cell per feature), saturation.csv, saturation.png, and
                       cell-<feature>.html/.png for each found cell
    cell_path_report   cell_path.png, cell_path.csv (the LSTM's dc_t/dc_{t-d} against prod f)
    export_states      lstmvis/ (lstm.yml, states.h5, train.h5, words.dict) and states.safetensors
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnkit.errors import DataError
from rnnkit.inspect.cell_path import geometric_mean, lstm_cell_path, plot_cell_path
from rnnkit.inspect.export import export_lstmvis, export_safetensors
from rnnkit.inspect.states import trace_states
from rnnkit.inspect.tracking import (find_interpretable_cells, gate_saturation, plot_saturation, show_cell,
                                     text_features, write_rows_csv)

CELL_FIELDS = ("feature", "layer", "quantity", "unit", "correlation")
SATURATION_FIELDS = ("layer", "gate", "below", "above")


def encode(vocab, text: str, max_chars: int | None) -> tuple[str, np.ndarray]:
    """The text cut to ``max_chars``, its characters outside the vocabulary dropped, and its ids."""
    text = text[:max_chars] if max_chars else text
    kept = "".join(char for char in text if char in set(vocab.characters))
    if not kept:
        raise DataError("none of the text's characters is in the model's vocabulary")
    return kept, vocab.encode(kept)


SHOWN_FEATURES = ("in_string", "in_comment", "in_parentheses", "line_position")


def cells_report(model, vocab, text: str, out_dir: str | Path, quantities=("c", "h"), max_chars: int = 20000,
                 png_chars: int = 3000, show=SHOWN_FEATURES) -> dict:
    """Trace the model over ``text``, find the best cell per feature, measure gate saturation.

    Returns {"cells": rows of ``find_interpretable_cells``, "saturation": rows of
    ``gate_saturation`` (without the per-unit arrays), "characters": N}. Draws the cells
    found for the features in ``show`` (HTML of the whole text, PNG of its first
    ``png_chars`` characters).
    """
    out_dir = Path(out_dir)
    text, ids = encode(vocab, text, max_chars)
    trace = trace_states(model, ids)
    cells = find_interpretable_cells(trace, text_features(text), quantities)
    write_rows_csv(cells, out_dir / "cells.csv", CELL_FIELDS)
    for row in cells:
        if row["feature"] in show:
            show_cell(trace, text, row["layer"], row["quantity"], row["unit"], out_dir / f"cell-{row['feature']}",
                      note=f"r = {row['correlation']:+.2f} with {row['feature']}", png_chars=png_chars)
    saturation = gate_saturation(trace)
    if saturation:
        write_rows_csv(saturation, out_dir / "saturation.csv", SATURATION_FIELDS)
        plot_saturation(saturation, out_dir / "saturation.png", f"Gate saturation of the {trace.cell.upper()}")
    return {"cells": cells, "saturation": [{f: row[f] for f in SATURATION_FIELDS} for row in saturation],
            "characters": len(text)}


def cell_path_report(model, vocab, text: str, out_dir: str | Path, max_distance: int = 60, ends: int = 32,
                     layer_index: int = 0, max_chars: int = 2000) -> dict:
    """``lstm_cell_path`` of the model's layer along the text (its first ``max_chars`` characters),
    drawn and tabled (geometric means over the ends, per distance). Returns the result."""
    out_dir = Path(out_dir)
    text, ids = encode(vocab, text, max_chars)
    x = model.embedding(ids[:, None].astype(np.int64))
    positions = np.unique(np.linspace(max_distance, len(ids), ends).round().astype(int))
    result = lstm_cell_path(model.rnn, x, ends=positions, max_distance=max_distance, layer_index=layer_index)
    plot_cell_path(result, out_dir / "cell_path.png", f"The LSTM's cell path, layer {layer_index}")
    names = ("measured", "cell_path", "forget_product", "through_h")
    means = {name: geometric_mean(result[name]) for name in names}
    rows = [{"distance": int(d), **{name: float(means[name][i]) for name in names}}
            for i, d in enumerate(result["distance"])]
    write_rows_csv(rows, out_dir / "cell_path.csv", ("distance",) + names)
    return result


def export_states(model, vocab, text: str, out_dir: str | Path, max_chars: int = 20000) -> dict[str, Path]:
    """Every step's states and gates over the text: an LSTMVis project and a safetensors file."""
    out_dir = Path(out_dir)
    text, ids = encode(vocab, text, max_chars)
    trace = trace_states(model, ids)
    return {"lstmvis": export_lstmvis(trace, ids, vocab.characters, out_dir / "lstmvis"),
            "safetensors": export_safetensors(trace, ids, out_dir / "states.safetensors")}
