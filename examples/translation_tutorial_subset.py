"""The PyTorch seq2seq tutorial's subset of the eng-fra pairs, written as a pairs file for `rnnkit translate`.

    python examples/translation_tutorial_subset.py --out runs/tutorial-pairs.tsv
    rnnkit translate train --pairs runs/tutorial-pairs.tsv --reverse --lowercase --out runs/tutorial-fra-eng
    python examples/translation_torch_tutorial.py --pairs runs/tutorial-pairs.tsv --reverse --lowercase \\
        --out runs/torch-tutorial-fra-eng

The tutorial keeps a pair when, after its normalisation (ASCII, lower case, letters and
! ? only, each mark a word), both sides have fewer than 10 words and the English
side starts with "i am", "he is", "she is", "you are", "we are" or "they are" (or the
contracted "i m", "he s", ...). This script applies that filter to the shared file's
pairs and writes the kept lines unchanged, so that rnnkit's own tokeniser reads them.
The shared file holds the first 80,000 pairs of manythings' fra.txt (the shortest
sentences), which is where the tutorial's short pairs are.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from pathlib import Path

from rnnkit.data.datasets import default_data_dir

MAX_LENGTH = 10
ENG_PREFIXES = ("i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are", "you re ", "we are", "we re ",
                "they are", "they re ")


def normalize(text: str) -> str:
    """The tutorial's normalizeString: ASCII, lower case, a space before . ! ?, then all but letters, ! and ? dropped."""
    text = "".join(c for c in unicodedata.normalize("NFD", text.lower().strip()) if unicodedata.category(c) != "Mn")
    text = re.sub(r"([.!?])", r" \1", text)
    return re.sub(r"[^a-zA-Z!?]+", r" ", text).strip()


def keep(english: str, french: str) -> bool:
    english, french = normalize(english), normalize(french)
    return (len(english.split(" ")) < MAX_LENGTH and len(french.split(" ")) < MAX_LENGTH
            and english.startswith(ENG_PREFIXES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir() / "translation_eng_fra/fra_first80000.txt")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = args.data.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.count("\t") >= 1 and keep(*line.split("\t")[:2])]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    print(f"kept {len(kept)} of {len(lines)} pairs -> {args.out}")


if __name__ == "__main__":
    main()
