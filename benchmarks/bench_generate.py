"""Generating characters one at a time: rnnkit's sampler against the same loop in PyTorch.

    python benchmarks/bench_generate.py [--quick]

Each figure is the median of three runs, after a short one that warms both up. Both
sample from softmax(logits / 0.8) after an Embedding(65, 64) -> LSTM -> Linear
model, feeding each drawn character back in, for 2 x 256 and 2 x 512 LSTMs.
"""

from __future__ import annotations

import argparse
import statistics
import string
import time

import torch
from common import add_summary_argument, print_table, write_summary

from rnnkit.data.vocab import CharVocab
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks.sampling import generate

VOCAB = CharVocab(string.printable[:65])
EMBEDDING, TEMPERATURE = 64, 0.8


def rnnkit_chars_per_second(hidden: int, length: int) -> float:
    model = CharLM(CharLMConfig(len(VOCAB), "lstm", hidden, 2, EMBEDDING), rng=0)
    start = time.perf_counter()
    text = "".join(generate(model, VOCAB, length, temperature=TEMPERATURE, rng=0))
    assert len(text) == length
    return length / (time.perf_counter() - start)


def torch_chars_per_second(hidden: int, length: int) -> float:
    embedding = torch.nn.Embedding(len(VOCAB), EMBEDDING)
    rnn = torch.nn.LSTM(EMBEDDING, hidden, 2)
    decoder = torch.nn.Linear(hidden, len(VOCAB))
    generator = torch.Generator().manual_seed(0)
    token, state = torch.tensor([[0]]), None
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(length):
            output, state = rnn(embedding(token), state)
            probabilities = torch.softmax(decoder(output[-1, 0]) / TEMPERATURE, dim=-1)
            token = torch.multinomial(probabilities, 1, generator=generator).view(1, 1)
    return length / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 characters instead of 2000")
    add_summary_argument(parser)
    args = parser.parse_args()
    length = 500 if args.quick else 2000
    rows, speedups = [], {}
    for hidden in (256, 512):
        rnnkit_chars_per_second(hidden, 50), torch_chars_per_second(hidden, 50)   # warm up (numba loads its kernels)
        ours = statistics.median(rnnkit_chars_per_second(hidden, length) for _ in range(3))
        theirs = statistics.median(torch_chars_per_second(hidden, length) for _ in range(3))
        rows.append([f"LSTM {hidden} x 2", ours, theirs, ours / theirs])
        speedups[f"speedup_{hidden}x2"] = ours / theirs
    print_table(["model", "rnnkit chars/s", "torch chars/s", "speed-up"], rows,
                title=f"generation, {length} characters one at a time")
    write_summary(args.summary, speedups)


if __name__ == "__main__":
    main()
