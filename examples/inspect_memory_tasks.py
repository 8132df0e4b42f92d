"""Memory tasks, reproduced (issue 15, part 3): success against the time lag T for each cell.

    python examples/inspect_memory_tasks.py                        the table of docs/results.md
    python examples/inspect_memory_tasks.py --tasks adding --lengths 50 100 200 --seconds 120 --seeds 0 1 2

Each (task, cell, T, seed) trains a fresh model (rnnkit.inspect.memory: one layer of
--hidden units and a linear read-out, Adam, gradient norm clipped at 1) until the task
is solved (95 % of 500 fresh test sequences right by the task's criterion) or --seconds
have passed. Rows go to OUT/memory_tasks.csv as they finish, the picture to
OUT/memory_tasks.png. Set OMP_NUM_THREADS=1 on a shared machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.inspect.memory import CELLS, TASKS, MemoryRunConfig, memory_task_table


def show(row: dict) -> None:
    outcome = f"solved at step {row['solved_at_step']}" if row["solved"] else "not solved"
    print(f"{row['task']:15} {row['cell']:9} T={row['T']:<5} seed {row['seed']}: accuracy {row['test_accuracy']:.3f}, "
          f"loss {row['test_loss']:.4g} (trivial {row['trivial_loss']:.4g}), {outcome} "
          f"({row['steps']} steps, {row['seconds']} s)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["adding", "temporal_order", "copy"], choices=sorted(TASKS))
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm", "lstm-fb1", "gru"], choices=sorted(CELLS))
    parser.add_argument("--lengths", nargs="+", type=int, default=[25, 50, 100])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget per run")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("runs") / "inspect-memory")
    args = parser.parse_args()
    config = MemoryRunConfig(hidden_size=args.hidden, time_budget_s=args.seconds)
    memory_task_table(args.tasks, args.cells, args.lengths, args.seeds, config, args.out / "memory_tasks.csv",
                      args.out / "memory_tasks.png", progress=show)
