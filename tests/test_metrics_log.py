"""rnnkit/training/metrics_log.py: append, read back, truncate on resume, survive a torn line."""

from rnnkit.training.metrics_log import METRICS_FILE, MetricsLog, read_metrics


def test_records_read_back_in_order_and_truncate_after_a_step(tmp_path):
    log = MetricsLog(tmp_path)
    for step in range(1, 6):
        log.append({"step": step, "train_loss": 1.0 / step})
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3, 4, 5]
    log.truncate_after(3)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]


def test_a_torn_last_line_is_skipped(tmp_path):
    MetricsLog(tmp_path).append({"step": 1, "train_loss": 2.0})
    with open(tmp_path / METRICS_FILE, "a") as file:
        file.write('{"step": 2, "train_lo')
    assert read_metrics(tmp_path) == [{"step": 1, "train_loss": 2.0}]


def test_a_missing_log_reads_as_empty(tmp_path):
    assert read_metrics(tmp_path / "nowhere") == []
