"""Chinese regulated verse from a character model: fixed line lengths, punctuation, acrostics.

A quatrain (絕句) has 4 lines, an octave (律詩) 8, of 5 or 7 characters each; a
comma closes the odd lines and a full stop the even ones:

    春眠不覺曉，
    處處聞啼鳥。

The model writes the characters; the form is imposed while sampling: inside a
line only Chinese characters may be drawn, and the punctuation is placed, not
sampled. In an acrostic poem (藏頭詩) line i begins with the i-th given character.
The model reads each poem after a newline, as the training text has one poem per line.
"""

from __future__ import annotations

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.tasks.sampling import Generator, check_sampling_options, next_id

LINE_ENDINGS = ("，", "。")


def is_chinese(character: str) -> bool:
    return "\u4e00" <= character <= "\u9fff"


def generate_poem(model, vocab, chars_per_line: int = 5, lines: int = 4, acrostic: str = "",
                  temperature: float = 1.0, top_k: int = 0, rng=None) -> list[str]:
    """The lines of one poem, each with its closing punctuation."""
    check_poem_options(vocab, chars_per_line, lines, acrostic)
    check_sampling_options(temperature, top_k, len(vocab))
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    chinese = np.array([is_chinese(c) for c in vocab.characters])
    generator = Generator(model)
    generator.feed(vocab.encode("\n"))
    poem = []
    for line_number in range(lines):
        line = ""
        for position in range(chars_per_line):
            if position == 0 and acrostic:
                character = acrostic[line_number]
            else:
                token = next_id(generator.logits, rng, temperature, top_k, allowed=chinese)
                character = vocab.decode([token])
            line += character
            generator.feed(vocab.encode(character))
        ending = LINE_ENDINGS[line_number % 2]
        generator.feed(vocab.encode(ending))
        poem.append(line + ending)
    return poem


def check_poem_options(vocab, chars_per_line: int, lines: int, acrostic: str) -> None:
    if chars_per_line not in (5, 7):
        raise ConfigError(f"`poem` takes 5 or 7 (characters per line), got {chars_per_line}")
    if lines not in (4, 8):
        raise ConfigError(f"`lines` takes 4 (quatrain) or 8 (octave), got {lines}")
    needed = set("\n") | set(LINE_ENDINGS) | set(acrostic)
    missing = sorted(c for c in needed if c not in vocab.characters)
    if missing:
        raise ConfigError(f"the model's vocabulary lacks {missing}: train it on poems "
                          f"(e.g. the poem column of tang_poems.tsv) and pick acrostic characters it knows")
    if acrostic and len(acrostic) != lines:
        raise ConfigError(f"`acrostic` needs one character per line ({lines}), got {len(acrostic)}")
    if not all(is_chinese(c) for c in acrostic):
        raise ConfigError(f"`acrostic` takes Chinese characters, got {acrostic!r}")
