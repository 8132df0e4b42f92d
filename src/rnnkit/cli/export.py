"""``rnnkit export RUN_DIR --to torch|keras|onnx FILE``: a trained model's weights for another framework.

    rnnkit export runs/shakespeare --to torch model.safetensors    state_dicts for nn.Embedding/LSTM/Linear
    rnnkit export runs/shakespeare --to onnx model.onnx            one graph; states in and out for streaming
    rnnkit export runs/forecast --to keras model.weights.h5        Keras 3 weights

The torch file's header holds each module's constructor arguments (key rnnkit.torch_modules),
so a few lines of torch build the modules and load the file with strict=True (see README).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.cli import flags
from rnnkit.tasks.exporting import FORMATS, export_run


def register(subcommands) -> None:
    parser = subcommands.add_parser("export", help="write a trained model's weights for torch, keras or onnx",
                                    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("path", type=Path, metavar="FILE", help="the file to write (" +
                        ", ".join(f"{suffix} for {name}" for name, suffix in FORMATS.items()) + ")")
    parser.add_argument("--to", required=True, choices=sorted(FORMATS), help="the format")
    parser.add_argument("--which", choices=("best", "last"), default="best",
                        help="which checkpoint of a run directory (default: best)")
    flags.finish(parser, run_export)


def run_export(args) -> int:
    print(export_run(args.run_dir, args.to, args.path, args.which))
    return 0
