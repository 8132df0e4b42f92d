import numpy as np
import pytest

from rnnkit.data.tokenize import Vocabulary
from rnnkit.errors import CheckpointError, ConfigError, DataError
from rnnkit.optim import Adam
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.tasks.classification import (ClassificationTask, EncodedTexts, class_weights, classification_metrics,
                                         encode_texts, ensemble_probabilities, predict_probabilities)

# label 1 iff the text contains token 2 ("good"); lengths vary from 1 to 6
RNG = np.random.default_rng(0)
SEQUENCES = [RNG.integers(3, 8, size=RNG.integers(1, 7)) for _ in range(60)]
for i in range(0, 60, 2):
    SEQUENCES[i][RNG.integers(len(SEQUENCES[i]))] = 2
LABELS = np.array([int(2 in s) for s in SEQUENCES])


def make_task(batch_size=8, seed=0, weights=None):
    model = SequenceClassifier(ClassifierConfig(vocab_size=8, embedding_dim=8, hidden_size=8, dropout=0.0), rng=0)
    data = EncodedTexts(SEQUENCES, LABELS)
    return ClassificationTask(model, data, data, batch_size, seed, weights)


def test_an_epoch_visits_every_example_once_in_length_buckets():
    task = make_task()
    batches = list(task.batches())
    assert sorted(np.concatenate(batches).tolist()) == list(range(60))
    assert task.epoch == 1


def test_training_steps_learn_a_keyword_rule():
    task = make_task()
    optimizer = Adam(task.model, lr=0.02)
    for _ in range(8):
        for batch in task.batches():
            task.model.zero_grad()
            task.train_step(batch)
            optimizer.step()
    assert task.evaluate()["val_accuracy"] == 1.0


def test_resumed_position_gives_the_same_next_batches():
    task = make_task()
    iterator = task.batches()
    for _ in range(3):
        next(iterator)
    _, state = task.state()
    expected = list(iterator)
    other = make_task()
    other.load_state({}, state)
    assert all(np.array_equal(a, b) for a, b in zip(other.batches(), expected))


def test_saved_position_for_other_batches_is_refused():
    _, state = make_task(batch_size=8).state()
    with pytest.raises(CheckpointError, match="same data and `batch_size`"):
        make_task(batch_size=16).load_state({}, state)


def test_balanced_class_weights_equalise_the_classes():
    weights = class_weights(np.array([0, 0, 0, 1]), 2, "balanced")
    np.testing.assert_allclose(weights, [4 / 6, 2.0])
    assert class_weights(np.array([0, 1]), 2, "none") is None
    np.testing.assert_allclose(class_weights(np.array([0, 1]), 2, "1,3"), [1, 3])


@pytest.mark.parametrize("spec", ["1", "a,b", "1,-2"])
def test_bad_class_weights_are_config_errors(spec):
    with pytest.raises(ConfigError, match="class weights"):
        class_weights(np.array([0, 1]), 2, spec)


def test_class_weights_make_the_loss_a_weighted_mean():
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6]])
    labels = np.array([0, 1])
    losses = -np.log([0.9, 0.6])
    weighted = classification_metrics(labels, probabilities, np.array([1.0, 5.0]))
    assert weighted["loss"] == pytest.approx((losses[0] + 5 * losses[1]) / 6)
    assert classification_metrics(labels, probabilities)["loss"] == pytest.approx(losses.mean())
    assert weighted["accuracy"] == 1.0


def test_predictions_do_not_depend_on_batching():
    task = make_task()
    one_batch = predict_probabilities(task.model, SEQUENCES, batch_size=60)
    small_batches = predict_probabilities(task.model, SEQUENCES, batch_size=7)
    np.testing.assert_allclose(one_batch, small_batches, atol=1e-6)


def test_encoding_truncates_and_keeps_empty_texts_as_unknown():
    vocab = Vocabulary.build([["good", "film"]])
    encoded = encode_texts(["good good good film", "", "unseen"], "words", vocab, max_len=2)
    assert [e.tolist() for e in encoded] == [[vocab.ids["good"]] * 2, [1], [1]]


def test_labels_outside_the_classes_are_data_errors():
    model = SequenceClassifier(ClassifierConfig(vocab_size=8, embedding_dim=4, hidden_size=4), rng=0)
    bad = EncodedTexts(SEQUENCES[:2], np.array([0, 2]))
    with pytest.raises(DataError, match="labels must lie in \\[0, 2\\)"):
        ClassificationTask(model, bad, bad, 4)


def test_an_ensemble_averages_its_members_probabilities():
    config = ClassifierConfig(vocab_size=8, embedding_dim=8, hidden_size=8, dropout=0.0)
    members = [SequenceClassifier(config, rng=seed) for seed in (1, 2)]
    alone = [predict_probabilities(model, SEQUENCES) for model in members]
    assert not np.allclose(alone[0], alone[1])
    np.testing.assert_allclose(ensemble_probabilities(members, SEQUENCES), (alone[0] + alone[1]) / 2)
    np.testing.assert_allclose(ensemble_probabilities(members[:1], SEQUENCES), alone[0])
    with pytest.raises(ConfigError, match="at least one model"):
        ensemble_probabilities([], SEQUENCES)
