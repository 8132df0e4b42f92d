"""The ``rnnkit`` command: one subcommand per job, errors as one line.

    rnnkit train [TEXT_FILE ...]      learn a character model (default: rnnkit's own source)
    rnnkit sample RUN_DIR             generate text (or poems) from it
    rnnkit plot RUN_DIR               draw its loss curves
    rnnkit classify train|eval|predict    sentiment / text classification (SST-2, ChnSentiCorp)
    rnnkit forecast train|eval|predict|backtest    time-series forecasting (airline passengers, ...)
"""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli import classify, forecast, plot, sample, train
from rnnkit.errors import RnnkitError

COMMANDS = (train, sample, plot, classify, forecast)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except RnnkitError as error:
        print(f"rnnkit: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        print(f"rnnkit: error: {error.strerror or error}{where}; check the path, its permissions "
              "and the free disk space", file=sys.stderr)
        return 1
    except MemoryError:
        print("rnnkit: error: out of memory: use smaller sizes (--hidden, --layers, --batch, --seq-len)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
