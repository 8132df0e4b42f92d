"""Sentence pairs for translation: a tab-separated file read, tokenised, numbered and split.

    pairs = read_pairs("fra.txt")                     # source<TAB>target per line
    pairs = read_pairs("cmn.txt", reverse=True)       # the second column is the source
    corpus = prepare_corpus(pairs, PairsOptions(target_tokenizer="char"))
    for batch in corpus.parts["train"].batches(64, rng): ...     # TranslationBatch, time-major

The file: UTF-8, one pair per line, ``source<TAB>target``; further columns (the
attribution of the Tatoeba/manythings files) are ignored, blank lines skipped. Nothing
is quoted: a sentence may hold any character but a tab. ``reverse`` swaps the columns.
Each run of whitespace becomes one space (the French side writes "Cours\u202f!" with
a narrow no-break space, which BLEU's tokeniser would otherwise keep inside a word).

Tokenisers, one per side (``TOKENIZERS``):

    word   words (\\w+, any script) and punctuation marks, one token each. A mark written
           without a space before (after) it carries the joiner ￭ on that side, so that
           ``detokenize`` rejoins it: "J'ai faim !" -> J ￭'￭ ai faim !  ->  "J'ai faim !"
    char   every character a token, a run of whitespace the one token ▁ (Chinese: characters)

Vocabularies are built from the training part alone: the tokens seen at least
``min_count`` times, most frequent first, after <pad> <unk> <bos> <eos> (ids 0-3,
``rnnkit.models.seq2seq``'s PAD_ID .. EOS_ID).

The split is seeded and goes by source sentence: all translations of one source
sentence (Tatoeba lists many) fall into the same part, so no test sentence is seen in
training. ``max_length`` drops training pairs with more tokens on either side; dev
and test keep every pair, so that their scores are not of the easy sentences only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rnnkit.data.padding import bucket_batches, pad_batch
from rnnkit.data.tables import check_regular_file
from rnnkit.data.tokenize import Vocabulary
from rnnkit.errors import ConfigError, DataError
from rnnkit.models.seq2seq import BOS_ID, EOS_ID, PAD_ID, UNK_ID, TranslationBatch

PARTS = ("train", "dev", "test")
JOINER, SPACE = "\uffed", "\u2581"            # ￭ and ▁
SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")    # ids PAD_ID, UNK_ID, BOS_ID, EOS_ID
_WORD_OR_MARK = re.compile(r"(\w+)|([^\w\s])")     # group 2: a mark
_WHITESPACE_RUN = re.compile(r"\s+")


@dataclass(frozen=True)
class SentencePairs:
    """The pairs of a file, ``sources[i]`` translated as ``targets[i]``, found on line ``lines[i]``."""

    path: Path
    sources: list[str]
    targets: list[str]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.sources)

    def take(self, indices: Sequence[int]) -> SentencePairs:
        return SentencePairs(self.path, [self.sources[i] for i in indices], [self.targets[i] for i in indices],
                             [self.lines[i] for i in indices])


def read_pairs(path: str | Path, reverse: bool = False) -> SentencePairs:
    """Read ``source<TAB>target[<TAB>...]`` lines; ``reverse``: the second column is the source."""
    path = Path(path)
    _check_file(path)
    sources, targets, lines = [], [], []
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            for number, line in enumerate(file, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                source, target = _pair(line, path, number)
                sources.append(target if reverse else source)
                targets.append(source if reverse else target)
                lines.append(number)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not valid UTF-8 (byte {error.start} of a line after line {len(lines)}): "
                        "save the pairs as UTF-8") from None
    if not sources:
        raise DataError(f"{path} holds no sentence pairs: write one source<TAB>target pair per line")
    return SentencePairs(path, sources, targets, lines)


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise DataError(f"{path} is a directory: pass the file of sentence pairs inside it")
    if not path.exists():
        raise DataError(f"{path} does not exist: check the path")
    check_regular_file(path)


def _pair(line: str, path: Path, number: int) -> tuple[str, str]:
    fields = line.split("\t")
    if len(fields) < 2:
        raise DataError(f"{path} line {number}: no tab: a pair is written source<TAB>target")
    for column, field in enumerate(fields[:2], start=1):
        if not field.strip():
            raise DataError(f"{path} line {number}: column {column} is empty: both sentences of a pair are needed")
    return " ".join(fields[0].split()), " ".join(fields[1].split())


# -- tokenisers -----------------------------------------------------------------------------------
def tokenize_word(text: str) -> list[str]:
    """Words and punctuation marks; a mark not spaced from a neighbour carries ￭ on that side."""
    matches = list(_WORD_OR_MARK.finditer(text))
    tokens = []
    for i, match in enumerate(matches):
        token = match.group()
        if match.group(2):                                        # a punctuation mark or symbol
            if i > 0 and matches[i - 1].end() == match.start():
                token = JOINER + token
            if i + 1 < len(matches) and matches[i + 1].start() == match.end():
                token = token + JOINER
        tokens.append(token)
    return tokens


def tokenize_char(text: str) -> list[str]:
    """Every character a token; each run of whitespace the token ▁."""
    return list(_WHITESPACE_RUN.sub(SPACE, text.strip()))


def detokenize_word(tokens: Sequence[str]) -> str:
    """``tokenize_word``'s inverse: tokens spaced apart, except where a joiner says they touch."""
    text, joined = [], True
    for token in tokens:
        if not (joined or token.startswith(JOINER)):
            text.append(" ")
        text.append(token.strip(JOINER))
        joined = token.endswith(JOINER) and len(token) > 1
    return "".join(text)


def detokenize_char(tokens: Sequence[str]) -> str:
    return "".join(tokens).replace(SPACE, " ")


TOKENIZERS = {"word": (tokenize_word, detokenize_word), "char": (tokenize_char, detokenize_char)}


def tokenize(text: str, tokenizer: str, lowercase: bool = False) -> list[str]:
    """``text`` split by the tokenizer named ``tokenizer`` (word or char)."""
    return TOKENIZERS[_check_tokenizer(tokenizer)][0](text.lower() if lowercase else text)


def detokenize(tokens: Sequence[str], tokenizer: str) -> str:
    return TOKENIZERS[_check_tokenizer(tokenizer)][1](tokens)


def _check_tokenizer(name: str, argument: str = "tokenizer") -> str:
    if name not in TOKENIZERS:
        raise ConfigError(f"unknown `{argument}` {name!r}: choose one of {', '.join(TOKENIZERS)}")
    return name


# -- vocabularies, ids and text ---------------------------------------------------------------------
def build_vocabulary(token_lists, min_count: int = 1, max_size: int | None = None) -> Vocabulary:
    """<pad> <unk> <bos> <eos>, then the tokens seen at least ``min_count`` times, most frequent first.

    ``max_size`` caps the whole vocabulary, the four special tokens included.
    """
    if max_size is not None and max_size < len(SPECIAL_TOKENS) + 1:
        raise ConfigError(f"`max_size` is {max_size}: it must leave room for the 4 special tokens and one more")
    counted = Vocabulary.build(token_lists, min_count)
    ranked = [token for token in counted.tokens[2:] if token not in SPECIAL_TOKENS]
    if max_size is not None:
        ranked = ranked[: max_size - len(SPECIAL_TOKENS)]
    return Vocabulary([*SPECIAL_TOKENS, *ranked])


def check_vocabulary(vocab: Vocabulary, side: str) -> Vocabulary:
    """A stored vocabulary must start with the four special tokens."""
    if vocab.tokens[: len(SPECIAL_TOKENS)] != list(SPECIAL_TOKENS):
        raise DataError(f"the {side} vocabulary starts with {vocab.tokens[:4]}, not {list(SPECIAL_TOKENS)}: "
                        "build it with build_vocabulary")
    return vocab


def to_text(ids: Sequence[int], vocab: Vocabulary, tokenizer: str) -> str:
    """Target ids back to text: special tokens dropped (<unk> kept), joiners applied."""
    tokens = [vocab.tokens[i] for i in ids if i >= len(SPECIAL_TOKENS) or i == UNK_ID]
    return detokenize(tokens, tokenizer)


def display_tokens(ids: Sequence[int], vocab: Vocabulary) -> list[str]:
    """The tokens of ``ids`` as labels for a plot: joiners dropped, <eos> and <unk> as they are."""
    return [vocab.tokens[i].strip(JOINER) or vocab.tokens[i] for i in ids]


def make_batch(source_ids: Sequence[np.ndarray], target_ids: Sequence[np.ndarray]) -> TranslationBatch:
    """Pad pairs of id sequences into a time-major batch; the target gets <bos> before and <eos> after."""
    source, lengths = pad_batch(source_ids, PAD_ID)
    target_inputs, _ = pad_batch([np.r_[BOS_ID, ids] for ids in target_ids], PAD_ID)
    target_outputs, _ = pad_batch([np.r_[ids, EOS_ID] for ids in target_ids], PAD_ID)
    return TranslationBatch(source, lengths, target_inputs, target_outputs)


def source_batch(texts: Sequence[str], vocab: Vocabulary, tokenizer: str,
                 lowercase: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """New source sentences as the decoders take them: padded ids (S, B) and lengths (B,)."""
    ids = [vocab.encode(tokenize(text, tokenizer, lowercase)) for text in texts]
    for i, sentence in enumerate(ids):
        if not len(sentence):
            raise DataError(f"source sentence {i} is empty: give each sentence some text")
    return pad_batch(ids, PAD_ID)


# -- the split and the prepared corpus -------------------------------------------------------------
def split_pairs(pairs: SentencePairs, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                seed: int = 0) -> dict[str, np.ndarray]:
    """The pairs' indices per part, ``{"train": ..., "dev": ..., "test": ...}``, sorted, by source sentence.

    The distinct source sentences are shuffled by ``np.random.default_rng(seed)``; part k
    takes the next ``round(fractions[k] * n)`` of them (the last part the rest), and with
    each sentence every pair that has it as its source.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or np.any(fractions < 0) or fractions[0] <= 0 or not np.isclose(fractions.sum(), 1):
        raise ConfigError(f"`fractions` {tuple(fractions.tolist())} must be three (train, dev, test), at least 0, "
                          "with a positive first, and sum to 1, e.g. (0.8, 0.1, 0.1)")
    distinct, group = np.unique(np.array(pairs.sources, dtype=object), return_inverse=True)
    if len(distinct) < np.count_nonzero(fractions):
        raise DataError(f"{pairs.path}: {len(distinct)} distinct source sentence(s) are too few to split "
                        f"into {np.count_nonzero(fractions)} parts")
    order = np.random.default_rng(seed).permutation(len(distinct))
    sizes = np.round(fractions * len(distinct)).astype(np.int64)
    sizes[-1] = len(distinct) - sizes[:-1].sum()
    part_of_group = np.empty(len(distinct), np.int64)
    part_of_group[order] = np.repeat(np.arange(3), sizes)
    part_of_pair = part_of_group[group]
    return {name: np.flatnonzero(part_of_pair == k) for k, name in enumerate(PARTS)}


@dataclass(frozen=True)
class PairsOptions:
    """How pairs become ids: tokenisers, vocabulary, length filter, split."""

    source_tokenizer: str = "word"             # word | char
    target_tokenizer: str = "word"
    lowercase: bool = False
    min_count: int = 1                         # of a token in the training part, to enter the vocabulary
    max_vocab: int = 0                         # 0: no cap; else the vocabulary's size, special tokens included
    max_length: int = 50                       # tokens per side of a training pair; longer ones are dropped
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0

    def __post_init__(self):
        _check_tokenizer(self.source_tokenizer, "source_tokenizer")
        _check_tokenizer(self.target_tokenizer, "target_tokenizer")
        for name in ("min_count", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"`{name}` must be a positive integer, got {value!r}")
        if not isinstance(self.max_vocab, int) or self.max_vocab < 0:
            raise ConfigError(f"`max_vocab` must be 0 (no cap) or positive, got {self.max_vocab!r}")


@dataclass(frozen=True)
class EncodedPairs:
    """One part of a corpus: its pairs as text (the references) and as ids."""

    pairs: SentencePairs
    source_ids: list[np.ndarray]
    target_ids: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.pairs)

    def batch(self, indices: Sequence[int]) -> TranslationBatch:
        return make_batch([self.source_ids[i] for i in indices], [self.target_ids[i] for i in indices])

    def batches(self, batch_size: int, rng: np.random.Generator | None = None,
                shuffle: bool = True) -> Iterator[TranslationBatch]:
        """Batches of pairs of similar source length (``bucket_batches``), in a shuffled order with ``shuffle``."""
        lengths = [len(ids) for ids in self.source_ids]
        for indices in bucket_batches(lengths, batch_size, rng, shuffle):
            yield self.batch(indices)


@dataclass(frozen=True)
class TranslationCorpus:
    """The parts of a pairs file, numbered with the vocabularies of its training part."""

    parts: dict[str, EncodedPairs]
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    dropped: int                               # training pairs longer than ``max_length``


def prepare_corpus(pairs: SentencePairs, options: PairsOptions = PairsOptions()) -> TranslationCorpus:
    """Split ``pairs``, tokenise both sides, build the vocabularies on the (filtered) training part, number all."""
    split = split_pairs(pairs, options.fractions, options.seed)
    sources = [tokenize(text, options.source_tokenizer, options.lowercase) for text in pairs.sources]
    targets = [tokenize(text, options.target_tokenizer, options.lowercase) for text in pairs.targets]
    train = [i for i in split["train"] if max(len(sources[i]), len(targets[i])) <= options.max_length]
    if not train:
        raise DataError(f"{pairs.path}: no training pair has at most {options.max_length} tokens a side: "
                        "raise `max_length`")
    max_size = options.max_vocab or None
    source_vocab = build_vocabulary([sources[i] for i in train], options.min_count, max_size)
    target_vocab = build_vocabulary([targets[i] for i in train], options.min_count, max_size)
    kept = {"train": train, "dev": split["dev"], "test": split["test"]}
    parts = {name: EncodedPairs(pairs.take(indices), [source_vocab.encode(sources[i]) for i in indices],
                                [target_vocab.encode(targets[i]) for i in indices])
             for name, indices in kept.items()}
    return TranslationCorpus(parts, source_vocab, target_vocab, len(split["train"]) - len(train))
