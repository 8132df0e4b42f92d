"""``rnnkit inspect``: see inside trained character models, and the lessons about RNNs as pictures.

    rnnkit inspect gradients RUN_RNN RUN_LSTM RUN_GRU --text FILE --out DIR
                        ||dE_t/dh_{t-d}|| against d, trained and at initialisation (PNG + CSV)
    rnnkit inspect cell-path RUN_LSTM --text FILE --out DIR
                        the LSTM's ||dc_t/dc_{t-d}|| beside the product of its forget gates
    rnnkit inspect cells RUN --text FILE --out DIR
                        the cells that track quotes, comments, brackets, line position (CSV, HTML, PNG)
    rnnkit inspect states RUN --text FILE --out DIR
                        every step's states and gates: LSTMVis's states.h5 and a safetensors file
    rnnkit inspect clipping --out DIR
                        an exploding RNN trained without clipping, clipped by value, clipped by norm
    rnnkit inspect memory --tasks adding copy --lengths 25 50 100 --seconds 60 --out DIR
                        success against sequence length for RNN, LSTM (with forget bias 1) and GRU
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli import flags
from rnnkit.cli.flags import positive
from rnnkit.inspect.clipping import ClippingSetup
from rnnkit.inspect.memory import CELLS, TASKS
from rnnkit.tasks import inspection


def register(subcommands) -> None:
    parser = subcommands.add_parser("inspect", help="see inside trained models (gradients, cells, states)",
                                    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, run, runs, help in (
            ("gradients", run_gradients, "+", "gradient against distance, one run per cell"),
            ("cell-path", run_cell_path, 1, "the LSTM's cell path against the product of its forget gates"),
            ("cells", run_cells, 1, "the cells that track features of the text; gate saturation"),
            ("states", run_states, 1, "every step's states and gates, for LSTMVis and as safetensors")):
        action = actions.add_parser(name, help=help)
        action.add_argument("run_dirs", type=Path, nargs=runs, metavar="RUN_DIR")
        action.add_argument("--text", type=Path, required=True, help="a UTF-8 text to read")
        add_out(action)
        flags.finish(action, run)
    clipping = actions.add_parser("clipping", help="training an exploding RNN with and without clipping")
    clipping.add_argument("--steps", type=positive(int), default=ClippingSetup.steps,
                          help=f"updates of each run (default: {ClippingSetup.steps})")
    add_out(clipping)
    flags.finish(clipping, run_clipping)
    memory = actions.add_parser("memory", help="success against sequence length on the memory tasks")
    memory.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["adding", "temporal_order"])
    memory.add_argument("--cells", nargs="+", choices=sorted(CELLS), default=sorted(CELLS))
    memory.add_argument("--lengths", nargs="+", type=positive(int), default=[25, 50, 100])
    memory.add_argument("--seconds", type=positive(float), default=60.0, help="of training per run (default: 60)")
    add_out(memory)
    flags.finish(memory, run_memory)


def add_out(parser) -> None:
    parser.add_argument("--out", type=Path, required=True, dest="out_dir", help="folder for the pictures and tables")


def run_gradients(args) -> int:
    profiles = inspection.gradients(args.run_dirs, args.text, args.out_dir)
    for cell, stages in profiles.items():
        print(f"{cell}: " + ", ".join(f"{stage} at d=50 {profile_at(values, 50):.3g}"
                                      for stage, values in stages.items()))
    print_written(args.out_dir, "gradients.png", "gradients.csv")
    return 0


def profile_at(profile: dict, distance: int) -> float:
    """The median gradient norm at ``distance`` (or the farthest one measured)."""
    median = profile["median"]
    return float(median[min(distance, len(median) - 1)])


def run_cell_path(args) -> int:
    inspection.cell_path(args.run_dirs[0], args.text, args.out_dir)
    print_written(args.out_dir, "cell_path.png", "cell_path.csv")
    return 0


def run_cells(args) -> int:
    report = inspection.cells(args.run_dirs[0], args.text, args.out_dir)
    for row in report["cells"]:
        print(f"{row['feature']:<16} layer {row['layer']} {row['quantity']} unit {row['unit']:<5} "
              f"r {row['correlation']:+.3f}")
    print_written(args.out_dir, "cells.csv")
    return 0


def run_states(args) -> int:
    for path in inspection.states(args.run_dirs[0], args.text, args.out_dir).values():
        print(path)
    return 0


def run_clipping(args) -> int:
    inspection.clipping(args.out_dir, ClippingSetup(steps=args.steps))
    print_written(args.out_dir, "clipping.png")
    return 0


def run_memory(args) -> int:
    def progress(row):
        print(f"{row['task']} {row['cell']} T={row['T']}: {'solved' if row['solved'] else 'not solved'} "
              f"(test accuracy {row['test_accuracy']:.3f}, {row['steps']} steps)", file=sys.stderr)
    inspection.memory(args.out_dir, args.tasks, args.cells, args.lengths, args.seconds, progress=progress)
    print_written(args.out_dir, "memory.csv", "memory.png")
    return 0


def print_written(folder: Path, *names: str) -> None:
    for name in names:
        print(folder / name)
