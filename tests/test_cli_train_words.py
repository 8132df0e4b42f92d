"""`rnnkit train --tokens words`, `rnnkit sample` and `rnnkit eval` of a word model end to end on tiny texts,
and issue 17's layer options reaching the run spec (rnnkit/cli/train.py, sample.py, evaluate.py)."""

import json
import math

import pytest

from rnnkit.cli.main import main
from rnnkit.training.checkpoint import load_checkpoint
from tiny_runs import one_line_error

TINY = ["--hidden", "8", "--layers", "1", "--embedding", "8", "--batch", "2", "--seq-len", "6", "--eval-every", "4",
        "--checkpoint-every", "4", "--sample-every", "0", "--no-progress"]
LINES = [" the cat sat on the mat ", " a dog sat on the log ", " the <unk> ran to the N mats "]


@pytest.fixture
def texts(tmp_path):
    paths = {}
    for part, repeats in (("train", 30), ("valid", 5), ("test", 5)):
        paths[part] = tmp_path / f"tiny.{part}.txt"
        paths[part].write_text("".join(line + "\n" for line in LINES * repeats) + " the zebra ran \n",
                               encoding="utf-8")
    return paths


def spec_of(run) -> dict:
    return load_checkpoint(run)[1]["spec"]


def test_words_train_then_sample_then_eval(tmp_path, texts, capsys):
    run = tmp_path / "run"
    assert main(["train", str(texts["train"]), "--tokens", "words", "--valid-file", str(texts["valid"]),
                 "--test-file", str(texts["test"]), "--max-steps", "8", "--sample-length", "12", "--out", str(run),
                 *TINY]) == 0
    trained = capsys.readouterr()
    validations = [line for line in trained.out.splitlines() if line.startswith("step ")]
    assert validations and all("val_loss" in line and "val_ppl" in line for line in validations)
    assert "nats/word (perplexity" in trained.err
    scores = [line for line in trained.out.splitlines() if line.startswith("tiny.train ")]
    assert [line.split(":")[0] for line in scores] == ["tiny.train valid", "tiny.train test"]
    assert all("nats/word, perplexity" in line and "words)" in line for line in scores)
    sample = trained.out.split(scores[-1] + "\n")[1]                 # the final sample comes last
    vocabulary = {"the", "cat", "sat", "on", "mat", "a", "dog", "log", "<unk>", "ran", "to", "N", "mats", "zebra"}
    assert "<eos>" not in sample and 1 <= len(sample.split()) <= 12 and set(sample.split()) <= vocabulary
    assert all(line == line.strip() for line in sample.split("\n"))      # spaces only between words
    assert spec_of(run)["tokens"] == "words" and "<eos>" in spec_of(run)["vocab"]

    assert main(["sample", str(run), "--prime", "the cat", "--length", "15", "--seed", "0"]) == 0
    written = capsys.readouterr().out
    assert written.startswith("the cat") and "<eos>" not in written
    assert len(written.split()) <= 2 + 15 and set(written.split()) <= vocabulary

    assert main(["eval", str(run)]) == 0
    test_line = capsys.readouterr().out.strip()
    loss = float(test_line.split("loss ")[1].split(" ")[0])
    perplexity = float(test_line.split("perplexity ")[1].split(" ")[0])
    assert test_line.startswith("tiny.train test: ") and perplexity == pytest.approx(math.exp(loss), rel=1e-3)
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert results["tiny.train-test"]["tokens"] == (7 + 7 + 8) * 5 + 4 - 1    # every word and <eos> after the first
    assert main(["eval", str(run), "--text", str(texts["valid"])]) == 0
    assert capsys.readouterr().out.startswith("tiny.valid: loss")
    assert main(["eval", str(run), "--text", str(texts["valid"]), "--split", "valid"]) == 2
    assert "--text scores the texts given, not the run's own: drop --split" in one_line_error(capsys.readouterr().err)
    texts["test"].rename(texts["test"].with_suffix(".moved"))
    assert main(["eval", str(run)]) == 2
    assert "if the data moved, give its new place as --text" in one_line_error(capsys.readouterr().err)


def test_unk_and_eos_of_a_ptb_style_text(tmp_path, texts, capsys):
    """<eos> closes every line, <unk> stands for the test text's unseen word, and a prime's unseen word too."""
    run = tmp_path / "run"
    assert main(["train", str(texts["train"]), "--tokens", "words", "--test-file", str(texts["test"]),
                 "--max-steps", "4", "--sample-length", "0", "--out", str(run), *TINY]) == 0
    vocab = spec_of(run)["vocab"]
    assert vocab[:4] == ["the", "<eos>", "on", "sat"]    # by frequency (the 5, <eos> 3, on 2, sat 2 per 3 lines)
    assert "zebra" in vocab                                       # in the training text once
    capsys.readouterr()
    assert main(["sample", str(run), "--prime", "the unicorn", "--length", "3", "--seed", "0"]) == 0
    assert capsys.readouterr().out.startswith("the <unk>")


def test_a_word_text_without_unk_names_the_unseen_words(tmp_path, capsys):
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_text("the cat sat\nthe dog sat\n" * 30, encoding="utf-8")
    valid.write_text("the cow sat\n", encoding="utf-8")
    assert main(["train", str(train), "--tokens", "words", "--valid-file", str(valid), "--out", str(tmp_path / "r"),
                 *TINY]) == 2
    assert "1 word(s) not in the vocabulary: 'cow'" in one_line_error(capsys.readouterr().err)
    assert main(["train", str(train), "--tokens", "words", "--max-steps", "2", "--out", str(tmp_path / "run"),
                 "--sample-length", "0", *TINY]) == 0
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "run"), "--prime", "the cow"]) == 2
    assert "--prime has 1 word(s) the model has never seen ('cow')" in one_line_error(capsys.readouterr().err)
    assert main(["sample", str(tmp_path / "run"), "--poem", "5"]) == 2
    assert "poems are written one character at a time" in one_line_error(capsys.readouterr().err)


def test_max_vocab_caps_a_word_model_and_is_refused_for_characters(tmp_path, texts, capsys):
    run = tmp_path / "run"
    assert main(["train", str(texts["train"]), "--tokens", "words", "--max-vocab", "5", "--valid-file",
                 str(texts["valid"]), "--max-steps", "2", "--sample-length", "0", "--out", str(run), *TINY]) == 0
    spec = spec_of(run)
    assert spec["max_vocab"] == 5 and len(spec["vocab"]) == 5 and "<unk>" in spec["vocab"]
    assert spec["model_config"]["vocab_size"] == 5
    capsys.readouterr()
    assert main(["train", str(texts["train"]), "--max-vocab", "5", "--out", str(tmp_path / "chars"), *TINY]) == 2
    assert "--max-vocab caps a vocabulary of words" in one_line_error(capsys.readouterr().err)


def test_the_layer_options_reach_the_run_spec(tmp_path, texts):
    run = tmp_path / "run"
    options = ["--layer-norm", "--input-dropout", "0.1", "--locked-dropout", "0.2", "--output-dropout", "0.3",
               "--weight-dropout", "0.4", "--zoneout-h", "0.05", "--zoneout-c", "0.06", "--embedding-dropout",
               "0.07", "--tie-weights", "--init-range", "0.1", "--layers", "2"]
    assert main(["train", str(texts["train"]), "--tokens", "words", "--max-steps", "2", "--sample-length", "0",
                 "--out", str(run), *TINY, *options]) == 0
    model = spec_of(run)["model_config"]
    assert {key: model[key] for key in ("layer_norm", "input_dropout", "locked_dropout", "output_dropout",
                                        "weight_dropout", "zoneout_h", "zoneout_c", "embedding_dropout",
                                        "tie_weights", "init_range", "num_layers")} == {
        "layer_norm": True, "input_dropout": 0.1, "locked_dropout": 0.2, "output_dropout": 0.3,
        "weight_dropout": 0.4, "zoneout_h": 0.05, "zoneout_c": 0.06, "embedding_dropout": 0.07,
        "tie_weights": True, "init_range": 0.1, "num_layers": 2}
    other = tmp_path / "other"
    assert main(["train", str(texts["train"]), "--max-steps", "2", "--sample-length", "0", "--out", str(other),
                 "--cell", "gru", "--recurrent-dropout", "0.25", *TINY]) == 0
    assert spec_of(other)["model_config"]["recurrent_dropout"] == 0.25
    assert spec_of(other)["tokens"] == "chars"


def test_the_defaults_leave_every_layer_option_off(tmp_path, texts):
    run = tmp_path / "run"
    assert main(["train", str(texts["train"]), "--max-steps", "1", "--sample-length", "0", "--out", str(run),
                 *TINY]) == 0
    model = spec_of(run)["model_config"]
    assert not model["layer_norm"] and not model["tie_weights"] and model["init_range"] == 0.0
    assert all(model[name] == 0.0 for name in ("input_dropout", "locked_dropout", "output_dropout",
                                               "recurrent_dropout", "weight_dropout", "zoneout_h", "zoneout_c",
                                               "embedding_dropout"))


@pytest.mark.parametrize("argv, message", [
    (["--tie-weights"], "--tie-weights needs --embedding = --hidden"),
    (["--zoneout-c", "0.1", "--cell", "gru"], "--zoneout-c zones out the LSTM's cell state"),
    (["--dropout", "0.1", "--locked-dropout", "0.1"], "set one of them to 0"),
    (["--valid-file", "v.txt", "--val-fraction", "0.2"], "--valid-file is the validation text: drop --val-fraction"),
])
def test_options_that_cannot_go_together_are_one_line_errors(tmp_path, texts, capsys, argv, message):
    code = main(["train", str(texts["train"]), "--max-steps", "1", "--out", str(tmp_path / "run"),
                 *TINY[:-1], "--embedding", "4", *argv])
    assert code == 2
    assert message in one_line_error(capsys.readouterr().err)


def test_a_negative_init_range_is_a_usage_error(tmp_path, texts, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(texts["train"]), "--init-range", "-1", "--out", str(tmp_path / "run"), *TINY])
    assert stop.value.code == 2
    assert "argument --init-range: must not be negative, got -1" in capsys.readouterr().err


def test_ptb_is_a_dataset_shortcut_for_its_three_files(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "data" / "ptb"
    folder.mkdir(parents=True)
    for part in ("train", "valid", "test"):
        (folder / f"ptb.{part}.txt").write_text("".join(line + "\n" for line in LINES * 12), encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "--dataset", "ptb", "--data-dir", str(tmp_path / "data"), "--max-steps", "2",
                 "--sample-length", "0", "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert "ptb valid: loss" in out and "ptb test: loss" in out
    spec = spec_of(run)
    assert (spec["tokens"], spec["dataset"], spec["corpus"]["val_fraction"]) == ("words", "ptb", 0.0)
    assert spec["test"]["files"] == [str(folder / "ptb.test.txt")]
    moved = tmp_path / "moved"
    (folder.parent).rename(moved)
    assert main(["eval", str(run), "--data-dir", str(moved)]) == 0
    assert capsys.readouterr().out.startswith("ptb test: loss")
    assert main(["train", "--resume", str(run), "--data-dir", str(moved), "--max-steps", "3", "--no-progress",
                 "--sample-length", "0"]) == 0
    assert "resuming at step 2" in capsys.readouterr().err
    assert main(["train", "--dataset", "ptb", "--data-dir", str(moved), "--val-fraction", "0.1",
                 "--out", str(tmp_path / "again"), *TINY]) == 2
    assert "--dataset ptb validates on its own validation text" in one_line_error(capsys.readouterr().err)
