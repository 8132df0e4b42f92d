"""rnnkit/inspect/export.py: LSTMVis's project layout read back with h5py, and the safetensors file."""

import numpy as np
import pytest

from rnnkit.errors import DataError
from rnnkit.inspect.export import export_lstmvis, export_safetensors, token_name
from rnnkit.inspect.states import trace_states
from rnnkit.models.char_lm import CharLM, CharLMConfig

h5py = pytest.importorskip("h5py")

VOCAB = ["\t", "\n", " ", "(", ")", "a", "b", "\u00a0"]
IDS = np.random.default_rng(0).integers(0, len(VOCAB), 40)


def trace(cell):
    config = CharLMConfig(vocab_size=len(VOCAB), cell=cell, hidden_size=4, num_layers=2, embedding_dim=3)
    return trace_states(CharLM(config, rng=0), IDS)


@pytest.mark.parametrize("cell, quantities", [("lstm", ["i", "f", "g", "o"]), ("gru", ["r", "z", "n"]), ("rnn", [])])
def test_lstmvis_project_holds_every_layer(tmp_path, cell, quantities):
    traced = trace(cell)
    directory = export_lstmvis(traced, IDS, VOCAB, tmp_path / "project")
    assert sorted(p.name for p in directory.iterdir()) == ["lstm.yml", "states.h5", "train.h5", "words.dict"]
    with h5py.File(directory / "states.h5", "r") as states:
        expected = {f"{name}{k}" for k in (1, 2) for name in ["states", "output"] + quantities}
        assert set(states) == expected
        for k in (1, 2):
            layer = traced.layers[k - 1]
            np.testing.assert_array_equal(states[f"output{k}"][()], layer["h"])
            np.testing.assert_array_equal(states[f"states{k}"][()], layer.get("c", layer["h"]))
            for name in quantities:
                assert states[f"{name}{k}"].shape == (len(IDS), 4)
    with h5py.File(directory / "train.h5", "r") as train:
        np.testing.assert_array_equal(train["word_ids"][()], IDS)
    yml = (directory / "lstm.yml").read_text()
    assert all(f"path: {name}" in yml for name in expected)
    assert "word_ids" in yml and "dict_file: words" in yml


def test_words_dict_lines_split_into_token_and_id(tmp_path):
    directory = export_lstmvis(trace("rnn"), IDS, VOCAB, tmp_path)
    pairs = [line.split() for line in (directory / "words.dict").read_text().splitlines()]
    assert all(len(pair) == 2 for pair in pairs)
    assert [pair[0] for pair in pairs] == ["<tab>", "<newline>", "<space>", "(", ")", "a", "b", "<U+00A0>"]
    assert [int(pair[1]) for pair in pairs] == list(range(len(VOCAB)))
    assert token_name("\x07") == "<U+0007>"


def test_safetensors_holds_ids_and_every_array(tmp_path):
    from safetensors.numpy import load_file

    traced = trace("lstm")
    tensors = load_file(export_safetensors(traced, IDS, tmp_path / "s.safetensors"))
    assert set(tensors) == {"ids"} | {f"layer{k}.{q}" for k in (0, 1) for q in "hcifgo"}
    np.testing.assert_array_equal(tensors["ids"], IDS)
    np.testing.assert_array_equal(tensors["layer1.c"], traced.layers[1]["c"])


def test_ids_must_fit_the_trace_and_the_vocabulary(tmp_path):
    with pytest.raises(DataError, match="`ids` has 3 tokens but the trace 40 steps"):
        export_safetensors(trace("rnn"), IDS[:3], tmp_path / "x.safetensors")
    with pytest.raises(DataError, match="outside the vocabulary of 5 tokens"):
        export_lstmvis(trace("rnn"), IDS, VOCAB[:5], tmp_path)
    assert not list(tmp_path.iterdir())
