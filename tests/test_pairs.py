"""Sentence pairs (rnnkit/data/pairs.py): the file, tokenisers, vocabularies, the split, batches."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data.pairs import (SPECIAL_TOKENS, PairsOptions, build_vocabulary, check_vocabulary, detokenize,
                               display_tokens, make_batch, prepare_corpus, read_pairs, source_batch, split_pairs,
                               to_text, tokenize)
from rnnkit.data.tokenize import Vocabulary
from rnnkit.errors import ConfigError, DataError
from rnnkit.models.seq2seq import BOS_ID, EOS_ID, PAD_ID, UNK_ID

TATOEBA_LINES = [
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)",
    "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)",
    "Hi.\tSalut.\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #4320462 (gillux)",
    "I'm hungry.\tJ'ai faim\u202f!\tCC-BY 2.0",
]


def write(tmp_path, text, name="pairs.txt", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def numbered_pairs(tmp_path, count=60):
    lines = [f"source {i % 40} .\tcible {i} mot{i % 5} ." for i in range(count)]    # 40 distinct sources
    return read_pairs(write(tmp_path, "\n".join(lines) + "\n"))


# -- the file -------------------------------------------------------------------------------------
def test_tatoeba_lines_give_pairs_and_extra_columns_are_ignored(tmp_path):
    path = write(tmp_path, "\ufeff" + "\r\n".join(TATOEBA_LINES[:2]) + "\r\n\r\n" + "\n".join(TATOEBA_LINES[2:]) + "\n")
    pairs = read_pairs(path)
    assert pairs.sources == ["Go.", "Hi.", "Hi.", "I'm hungry."]
    assert pairs.targets == ["Va !", "Salut !", "Salut.", "J'ai faim !"]    # whitespace runs: one space
    assert pairs.lines == [1, 2, 4, 5]


def test_reverse_swaps_the_columns(tmp_path):
    pairs = read_pairs(write(tmp_path, "Hi.\t嗨。\tattribution\n"), reverse=True)
    assert (pairs.sources, pairs.targets) == (["嗨。"], ["Hi."])


@pytest.mark.parametrize("content,message", [
    ("Go.\tVa !\nno tab here\n", r"line 2: no tab: a pair is written source<TAB>target"),
    ("Go.\tVa !\n\tSalut\n", r"line 2: column 1 is empty"),
    ("Go.\t  \n", r"line 1: column 2 is empty"),
    ("\n\n", "holds no sentence pairs"),
    (b"Go.\tVa \xff!\n", "is not valid UTF-8"),
])
def test_bad_files_are_one_line_data_errors(tmp_path, content, message):
    with pytest.raises(DataError, match=message) as error:
        read_pairs(write(tmp_path, content))
    assert "\n" not in str(error.value)


def test_missing_file_and_directory_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_pairs(tmp_path / "nowhere.txt")
    with pytest.raises(DataError, match="is a directory"):
        read_pairs(tmp_path)


# -- tokenisers -----------------------------------------------------------------------------------
def test_word_tokens_carry_joiners_where_marks_touch_words():
    assert tokenize("J'ai faim !", "word") == ["J", "￭'￭", "ai", "faim", "!"]
    assert tokenize("Run!", "word") == ["Run", "￭!"]
    assert tokenize("Tom's 3.5 «oui»", "word", lowercase=True) == [
        "tom", "￭'￭", "s", "3", "￭.￭", "5", "«￭", "oui", "￭»"]
    assert detokenize(["J", "￭'￭", "ai", "faim", "!"], "word") == "J'ai faim !"


def test_char_tokens_are_characters_and_spaces():
    assert tokenize("我们 走吧。", "char") == ["我", "们", "▁", "走", "吧", "。"]
    assert detokenize(["我", "们", "▁", "走"], "char") == "我们 走"


@given(st.text(max_size=40))
def test_tokenisers_round_trip_up_to_whitespace(text):
    normalised = " ".join(text.split())
    for tokenizer in ("word", "char"):
        assert detokenize(tokenize(text, tokenizer), tokenizer) == normalised


def test_unknown_tokenizer_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown `tokenizer` 'bpe'"):
        tokenize("a", "bpe")
    with pytest.raises(ConfigError, match="unknown `target_tokenizer` 'bpe'"):
        PairsOptions(target_tokenizer="bpe")


# -- vocabularies, batches ----------------------------------------------------------------------------
def test_vocabulary_starts_with_the_special_tokens_then_counts():
    vocab = build_vocabulary([["b", "a", "b"], ["c", "b", "a", "<eos>"]], min_count=2)
    assert vocab.tokens == [*SPECIAL_TOKENS, "b", "a"]
    assert [vocab.ids[t] for t in SPECIAL_TOKENS] == [PAD_ID, UNK_ID, BOS_ID, EOS_ID]
    assert build_vocabulary([["b", "a", "b", "c"]], max_size=5).tokens == [*SPECIAL_TOKENS, "b"]


def test_a_stored_vocabulary_must_start_with_the_special_tokens():
    vocab = build_vocabulary([["a"]])
    assert check_vocabulary(Vocabulary.from_json(vocab.to_json()), "target").tokens == vocab.tokens
    with pytest.raises(DataError, match="the source vocabulary starts with"):
        check_vocabulary(Vocabulary(["<pad>", "<unk>", "a"]), "source")


def test_make_batch_pads_and_frames_the_targets():
    batch = make_batch([np.array([5, 6, 7]), np.array([8])], [np.array([9]), np.array([10, 11])])
    np.testing.assert_array_equal(batch.source.T, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(batch.source_lengths, [3, 1])
    np.testing.assert_array_equal(batch.target_inputs.T, [[BOS_ID, 9, 0], [BOS_ID, 10, 11]])
    np.testing.assert_array_equal(batch.target_outputs.T, [[9, EOS_ID, 0], [10, 11, EOS_ID]])
    assert batch.target_tokens == 5


def test_to_text_drops_special_tokens_but_unknown():
    vocab = build_vocabulary([["J", "￭'￭", "ai", "faim", "!"]])
    ids = [BOS_ID, *vocab.encode(["J", "￭'￭", "ai", "soif", "!"]), EOS_ID, PAD_ID]
    assert to_text(ids, vocab, "word") == "J'ai <unk> !"


def test_display_tokens_drop_joiners():
    vocab = build_vocabulary([["J", "￭'￭", "ai", "￭!"]])
    assert display_tokens([*vocab.encode(["J", "￭'￭", "ai", "￭!"]), EOS_ID], vocab) == ["J", "'", "ai", "!", "<eos>"]


def test_source_batch_numbers_new_sentences():
    vocab = build_vocabulary([tokenize("hi.", "word")])                     # hi ￭.
    source, lengths = source_batch(["Hi.", "hi there."], vocab, "word", lowercase=True)
    np.testing.assert_array_equal(source.T, [[4, 5, 0], [4, UNK_ID, 5]])
    np.testing.assert_array_equal(lengths, [2, 3])


# -- the split and the prepared corpus ------------------------------------------------------------------
def test_split_is_seeded_and_keeps_each_source_sentence_in_one_part(tmp_path):
    pairs = numbered_pairs(tmp_path)
    parts = split_pairs(pairs, (0.5, 0.25, 0.25), seed=3)
    assert sorted(np.concatenate(list(parts.values()))) == list(range(len(pairs)))
    sources = {name: {pairs.sources[i] for i in indices} for name, indices in parts.items()}
    assert not (sources["train"] & sources["dev"] or sources["train"] & sources["test"]
                or sources["dev"] & sources["test"])
    assert [len(s) for s in sources.values()] == [20, 10, 10]
    again = split_pairs(pairs, (0.5, 0.25, 0.25), seed=3)
    other = split_pairs(pairs, (0.5, 0.25, 0.25), seed=4)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["train"], other["train"])


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.0, 0.5, 0.5), (0.8, 0.1, 0.2)])
def test_bad_fractions_are_config_errors(tmp_path, fractions):
    with pytest.raises(ConfigError, match="`fractions`"):
        split_pairs(numbered_pairs(tmp_path), fractions)


def test_prepare_corpus_builds_vocabularies_on_the_filtered_training_part(tmp_path):
    lines = [f"a{i % 9} b c\tx{i % 9} y" for i in range(40)] + ["a1 " + "long " * 20 + "\tx1 y"]
    pairs = read_pairs(write(tmp_path, "\n".join(lines)))
    corpus = prepare_corpus(pairs, PairsOptions(max_length=6, min_count=2, fractions=(0.6, 0.2, 0.2)))
    train, test = corpus.parts["train"], corpus.parts["test"]
    assert all(len(ids) <= 6 for ids in train.source_ids) and "long" not in corpus.source_vocab
    assert corpus.dropped + len(train) + len(corpus.parts["dev"]) + len(test) == len(pairs)
    train_tokens = {t for text in train.pairs.sources for t in text.split()}
    assert set(corpus.source_vocab.tokens[4:]) <= train_tokens
    assert all(i == UNK_ID for text, ids in zip(test.pairs.sources, test.source_ids)
               for token, i in zip(text.split(), ids) if token not in corpus.source_vocab)
    seen = np.concatenate([indices for indices in train.batches(4, np.random.default_rng(0))
                           for indices in [np.arange(indices.source.shape[1])]])
    assert len(seen) == len(train)


def test_no_training_pair_short_enough_is_a_data_error(tmp_path):
    pairs = read_pairs(write(tmp_path, "\n".join(f"a b c {i}\tx y z" for i in range(10))))
    with pytest.raises(DataError, match="raise `max_length`"):
        prepare_corpus(pairs, PairsOptions(max_length=2))


@pytest.mark.parametrize("folder,file,reverse,target_tokenizer,count", [
    ("translation_eng_fra", "fra_first80000.txt", False, "word", 80000),
    ("translation_cmn_eng", "cmn.txt", True, "word", 29155),
])
def test_the_tatoeba_files_read_and_round_trip(data_dir, folder, file, reverse, target_tokenizer, count):
    pairs = read_pairs(data_dir / folder / file, reverse=reverse)
    assert len(pairs) == count
    source_tokenizer = "char" if reverse else "word"
    for text in pairs.sources[::97]:
        assert detokenize(tokenize(text, source_tokenizer), source_tokenizer) == text
    for text in pairs.targets[::97]:
        assert detokenize(tokenize(text, target_tokenizer), target_tokenizer) == text
