"""rnnkit/inspect/tracking.py: text features, the correlation search, gate saturation, the coloured text."""

import numpy as np
import pytest

from rnnkit.errors import DataError
from rnnkit.inspect.states import StateTrace
from rnnkit.inspect.tracking import (correlations, find_interpretable_cells, gate_saturation, plot_activation_text,
                                     plot_saturation, show_cell, text_features, write_activation_html)

CODE = 'int f(a) {\n\tputs("(x)\\"}", a); /* ( { */\n\tc = \'"\'; // )\n}\n'


def by_char(name):
    return dict(zip(range(len(CODE)), text_features(CODE)[name]))


def test_strings_comments_and_character_literals():
    features = text_features(CODE)
    string = "".join(c for c, inside in zip(CODE, features["in_string"]) if inside)
    comment = "".join(c for c, inside in zip(CODE, features["in_comment"]) if inside)
    assert string == '"(x)\\"}'                       # the opening quote in, the closing one out
    assert comment == "* ( { *" + "/ )"               # from the second character to the last but one
    assert features["in_string"][CODE.index("'\"'") + 1] == 0.0     # a quote in a character literal


def test_brackets_are_counted_in_code_only():
    features = text_features(CODE)
    assert features["paren_depth"][CODE.index("(a)")] == 1 and features["paren_depth"][CODE.index(") {")] == 0
    assert features["paren_depth"][CODE.index('"(x')] == 1            # puts( ... the string's ( not counted
    assert features["paren_depth"][CODE.index(", a)")] == 1
    assert features["brace_depth"][CODE.index("{\n")] == 1 and features["brace_depth"][-2] == 0
    assert features["brace_depth"][CODE.index("/* ( {") + 6] == 1     # the comment's { not counted
    assert np.array_equal(features["in_braces"], (features["brace_depth"] > 0).astype(float))


def test_columns_indentation_and_newlines():
    features = text_features(CODE)
    line_starts = [0] + [i + 1 for i, c in enumerate(CODE[:-1]) if c == "\n"]
    assert all(features["line_position"][i] == 0 for i in line_starts)
    assert features["line_position"][CODE.index("puts")] == 1
    assert features["indentation"][CODE.index("puts")] == 8 and features["indentation"][CODE.index("int")] == 0
    assert np.flatnonzero(features["after_newline"]).tolist() == [i for i, c in enumerate(CODE) if c == "\n"]


def test_correlations_are_pearsons_r():
    rng = np.random.default_rng(0)
    values, feature = rng.standard_normal((200, 4)), rng.standard_normal(200)
    values[:, 2] = 5.0
    r = correlations(values, feature)
    for unit in (0, 1, 3):
        assert r[unit] == pytest.approx(np.corrcoef(values[:, unit], feature)[0, 1], rel=1e-10)
    assert np.isnan(r[2])


def synthetic_trace(steps=300):
    rng = np.random.default_rng(1)
    quotes = (np.arange(steps) % 50 < 10).astype(float)
    layer0 = {"h": rng.standard_normal((steps, 6)), "c": rng.standard_normal((steps, 6)),
              "i": rng.uniform(0, 1, (steps, 6)), "f": rng.uniform(0, 1, (steps, 6))}
    layer1 = {name: rng.standard_normal((steps, 6)) for name in ("h", "c")}
    layer1["c"][:, 4] = -3 * quotes + 0.1 * rng.standard_normal(steps)
    return StateTrace("lstm", [layer0, layer1]), {"in_string": quotes, "constant": np.ones(steps)}


def test_the_search_finds_the_planted_cell_and_skips_constant_features():
    trace, features = synthetic_trace()
    (row,) = find_interpretable_cells(trace, features)
    assert (row["feature"], row["layer"], row["quantity"], row["unit"]) == ("in_string", 1, "c", 4)
    assert row["correlation"] < -0.99
    with pytest.raises(DataError, match="has 3 values but the trace 300 steps"):
        find_interpretable_cells(trace, {"short": np.ones(3)})


def test_gate_saturation_counts_shares_below_and_above():
    trace = StateTrace("gru", [{"h": np.zeros((4, 2)), "z": np.array([[0.05, 0.5], [0.95, 0.5], [0.05, 0.99],
                                                                      [0.2, 0.5]]), "n": np.zeros((4, 2))}])
    (row,) = gate_saturation(trace)
    assert (row["layer"], row["gate"]) == (0, "z")
    assert row["below"] == pytest.approx(2 / 8) and row["above"] == pytest.approx(2 / 8)
    np.testing.assert_allclose(row["per_unit_below"], [0.5, 0.0])
    np.testing.assert_allclose(row["per_unit_above"], [0.25, 0.25])


def test_plot_saturation_needs_gates(tmp_path):
    trace, _ = synthetic_trace()
    plot_saturation(gate_saturation(trace), tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(DataError, match="a plain RNN has none"):
        plot_saturation([], tmp_path / "none.png")


def test_html_colours_every_character_and_escapes_it(tmp_path):
    text = "a<b>&\n\"c\""
    values = np.linspace(-1, 1, len(text))
    write_activation_html(text, values, tmp_path / "a.html", "cell <7>")
    page = (tmp_path / "a.html").read_text()
    assert page.count("<span ") == len(text)
    assert all(f">{escaped}</span>" in page for escaped in ("&lt;", "&gt;", "&amp;", "&quot;"))
    assert "cell &lt;7&gt;" in page
    assert "rgba(30,80,220,1.00)" in page and "rgba(220,30,30,1.00)" in page     # -1 blue, +1 red
    with pytest.raises(DataError, match="`values` has 2 entries but the text 3 characters"):
        write_activation_html("abc", np.zeros(2), tmp_path / "b.html", "x")


def test_coloured_text_png_puts_each_character_in_its_cell(tmp_path):
    text = "ab\n\tcdefgh"
    figure = plot_activation_text(text, np.arange(len(text)) / 10, tmp_path / "t.png", "t", unsigned=True, columns=4)
    (axes,) = figure.axes
    grid = axes.get_images()[0].get_array()
    assert grid.shape == (4, 4)
    np.testing.assert_allclose(grid[0, :3], [0.0, 0.1, 0.2])          # a, b, the newline
    np.testing.assert_allclose(grid[1], [0.3] * 4)                    # the tab: four cells
    np.testing.assert_allclose(grid[2], [0.4, 0.5, 0.6, 0.7])         # c, d, e, f (wrapped at 4)
    assert [t.get_text() for t in axes.texts] == list("ab\u21b5cdefgh")
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


def test_show_cell_writes_html_and_png_of_one_unit(tmp_path):
    trace, features = synthetic_trace(120)
    text = "".join('"' if q else "x" for q in features["in_string"])
    html_path, png_path = show_cell(trace, text, 1, "c", 4, tmp_path / "cell", note="r = -1", png_chars=60)
    assert html_path.read_text().count("<span ") == 120 and png_path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(DataError, match="`unit` 6 is not one of the layer's 6 units"):
        show_cell(trace, text, 1, "c", 6, tmp_path / "x")
