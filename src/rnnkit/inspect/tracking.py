"""What cells track: activations drawn over the text, a search for interpretable cells, gate saturation.

Karpathy, Johnson & Fei-Fei 2015 ("Visualizing and understanding recurrent networks")
found LSTM cells that follow quotes, brackets and the position in a line. Here:

- ``write_activation_html`` / ``plot_activation_text``: each character coloured by one
  cell's value after reading it (``rnnkit.inspect.states``): red positive, blue negative
  (h, c, the candidates, each scaled to its range over the text), or green from 0 to 1 (the sigmoid
  gates).
- ``text_features``: simple properties of the text at each character (see its docstring);
  ``find_interpretable_cells`` correlates every cell (Pearson r over the characters) with
  each and reports the best per feature.
- ``gate_saturation``: the share of (character, unit) at which each sigmoid gate is below
  0.1 (left-saturated) or above 0.9 (right-saturated), and the same per unit.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

import numpy as np

from rnnkit.errors import DataError
from rnnkit.inspect.figures import new_figure, save_png, write_text
from rnnkit.inspect.states import QUANTITY_NAMES, SIGMOID_GATES, StateTrace

TAB_WIDTH = 8          # columns of a tab in the text features
TAB_CELLS = 4          # cells of a tab in the coloured-text picture


# -- features of the text -------------------------------------------------------------------------------------

def text_features(text: str) -> dict[str, np.ndarray]:
    """Per character t, after reading it (float arrays (N,)), for C-like code:

    in_string        inside a "..." literal (its opening quote in, its closing quote out)
    in_comment       inside /* ... */ or // ... (from its second character; the closing / and the
                     line's end out)
    paren_depth      ( minus ) so far, outside strings and comments (never below 0)
    in_parentheses   paren_depth > 0
    brace_depth      { minus } likewise;  in_braces: brace_depth > 0
    line_position    the column of t in its line (0 for the first character of a line)
    indentation      the current line's leading whitespace, in columns (tab = 8)
    after_newline    t is a newline (the state that has just seen a line end)
    """
    scanner = CodeScanner()
    rows = [scanner.read(char) for char in text]
    names = ("in_string", "in_comment", "paren_depth", "brace_depth", "line_position", "indentation")
    features = {name: np.array([row[i] for row in rows], dtype=np.float64) for i, name in enumerate(names)}
    features["in_parentheses"] = (features["paren_depth"] > 0).astype(np.float64)
    features["in_braces"] = (features["brace_depth"] > 0).astype(np.float64)
    features["after_newline"] = np.array([char == "\n" for char in text], dtype=np.float64)
    return features


class CodeScanner:
    """A small state machine over C-like text: strings, character literals, comments, brackets, columns."""

    def __init__(self):
        self.mode = "code"                  # code, string, char, line_comment, block_comment
        self.escaped = False                # the previous character inside a literal was an unescaped backslash
        self.previous = ""                  # the previous character
        self.opener = ""                    # the previous character, as far as "/*", "*/" and "//" go
        self.paren = self.brace = 0
        self.column = self.indentation = 0
        self.leading = True                 # still in the line's leading whitespace

    def read(self, char: str) -> tuple:
        """Take one character; return (in_string, in_comment, paren_depth, brace_depth, column, indentation)."""
        self.track_columns(char)
        self.track_mode(char)
        if self.mode == "code" and char in "(){}":
            self.paren = max(0, self.paren + {"(": 1, ")": -1}.get(char, 0))
            self.brace = max(0, self.brace + {"{": 1, "}": -1}.get(char, 0))
        self.previous = char
        in_comment = self.mode in ("line_comment", "block_comment")
        return self.mode == "string", in_comment, self.paren, self.brace, self.column, self.indentation

    def track_columns(self, char: str) -> None:
        if self.previous == "\n":
            self.column, self.indentation, self.leading = 0, 0, True
        elif self.previous:
            self.column += 1
        if char == "\n":
            return
        if self.leading and char in " \t":
            self.indentation += TAB_WIDTH if char == "\t" else 1
        else:
            self.leading = False

    def track_mode(self, char: str) -> None:
        """Move between code, literals and comments."""
        opener, self.opener = self.opener, char
        if self.mode == "code":
            self.escaped = False
            if char in "\"'":
                self.mode = "string" if char == '"' else "char"
            elif char == "/" and opener == "/":
                self.mode = "line_comment"
            elif char == "*" and opener == "/":
                self.mode, self.opener = "block_comment", ""       # "/*/" does not close it
        elif self.mode in ("string", "char"):
            if char == ('"' if self.mode == "string" else "'") and not self.escaped:
                self.mode = "code"
            elif char == "\n":
                self.mode = "code"                                 # an unterminated literal ends with its line
            self.escaped = char == "\\" and not self.escaped
        elif (self.mode == "line_comment" and char == "\n"
              or self.mode == "block_comment" and char == "/" and opener == "*"):
            self.mode = "code"


# -- the search ---------------------------------------------------------------------------------------------

def correlations(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``values`` (N, H) with ``feature`` (N,); NaN where either is constant."""
    centred = values - values.mean(axis=0)
    target = feature - feature.mean()
    spread = np.sqrt((centred ** 2).sum(axis=0) * (target ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, centred.T.astype(np.float64) @ target / spread, np.nan)


def find_interpretable_cells(trace: StateTrace, features: dict[str, np.ndarray],
                             quantities=("c", "h")) -> list[dict]:
    """For each feature, the cell whose value follows it best (largest |r|) among ``quantities`` of
    every layer: rows {feature, layer, quantity, unit, correlation}; a constant feature is left out."""
    rows = []
    for name, feature in features.items():
        if len(feature) != trace.steps:
            raise DataError(f"feature {name!r} has {len(feature)} values but the trace {trace.steps} steps")
        if np.ptp(feature) == 0:
            continue
        best = None
        for k, layer in enumerate(trace.layers):
            for quantity in quantities:
                if quantity not in layer:
                    continue
                r = correlations(layer[quantity], feature)
                if np.all(np.isnan(r)):
                    continue
                unit = int(np.nanargmax(np.abs(r)))
                if best is None or abs(r[unit]) > abs(best["correlation"]):
                    best = {"feature": name, "layer": k, "quantity": quantity, "unit": unit,
                            "correlation": float(r[unit])}
        if best is not None:
            rows.append(best)
    return rows


def gate_saturation(trace: StateTrace, low: float = 0.1, high: float = 0.9) -> list[dict]:
    """Rows {layer, gate, below, above, per_unit_below (H,), per_unit_above (H,)} for every sigmoid gate."""
    rows = []
    for k, layer in enumerate(trace.layers):
        for gate in SIGMOID_GATES:
            if gate in layer:
                values = layer[gate]
                rows.append({"layer": k, "gate": gate, "below": float((values < low).mean()),
                             "above": float((values > high).mean()),
                             "per_unit_below": (values < low).mean(axis=0),
                             "per_unit_above": (values > high).mean(axis=0)})
    return rows


def plot_saturation(rows: list[dict], path: str | Path, title: str = "Gate saturation"):
    """Per unit: the share of characters right-saturated (> 0.9) against left-saturated (< 0.1), one panel
    per layer, one colour per gate (Karpathy et al. 2015, figure 3)."""
    if not rows:
        raise DataError("no sigmoid gates to plot: a plain RNN has none")
    layers = sorted({row["layer"] for row in rows})
    figure = new_figure(width=4.0 * len(layers), height=4.0)
    panels = figure.subplots(1, len(layers), squeeze=False)[0]
    for axes, layer in zip(panels, layers):
        for row in (r for r in rows if r["layer"] == layer):
            axes.scatter(row["per_unit_below"], row["per_unit_above"], s=10, alpha=0.6,
                         label=f"{QUANTITY_NAMES[row['gate']]} ({row['below']:.0%} < 0.1, {row['above']:.0%} > 0.9)")
        axes.plot([0, 1], [1, 0], color="gray", linewidth=0.6, linestyle=":")
        axes.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="fraction of time left-saturated (< 0.1)",
                 ylabel="fraction of time right-saturated (> 0.9)", title=f"layer {layer}")
        axes.legend(fontsize="x-small", loc="upper right")
    figure.suptitle(title)
    save_png(figure, path)
    return figure


# -- tables -------------------------------------------------------------------------------------------------

def write_rows_csv(rows: list[dict], path: str | Path, fields: tuple[str, ...]) -> None:
    """``rows`` (their ``fields``; floats with 4 significant digits) as CSV, atomically."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([f"{row[f]:.4g}" if isinstance(row[f], float) else row[f] for f in fields])
    write_text(path, text.getvalue())


# -- the text, coloured -------------------------------------------------------------------------------------

def display_values(values: np.ndarray, quantity: str) -> np.ndarray:
    """Values to colour by: a sigmoid gate as it is (in [0, 1]); any other quantity (h, c, a candidate)
    divided by its 99th-percentile magnitude over the text and clipped to [-1, 1], so that a cell that
    stays in a narrow range, or a cell state beyond tanh's reach, still shows its course."""
    if quantity in SIGMOID_GATES:
        return values
    scale = np.percentile(np.abs(values), 99)
    return np.clip(values / scale, -1.0, 1.0) if scale > 0 else values


def colour(value: float, unsigned: bool) -> str:
    """An rgba() background: green 0..1 for a gate; red for positive, blue for negative, else."""
    if unsigned:
        return f"rgba(0,150,0,{min(max(value, 0.0), 1.0):.2f})"
    strength = min(abs(value), 1.0)
    return f"rgba(220,30,30,{strength:.2f})" if value >= 0 else f"rgba(30,80,220,{strength:.2f})"


def write_activation_html(text: str, values: np.ndarray, path: str | Path, title: str,
                          unsigned: bool = False) -> None:
    """``text`` with each character's background coloured by ``values`` (N,), as a standalone HTML page;
    hovering a character shows its value."""
    if len(values) != len(text):
        raise DataError(f"`values` has {len(values)} entries but the text {len(text)} characters")
    spans = []
    for char, value in zip(text, values):
        shown = html.escape(char) if char != "\n" else "\u21b5\n"
        spans.append(f'<span style="background:{colour(float(value), unsigned)}" title="{value:.3f}">{shown}</span>')
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif} pre{font-family:monospace;font-size:13px;line-height:1.35;"
            "tab-size:8}</style></head><body>\n<h3>" + html.escape(title) + "</h3>\n<pre>" + "".join(spans)
            + "</pre>\n</body></html>\n")
    write_text(path, page)


def text_grid(text: str, columns: int, max_lines: int) -> list[list[tuple[int, str]]]:
    """The text as display lines of at most ``columns`` cells: (character index, shown character);
    a tab is ``TAB_CELLS`` blank cells, a newline ends its line (shown as a return sign)."""
    lines, line = [], []
    for index, char in enumerate(text):
        cells = [(index, " ")] * TAB_CELLS if char == "\t" else [(index, "\u21b5" if char == "\n" else char)]
        for cell in cells:
            line.append(cell)
            if len(line) == columns:
                lines.append(line)
                line = []
        if char == "\n" and line:
            lines.append(line)
            line = []
        if len(lines) >= max_lines:
            return lines[:max_lines]
    if line:
        lines.append(line)
    return lines


def plot_activation_text(text: str, values: np.ndarray, path: str | Path, title: str, unsigned: bool = False,
                         columns: int = 100, max_lines: int = 40):
    """The start of ``text`` (``max_lines`` display lines) in a grid, each character's cell coloured by
    ``values`` as in ``write_activation_html``."""
    if len(values) != len(text):
        raise DataError(f"`values` has {len(values)} entries but the text {len(text)} characters")
    lines = text_grid(text, columns, max_lines)
    grid = np.full((len(lines), columns), np.nan)
    for row, line in enumerate(lines):
        for column, (index, _) in enumerate(line):
            grid[row, column] = values[index]
    width, height = columns * 0.085 + 0.2, len(lines) * 0.17 + 0.45
    figure = new_figure(width, height, layout=None)                  # no layout pass over thousands of texts
    axes = figure.add_axes((0.1 / width, 0.05 / height, 1 - 0.2 / width, 1 - 0.45 / height))
    axes.imshow(grid, cmap="Greens" if unsigned else "coolwarm", vmin=0.0 if unsigned else -1.0, vmax=1.0,
                aspect="auto", interpolation="nearest")
    for row, line in enumerate(lines):
        for column, (_, char) in enumerate(line):
            if char.strip():
                axes.text(column, row, char, ha="center", va="center", fontsize=8, family="monospace")
    axes.set_axis_off()
    axes.set_title(title, fontsize="medium")
    save_png(figure, path)
    return figure


def show_cell(trace: StateTrace, text: str, layer: int, quantity: str, unit: int, stem: str | Path,
              note: str = "", png_chars: int | None = None) -> tuple[Path, Path]:
    """``stem``.html (the whole text) and ``stem``.png (its start) coloured by one cell. Returns both paths."""
    values = trace.quantity(layer, quantity)
    if not 0 <= unit < values.shape[1]:
        raise DataError(f"`unit` {unit} is not one of the layer's {values.shape[1]} units")
    shown = display_values(values[:len(text), unit], quantity)
    unsigned = quantity in SIGMOID_GATES
    title = f"layer {layer}, {QUANTITY_NAMES[quantity]} {quantity}, unit {unit}" + (f": {note}" if note else "")
    stem = Path(stem)
    html_path, png_path = stem.with_suffix(".html"), stem.with_suffix(".png")
    write_activation_html(text, shown, html_path, title, unsigned)
    end = len(text) if png_chars is None else png_chars
    plot_activation_text(text[:end], shown[:end], png_path, title, unsigned)
    return html_path, png_path
