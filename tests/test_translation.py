"""The translation task through the Python API: spec, training task, train/resume, evaluate, translate, attention."""

import json

import numpy as np
import pytest

from rnnkit.errors import ConfigError, DataError
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks import translation as tr
from rnnkit.tasks.translation import PairsSource, TranslationSpec

NOUNS = [("cat", "chat"), ("dog", "chien"), ("house", "maison"), ("car", "voiture"), ("tree", "arbre"),
         ("book", "livre")]
ADJECTIVES = [("big", "grand"), ("small", "petit"), ("red", "rouge"), ("old", "vieux")]


def write_pairs(path, count=40):
    """``count`` English<TAB>French pairs "the big cat .<TAB>le chat grand ." (distinct for count <= 24, then repeats)."""
    lines = []
    for k in range(count):
        (en, fr), (adj_en, adj_fr) = NOUNS[k % 6], ADJECTIVES[(k // 6) % 4]
        lines.append(f"the {adj_en} {en} .\tle {fr} {adj_fr} .")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_spec(path, **options):
    model = Seq2SeqConfig(embedding_dim=8, hidden_size=8, dropout=0.1)
    return TranslationSpec(PairsSource(file=str(path)), model, batch_size=8, **options)


def test_prepare_fills_vocabularies_and_the_spec_round_trips_through_json(tmp_path):
    spec = tr.prepare(tiny_spec(write_pairs(tmp_path / "p.tsv"), source_tokenizer="words"))
    assert spec.source_tokenizer == "word" and spec.target_tokenizer == "word"
    assert spec.source_vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert spec.model.source_vocab_size == len(spec.source_vocab) > 4
    assert spec.model.target_vocab_size == len(spec.target_vocab) > 4
    assert spec.data.sha256
    again = TranslationSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again.to_json() == spec.to_json()
    model = again.build_model(rng=0)
    assert model.config == spec.model


def test_spec_refuses_bad_fields_naming_them(tmp_path):
    path = str(tmp_path / "p.tsv")
    with pytest.raises(ConfigError, match="`source_tokenizer`"):
        TranslationSpec(PairsSource(file=path), source_tokenizer="bytes")
    with pytest.raises(ConfigError, match="`batch_size`"):
        TranslationSpec(PairsSource(file=path), batch_size=0)
    with pytest.raises(ConfigError, match="`dev_fraction`"):
        TranslationSpec(PairsSource(file=path), dev_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ConfigError, match="`dataset`"):
        PairsSource.built_in("eng-xyz")
    with pytest.raises(ConfigError, match="prepare"):
        TranslationSpec(PairsSource(file=path)).build_model()


def test_built_in_datasets_name_their_files_and_tokenizers(tmp_path):
    source = PairsSource.built_in("cmn-eng", tmp_path)
    assert source.file.endswith("translation_cmn_eng/cmn.txt") and source.name == "eng-cmn"   # its direction
    spec = TranslationSpec(source)
    assert (spec.source_kind, spec.target_kind, spec.bleu_tokenize) == ("word", "char", "zh")
    reversed_spec = TranslationSpec(PairsSource.built_in("cmn-eng", tmp_path, reverse=True))
    assert (reversed_spec.source_kind, reversed_spec.target_kind) == ("char", "word")
    assert reversed_spec.data.name == "cmn-eng"
    assert PairsSource.built_in("eng-fra", tmp_path, reverse=True).name == "fra-eng"
    assert PairsSource.built_in("eng-fra", tmp_path).file.endswith("translation_eng_fra/fra_first80000.txt")


def test_training_task_batches_by_seed_and_epoch_and_steps_reduce_the_loss(tmp_path):
    spec = tr.prepare(tiny_spec(write_pairs(tmp_path / "p.tsv")))
    model = spec.build_model(rng=0)
    task = tr.training_task(spec, model, seed=3)
    again = tr.training_task(spec, spec.build_model(rng=0), seed=3)
    assert [b.tolist() for b in task.epoch_batches(1)] == [b.tolist() for b in again.epoch_batches(1)]
    assert sorted(np.concatenate(task.epoch_batches(0)).tolist()) == list(range(len(task.train_set)))
    before = task.evaluate()["val_loss"]
    assert np.isfinite(before) and before > 0
    model.zero_grad()
    loss, tokens = task.train_step(task.epoch_batches(0)[0])
    assert np.isfinite(loss) and tokens > 0
    assert any(np.any(grad != 0) for grad in model.grads.values())


def metrics_losses(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]


def test_train_evaluate_translate_attention_and_resume_equals_an_uninterrupted_run(tmp_path):
    data = write_pairs(tmp_path / "p.tsv")
    config = {"eval_every": 4, "checkpoint_every": 4, "lr": 0.01}
    straight = tr.train(tiny_spec(data), tr.train_config(max_steps=12, **config), tmp_path / "straight",
                        progress=False, echo=lambda m: None)
    assert straight.step == 12 and straight.best_score is not None
    tr.train(tiny_spec(data), tr.train_config(max_steps=6, **config), tmp_path / "first", progress=False,
             echo=lambda m: None)
    resumed = tr.resume(tmp_path / "first", {"max_steps": 12}, progress=False, echo=lambda m: None)
    assert resumed.step == 12
    assert metrics_losses(tmp_path / "first") == metrics_losses(tmp_path / "straight")      # exactly

    run = tr.load_run(tmp_path / "straight")
    scores = tr.evaluate(run, "test", beam=2)
    assert scores["bleu"].metric == "BLEU" and 0 <= scores["bleu"].score <= 100
    assert "tok:13a" in scores["bleu"].signature and scores["chrf"].metric == "chrF"
    results = json.loads((tmp_path / "straight" / "results.json").read_text())
    assert results["p-test"]["bleu"] == scores["bleu"].score and results["p-test"]["beam"] == 2
    assert (tmp_path / "straight" / "translations-test.txt").is_file()

    found = tr.translate(run, ["the big cat .", "the old dog ."], beam=3, n_best=2)
    assert len(found) == 2 and all(len(n_best) == 2 for n_best in found)
    assert all(isinstance(text, str) and isinstance(score, float) for n_best in found for text, score in n_best)
    assert found[0][0][1] >= found[0][1][1]
    text, png = tr.attention(run, "the red car .", tmp_path / "attention.png", beam=2)
    assert isinstance(text, str) and png.read_bytes().startswith(b"\x89PNG")

    with pytest.raises(ConfigError, match="`n_best`"):
        tr.translate(run, ["the cat ."], beam=2, n_best=3)
    with pytest.raises(DataError, match="blank"):
        tr.translate(run, ["the cat .", "  "])


def test_a_file_without_tabs_or_too_few_pairs_is_refused(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1: no tab"):
        tr.train(tiny_spec(bad), tr.train_config(max_steps=2), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
