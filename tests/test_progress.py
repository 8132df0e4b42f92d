"""rnnkit/training/progress.py: the total and the time left of a run, a bar on a terminal, plain lines elsewhere."""

import io

import pytest

from rnnkit.training import progress
from rnnkit.training.progress import DelayedProgress, Progress, duration, eta, total_steps


def test_duration_reads_as_tqdm_writes_times():
    assert [duration(s) for s in (0, 59.4, 61, 3600 + 62)] == ["0:00", "0:59", "1:01", "1:01:02"]


def test_eta_is_the_remaining_steps_at_the_speed_so_far_or_the_time_left_whichever_is_less():
    assert eta(10, 100, elapsed=5.0) == pytest.approx(45.0)                     # 90 steps at 0.5 s
    assert eta(10, 100, elapsed=5.0, max_minutes=0.5) == pytest.approx(25.0)   # 30 s budget, 5 s used
    assert eta(10, None, elapsed=5.0, max_minutes=1.0) == pytest.approx(55.0)  # an epoch-less --max-minutes run
    assert eta(10, None, elapsed=5.0) is None and eta(0, 100, elapsed=0.0) is None


def test_total_steps_of_epochs_max_steps_and_a_resumed_position():
    assert total_steps(0, epochs=3, batches_per_epoch=10, step=0, epoch=0) == 30
    assert total_steps(25, epochs=3, batches_per_epoch=10, step=0, epoch=0) == 25
    assert total_steps(0, epochs=3, batches_per_epoch=10, step=14, epoch=1, batch=4) == 30    # resumed mid-epoch
    assert total_steps(0, epochs=3, batches_per_epoch=None, step=0, epoch=0) is None


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_the_total_and_the_eta(monkeypatch):
    stream = FakeTerminal()
    bar = Progress(100, enabled=True, stream=stream)
    for step in range(1, 51):
        monkeypatch.setattr(progress, "REDRAW_SECONDS", 0.0)
        bar.update(step, loss="1.234")
    bar.close()
    shown = stream.getvalue()
    assert "50/100" in shown and "loss 1.234" in shown and "ETA " in shown


def test_a_log_file_gets_a_plain_line_now_and_then_and_no_carriage_returns(monkeypatch):
    stream, now = io.StringIO(), [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    bar = Progress(1000, enabled=True, stream=stream)
    for step in range(1, 41):
        now[0] += 7.0                                     # a step of 7 s
        bar.update(step, loss="2.000")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 8 <= len(lines) <= 10                          # one per 30 s or so of a 280 s run, and one at the end
    assert lines[0].startswith("step ") and "/1000 (" in lines[0] and "ETA " in lines[0] and "loss 2.000" in lines[0]
    assert lines[-1].startswith("step 40/1000")


def test_a_short_run_off_a_terminal_prints_nothing():
    stream = io.StringIO()
    bar = Progress(10, enabled=True, stream=stream)
    for step in range(1, 11):
        bar.update(step)
    bar.close()
    assert stream.getvalue() == ""


def test_disabled_progress_prints_nothing_but_what_the_run_writes(capsys):
    bar = Progress(10, enabled=False, stream=FakeTerminal())
    bar.update(5)
    bar.write("step 5: val_loss 1.0")
    bar.close()
    assert capsys.readouterr().out == "step 5: val_loss 1.0\n"


def test_delayed_progress_stays_silent_for_a_quick_job_and_shows_a_slow_one(monkeypatch):
    stream = io.StringIO()
    quick = DelayedProgress(delay=3600, stream=stream)
    for done in range(1, 101):
        quick(done, 100)
    assert stream.getvalue() == ""
    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    slow = DelayedProgress(delay=2, stream=stream)
    for done in range(1, 101):
        now[0] += 1.0
        slow(done, 100)
    assert "step 100/100 (100 %)" in stream.getvalue()
