"""rnnkit/tasks/language_model.py with words (issue 17): a validation and test text of their own, perplexity,
`evaluate` scoring every token, sampling words, old specs reading as characters, moved texts on resume."""

import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.corpus import CorpusSource
from rnnkit.data.word_vocab import EOS, UNK, WordVocab
from rnnkit.errors import ConfigError, DataError
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.char_lm import CharLMConfig
from rnnkit.tasks import language_model
from rnnkit.tasks.language_model import LanguageModelSpec
from rnnkit.training.metrics_log import read_metrics
from tiny_lm import quiet, tiny_config

SENTENCES = [" the cat sat on the mat ", " a dog sat on the log ", " the <unk> ran to the N mats ",
             " a cat ran to a dog "]


def write_texts(folder, lines: int = 120) -> dict:
    """PTB-style train/valid/test texts: one sentence a line, <unk> in the training text."""
    rng = np.random.default_rng(0)
    texts = {}
    for part, count in (("train", lines), ("valid", lines // 4), ("test", lines // 4)):
        path = folder / f"words.{part}.txt"
        chosen = rng.integers(0, len(SENTENCES), count)
        text = "".join(SENTENCES[k] + "\n" for k in chosen)
        if part == "test":
            text += " the zebra sat on the mat \n"          # a word training never saw: <unk>
        path.write_text(text, encoding="utf-8")
        texts[part] = path
    return texts


def word_spec(texts: dict, **options) -> LanguageModelSpec:
    model = CharLMConfig(hidden_size=8, num_layers=1, embedding_dim=8)
    return LanguageModelSpec(CorpusSource.from_paths([texts["train"]]), model, val_fraction=0.0, batch_size=2,
                             seq_len=6, tokens="words", valid=CorpusSource.from_paths([texts["valid"]]),
                             test=CorpusSource.from_paths([texts["test"]]), **options)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("word-model")
    texts = write_texts(root)
    result = language_model.train(word_spec(texts), tiny_config(max_steps=12), root / "run", progress=False,
                                  echo=quiet)
    return root / "run", texts, result


def test_a_word_run_validates_on_its_own_text_and_reports_perplexity(trained):
    run_dir, texts, _ = trained
    validations = [record for record in read_metrics(run_dir) if "val_loss" in record]
    assert validations and all(record["val_ppl"] == pytest.approx(math.exp(record["val_loss"]))
                               for record in validations)
    assert "val_bpc" not in validations[0]
    assert any("words_per_s" in record for record in read_metrics(run_dir))
    spec = language_model.load_run(run_dir).spec
    assert spec.tokens == "words" and isinstance(spec.vocab, WordVocab) and {EOS, UNK} <= set(spec.vocab.words)
    assert spec.model.vocab_size == len(spec.vocab) == len({w for s in SENTENCES for w in s.split()}) + 1
    assert spec.valid.files == [str(texts["valid"])] and spec.valid_sha256 and spec.test_sha256


def test_validation_reads_the_valid_file_not_the_corpus_end(trained):
    """The task's val_loss is the one computed here on the valid file's windows, by hand."""
    run_dir, texts, _ = trained
    run = language_model.load_run(run_dir, "last")
    vocab, model = run.spec.vocab, run.model
    ids = vocab.encode(texts["valid"].read_text(encoding="utf-8"))
    lanes = 2
    length = (len(ids) - 1) // (lanes * 6) * 6
    inputs, targets = ids[:lanes * length].reshape(lanes, -1).T, ids[1:lanes * length + 1].reshape(lanes, -1).T
    total, state = 0.0, None
    for start in range(0, length, 6):
        logits, state = model(np.ascontiguousarray(inputs[start:start + 6]), state)
        total += softmax_cross_entropy(logits, targets[start:start + 6], reduction="sum")[0]
    last = [record for record in read_metrics(run_dir) if "val_loss" in record][-1]
    assert last["val_loss"] == pytest.approx(total / targets.size, rel=1e-5)


def test_evaluate_scores_every_token_of_the_test_text_in_one_lane(trained):
    run_dir, texts, _ = trained
    run = language_model.load_run(run_dir)
    ids = run.spec.vocab.encode(texts["test"].read_text(encoding="utf-8"))
    assert run.spec.vocab.words[ids[-6]] == UNK                   # "zebra" reads as <unk>
    logits, _ = run.model(ids[:-1].reshape(-1, 1))
    expected = softmax_cross_entropy(logits, ids[1:].reshape(-1, 1))[0]
    scores = language_model.evaluate(run, "test", run_dir)
    assert scores["tokens"] == len(ids) - 1
    assert scores["loss"] == pytest.approx(expected, rel=1e-5)
    assert scores["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)
    windowed = language_model.stream_loss(run.model, ids, window=7) / (len(ids) - 1)
    assert windowed == pytest.approx(expected, rel=1e-5)        # the window is only how much at a time
    assert f"{run.spec.name}-test" in (run_dir / "results.json").read_text(encoding="utf-8")


def test_evaluate_of_the_validation_text_and_of_any_text(trained, tmp_path):
    run_dir, texts, _ = trained
    run = language_model.load_run(run_dir)
    valid = language_model.evaluate(run, "valid")
    other = tmp_path / "other.txt"
    shutil.copy(texts["valid"], other)
    assert language_model.evaluate(run, "test", files=[str(other)]) == {**valid, "text": str(other)}
    with pytest.raises(ConfigError, match="unknown `part` 'dev'"):
        language_model.evaluate(run, "dev")


def test_evaluate_refuses_a_test_text_that_changed(trained, tmp_path):
    run_dir, texts, _ = trained
    copy = shutil.copytree(run_dir, tmp_path / "run")
    changed = tmp_path / "changed.test.txt"
    changed.write_text(texts["test"].read_text(encoding="utf-8") + " a cat\n", encoding="utf-8")
    run = language_model.load_run(copy)
    run.spec = replace(run.spec, test=CorpusSource.from_paths([changed]))
    with pytest.raises(ConfigError, match="is not the one the run recorded"):
        language_model.evaluate(run, "test")


def test_sampled_words_come_from_the_vocabulary_and_eos_breaks_lines(trained):
    run = language_model.load_run(trained[0])
    pieces = list(language_model.sample(run, 60, temperature=1.0, rng=1))
    assert len(pieces) == 60
    words = {piece.strip() for piece in pieces if piece != "\n"}
    assert words <= set(run.spec.vocab.words) - {EOS}
    text = "".join(pieces)
    assert "<eos>" not in text and all(line == line.strip() for line in text.split("\n"))
    primed = "".join(language_model.sample(run, 5, prime="the cat", temperature=0.8, rng=2))
    assert primed.startswith((" ", "\n"))                    # words go on after the prime's last word


def test_a_test_text_with_words_the_vocabulary_cannot_stand_for_is_refused_before_training(tmp_path):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("the cat sat\nthe dog sat\n" * 20, encoding="utf-8")
    test.write_text("the zebra sat\n", encoding="utf-8")
    spec = LanguageModelSpec(CorpusSource.from_paths([train]), CharLMConfig(hidden_size=4, num_layers=1,
                                                                             embedding_dim=4),
                             batch_size=2, seq_len=4, tokens="words", test=CorpusSource.from_paths([test]))
    with pytest.raises(DataError, match=f"{test}: 1 word.*'zebra'.*no <unk>"):
        language_model.train(spec, tiny_config(max_steps=2), tmp_path / "run", progress=False, echo=quiet)
    assert not (tmp_path / "run").exists()


def test_a_spec_refuses_a_validation_text_and_a_fraction_at_once(tmp_path):
    with pytest.raises(ConfigError, match="set `val_fraction` to 0"):
        LanguageModelSpec(valid=CorpusSource(["valid.txt"]))
    with pytest.raises(ConfigError, match="`tokens` must be one of chars, words"):
        LanguageModelSpec(tokens="bytes")


def test_a_spec_written_before_words_reads_as_characters(trained):
    data = language_model.load_run(trained[0]).spec.to_json()
    old = {key: value for key, value in data.items() if key not in ("tokens", "valid", "test", "dataset")}
    old["vocab"], old["corpus"] = ["a", "b"], {**data["corpus"], "val_fraction": 0.1}
    spec = LanguageModelSpec.from_json(old)
    assert spec.tokens == "chars" and spec.vocab.characters == ["a", "b"] and spec.valid is None
    assert LanguageModelSpec.from_json(data) == language_model.load_run(trained[0]).spec


def test_resume_finds_the_validation_text_moved(trained, tmp_path):
    run_dir, texts, _ = trained
    copy = shutil.copytree(run_dir, tmp_path / "run")
    moved = shutil.copy(texts["valid"], tmp_path / "valid-here.txt")
    result = language_model.resume(copy, {"max_steps": 14}, valid_files=[moved], progress=False, echo=quiet)
    assert result.step == 14
    assert language_model.load_run(copy).spec.valid.files == [str(moved)]
    with pytest.raises(ConfigError, match="trained on files"):
        language_model.resume(copy, {"max_steps": 15}, data_dir=tmp_path, progress=False, echo=quiet)


def test_ptb_is_a_built_in_corpus_of_words_with_its_own_split(data_dir):
    spec = language_model.built_in("ptb", data_dir, batch_size=20)
    assert (spec.tokens, spec.val_fraction, spec.dataset, spec.batch_size) == ("words", 0.0, "ptb", 20)
    assert [Path(spec.corpus.files[0]).name, Path(spec.valid.files[0]).name, Path(spec.test.files[0]).name] == [
        "ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"]
