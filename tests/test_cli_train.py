"""The `rnnkit train | sample | plot` commands end to end on tiny corpora (rnnkit/cli/)."""

import json
import shutil

import pytest

from rnnkit.cli.main import main
from rnnkit.training.checkpoint import load_checkpoint
from tiny_runs import one_line_error

TINY_MODEL = ["--hidden", "8", "--layers", "1", "--embedding", "4", "--batch", "2", "--seq-len", "8",
              "--eval-every", "3", "--checkpoint-every", "3", "--sample-every", "0", "--no-progress"]
POEMS = ("author\ttitle\tpoem\n"
         "孟浩然\t春曉\t春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。\n"
         "李白\t靜夜思\t床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。\n"
         "王之渙\t登鸛雀樓\t白日依山盡，黃河入海流。欲窮千里目，更上一層樓。\n")


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("To be, or not to be, that is the question:\n" * 20, encoding="utf-8")
    return path


def test_train_then_sample_then_plot(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    assert main(["train", str(corpus), "--max-steps", "6", "--sample-length", "30", "--out", str(run),
                 *TINY_MODEL]) == 0
    trained = capsys.readouterr()
    assert "stopped (max steps) at step 6" in trained.err
    assert len(trained.out.strip("\n")) >= 20                     # the final sample

    assert main(["sample", str(run), "--prime", "To be", "--length", "25", "--seed", "0"]) == 0
    sample = capsys.readouterr().out
    assert sample.startswith("To be") and len(sample.rstrip("\n")) == 30

    assert main(["plot", str(run)]) == 0
    assert (run / "loss.png").stat().st_size > 1000


def test_resume_continues_to_the_new_budget(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    main(["train", str(corpus), "--max-steps", "4", "--sample-length", "0", "--out", str(run), *TINY_MODEL])
    assert main(["train", "--resume", str(run), "--max-steps", "9", "--sample-length", "0", "--no-progress"]) == 0
    assert "resuming at step 4" in capsys.readouterr().err
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
             if "train_loss" in line]
    assert steps == list(range(1, 10))


def test_training_twice_into_one_directory_asks_for_resume(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    main(["train", str(corpus), "--max-steps", "3", "--sample-length", "0", "--out", str(run), *TINY_MODEL])
    capsys.readouterr()
    assert main(["train", str(corpus), "--max-steps", "3", "--out", str(run), *TINY_MODEL]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert f"{run} already holds a run: resume it, or pick another --out" in line


def train_losses(run) -> dict[int, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {record["step"]: record["train_loss"] for record in records if "train_loss" in record}


def test_resume_of_a_copy_with_its_text_moved_repeats_the_uninterrupted_losses(tmp_path, corpus, capsys):
    straight, first = tmp_path / "straight", tmp_path / "first"
    options = ["--sample-length", "0", *TINY_MODEL]
    assert main(["train", str(corpus), "--max-steps", "14", "--out", str(straight), *options]) == 0
    assert main(["train", str(corpus), "--max-steps", "7", "--out", str(first), *options]) == 0
    copy = shutil.copytree(first, tmp_path / "elsewhere" / "run-copy")
    moved = shutil.move(corpus, tmp_path / "elsewhere" / "the-text.txt")
    capsys.readouterr()

    assert main(["train", "--resume", str(copy), "--max-steps", "14", "--no-progress", "--sample-length", "0"]) == 2
    assert f"{corpus} does not exist" in one_line_error(capsys.readouterr().err)
    assert main(["train", "--resume", str(copy), str(moved), "--max-steps", "14", "--no-progress",
                 "--sample-length", "20"]) == 0
    resumed = capsys.readouterr()
    assert "resuming at step 7" in resumed.err and "stopped (max steps) at step 14" in resumed.err
    assert len(resumed.out.strip("\n")) >= 15                      # the final sample
    assert sorted(train_losses(copy)) == list(range(1, 15))
    assert train_losses(copy) == train_losses(straight)             # exactly
    assert main(["train", "--resume", str(copy), "--max-steps", "16", "--no-progress", "--sample-length", "0"]) == 0


def test_resume_with_another_text_is_refused_by_its_sha256(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    main(["train", str(corpus), "--max-steps", "4", "--sample-length", "0", "--out", str(run), *TINY_MODEL])
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text(encoding="utf-8").replace("question", "answer!!"), encoding="utf-8")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), str(other), "--max-steps", "9", "--no-progress"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "is not the text the run started with (its SHA-256 differs): resume needs the same text" in line
    assert load_checkpoint(run)[1]["trainer"]["step"] == 4            # nothing was trained


def test_poem_model_writes_an_acrostic_quatrain(tmp_path, capsys):
    poems = tmp_path / "poems.tsv"
    poems.write_text(POEMS, encoding="utf-8")
    run = tmp_path / "poems"
    assert main(["train", str(poems), "--column", "poem", "--max-steps", "3", "--val-fraction", "0.2",
                 "--sample-length", "0", "--out", str(run), *TINY_MODEL]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--poem", "5", "--acrostic", "春花明月", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.split()
    assert [line[0] for line in lines] == list("春花明月")
    assert [len(line) for line in lines] == [6, 6, 6, 6]
    assert [line[-1] for line in lines] == ["，", "。", "，", "。"]


def test_an_acrostic_of_a_length_no_poem_has_names_the_acrostic_not_lines(tmp_path, capsys):
    poems = tmp_path / "poems.tsv"
    poems.write_text(POEMS, encoding="utf-8")
    run = tmp_path / "poems"
    assert main(["train", str(poems), "--column", "poem", "--max-steps", "2", "--val-fraction", "0.2",
                 "--sample-length", "0", "--out", str(run), *TINY_MODEL]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--poem", "7", "--acrostic", "春花明"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "--acrostic takes one character per line of the poem, 4 (a quatrain) or 8 (an octave), got 3" in line
    assert "--lines" not in line


def test_column_that_does_not_exist_is_a_clear_error(tmp_path, capsys):
    poems = tmp_path / "poems.tsv"
    poems.write_text(POEMS, encoding="utf-8")
    assert main(["train", str(poems), "--column", "verse", "--out", str(tmp_path / "r"), *TINY_MODEL]) == 2
    assert "no column 'verse'" in capsys.readouterr().err
