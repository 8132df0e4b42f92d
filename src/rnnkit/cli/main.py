"""The ``rnnkit`` command: one subcommand per job, errors as one line.

    rnnkit train [TEXT_FILE ...]      learn a character or word model (default: rnnkit's own source; --dataset ptb)
    rnnkit sample RUN_DIR             generate text (or poems) from it
    rnnkit eval RUN_DIR               its loss and perplexity on its test text (or any text)
    rnnkit plot RUN_DIR               draw its loss curves
    rnnkit classify train|eval|predict    classify labelled texts (your CSV/TSV; SST-2, ChnSentiCorp built in)
    rnnkit forecast train|eval|predict|backtest    forecast a series (your CSV; four classic series built in)
    rnnkit translate train|eval|predict|attention    translate sentences (your pairs file; eng-fra, cmn-eng built in)
    rnnkit music train|eval|generate    polyphonic music (your JSON or MIDI folder; the Bach chorales built in)
    rnnkit caption train|eval|predict    caption images (your COCO JSON or TSV with features or images; coco-mini built in)
    rnnkit inspect gradients|cell-path|cells|states|clipping|memory    see inside; the lessons as pictures
    rnnkit export RUN_DIR --to torch|keras|onnx FILE    a trained model's weights for another framework
    rnnkit serve RUN_DIR              a local web page to play with a trained model

Each command parses its flags, calls a task of ``rnnkit.tasks`` and prints what it returns.
The library names the fields of its dataclasses in its errors (`batch_size`); here they
read as the flags that stand for them (--batch).

Exit codes: 0 done; 2 bad input (a usage error, a file or checkpoint that cannot be used,
options that contradict each other, a diverged run, a full or read-only disk, too little
memory for the sizes asked for); 130 interrupted (Ctrl-C: a training run saves a checkpoint
first); 1 an internal failure of rnnkit (a bug: please report it; RNNKIT_TRACEBACK=1 shows
its traceback). Every failure is one line on stderr, ``rnnkit: error: ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

import numpy as np

from rnnkit.cli import (caption, classify, evaluate, export, forecast, inspection, music, online, plot, sample,
                        serve, train, translate)
from rnnkit.cli.flags import BAD_INPUT, INTERNAL_FAILURE, INTERRUPTED, check_dependent_ranges, in_flags
from rnnkit.errors import RnnkitError

COMMANDS = (train, sample, evaluate, plot, classify, forecast, translate, music, caption, inspection, online, export,
            serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_dependent_ranges(args)
    try:
        with np.errstate(all="ignore"):       # overflow is caught as divergence, by value, not by warning
            return args.run(args) or 0
    except RnnkitError as error:
        return fail(in_flags(str(error), getattr(args, "flag_of_field", {})), BAD_INPUT)
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        return fail(f"{error.strerror or error}{where}; check the path, its permissions and the free disk space",
                    BAD_INPUT)
    except MemoryError:
        return fail("out of memory: use smaller sizes (--hidden, --layers, --batch, --seq-len, --max-len)",
                    BAD_INPUT)
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:               # a bug: still one line, and an exit code that says so
        if os.environ.get("RNNKIT_TRACEBACK"):
            traceback.print_exc()
        return fail(f"internal error ({type(error).__name__}: {one_line(str(error))}); this is a bug in rnnkit: "
                    "please report it with the command line (RNNKIT_TRACEBACK=1 shows the traceback)",
                    INTERNAL_FAILURE)


def fail(message: str, code: int) -> int:
    print(f"rnnkit: error: {one_line(message)}", file=sys.stderr)
    return code


def one_line(text: str, limit: int = 2000) -> str:
    """``text`` on one line, at most ``limit`` characters (a message may quote a file's content)."""
    text = text.replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


if __name__ == "__main__":
    sys.exit(main())
