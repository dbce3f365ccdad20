"""The progress display of ``ganmods compare``: runs done / left, and each running run's progress.

On a terminal it shows tqdm bars: one for the comparison (runs done of all) and one per running run
(percent of its budget, with generator steps and images seen). Elsewhere (a log file, CI) it prints one
line when a run starts and one when it ends, with the run's final metrics. It is fed by
:class:`~ganmods.compare.schedule.Monitor`, which follows the comparison's study and the running runs'
``progress.json`` files, whichever worker (in this process, a local worker process, another machine) runs them.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Optional, TextIO

from ganmods.compare.budget import Budget

__all__ = ["ProgressDisplay"]


def _metrics_line(result: dict[str, Any]) -> str:
    final = result.get("final") or {}
    parts = [f"{k} {v:.4g}" for k, v in final.items() if not (isinstance(v, float) and math.isnan(v))]
    return ", ".join(parts)


class ProgressDisplay:
    """Shows how far a comparison is.

    Args:
        total: Runs in the comparison.
        done: Runs already finished before this invocation.
        budget: The per-run budget (for the run bars' labels).
        stream: Where to write (default ``sys.stderr``).
        bars: Use tqdm bars (default: when ``stream`` is a terminal).
    """

    def __init__(self, total: int, done: int, budget: Budget, stream: Optional[TextIO] = None,
                 bars: Optional[bool] = None) -> None:
        self.stream = stream or sys.stderr
        self.total, self.done, self.failed = total, done, 0
        self.budget = budget
        self.bars = self.stream.isatty() if bars is None else bars
        self._run_bars: dict[str, Any] = {}
        self._overall: Any = None
        if self.bars:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
            self._overall = tqdm(total=total, initial=done, desc="runs", unit="run", file=self.stream,
                                 position=0, dynamic_ncols=True)

    def _write(self, line: str) -> None:
        if self.bars:
            self._tqdm.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def started(self, key: str) -> None:
        """A run started.

        Args:
            key: ``variant/s<seed>``.
        """
        if self.bars:
            self._run_bars[key] = self._tqdm(total=1000, desc=key, file=self.stream, leave=False, dynamic_ncols=True,
                                             position=len(self._run_bars) + 1,
                                             bar_format="{percentage:3.0f}%|{bar}| {desc}")
        else:
            self._run_bars[key] = None
            self._write(f"{key} started ({self.done} of {self.total} done, {len(self._run_bars)} running)")

    def update(self, key: str, state: dict[str, Any]) -> None:
        """A running run's progress.

        Args:
            key: The run.
            state: ``fraction`` of the budget, ``generator_steps``, ``images_seen``, ``train_s``.
        """
        bar = self._run_bars.get(key)
        if bar is None:
            return
        bar.n = int(1000 * float(state.get("fraction", 0.0)))
        bar.set_description_str(f"{key}: {state.get('generator_steps', 0)} G steps, {state.get('images_seen', 0)} "
                                f"images, {state.get('train_s', 0.0):.0f} s", refresh=False)
        bar.refresh()

    def finished(self, key: str, result: Optional[dict[str, Any]], error: str = "") -> None:
        """A run ended.

        Args:
            key: The run.
            result: Its result, or ``None`` when it failed.
            error: Why it failed.
        """
        bar = self._run_bars.pop(key, None)
        if bar is not None:
            bar.close()
        if result is None:
            self.failed += 1
            self._write(f"{key} FAILED: {error}")
        else:
            self.done += 1
            self._write(f"[{self.done}/{self.total}] {key} {result.get('status', '')} in "
                        f"{result.get('wall_clock_s', 0.0):.0f} s: {_metrics_line(result)}")
        if self._overall is not None:
            self._overall.n = self.done
            self._overall.refresh()

    def note(self, key: str, message: str) -> None:
        """Say something about a run that neither finishes nor fails it (e.g. its worker died and it will run
        again); its bar, if any, is closed.

        Args:
            key: The run.
            message: What happened.
        """
        bar = self._run_bars.pop(key, None)
        if bar is not None:
            bar.close()
        self._write(f"{key}: {message}")

    def close(self) -> None:
        """Close the bars."""
        for bar in self._run_bars.values():
            if bar is not None:
                bar.close()
        self._run_bars.clear()
        if self._overall is not None:
            self._overall.close()
