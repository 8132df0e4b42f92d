"""Embedding and one_hot (rnnkit/layers/embedding.py): lookups, gradients, PyTorch parity."""

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.embedding import Embedding, OneHot, add_rows, one_hot

VOCAB, DIM = 7, 4
INDICES = np.array([[1, 3, 3], [0, 6, 1]])  # (T, B) with repeated ids


def test_embedding_looks_up_one_row_per_index_for_any_shape():
    embedding = Embedding(VOCAB, DIM, rng=0)
    for indices in (np.array(2), INDICES[0], INDICES, INDICES[None]):
        y = embedding(indices)
        assert y.shape == indices.shape + (DIM,)
        np.testing.assert_array_equal(y, embedding.weight[indices])


def test_embedding_gradient_matches_finite_differences():
    embedding = Embedding(VOCAB, DIM, dtype=np.float64, rng=0)
    dy = np.random.default_rng(1).standard_normal(INDICES.shape + (DIM,))
    embedding(INDICES)
    embedding.backward(dy)
    result = gradcheck(
        lambda: float(np.sum(embedding(INDICES) * dy)), embedding.parameters(), embedding.grads
    )
    assert result.max_error < 1e-6, result


def test_embedding_matches_torch_with_padding(torch):
    embedding = Embedding(VOCAB, DIM, padding_idx=3, dtype=np.float64, rng=0)
    torch_embedding = torch.nn.Embedding(VOCAB, DIM, padding_idx=3).double()
    torch_embedding.load_state_dict({"weight": torch.tensor(embedding.weight)})
    dy = np.random.default_rng(2).standard_normal(INDICES.shape + (DIM,))

    y_t = torch_embedding(torch.tensor(INDICES))
    y_t.backward(torch.tensor(dy))
    y = embedding(INDICES)
    embedding.backward(dy)

    np.testing.assert_array_equal(y, y_t.detach().numpy())
    torch_grad = torch_embedding.weight.grad.numpy()
    np.testing.assert_allclose(embedding.grads["weight"], torch_grad, atol=1e-14)


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    embedding = Embedding(VOCAB, DIM, padding_idx=-1, rng=0)  # -1: the last row
    assert embedding.padding_idx == VOCAB - 1
    indices = np.array([VOCAB - 1, 2, VOCAB - 1])
    y = embedding(indices)
    embedding.backward(np.ones_like(y))
    assert not np.any(y[[0, 2]])
    assert not np.any(embedding.grads["weight"][VOCAB - 1])
    np.testing.assert_array_equal(embedding.grads["weight"][2], 1.0)


def test_embedding_gradients_accumulate_until_zero_grad():
    embedding = Embedding(VOCAB, DIM, rng=0)
    dy = np.ones(INDICES.shape + (DIM,), dtype=np.float32)
    for _ in range(2):
        embedding(INDICES)
        embedding.backward(dy)
    counts = np.bincount(INDICES.ravel(), minlength=VOCAB)  # row 3 is used twice, so 2 x 2
    np.testing.assert_array_equal(embedding.grads["weight"][:, 0], 2 * counts)
    embedding.zero_grad()
    assert not np.any(embedding.grads["weight"])


def test_embedding_init_is_standard_normal_and_seeded():
    weight = Embedding(1000, 50, rng=0).weight
    assert weight.dtype == np.float32
    assert abs(weight.mean()) < 0.01 and abs(weight.std() - 1.0) < 0.01
    np.testing.assert_array_equal(weight, Embedding(1000, 50, rng=0).weight)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64])
def test_embedding_accepts_any_integer_dtype(dtype):
    embedding = Embedding(VOCAB, DIM, rng=0)
    y = embedding(INDICES.astype(dtype))
    embedding.backward(np.ones_like(y))
    np.testing.assert_array_equal(y, embedding.weight[INDICES])
    counts = np.bincount(INDICES.ravel(), minlength=VOCAB)
    np.testing.assert_array_equal(embedding.grads["weight"][:, 0], counts)


def test_add_rows_matches_np_add_at():
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 10, 200)
    values = rng.standard_normal((200, 6))
    expected = rng.standard_normal((10, 6))
    target = expected.copy()
    np.add.at(expected, rows, values)
    add_rows(target, rows, values)
    np.testing.assert_allclose(target, expected, atol=1e-12)
    add_rows(target, rows[:0], values[:0])  # nothing to add
    np.testing.assert_allclose(target, expected, atol=1e-12)


def test_one_hot_puts_a_single_one_at_each_index():
    encoded = one_hot(INDICES, VOCAB, dtype=np.float64)
    assert encoded.shape == INDICES.shape + (VOCAB,) and encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded, np.eye(VOCAB)[INDICES])


@pytest.mark.parametrize(
    "indices, message",
    [
        (np.array([0, VOCAB]), r"indices: expected integers in \[0, 7\), got values from 0 to 7"),
        (np.array([-1, 2]), r"indices: expected integers in \[0, 7\)"),
        (np.array([0.0, 1.0]), "indices: expected integers, got dtype float64"),
    ],
    ids=["too-large", "negative", "float"],
)
def test_bad_indices_raise_value_error_naming_the_argument(indices, message):
    with pytest.raises(ValueError, match=message):
        Embedding(VOCAB, DIM, rng=0)(indices)
    with pytest.raises(ValueError, match=message):
        one_hot(indices, VOCAB)


@pytest.mark.parametrize("sizes, message", [((0, 4), "num_embeddings must be a positive integer, got 0"),
                                            ((5, -1), "embedding_dim must be a positive integer, got -1"),
                                            ((5.0, 4), "num_embeddings must be a positive integer, got 5.0")])
def test_embedding_refuses_sizes_that_are_not_positive_integers(sizes, message):
    with pytest.raises(ValueError, match=message):
        Embedding(*sizes)


def test_embedding_rejects_bad_padding_idx_and_gradient_shape():
    with pytest.raises(ValueError, match="padding_idx"):
        Embedding(VOCAB, DIM, padding_idx=VOCAB)
    embedding = Embedding(VOCAB, DIM, rng=0)
    embedding(INDICES)
    with pytest.raises(ValueError, match=r"dy: expected shape \(2, 3, 4\)"):
        embedding.backward(np.zeros((2, 3, DIM + 1)))


def test_one_hot_layer_has_the_embedding_interface_with_the_identity_as_table():
    layer = OneHot(VOCAB, dtype=np.float64)
    np.testing.assert_array_equal(layer(INDICES), one_hot(INDICES, VOCAB, np.float64))
    np.testing.assert_array_equal(layer.lookup(INDICES), layer(INDICES))
    assert layer.parameters() == {} and layer.backward(np.ones(INDICES.shape + (VOCAB,))) is None
    weight = np.random.default_rng(0).standard_normal((5, VOCAB))
    np.testing.assert_array_equal(layer.project(weight), np.eye(VOCAB) @ weight.T)


def test_embedding_project_is_every_rows_product():
    embedding = Embedding(VOCAB, DIM, dtype=np.float64, rng=0)
    weight = np.random.default_rng(1).standard_normal((5, DIM))
    np.testing.assert_allclose(embedding.project(weight)[INDICES], embedding(INDICES) @ weight.T, atol=1e-12)


# -- embedding dropout: whole token ids dropped ---------------------------------------------------

def test_embedding_dropout_gradient_matches_finite_differences():
    embedding = Embedding(VOCAB, DIM, dtype=np.float64, rng=0, embedding_dropout=0.4)
    dy = np.random.default_rng(1).standard_normal(INDICES.shape + (DIM,))

    def loss() -> float:
        embedding.rng = np.random.default_rng(3)            # the same rows dropped every time
        return float(np.sum(embedding(INDICES) * dy))

    loss()
    embedding.backward(dy)
    assert (embedding._cache.row_mask[INDICES] == 0.0).any()   # seed 3 drops a row that INDICES holds
    result = gradcheck(loss, embedding.parameters(), embedding.grads)
    assert result.max_error < 1e-6, result


def test_embedding_dropout_drops_a_token_everywhere_in_the_batch_and_scales_the_rest():
    embedding = Embedding(50, 8, rng=0, embedding_dropout=0.5)
    ids = np.random.default_rng(1).integers(0, 50, (30, 20))
    y = embedding(ids)
    dropped = np.all(y == 0.0, axis=-1)
    assert 0.3 < dropped.mean() < 0.7
    for token in np.unique(ids):
        assert len(set(dropped[ids == token])) == 1        # all of a token's occurrences, or none
    kept = ~dropped
    np.testing.assert_allclose(y[kept], 2.0 * embedding.weight[ids[kept]], rtol=1e-6)


def test_embedding_dropout_is_off_in_eval_mode_and_in_lookup():
    embedding = Embedding(VOCAB, DIM, rng=0, embedding_dropout=0.9)
    np.testing.assert_array_equal(embedding.lookup(INDICES), embedding.weight[INDICES])
    embedding.eval()
    np.testing.assert_array_equal(embedding(INDICES), embedding.weight[INDICES])


@pytest.mark.parametrize("p", [1.0, -0.1, True])
def test_embedding_dropout_outside_0_1_is_refused(p):
    with pytest.raises(ValueError, match="`embedding_dropout` must be a number in"):
        Embedding(VOCAB, DIM, embedding_dropout=p)
