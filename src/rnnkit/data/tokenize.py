"""Tokenisers for sentence classification, and the word vocabulary that numbers their tokens.

English is split into words and punctuation marks (``tokenize_words``); Chinese, which
has no spaces between words, into characters (``tokenize_chinese``). ``Vocabulary``
maps tokens to integer ids, with ``<pad>`` = 0 and ``<unk>`` = 1 reserved.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from rnnkit.errors import ConfigError, DataError

# Alternatives are tried left to right at each position, so the special cases come first.
_ENGLISH_TOKEN = re.compile(
    r"""
      -[lr][rsc]b-            # PTB-escaped brackets: -lrb- -rrb- -lsb- -rsb- -lcb- -rcb-
    | \w+(?=n't\b)            # "do" of "don't", "ca" of "can't" (as the Penn Treebank splits them)
    | n't\b                   # the negation clitic
    | '(?:s|re|ve|ll|d|m)\b   # the clitics 's 're 've 'll 'd 'm
    | '\d0s\b                 # decades: '70s
    | \w+(?:(?:[-./]|\\/)\w+)*  # words and numbers joined inside by - . / or \/ : sci-fi, u.s, 3.5
    | \.\.\.|--|``|''         # punctuation that Penn Treebank text writes with several characters
    | [^\w\s]                 # any other punctuation mark or symbol, one per token
    """,
    re.VERBOSE,
)

# Letters and digits of the basic Latin alphabet; everything else in Chinese text is one token per character.
_CHINESE_TOKEN = re.compile(r"[A-Za-z0-9]+|\S")


def tokenize_words(text: str, lowercase: bool = True) -> list[str]:
    """Split English text into words and punctuation marks, Penn Treebank style.

    "Don't stop... it's the '70s!" -> do n't stop ... it 's the '70s !

    Text that is already tokenised this way (SST-2 is) comes back as it was split on
    spaces, apart from abbreviations ("mr." -> "mr" "."); so raw and
    pre-tokenised text can share one vocabulary.
    """
    if lowercase:
        text = text.lower()
    return _ENGLISH_TOKEN.findall(text)


def tokenize_chinese(text: str, lowercase: bool = True) -> list[str]:
    """Split Chinese text into characters: one token per CJK character or punctuation mark.

    Runs of ASCII letters and digits stay whole ("2M", "wifi", "302" are one token each),
    since they are words or numbers of their own in Chinese reviews. The text is first
    NFKC-normalised, which turns full-width forms into ASCII ("，" -> ",", "２" -> "2")
    so that the two spellings share a token. Whitespace is dropped.

    "房间很大，2M宽" -> 房 间 很 大 , 2m 宽
    """
    text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.lower()
    return _CHINESE_TOKEN.findall(text)


class Vocabulary:
    """A numbering of tokens: id -> token is a list, token -> id a dict.

    Ids 0 and 1 are the special tokens ``<pad>`` (filler after the end of a shorter
    sequence in a batch) and ``<unk>`` (any token not in the vocabulary). Other tokens
    follow by decreasing count in the corpus, ties in alphabetical order, so the same
    corpus always gives the same ids.
    """

    PAD, UNK = "<pad>", "<unk>"
    PAD_ID, UNK_ID = 0, 1

    def __init__(self, tokens: Sequence[str]):
        """``tokens[i]`` is the token with id ``i``; the list starts with ``<pad>``, ``<unk>``."""
        if list(tokens[:2]) != [self.PAD, self.UNK]:
            raise DataError(
                f"vocabulary starts with {list(tokens[:2])}, not ['<pad>', '<unk>']: "
                "build it with Vocabulary.build or load it with Vocabulary.from_json"
            )
        self.tokens = list(tokens)
        self.ids = {token: i for i, token in enumerate(self.tokens)}
        if len(self.ids) != len(self.tokens):
            raise DataError("vocabulary lists a token twice: build it with Vocabulary.build")

    @classmethod
    def build(
        cls, token_lists: Iterable[Iterable[str]], min_count: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Keep the tokens seen at least ``min_count`` times, the most frequent first.

        ``max_size`` caps the whole vocabulary, the two special tokens included.
        """
        if min_count < 1:
            raise ConfigError(f"`min_count` is {min_count}: it must be at least 1")
        if max_size is not None and max_size < 2:
            raise ConfigError(f"`max_size` is {max_size}: it must leave room for <pad> and <unk> (>= 2)")
        counts = Counter(token for tokens in token_lists for token in tokens)
        counts.pop(cls.PAD, None)
        counts.pop(cls.UNK, None)
        ranked = sorted((token for token, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max_size - 2]
        return cls([cls.PAD, cls.UNK, *ranked])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.ids

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token ids (int64), ``<unk>`` for tokens outside the vocabulary."""
        return np.array([self.ids.get(token, self.UNK_ID) for token in tokens], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of the given ids."""
        return [self.tokens[i] for i in ids]

    def to_json(self) -> str:
        """The token list as JSON; ``from_json`` reads it back."""
        return json.dumps({"tokens": self.tokens}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            tokens = json.loads(text)["tokens"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DataError(f"vocabulary JSON is unreadable ({error}): write it with Vocabulary.to_json") from None
        return cls(tokens)
