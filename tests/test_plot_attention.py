"""The attention heat map (rnnkit/plot_attention.py)."""

import numpy as np
import pytest

from rnnkit.errors import DataError
from rnnkit.plot_attention import plot_attention

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_attention_heat_map_is_a_png_with_tokens_on_its_axes(tmp_path):
    weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.0, 0.1, 0.9]])
    path = tmp_path / "attention.png"
    figure = plot_attention(weights, ["I", "am", "hungry"], ["J'ai", "faim", "<eos>"], path)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_xticklabels()] == ["I", "am", "hungry"]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["J'ai", "faim", "<eos>"]
    np.testing.assert_array_equal(axes.images[0].get_array(), weights)


@pytest.mark.filterwarnings("ignore:Glyph")     # without a CJK font installed, the glyphs are boxes
def test_chinese_tokens_are_drawn(tmp_path):
    path = tmp_path / "attention.png"
    plot_attention(np.full((2, 2), 0.5), ["我", "们"], ["we", "<eos>"], path)
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_weights_that_do_not_fit_the_tokens_are_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"shape \(2, 3\) do not fit 2 output and 2 source tokens"):
        plot_attention(np.zeros((2, 3)), ["a", "b"], ["x", "y"], tmp_path / "a.png")
