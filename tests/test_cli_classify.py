"""`rnnkit classify train | eval | predict` end to end: the user's own labelled texts, and a built-in dataset."""

import io
import json
import re
import shutil

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.training.checkpoint import load_checkpoint
from labelled_texts import CLASSES, KEYWORDS, labelled_rows, split_names, write_labelled
from tiny_runs import one_line_error

FAST = ["--embedding", "8", "--hidden", "8", "--epochs", "6", "--batch", "8", "--eval-every", "5", "--lr", "0.02",
        "--embedding-scale", "1", "--dropout", "0", "--embedding-dropout", "0", "--no-progress"]


def write_sst2(root, examples_per_split=40, seed=0):
    """A tiny SST-2 look-alike: positive sentences say "good", negative ones "bad"."""
    rng = np.random.default_rng(seed)
    folder = root / "sentiment_sst2"
    folder.mkdir(parents=True)
    filler = ["the", "film", "is", "a", "plot", "with", "actors"]
    for split in ("train", "dev", "test"):
        lines = ["label\tsentence"]
        for k in range(examples_per_split):
            label = k % 2
            words = list(rng.choice(filler, size=rng.integers(2, 8)))
            words.insert(int(rng.integers(len(words) + 1)), "good" if label else "bad")
            lines.append(f"{label}\t{' '.join(words)}")
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    data = write_sst2(root / "data")
    run_dir = root / "run"
    assert main(["classify", "train", "--data-dir", str(data), "--out", str(run_dir), *FAST]) == 0
    return run_dir, data


def test_train_writes_checkpoints_curves_confusion_matrices_and_results(trained_run):
    run_dir, _ = trained_run
    assert (run_dir / "checkpoints.json").is_file()
    for png in ("curves.png", "confusion-dev.png", "confusion-test.png"):
        assert (run_dir / png).read_bytes().startswith(b"\x89PNG")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["sst2-test"]["rnn"]["accuracy"] >= 0.9
    assert set(results["sst2-test"]) == {"rnn", "bag-of-words"}


def test_eval_prints_accuracy_and_f1(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["classify", "eval", str(run_dir), "--split", "dev", "--which", "last"]) == 0
    assert "sst2 dev rnn: accuracy" in capsys.readouterr().out


def test_predict_labels_texts_from_arguments_and_stdin(trained_run, capsys, monkeypatch):
    run_dir, _ = trained_run
    assert main(["classify", "predict", str(run_dir), "a good film", "a bad film"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["positive", "negative"]
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("good good\n"))
    assert main(["classify", "predict", str(run_dir)]) == 0
    assert capsys.readouterr().out.startswith("positive\t")


@pytest.fixture(scope="module")
def second_seed(trained_run):
    run_dir, data = trained_run
    other = run_dir.parent / "run-seed-1"
    assert main(["classify", "train", "--data-dir", str(data), "--out", str(other), "--seed", "1", *FAST]) == 0
    return other


def test_eval_of_several_runs_scores_their_ensemble_in_the_folder_named_and_says_what_it_wrote(
        trained_run, second_seed, tmp_path, capsys):
    run_dir, _ = trained_run
    out = tmp_path / "ensemble"
    assert main(["classify", "eval", str(run_dir), str(second_seed), "--split", "test", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "sst2 test rnn ensemble of 2: accuracy" in captured.out
    results = json.loads((out / "results.json").read_text())
    assert results["sst2-test"]["rnn ensemble"]["members"] == 2
    assert results["sst2-test"]["rnn ensemble"]["accuracy"] >= 0.9
    assert (out / "confusion-test.png").read_bytes().startswith(b"\x89PNG")
    assert f"wrote {out / 'confusion-test.png'}" in captured.err and f"wrote {out / 'results.json'}" in captured.err
    assert f"using {run_dir / 'checkpoints'}" in captured.err and f"using {second_seed / 'checkpoints'}" in captured.err


def test_eval_of_several_runs_without_out_writes_nothing_and_asks_for_a_folder(trained_run, second_seed, capsys):
    run_dir, _ = trained_run
    before = sorted(path for path in run_dir.parent.rglob("*"))
    assert main(["classify", "eval", str(run_dir), str(second_seed)]) == 2
    assert "an ensemble of 2 runs writes its figures and results.json only into a folder you name: give --out" in \
        one_line_error(capsys.readouterr().err)
    assert sorted(path for path in run_dir.parent.rglob("*")) == before


def test_predict_with_an_ensemble_averages_p_positive(trained_run, second_seed, capsys):
    run_dir, _ = trained_run
    p_positive = []
    for command in ([str(run_dir), "a good film"], [str(second_seed), "a good film"],
                    [str(run_dir), "a good film", "--ensemble", str(second_seed)]):
        assert main(["classify", "predict", *command]) == 0
        label, p, _ = capsys.readouterr().out.strip().split("\t")
        assert label == "positive"
        p_positive.append(float(p))
    assert p_positive[2] == pytest.approx((p_positive[0] + p_positive[1]) / 2, abs=1e-4)


def test_an_ensemble_of_runs_that_read_text_differently_is_a_one_line_error(trained_run, tmp_path, capsys):
    run_dir, data = trained_run
    other = tmp_path / "characters"
    assert main(["classify", "train", "--data-dir", str(data), "--out", str(other), "--tokenizer", "chinese",
                 "--max-steps", "2", *FAST]) == 0
    capsys.readouterr()
    assert main(["classify", "eval", str(run_dir), str(other)]) == 2
    error = capsys.readouterr().err.strip()
    assert "differ in tokenizer" in error and len(error.splitlines()) == 1


def test_resume_continues_a_finished_run_for_more_epochs(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["classify", "train", "--resume", str(run_dir), "--epochs", "7", "--no-progress"]) == 0
    assert "resuming at step" in capsys.readouterr().err


def test_training_into_an_existing_run_is_refused(trained_run, capsys):
    run_dir, data = trained_run
    assert main(["classify", "train", "--data-dir", str(data), "--out", str(run_dir), *FAST]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    assert main(["classify", "train", "--data-dir", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'sentiment_sst2'} not found: set RNNKIT_DATA or pass --data-dir" in error
    assert len(error.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_eval_of_a_missing_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["classify", "eval", str(tmp_path / "nothing")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_help_lists_the_actions(capsys):
    with pytest.raises(SystemExit):
        main(["classify", "--help"])
    assert "train" in capsys.readouterr().out


def test_one_quick_run_on_real_sst2(data_dir, tmp_path, capsys):
    args = ["classify", "train", "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--max-steps", "3",
            "--embedding", "4", "--hidden", "4", "--eval-every", "3", "--no-progress"]
    assert main(args) == 0
    assert "sst2 test bag-of-words: accuracy" in capsys.readouterr().out


def test_resume_with_options_it_would_ignore_is_refused(trained_run, capsys):
    run_dir, data = trained_run
    step = load_checkpoint(run_dir)[1]["trainer"]["step"]
    for extra, shown in ((["--hidden", "16"], "--hidden was given too"),
                         (["--dataset", "chnsenticorp"], "--dataset was given too"),
                         (["--text-column", "review", "--unidirectional"], "--text-column, --unidirectional were")):
        assert main(["classify", "train", "--resume", str(run_dir), "--epochs", "9", *extra]) == 2
        assert shown in one_line_error(capsys.readouterr().err)
    assert load_checkpoint(run_dir)[1]["trainer"]["step"] == step        # nothing was trained


def test_resume_of_a_built_in_dataset_reads_it_from_a_new_data_dir(trained_run, tmp_path, capsys):
    run_dir, data = trained_run
    copy = shutil.copytree(run_dir, tmp_path / "run")
    moved = shutil.copytree(data, tmp_path / "moved-data")
    assert main(["classify", "train", "--resume", str(copy), "--data-dir", str(moved), "--epochs", "8",
                 "--no-progress"]) == 0
    assert "sst2 test rnn: accuracy" in capsys.readouterr().out
    assert main(["classify", "train", "--resume", str(copy), "--data", str(moved / "x.csv"), "--epochs", "9",
                 "--no-progress"]) == 2
    assert "the run reads the built-in sst2: give --data-dir to say where it is now" in \
        one_line_error(capsys.readouterr().err)


# -- the user's own labelled texts ------------------------------------------------------------

USER_FAST = ["--embedding", "8", "--hidden", "8", "--epochs", "6", "--batch", "8", "--eval-every", "5",
             "--lr", "0.02", "--embedding-scale", "1", "--dropout", "0", "--embedding-dropout", "0", "--no-progress"]
COLUMNS = ["--text-column", "review", "--label-column", "stars"]


def test_train_on_my_csv_of_three_classes_then_eval_and_predict(tmp_path, capsys):
    """90 reviews of three classes (pos, neg, mid: one keyword tells them apart) in a CSV, with column names of
    its own: trained for 54 updates, then scored and used."""
    data, run_dir = write_labelled(tmp_path / "data" / "reviews.csv", labelled_rows(30)), tmp_path / "run"
    assert main(["classify", "train", "--data", str(data), *COLUMNS, "--out", str(run_dir), *USER_FAST]) == 0
    trained = capsys.readouterr()
    assert "stopped (finished) at step 54" in trained.err
    printed = dict(re.findall(r"^reviews (dev|test) rnn: accuracy ([0-9.]+), F1 [0-9.]+$", trained.out, re.M))
    assert set(printed) == {"dev", "test"}
    assert all(float(accuracy) > 1 / 3 for accuracy in printed.values()), trained.out    # better than chance
    assert "bag-of-words" not in trained.out                                       # the baseline is for two classes
    results = json.loads((run_dir / "results.json").read_text())
    assert np.array(results["reviews-test"]["rnn"]["confusion"]).shape == (3, 3)
    for png in ("curves.png", "confusion-dev.png", "confusion-test.png"):
        assert (run_dir / png).read_bytes().startswith(b"\x89PNG")

    assert main(["classify", "eval", str(run_dir), "--split", "dev"]) == 0
    assert re.fullmatch(r"reviews dev rnn: accuracy [0-9.]+, F1 [0-9.]+\n", capsys.readouterr().out)

    texts = [f"the plot is {KEYWORDS[name][1]}" for name in CLASSES]
    assert main(["classify", "predict", str(run_dir), *texts]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [label for label, _, _ in lines] == CLASSES                          # the file's own label names
    assert [text for _, _, text in lines] == texts
    assert all(1 / 3 <= float(p) <= 1 for _, p, _ in lines)                      # p of the chosen class


def test_a_tsv_with_a_split_column_where_val_means_dev(tmp_path, capsys):
    rows = labelled_rows(10)
    data = write_labelled(tmp_path / "reviews.tsv", rows, header=("text", "label"), splits=split_names(30, "val"))
    run_dir = tmp_path / "run"
    assert main(["classify", "train", "--data", str(data), "--split-column", "split", "--out", str(run_dir),
                 "--max-steps", "4", *USER_FAST]) == 0
    assert "reviews dev rnn: accuracy" in capsys.readouterr().out
    results = json.loads((run_dir / "results.json").read_text())
    assert results["reviews-dev"]["rnn"]["examples"] == 3 and results["reviews-test"]["rnn"]["examples"] == 3


def make_file(tmp_path, kind):
    """A labelled file that is wrong in one way, and the CLI arguments that read it."""
    path = tmp_path / "reviews.csv"
    if kind == "missing column":
        write_labelled(path, labelled_rows(10))
        return ["--data", str(path), "--text-column", "body", "--label-column", "stars"]
    if kind == "single class":
        write_labelled(path, labelled_rows(10, classes=("pos",)))
    elif kind == "too few rows":
        write_labelled(path, [("a great film", "pos"), ("an awful film", "neg"), ("an okay film", "mid")])
    elif kind == "also a dataset":
        write_labelled(path, labelled_rows(10))
        return ["--data", str(path), *COLUMNS, "--dataset", "sst2"]
    return ["--data", str(path), *COLUMNS]


BAD_FILES = {
    "missing column": "has no column 'body' (--text-column): its header has the columns 'review', 'stars'",
    "single class": "every row has the label 'pos' (column 'stars'): a classifier needs at least two classes",
    "too few rows": "3 rows of 3 classes are too few to split into a training part and dev, test",
    "also a dataset": "give either --data FILE or --dataset NAME, not both",
    "not there": "reviews.csv does not exist",
}


@pytest.mark.parametrize("kind, message", BAD_FILES.items(), ids=BAD_FILES.keys())
def test_a_bad_labelled_file_is_a_one_line_error_and_leaves_no_run(tmp_path, capsys, kind, message):
    run_dir = tmp_path / "run"
    assert main(["classify", "train", *make_file(tmp_path, kind), "--out", str(run_dir), *USER_FAST]) == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not run_dir.exists()


def metrics_losses(run_dir) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]


def test_resume_with_my_file_moved_repeats_the_uninterrupted_run(tmp_path, capsys):
    data = write_labelled(tmp_path / "first" / "reviews.csv", labelled_rows(30))
    straight, first = tmp_path / "straight", tmp_path / "first-run"
    for run_dir, steps in ((straight, "14"), (first, "7")):
        assert main(["classify", "train", "--data", str(data), *COLUMNS, "--out", str(run_dir), "--max-steps", steps,
                     *USER_FAST]) == 0
    copy = shutil.copytree(first, tmp_path / "elsewhere" / "run")
    moved = shutil.move(data, tmp_path / "elsewhere" / "my-reviews.csv")
    capsys.readouterr()

    assert main(["classify", "train", "--resume", str(copy), "--max-steps", "14", "--no-progress"]) == 2
    assert "reviews.csv does not exist" in one_line_error(capsys.readouterr().err)
    assert main(["classify", "train", "--resume", str(copy), "--data-dir", str(tmp_path), "--max-steps", "14",
                 "--no-progress"]) == 2
    assert "give --data to say where it is now" in one_line_error(capsys.readouterr().err)
    assert main(["classify", "train", "--resume", str(copy), "--data", str(moved), "--max-steps", "14",
                 "--no-progress"]) == 0
    resumed = capsys.readouterr()
    assert "resuming at step 7" in resumed.err and "stopped (max steps) at step 14" in resumed.err
    assert "reviews test rnn: accuracy" in resumed.out
    assert metrics_losses(copy) == metrics_losses(straight)                # exactly
    assert main(["classify", "eval", str(copy), "--which", "last"]) == 0  # the run reads the file where it is now


def test_resume_with_a_file_of_other_rows_is_refused_naming_the_flag(tmp_path, capsys):
    data = write_labelled(tmp_path / "reviews.csv", labelled_rows(30))
    run_dir = tmp_path / "run"
    assert main(["classify", "train", "--data", str(data), *COLUMNS, "--out", str(run_dir), "--max-steps", "3",
                 *USER_FAST]) == 0
    fewer = write_labelled(tmp_path / "fewer.csv", labelled_rows(20))
    capsys.readouterr()
    assert main(["classify", "train", "--resume", str(run_dir), "--data", str(fewer), "--max-steps", "6",
                 "--no-progress"]) == 2
    assert "fewer.csv is not the file the run was trained on" in one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("stdin, message", [
    (b"a good film\n\nbad\n", "text 2 of 3 is blank"),
    (b"a good film\nbad \xff plot\n", r"stdin line 2 is not UTF-8 text \(byte 4: ff\)"),
    (b"\x00\x01\x02binary\n", "stdin line 1 holds a NUL byte"),
], ids=["blank line", "not utf-8", "binary"])
def test_predict_refuses_blank_or_binary_stdin_lines(trained_run, capsys, monkeypatch, stdin, message):
    run_dir, _ = trained_run
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    assert main(["classify", "predict", str(run_dir)]) == 2
    captured = capsys.readouterr()
    assert re.search(message, one_line_error(captured.err)) and captured.out == ""


def test_predict_reads_stdin_lines_whatever_their_line_breaks(trained_run, capsys, monkeypatch):
    run_dir, _ = trained_run
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a good film\r\na bad film\rgood\n"),
                                                      encoding="utf-8"))
    assert main(["classify", "predict", str(run_dir)]) == 0
    assert [line.split("\t")[2] for line in capsys.readouterr().out.splitlines()] == ["a good film", "a bad film",
                                                                                      "good"]


@pytest.mark.parametrize("content", ["[1, 2]", "\"text\"", "{broken"])
def test_eval_next_to_a_malformed_results_json_is_a_one_line_error_and_keeps_it(trained_run, tmp_path, capsys,
                                                                              content):
    run_dir, _ = trained_run
    copy = shutil.copytree(run_dir, tmp_path / "run")
    (copy / "results.json").write_text(content)
    assert main(["classify", "eval", str(copy)]) == 2
    assert "results.json is not a results file of rnnkit" in one_line_error(capsys.readouterr().err)
    assert (copy / "results.json").read_text() == content
