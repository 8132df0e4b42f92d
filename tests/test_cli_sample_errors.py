"""`rnnkit sample` refuses bad primes, temperatures, top-k values and checkpoints of other models."""

import shutil

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.tasks import language_model
from rnnkit.tasks.sampling import generate
from rnnkit.training.checkpoint import load_checkpoint, read_marks, save_checkpoint
from tiny_runs import TEXT, one_line_error, train, write_corpus

VOCAB_SIZE = len(set(TEXT))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("sampling")
    assert train(write_corpus(root), root / "run", "--max-steps", "5") == 0
    return root / "run"


def sample(run, capsys, *options) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``rnnkit sample RUN --length 10 OPTIONS``."""
    try:
        code = main(["sample", str(run), "--length", "10", "--seed", "0", *options])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the prime ---------------------------------------------------------------------------------


def test_prime_with_unknown_characters_is_refused_naming_them_and_the_flag(trained, capsys):
    code, out, err = sample(trained, capsys, "--prime", "the Zebra")
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert "'Z'" in line and "--skip-unknown" in line


def test_skip_unknown_drops_the_unknown_characters_of_the_prime(trained, capsys):
    code, out, _ = sample(trained, capsys, "--prime", "the Zebra", "--skip-unknown")
    assert code == 0
    assert out.startswith("the ebra") and len(out.rstrip("\n")) == len("the ebra") + 10


def test_prime_of_only_unknown_characters_is_refused_even_when_skipping(trained, capsys):
    code, _, err = sample(trained, capsys, "--prime", "ZZZ", "--skip-unknown")
    assert code == 2 and "no character of --prime" in one_line_error(err)


# -- temperature and top-k ------------------------------------------------------------------------

BAD_OPTIONS = {
    "zero temperature": (["--temperature", "0"], "--temperature: must be positive"),
    "negative temperature": (["--temperature", "-0.5"], "--temperature: must be positive"),
    "nan temperature": (["--temperature", "nan"], "--temperature: expected a finite number"),
    "infinite temperature": (["--temperature", "inf"], "--temperature: expected a finite number"),
    "negative top-k": (["--top-k", "-1"], "--top-k: must not be negative"),
    "top-k above the vocabulary": (["--top-k", str(VOCAB_SIZE + 1)], f"vocabulary size {VOCAB_SIZE}"),
    "greedy with a temperature": (["--greedy", "--temperature", "2"], "drop --temperature"),
    "greedy with top-k": (["--greedy", "--top-k", "3"], "drop --top-k"),
    "lines without a poem": (["--lines", "8"], "--lines is for poems"),
    "prime with a poem": (["--poem", "5", "--prime", "the"], "drop --prime"),
}


@pytest.mark.parametrize("options, message", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_bad_sampling_option_is_a_one_line_error(trained, capsys, options, message):
    code, out, err = sample(trained, capsys, *options)
    assert code == 2 and out == ""
    assert message in one_line_error(err)


@pytest.mark.parametrize("top_k", ["1", str(VOCAB_SIZE)])
def test_top_k_from_one_to_the_vocabulary_size_is_accepted(trained, capsys, top_k):
    code, out, _ = sample(trained, capsys, "--top-k", top_k)
    assert code == 0 and len(out.rstrip("\n")) == 10


@pytest.mark.parametrize("options, message", [
    (dict(temperature=0.0), "`temperature` must be positive"),
    (dict(temperature=float("inf")), "finite"),
    (dict(top_k=-1), "`top_k` must be between"),
    (dict(top_k=2.5), "`top_k` must be between"),
])
def test_library_generate_checks_its_options_before_any_work(trained, options, message):
    run = language_model.load_run(trained)
    with pytest.raises(ConfigError, match=message):
        next(generate(run.model, run.spec.vocab, 5, rng=0, **options))
    with pytest.raises(ConfigError, match=message):
        next(language_model.sample(run, 5, rng=0, **options))


# -- checkpoints of other models ---------------------------------------------------------------------


@pytest.fixture
def other_config(trained, tmp_path):
    """A copy of the run whose meta.json names a config that its tensors are not (checksums valid)."""
    run = shutil.copytree(trained, tmp_path / "run")

    def change(key, value):
        tensors, meta = load_checkpoint(run)
        meta["spec"]["model_config"][key] = value
        for name in read_marks(run).values():
            save_checkpoint(run, name, tensors, meta)
        return run
    return change


@pytest.mark.parametrize("key, value", [("hidden_size", 16), ("num_layers", 2), ("embedding_dim", 0),
                                        ("hidden_size", 10**9), ("num_layers", 10**6), ("cell", "gru")],
                         ids=["hidden", "layers", "embedding", "huge hidden", "huge layers", "cell"])
def test_checkpoint_of_another_model_config_is_refused_without_building_it(other_config, capsys, key, value):
    run = other_config(key, value)
    with pytest.raises(CheckpointError, match="not fit"):
        language_model.load_run(run)
    code, _, err = sample(run, capsys)
    assert code == 2 and "not fit" in one_line_error(err)


def test_checkpoint_of_another_task_is_refused(trained, tmp_path, capsys):
    run = shutil.copytree(trained, tmp_path / "run")
    tensors, meta = load_checkpoint(run)
    save_checkpoint(run, read_marks(run)["last"], tensors, dict(meta, task="forecast"))
    code, _, err = sample(run, capsys, "--which", "last")
    assert code == 2 and "holds a 'forecast' run, not a 'char-lm' run" in one_line_error(err)


def test_sampling_a_trained_run_works(trained, capsys):
    """The fixture the refusals above start from is itself sound."""
    code, out, _ = sample(trained, capsys, "--prime", "the")
    assert code == 0 and out.startswith("the") and set(out) <= set(TEXT) | {"\n"}
    assert np.isfinite(load_checkpoint(trained)[0]["model"]["decoder.weight"]).all()
