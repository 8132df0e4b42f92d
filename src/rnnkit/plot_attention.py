"""Where a translator looks: the attention weights of one sentence as a heat map (PNG).

Rows are the output tokens (the <eos> step last), columns the source tokens; cell
(t, j) is a_t,j, the weight output step t gave source token j (``Hypothesis.attention``).
As in ``rnnkit.plots`` (whose figure and atomic PNG writing this uses), matplotlib is
imported inside the function. Chinese or Japanese tokens are drawn with a CJK font
when one is installed (Noto Sans CJK, WenQuanYi, ...), else with matplotlib's default,
which draws them as boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from rnnkit.errors import DataError
from rnnkit.plots import _new_figure, _save_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB")


def plot_attention(weights: np.ndarray, source_tokens: Sequence[str], output_tokens: Sequence[str],
                   path: str | Path, title: str = "Attention") -> Figure:
    """The (n, L) weights of n output tokens over L source tokens, as a heat map written to ``path``."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(output_tokens), len(source_tokens)):
        raise DataError(f"attention weights of shape {weights.shape} do not fit {len(output_tokens)} output "
                        f"and {len(source_tokens)} source tokens")
    figure, axes = _new_figure(width=1.2 + 0.45 * len(source_tokens), height=1.2 + 0.35 * len(output_tokens))
    image = axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    figure.colorbar(image, ax=axes)
    font = _font_for(list(source_tokens) + list(output_tokens))
    axes.set_xticks(np.arange(len(source_tokens)), list(source_tokens), rotation=90, fontfamily=font)
    axes.set_yticks(np.arange(len(output_tokens)), list(output_tokens), fontfamily=font)
    axes.set(xlabel="source", ylabel="output", title=title)
    _save_png(figure, path)
    return figure


def _font_for(tokens: list[str]) -> str | None:
    """A CJK font family if a token needs one and one is installed; else None (matplotlib's default)."""
    if not any(ord(character) > 0x2E7F for token in tokens for character in token):
        return None
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)
