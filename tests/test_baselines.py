import numpy as np
import pytest

from rnnkit.baselines import BagOfWordsLogisticRegression, bag_of_words
from rnnkit.data.sentiment import load_sst2
from rnnkit.data.tokenize import Vocabulary, tokenize_words
from rnnkit.errors import DataError
from rnnkit.metrics import accuracy


def test_bag_of_words_products_match_the_dense_matrix():
    documents = [[2, 3, 2], [4], [3, 3, 3, 2]]
    for binary, dense in [
        (True, np.array([[0, 0, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 1, 1, 0]], dtype=float)),
        (False, np.array([[0, 0, 2, 1, 0], [0, 0, 0, 0, 1], [0, 0, 1, 3, 0]], dtype=float)),
    ]:
        x = bag_of_words(documents, vocab_size=5, binary=binary)
        w, r = np.arange(5.0), np.array([1.0, -2.0, 0.5])
        np.testing.assert_allclose(x.dot(w), dense @ w)
        np.testing.assert_allclose(x.transpose_dot(r), dense.T @ r)


def test_fit_follows_the_sign_of_indicative_words():
    # token 2 means positive, 3 negative, 4 is noise
    documents = [[2, 4], [2], [3, 4], [3], [2, 2, 4], [3, 4, 4]]
    labels = [1, 1, 0, 0, 1, 0]
    model = BagOfWordsLogisticRegression(vocab_size=5).fit(documents, labels, steps=200)
    assert model.predict(documents).tolist() == labels
    assert model.weights[2] > 1 > -1 > model.weights[3]
    assert abs(model.weights[4]) < 0.1


def test_out_of_vocabulary_ids_are_a_data_error():
    with pytest.raises(DataError, match="token ids outside"):
        BagOfWordsLogisticRegression(vocab_size=3).predict([[1, 3]])


def test_sst2_dev_accuracy_of_binary_bag_of_words(data_dir):
    # Full SST-2 train (6,920 sentences), vocabulary of words seen twice: dev accuracy 0.790.
    folder = data_dir / "sentiment_sst2"
    train, dev = load_sst2(folder, "train"), load_sst2(folder, "dev")
    train_tokens = [tokenize_words(text) for text, _ in train]
    vocab = Vocabulary.build(train_tokens, min_count=2)
    model = BagOfWordsLogisticRegression(len(vocab), l2=1e-4)
    model.fit([vocab.encode(tokens) for tokens in train_tokens], [label for _, label in train])
    predictions = model.predict([vocab.encode(tokenize_words(text)) for text, _ in dev])
    assert accuracy([label for _, label in dev], predictions) > 0.78
