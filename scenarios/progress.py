"""How the ``seqrl`` command shows a run's progress: bars on a terminal, lines elsewhere.

On a terminal (stderr is a TTY) one bar counts the run's tasks and one nested bar per running task
shows what the task reports through :func:`seqrl.report_progress`. Elsewhere (a pipe, nohup, CI)
a line is printed for every finished task (at most one a second, always the last) with done/total,
rate and ETA, and each running task's report every ``every_s`` seconds. ``quiet`` shows nothing.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import IO, Any


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class ProgressDisplay:
    """Receives the run's task counts and its tasks' reports; see the module docstring.

    Args:
        name: What is running (the scenario's name), the prefix of every line.
        every_s: Seconds between two lines about the same running task, off a terminal.
        quiet: Show nothing.
        stream: Where to write (stderr).
        terminal: Bars (True) or lines (False); default: whether ``stream`` is a TTY.
    """

    LINE_INTERVAL_S = 1.0

    def __init__(
        self,
        name: str,
        every_s: float = 30.0,
        quiet: bool = False,
        stream: IO[str] | None = None,
        terminal: bool | None = None,
    ) -> None:
        self.name = name
        self.every_s = every_s
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self._started = time.monotonic()
        self._first_done: int | None = None
        self._last_line = -float("inf")
        self._task_lines: dict[str, float] = {}
        self._bar: Any = None
        self._task_bars: dict[str, Any] = {}

    def tasks(self, done: int, total: int) -> None:
        """A task finished: ``done`` of ``total`` are now."""
        if self.quiet:
            return
        if self._first_done is None:
            self._first_done = done - 1  # tasks finished before this run (a resume)
        if self.terminal:
            self._terminal_tasks(done, total)
            return
        now = time.monotonic()
        if done < total and now - self._last_line < self.LINE_INTERVAL_S:
            return
        self._last_line = now
        finished_here = done - self._first_done
        rate = finished_here / max(now - self._started, 1e-9)
        eta = f", ETA {_duration((total - done) / rate)}" if rate > 0 and done < total else ""
        self._print(f"{done}/{total} tasks ({100 * done / total:.0f}%), {rate:.3g} tasks/s{eta}")

    def task(self, task_id: str, done: int, total: int, unit: str) -> None:
        """A running task reports that it has done ``done`` of ``total`` ``unit``."""
        if self.quiet:
            return
        if self.terminal:
            self._terminal_task(task_id, done, total, unit)
            return
        now = time.monotonic()
        if done < total and now - self._task_lines.get(task_id, -float("inf")) < self.every_s:
            return
        self._task_lines[task_id] = now
        self._print(f"  task {task_id}: {done}/{total} {unit} ({100 * done / max(total, 1):.0f}%)")

    def close(self) -> None:
        for bar in [*self._task_bars.values(), self._bar]:
            if bar is not None:
                bar.close()
        self._task_bars.clear()
        self._bar = None

    def _print(self, text: str) -> None:
        print(f"{self.name}: {text}", file=self.stream, flush=True)

    def _terminal_tasks(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=total, initial=done - 1, unit="task", desc=self.name,
                             file=self.stream, position=0)  # fmt: skip
        self._bar.update(done - self._bar.n)

    def _terminal_task(self, task_id: str, done: int, total: int, unit: str) -> None:
        from tqdm import tqdm

        bar = self._task_bars.get(task_id)
        if bar is None:
            bar = tqdm(total=total, unit=unit, desc=f"  {task_id}", file=self.stream,
                       position=len(self._task_bars) + 1, leave=False)  # fmt: skip
            self._task_bars[task_id] = bar
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self._task_bars[task_id]
