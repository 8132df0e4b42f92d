"""``rnnkit inspect ...``: each subcommand runs end to end on tiny runs and writes its pictures and tables."""

import csv

import pytest

from rnnkit.cli.main import main
from rnnkit.tasks import language_model
from tiny_lm import quiet, tiny_config, tiny_spec, write_corpus
from tiny_runs import one_line_error


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny character models of two cells, and the text they read."""
    root = tmp_path_factory.mktemp("inspect")
    corpus = write_corpus(root)
    paths = {}
    for cell in ("rnn", "lstm"):
        spec = tiny_spec(corpus)
        spec.model.cell = cell
        language_model.train(spec, tiny_config(max_steps=5), root / cell, progress=False, echo=quiet)
        paths[cell] = root / cell
    return paths, corpus


def is_png(path) -> bool:
    return path.is_file() and path.read_bytes().startswith(b"\x89PNG")


def test_gradients_draws_each_cell_trained_and_at_initialisation(runs, tmp_path, capsys):
    paths, text = runs
    out = tmp_path / "out"
    assert main(["inspect", "gradients", str(paths["rnn"]), str(paths["lstm"]), "--text", str(text),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rnn: init at d=50" in printed and "lstm: init at d=50" in printed
    assert is_png(out / "gradients.png")
    with open(out / "gradients.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert {(row["cell"], row["stage"]) for row in rows} >= {("rnn", "init"), ("rnn", "trained"), ("lstm", "init"),
                                                              ("lstm", "trained")}


def test_cell_path_is_the_lstms_and_refused_for_another_cell(runs, tmp_path, capsys):
    paths, text = runs
    assert main(["inspect", "cell-path", str(paths["lstm"]), "--text", str(text), "--out", str(tmp_path)]) == 0
    assert is_png(tmp_path / "cell_path.png") and (tmp_path / "cell_path.csv").is_file()
    capsys.readouterr()
    assert main(["inspect", "cell-path", str(paths["rnn"]), "--text", str(text), "--out", str(tmp_path)]) == 2
    assert "the cell path is the LSTM's" in one_line_error(capsys.readouterr().err)


def test_cells_finds_a_cell_per_feature_and_states_exports_them(runs, tmp_path, capsys):
    paths, text = runs
    assert main(["inspect", "cells", str(paths["lstm"]), "--text", str(text), "--out", str(tmp_path / "c")]) == 0
    assert "line_position" in capsys.readouterr().out
    assert (tmp_path / "c" / "cells.csv").is_file() and is_png(tmp_path / "c" / "saturation.png")
    pytest.importorskip("h5py")
    assert main(["inspect", "states", str(paths["lstm"]), "--text", str(text), "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "states.safetensors").is_file() and (tmp_path / "s" / "lstmvis" / "states.h5").is_file()


def test_clipping_and_memory_draw_their_pictures(tmp_path):
    assert main(["inspect", "clipping", "--steps", "20", "--out", str(tmp_path / "clip")]) == 0
    assert is_png(tmp_path / "clip" / "clipping.png")
    assert main(["inspect", "memory", "--tasks", "adding", "--cells", "lstm", "--lengths", "25", "--seconds", "1",
                 "--out", str(tmp_path / "memory")]) == 0
    assert is_png(tmp_path / "memory" / "memory.png") and (tmp_path / "memory" / "memory.csv").is_file()


def test_a_text_the_model_cannot_read_is_a_one_line_error(runs, tmp_path, capsys):
    paths, _ = runs
    alien = tmp_path / "alien.txt"
    alien.write_text("ЖЯЖЯ", encoding="utf-8")
    assert main(["inspect", "cells", str(paths["lstm"]), "--text", str(alien), "--out", str(tmp_path)]) == 2
    assert "none of the text's characters is in the model's vocabulary" in one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("model", [dict(cell="mingru"), dict(cell="lstm", layer_norm=True)], ids=["mingru", "ln-lstm"])
def test_cells_the_measurements_cannot_read_are_refused_by_name(tmp_path, capsys, model):
    corpus = write_corpus(tmp_path)
    spec = tiny_spec(corpus)
    for name, value in model.items():
        setattr(spec.model, name, value)
    language_model.train(spec, tiny_config(max_steps=2), tmp_path / "run", progress=False, echo=quiet)
    assert main(["inspect", "states", str(tmp_path / "run"), "--text", str(corpus), "--out", str(tmp_path)]) == 2
    assert "the measurements read plain rnn, lstm, gru layers" in one_line_error(capsys.readouterr().err)


def test_word_models_are_refused_by_name(tmp_path, capsys):
    corpus = write_corpus(tmp_path)
    language_model.train(tiny_spec(corpus, tokens="words"), tiny_config(max_steps=2), tmp_path / "run",
                         progress=False, echo=quiet)
    assert main(["inspect", "cells", str(tmp_path / "run"), "--text", str(corpus), "--out", str(tmp_path)]) == 2
    assert "is a model of words: the measurements read character models" in one_line_error(capsys.readouterr().err)
