"""`rnnkit translate train | eval | predict | attention` end to end on a tiny pairs file the test writes."""

import io
import json
import re
import shutil

import pytest
from test_translation import metrics_losses, write_pairs
from tiny_runs import one_line_error

from rnnkit.cli.main import main

FAST = ["--embedding", "8", "--hidden", "8", "--batch", "8", "--eval-every", "4", "--checkpoint-every", "4",
        "--lr", "0.01", "--beam", "2", "--no-progress"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("translate")
    data = write_pairs(root / "pairs.tsv")
    run_dir = root / "run"
    assert main(["translate", "train", "--pairs", str(data), "--out", str(run_dir), "--max-steps", "8",
                 "--attention", "additive", *FAST]) == 0
    return run_dir, data


def test_train_writes_checkpoints_curves_and_scores(trained_run):
    run_dir, _ = trained_run
    assert (run_dir / "checkpoints.json").is_file()
    assert (run_dir / "curves.png").read_bytes().startswith(b"\x89PNG")
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["pairs-test"]) >= {"bleu", "chrf", "bleu_signature", "chrf_signature"}


def test_eval_prints_bleu_and_chrf_with_signatures(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["translate", "eval", str(run_dir), "--split", "dev", "--beam", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^BLEU \d+\.\d\d$", out, re.MULTILINE) and re.search(r"^chrF \d+\.\d\d$", out, re.MULTILINE)
    assert "BLEU signature nrefs:1|case:mixed|eff:no|tok:13a" in out and "chrF signature nrefs:1" in out
    assert json.loads((run_dir / "results.json").read_text())["pairs-dev"]["beam"] == 3


def test_predict_prints_one_translation_per_sentence_or_stdin_line(trained_run, capsys, monkeypatch):
    run_dir, _ = trained_run
    assert main(["translate", "predict", str(run_dir), "the big cat .", "the old dog .", "--beam", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"the red car .\nthe small book .\nthe tree .\n")))
    assert main(["translate", "predict", str(run_dir)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["translate", "predict", str(run_dir), "the cat .", "--beam", "3", "--n-best", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(re.match(r"^1\t-?\d+\.\d{4}\t", line) for line in lines)
    assert main(["translate", "predict", str(run_dir), "the cat .", "--beam", "2", "--n-best", "3"]) == 2
    assert "--n-best" in one_line_error(capsys.readouterr().err)


def test_attention_writes_a_png(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    out = tmp_path / "attention.png"
    assert main(["translate", "attention", str(run_dir), "the big cat .", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert len(capsys.readouterr().out.splitlines()) == 1          # the translation (maybe empty, untrained)


def test_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    data = write_pairs(tmp_path / "pairs.tsv")
    straight, first = tmp_path / "straight", tmp_path / "first"
    for run_dir, steps in ((straight, "10"), (first, "5")):
        assert main(["translate", "train", "--pairs", str(data), "--out", str(run_dir), "--max-steps", steps,
                     "--source-tokenizer", "chars", *FAST]) == 0
    capsys.readouterr()
    assert main(["translate", "train", "--resume", str(first), "--hidden", "16", "--max-steps", "10"]) == 2
    assert "--hidden" in one_line_error(capsys.readouterr().err)
    copy = shutil.copytree(first, tmp_path / "elsewhere" / "run")
    moved = shutil.move(data, tmp_path / "elsewhere" / "my-pairs.tsv")
    assert main(["translate", "train", "--resume", str(copy), "--max-steps", "10", "--no-progress"]) == 2
    assert "pairs.tsv does not exist" in one_line_error(capsys.readouterr().err)
    assert main(["translate", "train", "--resume", str(copy), "--pairs", str(moved), "--max-steps", "10",
                 "--no-progress"]) == 0
    resumed = capsys.readouterr()
    assert "resuming at step 5" in resumed.err and "BLEU " in resumed.out
    assert metrics_losses(copy) == metrics_losses(straight)                # exactly


@pytest.mark.parametrize("content, message", [
    ("the cat\tle chat\nno tab here\n", "line 2: no tab"),
    ("the cat\t \n", "line 1: column 2 is empty"),
    ("", "holds no sentence pairs"),
])
def test_a_bad_pairs_file_is_one_line_error(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.tsv"
    bad.write_text(content, encoding="utf-8")
    assert main(["translate", "train", "--pairs", str(bad), "--out", str(tmp_path / "run"), *FAST]) == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_missing_pairs_and_bad_model_flags_are_one_line_errors(tmp_path, capsys):
    assert main(["translate", "train", "--pairs", str(tmp_path / "none.tsv"), *FAST]) == 2
    assert "does not exist" in one_line_error(capsys.readouterr().err)
    data = write_pairs(tmp_path / "pairs.tsv")
    assert main(["translate", "train", "--pairs", str(data), "--out", str(tmp_path / "run"), "--tie-embeddings",
                 "--embedding", "8", "--hidden", "16", "--no-progress"]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "--tie-embeddings" in error and "--embedding" in error and "--hidden" in error
    assert main(["translate", "train", "--out", str(tmp_path / "run2"), "--no-progress"]) == 2
    assert "--pairs" in one_line_error(capsys.readouterr().err)


def test_a_model_without_attention_trains_translates_and_has_no_map(tmp_path, capsys):
    data = write_pairs(tmp_path / "pairs.tsv")
    run_dir = tmp_path / "run"
    assert main(["translate", "train", "--pairs", str(data), "--out", str(run_dir), "--max-steps", "4",
                 "--attention", "none", *FAST]) == 0
    spec = json.loads(next((run_dir / "checkpoints").glob("step-*/meta.json")).read_text())["meta"]["spec"]
    assert (spec["model_config"]["attention"], spec["model_config"]["input_feeding"]) == ("none", False)
    capsys.readouterr()
    assert main(["translate", "predict", str(run_dir), "the big cat .", "--beam", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main(["translate", "attention", str(run_dir), "the big cat .", "--out", str(tmp_path / "a.png")]) == 2
    assert "no attention" in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "a.png").exists()
