import numpy as np
import pytest

from rnnkit.data.padding import pad_batch
from rnnkit.errors import ConfigError
from rnnkit.gradcheck import gradcheck
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier

SEQUENCES = [[2, 3, 4, 5], [6], [3, 2, 6]]


def tiny_config(**options):
    fields = dict(vocab_size=7, num_classes=3, embedding_dim=3, hidden_size=3, dropout=0.0)
    return ClassifierConfig(**{**fields, **options})


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_classifier_backward_matches_finite_differences(cell, pooling, layers, bidirectional):
    config = tiny_config(cell=cell, pooling=pooling, num_layers=layers, bidirectional=bidirectional)
    model = SequenceClassifier(config, dtype=np.float64, rng=0)
    ids, lengths = pad_batch(SEQUENCES)
    labels = np.array([0, 2, 1])

    def loss():
        return softmax_cross_entropy(model(ids, lengths), labels)[0]

    model.zero_grad()
    _, dlogits = softmax_cross_entropy(model(ids, lengths), labels)
    model.backward(dlogits)
    result = gradcheck(loss, model.parameters(), model.grads)
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_padded_batch_gives_each_sequence_its_own_scores(pooling):
    model = SequenceClassifier(tiny_config(pooling=pooling, num_layers=2), dtype=np.float64, rng=1).eval()
    ids, lengths = pad_batch(SEQUENCES)
    batched = model(ids, lengths)
    for b, sequence in enumerate(SEQUENCES):
        alone = model(np.array(sequence)[:, None], np.array([len(sequence)]))
        np.testing.assert_allclose(batched[b], alone[0], atol=1e-12)


def test_padding_embedding_row_stays_zero_after_backward():
    model = SequenceClassifier(tiny_config(), dtype=np.float64, rng=0)
    ids, lengths = pad_batch(SEQUENCES)
    model.backward(np.ones_like(model(ids, lengths)))
    assert np.all(model.embedding.weight[0] == 0) and np.all(model.grads["embedding.weight"][0] == 0)


def test_config_round_trips_through_json():
    config = tiny_config(cell="gru", pooling="mean")
    assert ClassifierConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("options,message", [
    (dict(cell="tcn"), "unknown `cell` 'tcn'"),
    (dict(pooling="sum"), "unknown `pooling` 'sum'"),
    (dict(num_classes=1), "`num_classes` must be at least 2"),
    (dict(dropout=1.0), "`dropout` must be in"),
    (dict(hidden_size=0), "`hidden_size` must be a positive integer"),
])
def test_bad_config_is_a_config_error(options, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(**options)


def test_config_with_unknown_field_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown fields \\['colour'\\]"):
        ClassifierConfig.from_json({"vocab_size": 5, "colour": "red"})


def test_a_config_without_its_vocabulary_size_builds_no_model():
    config = ClassifierConfig(hidden_size=8)           # vocab_size 0: the training texts have not been read
    with pytest.raises(ConfigError, match="`vocab_size` is 0: it comes from the data"):
        SequenceClassifier(config)
