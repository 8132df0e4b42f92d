"""Shared helpers of the command-line tests (only test_cli_* files import this: it imports rnnkit.cli):
a tiny corpus, a tiny model trained by ``rnnkit train``, and the one-line error check."""

from __future__ import annotations

from pathlib import Path

from rnnkit.cli.main import main
from tiny_lm import TEXT, write_corpus  # noqa: F401  (re-exported: the corpus the CLI tests train on)

# A model small enough that one update takes about a millisecond (tiny_lm.tiny_spec through the flags).
TINY_MODEL = ["--hidden", "8", "--layers", "1", "--embedding", "4", "--batch", "2", "--seq-len", "8",
              "--eval-every", "5", "--checkpoint-every", "5", "--sample-every", "0", "--sample-length", "0",
              "--no-progress"]


def train(corpus: Path, run: Path, *options: str) -> int:
    """``rnnkit train CORPUS --out RUN`` with the tiny model; the exit code."""
    return main(["train", str(corpus), "--out", str(run), *TINY_MODEL, *options])


def one_line_error(stderr: str, alone: bool = True) -> str:
    """The single ``rnnkit...: error: ...`` line of ``stderr``; no traceback, and (``alone``) nothing else
    but argparse's usage lines."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("rnnkit") and ": error: " in line]
    assert len(errors) == 1, stderr
    if alone:
        others = [line for line in lines if line not in errors and not line.startswith(("usage:", " "))]
        assert not others, stderr
    return errors[0]
