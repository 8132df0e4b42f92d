"""rnnkit/inspect/reports.py: each workflow end to end on a tiny model, and on real code when the data is there."""

import numpy as np
import pytest

from rnnkit.data.vocab import CharVocab
from rnnkit.errors import DataError
from rnnkit.inspect.reports import cell_path_report, cells_report, export_states
from rnnkit.models.char_lm import CharLM, CharLMConfig

CODE = 'static int f(int a)\n{\n\tif (a > 0)\n\t\treturn g("x(y)", a);\n\treturn 0; /* none */\n}\n' * 6


def tiny(cell="lstm", vocab=None):
    vocab = vocab or CharVocab(CODE)
    return CharLM(CharLMConfig(vocab_size=len(vocab), cell=cell, hidden_size=6, num_layers=2, embedding_dim=4),
                  rng=0), vocab


def test_cells_report_writes_tables_and_pictures(tmp_path):
    model, vocab = tiny()
    report = cells_report(model, vocab, CODE + "\u00e9", tmp_path, png_chars=200)
    assert report["characters"] == len(CODE)                         # the unknown character dropped
    features = {row["feature"] for row in report["cells"]}
    assert {"in_string", "in_parentheses", "line_position", "indentation"} <= features
    assert all(-1 <= row["correlation"] <= 1 for row in report["cells"])
    assert {(row["layer"], row["gate"]) for row in report["saturation"]} == {(k, g) for k in (0, 1) for g in "ifo"}
    names = {p.name for p in tmp_path.iterdir()}
    assert {"cells.csv", "saturation.csv", "saturation.png", "cell-in_string.html", "cell-in_string.png",
            "cell-line_position.png", "cell-in_parentheses.png"} <= names
    assert (tmp_path / "cells.csv").read_text().startswith("feature,layer,quantity,unit,correlation\n")


def test_cells_report_of_an_rnn_has_no_saturation(tmp_path):
    model, vocab = tiny("rnn")
    report = cells_report(model, vocab, CODE, tmp_path, show=())
    assert report["saturation"] == [] and not (tmp_path / "saturation.png").exists()


def test_cell_path_report_writes_png_and_csv(tmp_path):
    model, vocab = tiny()
    result = cell_path_report(model, vocab, CODE, tmp_path, max_distance=12, ends=5, layer_index=1)
    assert result["measured"].shape == (5, 12)
    lines = (tmp_path / "cell_path.csv").read_text().splitlines()
    assert lines[0] == "distance,measured,cell_path,forget_product,through_h" and len(lines) == 13
    assert (tmp_path / "cell_path.png").read_bytes().startswith(b"\x89PNG")


def test_export_states_writes_both_formats(tmp_path):
    pytest.importorskip("h5py")
    model, vocab = tiny("gru")
    paths = export_states(model, vocab, CODE, tmp_path, max_chars=100)
    assert (paths["lstmvis"] / "states.h5").is_file() and paths["safetensors"].is_file()


def test_a_text_outside_the_vocabulary_is_a_data_error(tmp_path):
    model, vocab = tiny()
    with pytest.raises(DataError, match="none of the text's characters is in the model's vocabulary"):
        cells_report(model, vocab, "\u4e00\u4e01", tmp_path)


def test_cells_report_on_linux_kernel_code(tmp_path, data_dir):
    text = (data_dir / "linux_kernel" / "linux_kernel_6.8_input.txt").read_text(encoding="utf-8")[:3000]
    vocab = CharVocab(text)
    model, _ = tiny("lstm", vocab)
    report = cells_report(model, vocab, text, tmp_path, png_chars=500)
    assert report["characters"] == 3000 and len(report["cells"]) >= 8
    assert np.isfinite([row["correlation"] for row in report["cells"]]).all()
