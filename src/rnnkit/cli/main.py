"""The ``rnnkit`` command: one subcommand per job, errors as one line.

    rnnkit train [TEXT_FILE ...]      learn a character model (default: rnnkit's own source)
    rnnkit sample RUN_DIR             generate text (or poems) from it
    rnnkit plot RUN_DIR               draw its loss curves
    rnnkit classify train|eval|predict    classify labelled texts (your CSV/TSV; SST-2, ChnSentiCorp built in)
    rnnkit forecast train|eval|predict|backtest    forecast a series (your CSV; four classic series built in)

Each command parses its flags, calls a task of ``rnnkit.tasks`` and prints what it returns.
The library names the fields of its dataclasses in its errors (`batch_size`); here they
read as the flags that stand for them (--batch).
"""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli import classify, forecast, plot, sample, train
from rnnkit.cli.flags import in_flags
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
        print(f"rnnkit: error: {in_flags(str(error), getattr(args, 'flag_of_field', {}))}", file=sys.stderr)
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
