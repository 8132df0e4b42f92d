"""Every bad input to the command line gives one line `rnnkit: error: ...`, exit code 2, no traceback.

Corpus files, flags and damaged checkpoints, through ``rnnkit.cli.main.main`` (fast, in process),
and a real ``python -m rnnkit`` for the exit code and stderr a shell sees.
"""

import os
import pickle
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.training.checkpoint import load_checkpoint, read_marks, save_checkpoint
from tiny_runs import TINY_MODEL, one_line_error, train, write_corpus


def run_cli(argv, capsys) -> tuple[int, str]:
    """Exit code and stderr of ``rnnkit ARGV``, whether it returns or exits through argparse."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


# -- corpus files --------------------------------------------------------------------------

CORPORA = {
    "missing": (None, "does not exist"),
    "a directory": ("directory", "is a directory"),
    "empty": (b"", "is empty"),
    "binary": (b"hello\x00world" * 10, "NUL byte at byte offset 5"),
    "not utf-8": ("caf\xe9 au lait\n".encode("latin-1") * 100, r"byte offset 3 .*--encoding"),
    "shorter than one batch": (b"abcabc", "needs 17"),
    "a single repeated character": (b"a" * 1000, "1 distinct character"),
}


def make_corpus(tmp_path, content):
    path = tmp_path / "corpus.txt"
    if content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("content, message", CORPORA.values(), ids=CORPORA.keys())
def test_bad_corpus_is_one_line_error_and_leaves_no_run_directory(tmp_path, capsys, content, message):
    run = tmp_path / "run"
    assert train(make_corpus(tmp_path, content), run) == 2
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith("rnnkit: error: ")
    assert re.search(message, line), line
    assert not run.exists()          # a failed start leaves nothing behind


def test_a_fifo_or_a_device_is_not_called_empty_but_refused_as_not_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    for corpus, kind in ((fifo, "a FIFO"), ("/dev/zero", "a device")):
        assert train(corpus, tmp_path / "run") == 2
        line = one_line_error(capsys.readouterr().err)
        assert f"{corpus} is {kind} (named pipe)" in line or f"{corpus} is {kind}:" in line
        assert "empty" not in line and not (tmp_path / "run").exists()


def test_a_header_only_tsv_column_is_called_that_not_one_distinct_character(tmp_path, capsys):
    poems = tmp_path / "poems.tsv"
    poems.write_text("title\tpoem\n", encoding="utf-8")
    assert main(["train", str(poems), "--column", "poem", "--out", str(tmp_path / "run"), *TINY_MODEL]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "has a header but no rows: its column 'poem' holds no text to learn" in line and "distinct" not in line


def test_a_missing_column_does_not_echo_a_huge_first_line(tmp_path, capsys):
    table = tmp_path / "big.tsv"
    table.write_text("x" * 3_000_000 + "\tpoem\nab\tcd\n", encoding="utf-8")
    assert main(["train", str(table), "--column", "verse", "--out", str(tmp_path / "run"), *TINY_MODEL]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "no column 'verse'" in line and len(line) < 600


def test_not_utf8_corpus_trains_with_the_encoding_the_error_suggests(tmp_path, capsys):
    corpus = make_corpus(tmp_path, "café au lait\n".encode("latin-1") * 100)
    assert train(corpus, tmp_path / "run", "--max-steps", "2", "--encoding", "latin-1") == 0
    assert "stopped (max steps) at step 2" in capsys.readouterr().err


def test_bad_second_corpus_file_is_named(tmp_path, capsys):
    good = write_corpus(tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe oops")
    code = main(["train", str(good), str(bad), "--out", str(tmp_path / "run"), *TINY_MODEL])
    assert code == 2
    assert str(bad) in one_line_error(capsys.readouterr().err)


# -- flags ---------------------------------------------------------------------------------

BAD_FLAGS = {
    "negative hidden": (["--hidden", "-3"], "--hidden: must be positive"),
    "negative layers": (["--layers", "-1"], "--layers: must be positive"),
    "negative embedding": (["--embedding", "-1"], "--embedding: must not be negative"),
    "negative seq-len": (["--seq-len", "-5"], "--seq-len: must be positive"),
    "negative max-steps": (["--max-steps", "-1"], "--max-steps: must not be negative"),
    "zero batch": (["--batch", "0"], "--batch: must be positive"),
    "zero epochs": (["--epochs", "0"], "--epochs: must be at least 1"),
    "batch not a number": (["--batch", "two"], "--batch: expected an integer"),
    "unknown cell": (["--cell", "transformer"], "--cell: invalid choice"),
    "unknown optimizer": (["--optimizer", "lbfgs"], "--optimizer: invalid choice"),
    "nan learning rate": (["--lr", "nan"], "--lr: expected a finite number"),
    "infinite learning rate": (["--lr", "inf"], "--lr: expected a finite number"),
    "infinite clip norm": (["--clip-norm", "inf"], "--clip-norm: expected a finite number"),
    "dropout of one": (["--dropout", "1"], "--dropout: must lie in [0, 1)"),
    "validation fraction above one": (["--val-fraction", "1.5"], "--val-fraction: must lie in [0, 1)"),
}


@pytest.mark.parametrize("flags, message", BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_bad_train_flag_is_a_usage_error_before_anything_runs(tmp_path, capsys, flags, message):
    run = tmp_path / "run"
    code, err = run_cli(["train", str(write_corpus(tmp_path)), "--out", str(run), *flags], capsys)
    assert code == 2
    assert message in one_line_error(err)
    assert not run.exists()


def test_missing_command_and_unknown_command_are_usage_errors(capsys):
    assert run_cli([], capsys)[0] == 2
    code, err = run_cli(["fly"], capsys)
    assert code == 2 and "invalid choice" in one_line_error(err)


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    assert "--resume" in capsys.readouterr().out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run of 5 updates (one checkpoint), shared read-only by the tests below."""
    root = tmp_path_factory.mktemp("trained")
    assert train(write_corpus(root), root / "run", "--max-steps", "5") == 0
    return root / "run"


@pytest.fixture
def run_copy(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "run")


CONTRADICTIONS = {
    "another column": (["--column", "poem"], "--column was given too"),
    "another encoding": (["--encoding", "latin-1"], "--encoding was given too"),
    "another cell": (["--cell", "gru"], "--cell was given too"),
    "another out": (["--out", "elsewhere"], "--out was given too"),
    "two options": (["--hidden", "16", "--seed", "3"], "--hidden, --seed were given too"),
}


@pytest.mark.parametrize("extra, message", CONTRADICTIONS.values(), ids=CONTRADICTIONS.keys())
def test_resume_with_options_it_would_ignore_is_refused(run_copy, tmp_path, capsys, extra, message):
    code, err = run_cli(["train", "--resume", str(run_copy), "--max-steps", "9", *extra], capsys)
    assert code == 2
    assert message in one_line_error(err)
    assert load_checkpoint(run_copy)[1]["trainer"]["step"] == 5        # nothing was trained


def test_resume_may_change_the_budget_and_the_learning_rate(run_copy, capsys):
    code = main(["train", "--resume", str(run_copy), "--max-steps", "7", "--lr", "1e-4", "--no-progress",
                 "--sample-length", "0"])
    assert code == 0
    _, meta = load_checkpoint(run_copy)
    assert meta["trainer"]["step"] == 7
    assert meta["trainer"]["config"]["lr"] == 1e-4 and meta["trainer"]["optimizer"]["lr"] == 1e-4


def test_out_path_through_a_file_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert train(write_corpus(tmp_path), blocker / "run", "--max-steps", "2") == 2
    line = one_line_error(capsys.readouterr().err)
    assert "cannot write to the run directory" in line and "--out" in line


@pytest.mark.parametrize("out", ["/", "HERE"])
def test_out_that_is_a_folder_holding_other_files_is_refused_and_nothing_is_written(tmp_path, capsys, out):
    corpus = write_corpus(tmp_path)
    out = str(tmp_path) if out == "HERE" else out
    before = sorted(os.listdir(out))
    assert train(corpus, out, "--max-steps", "2") == 2
    assert "is a folder that holds other files" in one_line_error(capsys.readouterr().err)
    assert sorted(os.listdir(out)) == before


def test_out_that_is_an_empty_folder_takes_the_run(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert train(write_corpus(tmp_path), tmp_path / "empty", "--max-steps", "2") == 0
    assert read_marks(tmp_path / "empty")["last"] == "step-00000002"


# -- exit codes: 2 bad input, 130 interrupted, 1 internal failure; always one line -------------------


def test_plot_to_a_device_is_refused_and_the_device_stays(run_copy, capsys):
    assert main(["plot", str(run_copy), "--out", "/dev/full"]) == 2
    assert "/dev/full is a device: rnnkit writes only new or regular files" in one_line_error(capsys.readouterr().err)
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")


def test_a_read_only_folder_is_bad_input_and_the_error_names_the_file_not_a_hidden_temporary(
        run_copy, tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "ro" / ".loss.png.x1y2.tmp"))
    monkeypatch.setattr("rnnkit.training.atomic.tempfile.mkstemp", refuse)
    assert main(["plot", str(run_copy), "--out", str(tmp_path / "ro" / "loss.png")]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert f"Permission denied: {tmp_path / 'ro' / 'loss.png'};" in line and ".tmp" not in line


def test_out_of_memory_is_bad_input_with_one_line(run_copy, capsys, monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr("rnnkit.cli.sample.language_model.load_run", exhausted)
    assert main(["sample", str(run_copy)]) == 2
    assert "out of memory: use smaller sizes" in one_line_error(capsys.readouterr().err)


def test_an_internal_failure_exits_1_with_one_line_that_says_it_is_a_bug(run_copy, capsys, monkeypatch):
    def bug(*args, **kwargs):
        raise TypeError("list indices must be integers\nor slices")
    monkeypatch.setattr("rnnkit.cli.sample.language_model.load_run", bug)
    assert main(["sample", str(run_copy)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "internal error (TypeError: list indices must be integers or slices); this is a bug in rnnkit" in line


# -- checkpoints given to `rnnkit sample` --------------------------------------------------


def resave(run, change) -> None:
    """Rewrite the run's last checkpoint (with valid checksums) after ``change(tensors, meta)``."""
    tensors, meta = load_checkpoint(run)
    change(tensors, meta)
    save_checkpoint(run, read_marks(run)["last"], tensors, meta)


def drop_tensor(tensors, meta):
    del tensors["model"]["decoder.bias"]


def add_tensor(tensors, meta):
    tensors["model"]["decoder.extra"] = np.zeros(3, np.float32)


def reshape_tensor(tensors, meta):
    tensors["model"]["decoder.bias"] = np.zeros(99, np.float32)


def retype_tensor(tensors, meta):
    tensors["model"]["decoder.bias"] = tensors["model"]["decoder.bias"].astype(np.float64)


def config_not_an_object(tensors, meta):
    meta["spec"]["model_config"] = ["lstm", 8]


def other_task(tensors, meta):
    meta["task"] = "classify"


TENSOR_DAMAGE = {
    "missing tensor": (drop_tensor, "missing: decoder.bias"),
    "extra tensor": (add_tensor, "unexpected: decoder.extra"),
    "wrong shape": (reshape_tensor, r"wrong shape: decoder.bias \(99,\)"),
    "wrong dtype": (retype_tensor, "wrong dtype: decoder.bias float64"),
    "config not an object": (config_not_an_object, "model config must be a JSON object"),
    "another task": (other_task, "holds a 'classify' run, not a 'char-lm' run"),
}


@pytest.mark.parametrize("change, message", TENSOR_DAMAGE.values(), ids=TENSOR_DAMAGE.keys())
def test_checkpoint_that_does_not_fit_is_refused_by_sample(run_copy, capsys, change, message):
    resave(run_copy, change)
    code, err = run_cli(["sample", str(run_copy), "--which", "last", "--length", "5"], capsys)
    assert code == 2
    assert re.search(message, one_line_error(err))


def checkpoint_dir(run):
    return run / "checkpoints" / read_marks(run)["last"]


def truncate(run):
    path = checkpoint_dir(run) / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])


def flip_bit(run):
    path = checkpoint_dir(run) / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x10
    path.write_bytes(bytes(data))


def absurd_header(run):
    path = checkpoint_dir(run) / "model.safetensors"
    path.write_bytes((2**62).to_bytes(8, "little") + path.read_bytes()[8:])


def pickle_in_disguise(run):
    (checkpoint_dir(run) / "model.safetensors").write_bytes(pickle.dumps({"w": [1.0]}))


FILE_DAMAGE = {
    "truncated": (truncate, "does not match the SHA-256"),
    "bit flip": (flip_bit, "does not match the SHA-256"),
    "absurd header size": (absurd_header, "does not match the SHA-256"),
    "pickle": (pickle_in_disguise, "never unpickles"),
}


@pytest.mark.parametrize("damage, message", FILE_DAMAGE.values(), ids=FILE_DAMAGE.keys())
def test_damaged_checkpoint_is_refused_by_sample_and_resume(run_copy, capsys, damage, message):
    damage(run_copy)
    for argv in (["sample", str(run_copy), "--which", "last"], ["train", "--resume", str(run_copy)]):
        code, err = run_cli(argv, capsys)
        assert code == 2
        assert message in one_line_error(err)


# -- a real process ------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["missing corpus", "pickle as checkpoint"])
def test_python_m_rnnkit_exits_2_with_one_line_and_no_traceback(tmp_path, what):
    if what == "missing corpus":
        argv = ["train", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "run")]
    else:
        (tmp_path / "weights.pt").write_bytes(pickle.dumps([1, 2, 3]))
        argv = ["sample", str(tmp_path / "weights.pt")]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-m", "rnnkit", *argv], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("rnnkit: error: ")
    assert "Traceback" not in done.stderr

