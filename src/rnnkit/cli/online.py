"""``rnnkit online reber``: the embedded Reber grammar learned online, one symbol at a time.

    rnnkit online reber --out runs/reber                     the peephole LSTM of 15 cells, truncated gradient
    rnnkit online reber --gradient rtrl --cells 8 --out R    exact real-time recurrent learning
    rnnkit online reber --gradient bptt --out R              backpropagation through windows of 20 steps
    rnnkit online reber --resume runs/reber --epochs 300     go on where the run stopped

Each epoch is LSTM.java's: a training pass and a validation pass of 5,000 symbols. The
run directory gets metrics.jsonl, a checkpoint per epoch and reber.png (the curves).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from rnnkit.cli import flags
from rnnkit.cli.flags import non_negative, positive
from rnnkit.online.config import CELLS, OPTIMIZERS
from rnnkit.online.network import OUTPUTS
from rnnkit.online.reber import RESETS
from rnnkit.online.rules import GRADIENTS
from rnnkit.tasks import online
from rnnkit.tasks.online import DEFAULT_LEARNER, OnlineReberSpec
from rnnkit.tasks.runs import default_run_dir


def register(subcommands) -> None:
    parser = subcommands.add_parser("online", help="learn online, one symbol at a time (the embedded Reber grammar)",
                                    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    reber = actions.add_parser("reber", help="the embedded Reber grammar", description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    learner = DEFAULT_LEARNER
    flags.option(reber, "--cells", "hidden_size", learner.hidden_size, "cells (hidden units)", type=positive(int))
    flags.option(reber, "--cell", "cell", learner.cell, "recurrent cell", choices=CELLS)
    flags.option(reber, "--gradient", "gradient", learner.gradient, "truncated (the LSTM's), rtrl or bptt",
                 choices=GRADIENTS)
    flags.option(reber, "--window", "window", learner.window, "bptt: steps backpropagated through",
                 type=positive(int))
    reber.add_argument("--no-peephole", action="store_false", dest="peephole", help="an LSTM without peepholes")
    flags.option(reber, "--forget-bias", "forget_bias", learner.forget_bias, "LSTM: the forget gate's initial bias",
                 type=float)
    flags.option(reber, "--output", "output", learner.output,
                 "read-out: linear (squared error) or sigmoid (cross-entropy)", choices=OUTPUTS)
    flags.option(reber, "--optimizer", "optimizer", learner.optimizer, "the optimizer", choices=OPTIMIZERS)
    flags.option(reber, "--lr", "lr", learner.lr, "learning rate", type=positive(float))
    flags.option(reber, "--reset", "reset", "pass", "when the state is reset", choices=RESETS)
    flags.option(reber, "--epochs", "epochs", 200, "epochs in all", type=positive(int))
    flags.option(reber, "--seed", "seed", 0, "seed of the weights and the streams", type=non_negative(int))
    reber.add_argument("--out", type=Path, dest="run_dir", help="run directory (default: runs/reber-DATE-TIME)")
    reber.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    flags.finish(reber, run_reber)


def run_reber(args) -> int:
    echo = (lambda message: print(message, file=sys.stderr))
    if args.resume:
        flags.check_resume_flags(args, allowed=("epochs",))
        history = online.resume(args.resume, args.epochs, echo=echo)
        run_dir = args.resume
    else:
        config = dataclasses.replace(DEFAULT_LEARNER, hidden_size=args.hidden_size, cell=args.cell,
                                     gradient=args.gradient, window=args.window, peephole=args.peephole,
                                     forget_bias=args.forget_bias if args.cell == "lstm" else None,
                                     output=args.output, optimizer=args.optimizer, lr=args.lr)
        run_dir = args.run_dir or default_run_dir("reber")
        history = online.train(OnlineReberSpec(config, args.reset), args.epochs, run_dir, args.seed, echo=echo)
    result = online.summary(history)
    solved = (f"solved at epoch {result['solved_at']}" if result["solved_at"] is not None
              else f"not solved ({result['longest_streak']} error-free epochs in a row at most)")
    print(f"first error-free validation epoch: {result['first_zero']}; {solved}")
    print(Path(run_dir) / online.CURVES_FILE)
    return 0
