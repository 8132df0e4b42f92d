"""WordVocab: the whitespace-separated words of a corpus and ``<eos>`` at each line end, numbered by frequency.

A word-level language model reads text as words: the text split at whitespace, and the
end of each line as one more token, ``<eos>``, as Mikolov's and Zaremba et al.'s Penn
Treebank readers do. So

    "the cat sat\\non the mat\\n"  ->  the cat sat <eos> on the mat <eos>

The end of the text ends its last line too ("a b" -> a b <eos>) when the text is a
corpus (``whole_lines``); a prompt (``encode``) is left open. The vocabulary is every
distinct token of the training text, the most frequent first (ties in alphabetical
order), so the same text always gives the same ids. ``max_size`` caps it for a large
corpus of your own: the ``max_size - 1`` most frequent tokens and ``<unk>``, which
stands for all the others (in training too), ranked by their count together.

Words outside the vocabulary (in a validation text or a prompt) become ``<unk>`` when
the vocabulary has it; Penn Treebank's preprocessing already replaced its rare words by
``<unk>``, so its training text holds one. Without ``<unk>`` they are an error, or are
dropped (``unknown="skip"``).

It shares ``CharVocab``'s interface (``rnnkit.data.vocab``), so the language-model task
handles both kinds of token in one code path: ``tokens``, ``encode``, ``decode``,
``continuation`` (the text a token adds after the one before: a space and the word, or a
line break for ``<eos>``), ``start_ids``, ``pieces`` (chunks of a stream that encode on
their own: here, whole lines), ``from_chunks``, ``to_json``/``from_json``.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator, Sequence

import numpy as np

from rnnkit.data.vocab import UNKNOWN_POLICIES
from rnnkit.errors import ConfigError, DataError

EOS, UNK = "<eos>", "<unk>"
_MAX_SHOWN = 10  # unknown words listed in an error message


def split_words(text: str) -> list[str]:
    """The words of ``text`` and ``<eos>`` for each line break: "a b\\nc" -> a b <eos> c."""
    *ended, last = text.split("\n")
    tokens = []
    for line in ended:
        tokens += line.split()
        tokens.append(EOS)
    return tokens + last.split()


def whole_lines(chunks: Iterable[str]) -> Iterator[str]:
    """Text chunks regrouped into pieces that end at line breaks, so that no word straddles two pieces;
    the text's last line, if it does not end with a line break, gets one."""
    held: list[str] = []                       # the text after the last line break so far
    for chunk in chunks:
        cut = chunk.rfind("\n") + 1
        if cut == 0:
            held.append(chunk)
            continue
        yield "".join(held) + chunk[:cut]
        held = [chunk[cut:]]
    rest = "".join(held)
    if rest:
        yield rest + "\n"


def capped(counts: Counter[str], max_size: int) -> Counter[str]:
    """The ``max_size - 1`` most frequent tokens other than ``<unk>`` (ties alphabetical), and ``<unk>``
    counting all the others."""
    ranked = sorted((word for word in counts if word != UNK), key=lambda word: (-counts[word], word))
    kept = Counter({word: counts[word] for word in ranked[:max_size - 1]})
    kept[UNK] = sum(counts.values()) - sum(kept.values())
    return kept


class WordVocab:
    """Words (and ``<eos>``) in id order; build one from text with ``WordVocab.from_text``."""

    kind, unit = "words", "word"

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(words)
        if not self.words:
            raise DataError("cannot build a vocabulary from no words: the text is empty")
        self.ids = {word: i for i, word in enumerate(self.words)}
        if len(self.ids) != len(self.words):
            raise DataError("the vocabulary lists a word twice: build it with WordVocab.from_text")
        self.unk_id = self.ids.get(UNK)

    @property
    def tokens(self) -> list[str]:
        return self.words

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other) -> bool:
        return isinstance(other, WordVocab) and self.words == other.words

    def __repr__(self) -> str:
        return f"WordVocab({len(self)} words)"

    @property
    def dtype(self) -> np.dtype:
        """The smallest unsigned integer type that holds every id (uint16 up to 65,536 words)."""
        return np.min_scalar_type(len(self) - 1)

    @classmethod
    def from_text(cls, text: str) -> WordVocab:
        return cls.from_chunks([text])[0]

    @classmethod
    def from_chunks(cls, chunks: Iterable[str], where: str = "the corpus",
                    max_size: int | None = None) -> tuple[WordVocab, int]:
        """In one pass over text chunks: the vocabulary (at most ``max_size`` tokens, ``<unk>`` for the
        rest), and the text's length in tokens (``<eos>`` included)."""
        if max_size is not None and max_size < 2:
            raise ConfigError(f"`max_vocab` must be at least 2 (a word and {UNK}), got {max_size}")
        counts: Counter[str] = Counter()
        for piece in whole_lines(chunks):
            counts.update(split_words(piece))
        if len(counts) < 2:
            raise DataError(f"{where} holds {len(counts)} distinct word(s) {sorted(counts)}: a word model needs "
                            "at least 2 (<eos> counts); pass a real text corpus")
        length = sum(counts.values())
        if max_size is not None and len(counts) > max_size:
            counts = capped(counts, max_size)
        return cls(sorted(counts, key=lambda word: (-counts[word], word))), length

    @staticmethod
    def pieces(chunks: Iterable[str]) -> Iterator[str]:
        """Chunks of a text that ``encode`` one by one gives the text's ids: whole lines (``whole_lines``)."""
        return whole_lines(chunks)

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """The ids of ``text``'s tokens (``split_words``: no ``<eos>`` after an unfinished last line).

        A word outside the vocabulary is ``<unk>`` if the vocabulary has one; else it raises
        ``DataError`` (``unknown="error"``) or is dropped (``unknown="skip"``).
        """
        if unknown not in UNKNOWN_POLICIES:
            raise ConfigError(f"unknown={unknown!r} is not a policy for unknown words: use 'error' or 'skip'")
        missing = -1 if self.unk_id is None else self.unk_id
        ids = np.array([self.ids.get(word, missing) for word in split_words(text)], dtype=np.int64)
        if self.unk_id is None and (ids < 0).any():
            if unknown == "error":
                raise DataError(self._unknown_words_message(text))
            ids = ids[ids >= 0]
        return ids.astype(self.dtype)

    def _unknown_words_message(self, text: str) -> str:
        strangers = sorted({word for word in split_words(text) if word not in self.ids})
        shown = ", ".join(repr(word) for word in strangers[:_MAX_SHOWN])
        more = f" and {len(strangers) - _MAX_SHOWN} more" if len(strangers) > _MAX_SHOWN else ""
        return (f"{len(strangers)} word(s) not in the vocabulary: {shown}{more}; it has no {UNK} to stand for "
                f"them: replace rare words by {UNK} in the training text, or encode with unknown='skip'")

    def decode(self, ids) -> str:
        """The text that ``ids`` stand for: words joined by spaces, a line break for each ``<eos>``."""
        ids = np.asarray(ids, dtype=np.int64)
        outside = ids[(ids < 0) | (ids >= len(self))]
        if outside.size:
            raise DataError(f"id {outside[0]} is outside the vocabulary of {len(self)} words: "
                            "decode with the vocabulary the ids were made with")
        text, previous = [], None
        for token in ids.tolist():
            text.append(self.continuation(token, previous))
            previous = token
        return "".join(text)

    def continuation(self, token: int, previous: int | None) -> str:
        """The text token ``token`` adds after token ``previous`` (None: at the start)."""
        word = self.words[token]
        if word == EOS:
            return "\n"
        starts_line = previous is None or self.words[previous] == EOS
        return word if starts_line else " " + word

    def start_ids(self) -> np.ndarray:
        """What a model reads before writing from nothing: ``<eos>`` (the start of a line), else the first word."""
        return np.array([self.ids.get(EOS, 0)], dtype=self.dtype)

    def to_json(self) -> list[str]:
        """The words as a JSON-able list, in id order."""
        return list(self.words)

    @classmethod
    def from_json(cls, words) -> WordVocab:
        """Rebuild a vocabulary from ``to_json``'s list, checking that it is one."""
        is_vocab_list = (isinstance(words, list) and words
                         and all(isinstance(word, str) and word and not any(c.isspace() for c in word)
                                 for word in words)
                         and len(set(words)) == len(words))
        if not is_vocab_list:
            raise DataError("the stored vocabulary is not a list of distinct words without spaces "
                            "(as WordVocab.to_json writes it): the checkpoint's vocabulary is damaged")
        return cls(words)
