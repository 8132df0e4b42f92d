"""``rnnkit serve RUN_DIR``: a local web page to play with a trained model (see ``rnnkit.serve``).

A character model writes from a prime (temperature, top-k, length; poems for a model of
poems); a classifier labels texts. The page is served on 127.0.0.1 unless --host says
otherwise; Ctrl-C stops it.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.cli import flags
from rnnkit.serve import serve


def register(subcommands) -> None:
    parser = subcommands.add_parser("serve", help="a local web page to play with a trained model",
                                    description=__doc__)
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("--port", type=int, default=8000, help="(default: 8000; 0 takes a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--which", choices=("best", "last"), default="best",
                        help="which checkpoint of a run directory (default: best)")
    flags.finish(parser, run_serve)


def run_serve(args) -> int:
    serve(args.run_dir, host=args.host, port=args.port, which=args.which)
    return 0
