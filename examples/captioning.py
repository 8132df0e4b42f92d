"""Reproduce the captioning table of issue 13 on coco-mini: the three ways of feeding the image, each with
a few seeds, test BLEU-1..4 with beam 3 (and greedy), beside the nearest-neighbour and best-single-caption
baselines.

    python examples/captioning.py                          every mode, seeds 0 1 2, into /tmp/rnnkit-captioning
    python examples/captioning.py --modes concat --seeds 1

Every number comes from the commands, run in this process (set OMP_NUM_THREADS=1 for one core):

    rnnkit caption train --dataset coco-mini --conditioning MODE --seed K --out OUT/MODE/seed-K --beam 3
    rnnkit caption eval OUT/MODE/seed-K --split test --beam 1 --out OUT/MODE/seed-K/greedy

The train command picks its best checkpoint by the val loss, then scores the test split with beam 3:
the model and the two baselines, written to OUT/MODE/seed-K/results.json (key "coco-mini-test"); the
greedy scores go to OUT/MODE/seed-K/greedy/results.json. The table printed at the end (Markdown) reads
them. The set is tiny (400 training captions of 80 images; 79 test images), so a single seed's number
moves by a few BLEU points: the table gives the mean and the range over the seeds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import time
from pathlib import Path

from rnnkit.cli.main import main
from rnnkit.data.datasets import default_data_dir
from rnnkit.tasks.runs import RESULTS_FILE

MODES = ("concat", "init", "first")
SYSTEMS = {"model": "model", "nearest-neighbour": "nearest neighbour", "best-caption": "best single caption"}
KEY = "coco-mini-test"


def check(code: int) -> None:
    if code:
        raise SystemExit(code)


def train_mode(mode: str, data_dir: Path, out: Path, seeds: int) -> list[dict]:
    """Train and test ``seeds`` seeds of one mode; per seed its results (beam 3 and greedy) and minutes."""
    found = []
    for seed in range(seeds):
        run_dir = out / mode / f"seed-{seed}"
        shutil.rmtree(run_dir, ignore_errors=True)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            check(main(["caption", "train", "--dataset", "coco-mini", "--data-dir", str(data_dir), "--conditioning",
                        mode, "--seed", str(seed), "--out", str(run_dir), "--beam", "3", "--no-progress"]))
            minutes = (time.perf_counter() - started) / 60
            check(main(["caption", "eval", str(run_dir), "--split", "test", "--beam", "1", "--page-images", "0",
                        "--out", str(run_dir / "greedy")]))
        beam = json.loads((run_dir / RESULTS_FILE).read_text())[KEY]
        greedy = json.loads((run_dir / "greedy" / RESULTS_FILE).read_text())[KEY]
        found.append({"beam": beam, "greedy": greedy, "minutes": minutes})
        print(f"{mode} seed {seed}: BLEU-1 {beam['model']['bleu1']:.1f}, BLEU-4 {beam['model']['bleu4']:.1f} "
              f"(beam 3), {minutes:.1f} min", flush=True)
    return found


def cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def table(results: dict[str, list[dict]]) -> str:
    rows = ["| system | decoding | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | seeds | minutes per run |",
            "|---|---|---|---|---|---|---|---|"]
    for mode, runs in results.items():
        for decoding in ("beam", "greedy"):
            scores = [cell([run[decoding]["model"][f"bleu{n}"] for run in runs]) for n in (1, 2, 3, 4)]
            label = "beam 3" if decoding == "beam" else "greedy"
            minutes = cell([run["minutes"] for run in runs]) if decoding == "beam" else ""
            rows.append(f"| model, {mode} | {label} | {' | '.join(scores)} | {len(runs)} | {minutes} |")
    first = next(iter(results.values()))[0]["beam"]
    for system in ("nearest-neighbour", "best-caption"):
        scores = [f"{first[system][f'bleu{n}']:.1f}" for n in (1, 2, 3, 4)]
        rows.append(f"| {SYSTEMS[system]} baseline | | {' | '.join(scores)} | | |")
    return "\n".join(rows) + f"\n\nBLEU signature: {first['bleu_signature']}; best single caption: " \
                             f"\"{first['best_caption']}\""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/rnnkit-captioning"))
    parser.add_argument("--data-dir", type=Path, default=None)
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    data_dir = args.data_dir or default_data_dir()
    results = {mode: train_mode(mode, data_dir, args.out, args.seeds) for mode in args.modes}
    print(table(results))
