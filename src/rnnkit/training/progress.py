"""How far a training run is, and how long it still takes: a bar on a terminal, plain lines elsewhere.

The run ends at the first of three limits: ``total_steps`` (the epochs' batches, or
``max_steps``), ``max_minutes``, or early stopping (which cannot be foreseen). The time
left is the smaller of what the remaining steps take at the speed so far and what is
left of ``max_minutes``; ``eta`` says it.

On a terminal, stderr shows a tqdm bar (steps done of the total, loss, speed, ETA),
redrawn in place. Anywhere else (a log file, a pipe) carriage returns would pile up,
so a plain line goes out every ``PLAIN_EVERY_SECONDS`` instead (and, after any, one at the end).
What the run has to say (validations, samples) goes to stdout above the bar, through
``write``.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

PLAIN_EVERY_SECONDS = 30.0
REDRAW_SECONDS = 0.1


def duration(seconds: float) -> str:
    """3:07 or 1:02:07 (hours:minutes:seconds), as tqdm shows times."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def eta(steps_done: int, total_steps: int | None, elapsed: float, max_minutes: float = 0.0) -> float | None:
    """Seconds left: the remaining steps at the speed so far, or what is left of ``max_minutes`` if less;
    None when neither limit is known (or no step was timed yet)."""
    candidates = []
    if total_steps and steps_done > 0:
        candidates.append(max(total_steps - steps_done, 0) * elapsed / steps_done)
    if max_minutes:
        candidates.append(max(max_minutes * 60 - elapsed, 0.0))
    return min(candidates) if candidates else None


class Progress:
    """Progress of a run from step ``initial`` to ``total_steps`` (None: unknown) within ``max_minutes``
    (0: no limit); ``enabled`` False shows nothing but what ``write`` is given."""

    def __init__(self, total_steps: int | None, initial: int = 0, max_minutes: float = 0.0, enabled: bool = True,
                 unit: str = "step", stream=None, started: float | None = None):
        self.total, self.initial, self.max_minutes = total_steps, initial, max_minutes
        self.stream = stream or sys.stderr
        self.started = time.perf_counter() if started is None else started
        self.step = initial
        self.postfix = ""
        terminal = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.bar = tqdm(total=total_steps, initial=initial, unit=unit, dynamic_ncols=True, file=self.stream,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]" if total_steps
                        else "{n_fmt} steps [{elapsed}{postfix}]") if terminal else None
        self.plain = enabled and not terminal
        self.last_plain = self.started
        self.last_update = -float("inf")

    def update(self, step: int, **shown: str) -> None:
        """Step ``step`` is done; ``shown`` (loss, speed, ...) goes beside it (drawn at most every
        ``REDRAW_SECONDS``, so that a loop of fast steps spends its time on its steps)."""
        self.step = step
        now = time.perf_counter()
        if now - self.last_update < REDRAW_SECONDS and step != self.total:
            return
        self.last_update = now
        elapsed = now - self.started
        left = eta(step - self.initial, None if self.total is None else self.total - self.initial, elapsed,
                   self.max_minutes)
        if left is not None:
            shown = {**shown, "ETA": duration(left)}
        self.postfix = ", ".join(f"{key} {value}" for key, value in shown.items())
        if self.bar is not None:
            self.bar.set_postfix_str(self.postfix, refresh=False)
            self.bar.update(step - self.bar.n)
        elif self.plain and time.perf_counter() - self.last_plain >= PLAIN_EVERY_SECONDS:
            self._plain_line()

    def _plain_line(self) -> None:
        self.last_plain = time.perf_counter()
        done = f"step {self.step}" + (f"/{self.total} ({100 * self.step / self.total:.0f} %)"
                                      if self.total else "")
        elapsed = duration(self.last_plain - self.started)
        print(f"{done}, {elapsed} elapsed" + (f", {self.postfix}" if self.postfix else ""), file=self.stream,
              flush=True)

    def write(self, message: str) -> None:
        """A message of the run (a validation, a sample), on stdout, above the bar."""
        if self.bar is not None:
            self.bar.write(message, file=sys.stdout)
        else:
            print(message, file=sys.stdout, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.plain and self.last_plain > self.started:     # a long run: say where it ended, too
            self._plain_line()


def total_steps(max_steps: int, epochs: int, batches_per_epoch: int | None, step: int, epoch: int,
                batch: int = 0) -> int | None:
    """The step the run ends at unless it stops early or runs out of time: ``max_steps``, or where the
    remaining epochs' batches end, whichever comes first; None if neither is known."""
    candidates = [max_steps] if max_steps else []
    if batches_per_epoch:
        candidates.append(step + (epochs - epoch) * batches_per_epoch - batch)
    return min(candidates) if candidates else None


class DelayedProgress:
    """A ``progress(done, total)`` callback for a long loop outside training (``forecast predict --steps N``):
    silent for the first ``delay`` seconds, so quick jobs print nothing, then a ``Progress`` on stderr."""

    def __init__(self, delay: float = 2.0, unit: str = "step", stream=None):
        self.delay, self.unit, self.stream = delay, unit, stream
        self.started = time.perf_counter()
        self.progress: Progress | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            if time.perf_counter() - self.started < self.delay:
                return
            self.progress = Progress(total, unit=self.unit, stream=self.stream, started=self.started)
        self.progress.update(done)
        if done >= total:
            self.progress.close()
