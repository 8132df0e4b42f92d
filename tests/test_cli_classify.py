import json

import numpy as np
import pytest

from rnnkit.cli.main import main

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


def test_eval_of_several_runs_scores_their_ensemble_in_their_common_folder(trained_run, second_seed, capsys):
    run_dir, _ = trained_run
    assert main(["classify", "eval", str(run_dir), str(second_seed), "--split", "test"]) == 0
    assert "sst2 test rnn ensemble of 2: accuracy" in capsys.readouterr().out
    results = json.loads((run_dir.parent / "results.json").read_text())
    assert results["sst2-test"]["rnn ensemble"]["members"] == 2
    assert results["sst2-test"]["rnn ensemble"]["accuracy"] >= 0.9
    assert (run_dir.parent / "confusion-test.png").read_bytes().startswith(b"\x89PNG")


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
    assert "train.tsv not found" in error and len(error.strip().splitlines()) == 1


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
