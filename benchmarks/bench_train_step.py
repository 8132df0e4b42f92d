"""One training step of the character model, rnnkit against the same model in PyTorch.

    Embedding(65, 64) -> LSTM 512 x 2 -> Linear -> cross-entropy -> Adam,  batch 64 x 100 characters

    python benchmarks/bench_train_step.py            # time (median of repeats) and peak memory of each
    python benchmarks/bench_train_step.py --quick

Time and characters/s come from one process, the two models taking turns. Peak memory is each framework's
alone: a fresh subprocess per framework imports it, resets the kernel's high-water
mark of its resident set (``/proc/self/clear_refs``, Linux), builds the model and
runs the steps; the peak over the resident size before the model is what the model,
the optimizer and the steps took. Each framework first runs one step of a tiny model,
so that what it loads once (PyTorch's kernels, rnnkit's numba) is in the baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
from common import add_summary_argument, compare, print_table, write_summary

VOCAB, EMBEDDING, HIDDEN, LAYERS, BATCH, STEPS = 65, 64, 512, 2, 64, 100


def rnnkit_step(hidden: int = HIDDEN, batch_size: int = BATCH):
    from rnnkit.losses import softmax_cross_entropy
    from rnnkit.models.char_lm import CharLM, CharLMConfig
    from rnnkit.optim import Adam

    model = CharLM(CharLMConfig(VOCAB, "lstm", hidden, LAYERS, EMBEDDING), rng=0)
    optimizer = Adam(model, lr=2e-3)
    inputs, targets = batch(batch_size)

    def step():
        model.zero_grad()
        logits, _ = model(inputs)
        _, dlogits = softmax_cross_entropy(logits, targets)
        model.backward(dlogits)
        optimizer.step()
    return step


def torch_step(hidden: int = HIDDEN, batch_size: int = BATCH):
    import torch

    class CharModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB, EMBEDDING)
            self.rnn = torch.nn.LSTM(EMBEDDING, hidden, LAYERS)
            self.decoder = torch.nn.Linear(hidden, VOCAB)

        def forward(self, ids):
            hidden, _ = self.rnn(self.embedding(ids))
            return self.decoder(hidden)

    model = CharModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    inputs, targets = (torch.from_numpy(a) for a in batch(batch_size))

    def step():
        optimizer.zero_grad()
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        optimizer.step()
    return step


def batch(batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, VOCAB, (STEPS, batch_size)), rng.integers(0, VOCAB, (STEPS, batch_size))


def resident_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure_peak(framework: str, steps: int) -> None:
    """In a fresh process: print the peak resident memory that building and training ``framework``'s model adds."""
    make_step = {"rnnkit": rnnkit_step, "torch": torch_step}[framework]
    make_step(hidden=8, batch_size=2)()    # a tiny model first: libraries and compiled kernels load before the baseline
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")                       # reset the peak to the current size
    before = resident_mb("VmRSS")
    step = make_step()
    for _ in range(steps):
        step()
    print(json.dumps(resident_mb("VmHWM") - before))


def peak_memory_mb(framework: str, steps: int) -> float:
    command = [sys.executable, __file__, "--measure-peak", framework, "--steps", str(steps)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds instead of 7, and peak memory over 2 steps instead of 3")
    parser.add_argument("--measure-peak", choices=("rnnkit", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=3, help=argparse.SUPPRESS)
    add_summary_argument(parser)
    args = parser.parse_args()
    if args.measure_peak:
        return measure_peak(args.measure_peak, args.steps)
    rounds, memory_steps = (2, 2) if args.quick else (7, 3)
    ours, theirs, ratio = compare(rnnkit_step(), torch_step(), rounds)
    characters = BATCH * STEPS
    memory = {name: peak_memory_mb(name, memory_steps) for name in ("rnnkit", "torch")}
    print_table(["framework", "s/step", "chars/s", "peak MB"],
                [["rnnkit", ours, characters / ours, memory["rnnkit"]],
                 ["torch", theirs, characters / theirs, memory["torch"]]],
                title=f"training step: LSTM {HIDDEN}x{LAYERS}, batch {BATCH} x {STEPS}, vocabulary {VOCAB}")
    print(f"\nratio rnnkit/torch: time {ratio:.3f}, peak memory {memory['rnnkit'] / memory['torch']:.3f}")
    write_summary(args.summary, {
        "time_ratio": ratio, "memory_ratio": memory["rnnkit"] / memory["torch"],
        "rnnkit_chars_per_second": characters / ours, "torch_chars_per_second": characters / theirs,
        "rnnkit_peak_mb": memory["rnnkit"], "torch_peak_mb": memory["torch"],
    })


if __name__ == "__main__":
    main()
