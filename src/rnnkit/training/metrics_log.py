"""The metrics of a run, one JSON object per line in ``RUN_DIR/metrics.jsonl``.

Training records carry ``step``, ``epoch``, ``train_loss``, ``lr`` and a speed;
validation records carry ``step`` and ``val_loss`` (and task metrics). Lines are
appended and flushed as they come, so a crash loses at most the line being
written; a resumed run first drops the records after its checkpoint's step, so
the log reads as one uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

from rnnkit.training.atomic import atomic_write_text

METRICS_FILE = "metrics.jsonl"


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Every complete record of the run (a torn last line is skipped)."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class MetricsLog:
    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def truncate_after(self, step: int) -> None:
        """Keep only the records up to ``step`` (used when resuming from a checkpoint)."""
        kept = [r for r in read_metrics(self.path.parent) if r.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def append(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
