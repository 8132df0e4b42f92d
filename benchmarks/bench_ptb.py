"""A training step of Zaremba et al.'s small Penn Treebank model, rnnkit against the same model in PyTorch.

    Embedding(10000, 200) -> LSTM 200 x 2 -> Linear(200, 10000) -> mean cross-entropy -> SGD lr 20, clip 0.25,
    batch 20 x 20 words, the state carried from step to step (truncated BPTT)

    python benchmarks/bench_ptb.py                # 7 rounds, one thread for both libraries
    python benchmarks/bench_ptb.py --quick        # 2 rounds
    python benchmarks/bench_ptb.py --cpu-time     # CPU time: for a machine others keep busy
    python benchmarks/bench_ptb.py --threads 2    # two cores for each library

One thread unless ``--threads`` says otherwise: with the libraries' default threads on the
shared 2-core machine (load about 2), a step took 1.8 s (rnnkit) and 2.2 s (torch) against
0.09 s and 0.11 s on one thread: their threads and the other jobs' fight over the cores.

A step is what a training run does per batch: forward from the carried state, the mean
cross-entropy, backward, global-norm clipping and the SGD step (rnnkit: the Trainer's own
``update``; torch: the usual loop with ``clip_grad_norm_`` and a detached state). Zaremba et
al.'s lr 1 and clip 5 act on the loss summed over the 20 steps (the mean over the batch); on
the mean over all 400 words, which both libraries take here, the same updates are lr 20 and
clip 0.25 (PyTorch's word_language_model example's defaults). The
two take turns in one process (``common.compare``); the ratio is the median of per-round
ratios. An epoch of PTB's training text (929,589 tokens with <eos>) is 2,323 such steps:
the seconds per epoch are the step's times that many. The batches are random word ids
(the same for both); the work does not depend on which words they are.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from common import add_summary_argument, add_threads_argument, paired_rounds, print_table, set_threads, write_summary

VOCAB, EMBEDDING, HIDDEN, LAYERS, BATCH, STEPS = 10_000, 200, 200, 2, 20, 20
LR, CLIP, INIT_RANGE = 20.0, 0.25, 0.1      # = Zaremba et al.'s lr 1, clip 5 on the loss summed over the steps
TRAIN_TOKENS = 929_589
STEPS_PER_EPOCH = (TRAIN_TOKENS - 1) // (BATCH * STEPS)


def batches(count: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(0, VOCAB, (STEPS, BATCH)), rng.integers(0, VOCAB, (STEPS, BATCH))) for _ in range(count)]


def rnnkit_step():
    from rnnkit.losses import softmax_cross_entropy
    from rnnkit.models.char_lm import CharLM, CharLMConfig
    from rnnkit.training.config import TrainConfig, make_optimizer
    from rnnkit.training.loop import update

    model = CharLM(CharLMConfig(VOCAB, "lstm", HIDDEN, LAYERS, EMBEDDING, init_range=INIT_RANGE), rng=0)
    config = TrainConfig(optimizer="sgd", lr=LR, clip_norm=CLIP)
    optimizer = make_optimizer(config, model)
    data, carried = batches(), {"state": None, "k": 0}

    def train_step():
        inputs, targets = data[carried["k"] % len(data)]
        carried["k"] += 1
        logits, carried["state"] = model(inputs.astype(np.uint16), carried["state"])
        loss, dlogits = softmax_cross_entropy(logits, targets)
        model.backward(dlogits)
        return loss, inputs.size

    return lambda: update(model, optimizer, config, train_step)


def torch_step():
    import torch

    class WordModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB, EMBEDDING)
            self.rnn = torch.nn.LSTM(EMBEDDING, HIDDEN, LAYERS)
            self.decoder = torch.nn.Linear(HIDDEN, VOCAB)
            for parameter in self.parameters():
                torch.nn.init.uniform_(parameter, -INIT_RANGE, INIT_RANGE)

        def forward(self, ids, state):
            hidden, state = self.rnn(self.embedding(ids), state)
            return self.decoder(hidden), state

    model = WordModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    data = [tuple(torch.from_numpy(a) for a in pair) for pair in batches()]
    carried = {"state": None, "k": 0}

    def step():
        inputs, targets = data[carried["k"] % len(data)]
        carried["k"] += 1
        state = carried["state"]
        if state is not None:
            state = tuple(s.detach() for s in state)        # truncated BPTT
        optimizer.zero_grad()
        logits, carried["state"] = model(inputs, state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 7")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time this process's CPU time, not wall time (with --threads 1, on a busy machine)")
    add_threads_argument(parser)
    parser.set_defaults(threads=1)
    add_summary_argument(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    times = paired_rounds({"rnnkit": rnnkit_step(), "torch": torch_step()}, 2 if args.quick else 7,
                          clock=time.process_time if args.cpu_time else time.perf_counter)
    ours, theirs = statistics.median(times["rnnkit"]), statistics.median(times["torch"])
    ratio = statistics.median(a / b for a, b in zip(times["rnnkit"], times["torch"]))
    words = BATCH * STEPS
    print_table(["framework", "s/step", "words/s", "s/epoch"],
                [["rnnkit", ours, words / ours, ours * STEPS_PER_EPOCH],
                 ["torch", theirs, words / theirs, theirs * STEPS_PER_EPOCH]],
                title=f"PTB small (Zaremba et al. 2014): LSTM {HIDDEN}x{LAYERS}, vocabulary {VOCAB}, batch {BATCH} x "
                      f"{STEPS}, SGD + clip {CLIP:g}, float32, {args.threads or 'all'} thread(s), "
                      f"{'CPU' if args.cpu_time else 'wall'} time; epoch = {STEPS_PER_EPOCH} steps")
    print(f"\nratio rnnkit/torch, time per step (and per epoch): {ratio:.3f}")
    write_summary(args.summary, {"time_ratio": ratio, "rnnkit_s_per_step": ours, "torch_s_per_step": theirs,
                                 "rnnkit_s_per_epoch": ours * STEPS_PER_EPOCH,
                                 "torch_s_per_epoch": theirs * STEPS_PER_EPOCH, "threads": args.threads,
                                 "clock": "cpu" if args.cpu_time else "wall"})


if __name__ == "__main__":
    main()
