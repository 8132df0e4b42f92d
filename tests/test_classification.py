"""rnnkit/tasks/classification.py through its Python API: the user's own labelled texts, end to end.

TextSource, ClassifySpec, prepare, train, resume (with the file moved), load_run, load_ensemble,
evaluate and predict; the training task itself is tested in test_classification_task.py.
"""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks import classification
from rnnkit.tasks.classification import ClassifySpec, TextSource
from rnnkit.training.checkpoint import load_checkpoint, read_marks, save_checkpoint
from rnnkit.training.metrics_log import read_metrics
from labelled_texts import CLASSES, KEYWORDS, labelled_rows, split_names, write_labelled

TINY = ClassifierConfig(vocab_size=1, embedding_dim=8, hidden_size=8, dropout=0.0, embedding_dropout=0.0)


def quiet(_message: str) -> None:
    pass


def reviews_spec(path, **options) -> ClassifySpec:
    source = TextSource(file=str(path), text_column="review", label_column="stars")
    return ClassifySpec(source, TINY, **{"embedding_scale": 1.0, "batch_size": 8, **options})


def config(**options):
    return classification.train_config(**{"epochs": 6, "lr": 0.02, "eval_every": 5, **options})


def losses(run_dir) -> list[tuple[int, float]]:
    return [(r["step"], r["train_loss"]) for r in read_metrics(run_dir) if "train_loss" in r]


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    """90 reviews of three classes (pos, neg, mid) in a CSV, and a run trained on them for 54 updates."""
    root = tmp_path_factory.mktemp("reviews")
    path = write_labelled(root / "data" / "reviews.csv", labelled_rows(30))
    result = classification.train(reviews_spec(path), config(), root / "run", progress=False, echo=quiet)
    return path, result


# -- training on the user's file -----------------------------------------------------------


def test_train_on_a_file_of_three_classes_keeps_their_names(reviews):
    _, result = reviews
    assert (result.stop_reason, result.step, result.monitor) == ("finished", 54, "val_loss")   # 6 epochs of 9
    run = classification.load_run(result.run_dir)
    assert run.spec.labels == CLASSES == ["mid", "neg", "pos"]
    assert run.spec.model.num_classes == 3 and run.spec.tokenizer == "words"
    assert run.spec.model.vocab_size == len(run.spec.vocab)
    assert run.config == config()


def test_the_shortest_python_flow_uses_the_default_columns_and_model(tmp_path):
    """ClassifySpec(TextSource(file=...)) with the columns "text" and "label", the default model, a few updates."""
    path = write_labelled(tmp_path / "mine.csv", labelled_rows(10), header=("text", "label"))
    result = classification.train(ClassifySpec(TextSource(file=str(path))), classification.train_config(max_steps=3),
                                  tmp_path / "run", progress=False, echo=quiet)
    assert result.step == 3 and result.best_score > 0            # no validation before step 100, but of the end
    run = classification.load_run(tmp_path / "run")
    probabilities = classification.predict([run], ["a great film", "an awful film"])
    assert probabilities.shape == (2, 3) and run.spec.labels == CLASSES
    assert run.spec.model == ClassifierConfig(vocab_size=len(run.spec.vocab), num_classes=3, embedding_dropout=0.3)


def test_predict_gives_class_probabilities_that_find_the_keyword(reviews):
    run = classification.load_run(reviews[1].run_dir)
    texts = [f"the film is {KEYWORDS[name][0]}" for name in CLASSES]
    probabilities = classification.predict([run], texts)
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert [run.spec.labels[k] for k in probabilities.argmax(axis=1)] == CLASSES
    with pytest.raises(ConfigError, match="no text to classify"):
        classification.predict([run], [])


def test_predict_refuses_a_blank_text_rather_than_classifying_unk(reviews):
    run = classification.load_run(reviews[1].run_dir)
    with pytest.raises(DataError, match=r"text 2 of 3 is blank \(2 in all\): a classifier has nothing to read"):
        classification.predict([run], ["a great film", "  ", "\t"])


def test_a_min_count_above_every_count_is_refused_naming_the_most_frequent_count(reviews, tmp_path):
    path, _ = reviews
    with pytest.raises(DataError, match=r"`min_count` 1000 keeps no token of the training texts of reviews \(the most "
                                        r"frequent occurs \d+ time\(s\)\), so every text would read as <unk>"):
        classification.train(reviews_spec(path, min_count=1000), config(), tmp_path / "run", progress=False,
                             echo=quiet)
    assert not (tmp_path / "run").exists()


def test_evaluate_refuses_a_results_file_it_did_not_write_before_writing_anything(reviews, tmp_path):
    run = classification.load_run(reviews[1].run_dir)
    (tmp_path / "results.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="results.json is not a results file of rnnkit \\(a JSON list\\)"):
        classification.evaluate([run], ("dev",), tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.json"]


def test_evaluate_scores_each_part_of_the_file_and_files_the_results(reviews, tmp_path):
    run = classification.load_run(reviews[1].run_dir)
    results = classification.evaluate([run], ("dev", "test"), tmp_path, baseline=True)
    for part in ("dev", "test"):
        scores = results[part]
        assert set(scores) == {"rnn"}                        # the bag-of-words baseline is for two classes
        assert scores["rnn"]["accuracy"] > 1 / 3             # better than chance
        assert np.array(scores["rnn"]["confusion"]).shape == (3, 3)
        assert scores["rnn"]["examples"] == 9 == np.sum(scores["rnn"]["confusion"])      # 10 % of 90
        assert (tmp_path / f"confusion-{part}.png").read_bytes().startswith(b"\x89PNG")
    filed = json.loads((tmp_path / "results.json").read_text())
    assert filed == {"reviews-dev": results["dev"], "reviews-test": results["test"]}


def test_the_stratified_split_of_a_file_follows_its_seed(reviews):
    path, _ = reviews
    train_texts = {seed: TextSource(file=str(path), text_column="review", label_column="stars",
                                    split_seed=seed).part("train")[0] for seed in (0, 1)}
    assert len(train_texts[0]) == len(train_texts[1]) == 72
    assert train_texts[0] != train_texts[1]
    again = TextSource(file=str(path), text_column="review", label_column="stars").part("train")[0]
    assert again == train_texts[0]


def test_a_split_column_decides_the_parts_and_val_means_dev(tmp_path):
    rows = labelled_rows(10)
    path = write_labelled(tmp_path / "reviews.tsv", rows, splits=split_names(len(rows), dev="val"))
    source = TextSource(file=str(path), text_column="review", label_column="stars", split_column="split")
    texts, labels = source.part("dev")
    assert texts == [rows[k][0] for k in range(8, 30, 10)] and labels == [rows[k][1] for k in range(8, 30, 10)]
    assert len(source.part("train")[0]) == 24 and len(source.part("test")[0]) == 3
    result = classification.train(ClassifySpec(source, TINY, batch_size=8), config(max_steps=3), tmp_path / "run",
                                  progress=False, echo=quiet)
    assert result.step == 3


def test_a_split_column_without_dev_rows_is_refused_when_training(tmp_path):
    rows = labelled_rows(4)
    path = write_labelled(tmp_path / "reviews.csv", rows, splits=["train"] * 10 + ["test"] * 2)
    spec = ClassifySpec(TextSource(file=str(path), text_column="review", label_column="stars",
                                   split_column="split"), TINY)
    with pytest.raises(DataError, match="has no dev rows in its column 'split'"):
        classification.train(spec, config(max_steps=2), tmp_path / "run", progress=False, echo=quiet)
    assert not (tmp_path / "run").exists()


# -- refusals ------------------------------------------------------------------------------


def test_a_file_of_a_single_class_is_refused(tmp_path):
    path = write_labelled(tmp_path / "reviews.csv", labelled_rows(10, classes=("pos",)))
    with pytest.raises(DataError, match="a classifier needs at least two classes"):
        classification.prepare(reviews_spec(path))


def test_a_training_part_of_a_single_class_is_refused(tmp_path):
    rows = [("great film", "pos")] * 4 + [("awful film", "neg")] * 2
    path = write_labelled(tmp_path / "reviews.csv", rows, splits=["train"] * 4 + ["dev", "test"])
    spec = ClassifySpec(TextSource(file=str(path), text_column="review", label_column="stars",
                                   split_column="split"), TINY)
    with pytest.raises(DataError, match=r"have a single class \('pos'\): a classifier needs two or more"):
        classification.prepare(spec)


def test_too_few_rows_to_split_are_refused(tmp_path):
    path = write_labelled(tmp_path / "reviews.csv", [("great", "pos"), ("awful", "neg"), ("okay", "mid")])
    with pytest.raises(DataError, match="too few to split"):
        classification.prepare(reviews_spec(path))


def test_a_missing_column_is_named_as_the_field(tmp_path):
    path = write_labelled(tmp_path / "reviews.csv", labelled_rows(5))
    spec = ClassifySpec(TextSource(file=str(path), text_column="text", label_column="stars"), TINY)
    with pytest.raises(DataError, match=r"has no column 'text' \(`text_column`\): its header has the columns "
                                        "'review', 'stars'"):
        classification.prepare(spec)


def test_a_missing_file_is_refused_and_leaves_no_run_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        classification.train(reviews_spec(tmp_path / "nothing.csv"), config(), tmp_path / "run", progress=False,
                             echo=quiet)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("options, message", [
    (dict(), "give either a `file` of labelled texts or a built-in `dataset`, not neither"),
    (dict(file="a.csv", dataset="sst2"), "not both"),
    (dict(dataset="imdb"), "unknown dataset 'imdb'"),
])
def test_a_text_source_is_a_file_or_a_known_dataset(options, message):
    with pytest.raises(ConfigError, match=message):
        TextSource(**options)


@pytest.mark.parametrize("options, message", [
    (dict(tokenizer="bpe"), "unknown tokenizer 'bpe'"),
    (dict(max_len=0), "`max_len` must be a positive integer"),
    (dict(batch_size=1.5), "`batch_size` must be an integer, got 1.5"),
    (dict(embedding_scale=0.0), "`embedding_scale` must be positive"),
    (dict(dtype="float16"), "`dtype` must be float32 or float64"),
])
def test_a_spec_with_bad_values_is_refused_naming_the_field(options, message):
    with pytest.raises(ConfigError, match=message):
        ClassifySpec(TextSource(file="a.csv"), **options)


def test_a_built_in_dataset_reads_its_folder_under_the_data_dir(tmp_path):
    source = TextSource.built_in("chnsenticorp", tmp_path)
    assert source.folder == str((tmp_path / "sentiment_chnsenticorp_htl").resolve())
    assert (source.name, source.default_tokenizer) == ("chnsenticorp", "chinese")
    with pytest.raises(DataError, match=r"not found: set RNNKIT_DATA or pass `data_dir`"):
        source.part("train")


def test_moved_texts_are_told_apart_by_kind(tmp_path):
    file_source = TextSource(file=str(tmp_path / "a.csv"))
    assert file_source.moved(file=tmp_path / "b.csv").file == str((tmp_path / "b.csv").resolve())
    assert file_source.moved() == file_source
    with pytest.raises(ConfigError, match="give `file` to say where it is now"):
        file_source.moved(data_dir=tmp_path)
    built_in = TextSource.built_in("sst2", tmp_path)
    assert built_in.moved(data_dir=tmp_path / "new").folder == str((tmp_path / "new" / "sentiment_sst2").resolve())
    with pytest.raises(ConfigError, match="give `data_dir` to say where it is now"):
        built_in.moved(file=tmp_path / "b.csv")


def test_the_spec_round_trips_through_json(reviews):
    spec = classification.load_run(reviews[1].run_dir).spec
    again = ClassifySpec.from_json(spec.to_json())
    assert again.to_json() == spec.to_json()
    assert replace(again, vocab=None) == replace(spec, vocab=None)
    assert again.vocab.tokens == spec.vocab.tokens


# -- resume with the file moved ------------------------------------------------------------


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted run of 14 updates on a file of its own."""
    root = tmp_path_factory.mktemp("straight")
    path = write_labelled(root / "reviews.csv", labelled_rows(30))
    classification.train(reviews_spec(path), config(max_steps=14), root / "run", progress=False, echo=quiet)
    return root / "run"


def test_resume_reads_the_file_moved_and_repeats_the_uninterrupted_run(straight, tmp_path):
    path = write_labelled(tmp_path / "first" / "reviews.csv", labelled_rows(30))
    classification.train(reviews_spec(path), config(max_steps=7), tmp_path / "run", progress=False, echo=quiet)
    copy = shutil.copytree(tmp_path / "run", tmp_path / "elsewhere" / "run")
    moved = tmp_path / "elsewhere" / "texts.csv"
    shutil.move(path, moved)
    with pytest.raises(DataError, match="does not exist"):
        classification.resume(copy, {"max_steps": 14}, progress=False, echo=quiet)
    with pytest.raises(ConfigError, match="give `file` to say where it is now"):
        classification.resume(copy, {"max_steps": 14}, data_dir=tmp_path, progress=False, echo=quiet)
    result = classification.resume(copy, {"max_steps": 14}, file=moved, progress=False, echo=quiet)
    assert result.step == 14
    assert losses(copy) == losses(straight)
    assert classification.load_run(copy, "last").spec.data.file == str(moved.resolve())
    np.testing.assert_array_equal(load_checkpoint(copy)[0]["model"]["output.weight"],
                                  load_checkpoint(straight)[0]["model"]["output.weight"])


def test_resume_on_a_file_with_other_rows_is_refused(straight, tmp_path):
    copy = shutil.copytree(straight, tmp_path / "run")
    fewer = write_labelled(tmp_path / "fewer.csv", labelled_rows(20))
    with pytest.raises(ConfigError, match="fewer.csv is not the file the run was trained on"):
        classification.resume(copy, {"max_steps": 20}, file=fewer, progress=False, echo=quiet)


# -- ensembles -----------------------------------------------------------------------------


def test_an_ensemble_averages_the_probabilities_of_its_runs(reviews, tmp_path):
    path, result = reviews
    other = tmp_path / "seed-1"
    classification.train(reviews_spec(path), config(seed=1, max_steps=10), other, progress=False, echo=quiet)
    members = classification.load_ensemble([result.run_dir, other])
    texts = ["a great plot", "an awful story"]
    alone = [classification.predict([member], texts) for member in members]
    np.testing.assert_allclose(classification.predict(members, texts), (alone[0] + alone[1]) / 2)
    results = classification.evaluate(members, ("test",), tmp_path / "report")
    assert results["test"]["rnn ensemble"]["members"] == 2


@pytest.mark.parametrize("options, differing", [(dict(tokenizer="chinese"), "tokenizer"),
                                                (dict(max_len=5, min_count=20), "max_len, vocabulary")])
def test_an_ensemble_of_runs_that_read_texts_differently_is_refused_naming_what_differs(reviews, tmp_path, options,
                                                                                        differing):
    path, result = reviews
    other = tmp_path / "other"
    classification.train(replace(reviews_spec(path), **options), config(max_steps=2), other, progress=False,
                         echo=quiet)
    with pytest.raises(ConfigError, match=rf"differ in {differing}: an ensemble needs runs trained on the same data "
                                          "with the same `tokenizer`, `max_len` and `min_count`"):
        classification.load_ensemble([result.run_dir, other])


# -- damaged run specs (valid checksums): refused, never a crash -------------------------------

DAMAGED_SPECS = {
    "class weights not a string": lambda spec: spec.update(class_weights=None),
    "class weights a list": lambda spec: spec.update(class_weights=[1, 2, 3]),
    "file not a path": lambda spec: spec["data"].update(file=["a.csv"]),
    "encoding not a string": lambda spec: spec["data"].update(encoding={"utf": 8}),
    "labels not strings": lambda spec: spec.update(labels=[{}, {}, {}]),
}


@pytest.mark.parametrize("change", DAMAGED_SPECS.values(), ids=DAMAGED_SPECS.keys())
def test_a_damaged_run_spec_is_used_or_refused_by_eval_predict_and_resume_never_a_crash(reviews, tmp_path, change):
    copy = shutil.copytree(reviews[1].run_dir, tmp_path / "run")
    tensors, meta = load_checkpoint(copy)
    change(meta["spec"])
    for name in set(read_marks(copy).values()):
        save_checkpoint(copy, name, tensors, meta)
    for call in (lambda: classification.evaluate([classification.load_run(copy, "last")], ("test",), tmp_path),
                 lambda: classification.predict([classification.load_run(copy)], ["a great film"]),
                 lambda: classification.resume(copy, {"max_steps": 60}, progress=False, echo=quiet)):
        try:
            call()
        except RnnkitError:       # one line on the command line; anything else is a traceback
            pass


def test_resuming_a_run_whose_trainer_lacks_its_config_is_a_checkpoint_error(reviews, tmp_path):
    copy = shutil.copytree(reviews[1].run_dir, tmp_path / "run")
    tensors, meta = load_checkpoint(copy)
    del meta["trainer"]["config"]
    for name in set(read_marks(copy).values()):
        save_checkpoint(copy, name, tensors, meta)
    with pytest.raises(CheckpointError):
        classification.resume(copy, {"max_steps": 60}, progress=False, echo=quiet)
