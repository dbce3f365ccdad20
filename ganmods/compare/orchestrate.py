"""``run_comparison``: check everything, run what is not finished, write the tables and plots."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional, TextIO

from ganmods.compare.config import Comparison, load_comparison
from ganmods.compare.fairness import Checked, check_runs
from ganmods.compare.lock import FolderLock
from ganmods.compare.plan import RunSpec, plan_runs, read_result
from ganmods.compare.plots import plot_curves, plot_expected_best, plot_samples, plot_trials_box
from ganmods.compare.progress import ProgressDisplay
from ganmods.compare.recorder import atomic_write
from ganmods.compare.report import audit_batches, short_path, write_results
from ganmods.compare.schedule import run_parallel, run_sequential
from ganmods.preflight import check_output_folder

__all__ = ["ComparisonOutcome", "default_out", "run_comparison"]


@dataclass
class ComparisonOutcome:
    """What a ``ganmods compare`` invocation did.

    Args:
        out_dir: The output folder.
        runs: Every planned run.
        skipped: Runs already finished before this invocation (not run again).
        ran: Runs finished by this invocation.
        failed: Runs that failed in this invocation.
        checked: The checks' findings.
        seconds: Wall-clock of the invocation.
    """

    out_dir: str
    runs: list[RunSpec]
    skipped: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    checked: Optional[Checked] = None
    seconds: float = 0.0


def default_out(comparison: Comparison) -> str:
    """The default output folder, ``runs/compare/<name>``.

    Args:
        comparison: The comparison.

    Returns:
        The path.
    """
    return os.path.join("runs", "compare", comparison.name)


def _intro(comparison: Comparison, checked: Checked, n_done: int, n_runs: int) -> list[str]:
    budget = comparison.budget
    search = comparison.search
    n_seeds = len(comparison.seeds)
    trials = f" × {search.trials} trials" if search.active else ""
    rank = ", then ".join(f"`{m}`" for m in checked.rank_by)
    lines = [
        f"{len(comparison.variants)} variants{trials} × {n_seeds} seeds "
        f"({', '.join(map(str, comparison.seeds))}), {n_done}/{n_runs} runs finished. "
        f"Budget per run: {budget.describe()}"
        + ("." if budget.reproducible else " of training wall-clock: NOT reproducible (depends on the machine "
           "and its load)."),
    ]
    if search.active:
        space = ", ".join(short_path(p) for p in search.space)
        source = {"default": "the default space", "config": "the configured space"}.get(search.source,
                                                                                      f"the space of {search.source}")
        lines.append(f"Search: an equal tuning budget of {search.trials} trials per variant (trial 0: its config "
                     f"unchanged; trials 1..{search.trials - 1} drawn with seed {search.seed} from {source}: "
                     f"{space}), each with every seed.")
    lines.append(
        f"Selected on validation, reported on test: each variant's trial is the one with the best mean validation "
        f"{rank} over seeds (ties: the lowest trial); the tables report that trial's scores on the test "
        f"reference, which nothing was chosen on. Test cells: mean over seeds [95 % percentile bootstrap interval "
        f"over the {n_seeds} seed(s); with few seeds it spans little more than the values seen]. Ranks: by the "
        f"test {rank}; \"1=\" marks variants the seeds cannot tell apart (paired by seed, interval containing 0), "
        f"a later metric only separating variants tied on the earlier ones. ↑ higher is better, ↓ lower is better.")
    if comparison.description:
        lines.insert(0, comparison.description + "\n")
    if comparison.overrides:
        lines.append(f"Applied to every variant: `{'`, `'.join(comparison.overrides)}`.")
    if comparison.strict:
        lines.append("Fairness: strict. Every run has the same networks, data (and real batches per seed), trainer "
                     "and evaluation protocol; variants differ only in their model lines"
                     + (", trials only in the search space's paths." if search.active else "."))
    else:
        lines.append("Fairness: not strict." + ("" if checked.deviations else " No variant changes a shared piece."))
        for variant, found in checked.deviations.items():
            lines.append(f"- **{variant}** differs from shared in: {'; '.join(found)}")
    layout = "runs/<variant>/t<trial>/s<seed>/" if search.active else "runs/<variant>/s<seed>/"
    lines.append(f"Runs: {comparison.parallel} at a time, {comparison.threads_per_run or 'default'} torch "
                 f"thread(s) each, on {os.cpu_count()} CPU core(s). Per-run rows: results.csv; selected trials: "
                 f"selected.json; curves and samples: plots/; each run's logs and checkpoints: {layout}.")
    return lines


def _write_reports(comparison: Comparison, checked: Checked, runs: list[RunSpec], results: dict[str, Any],
                   out_dir: str, plots: bool) -> None:
    search = comparison.search
    selections = write_results(out_dir, f"Comparison `{comparison.name}`",
                               _intro(comparison, checked, len(results), len(runs)), runs, results, checked,
                               audit_batches(runs, results), search.space if search.active else None, search.trials)
    if plots and results:
        plot_dir = os.path.join(out_dir, "plots")
        os.makedirs(plot_dir, exist_ok=True)
        title = f"{comparison.name}: {comparison.budget.describe()} per run"
        chosen = [r for r in runs if r.variant in selections and r.trial == selections[r.variant].trial]
        plot_curves(chosen, results, checked, "images_seen", os.path.join(plot_dir, "metric_vs_images.png"), title)
        plot_curves(chosen, results, checked, "train_s", os.path.join(plot_dir, "metric_vs_seconds.png"), title)
        plot_samples(chosen, results, os.path.join(plot_dir, "samples.png"), title)
        if search.active:
            title = f"{comparison.name}: {search.trials} trials per variant, {comparison.budget.describe()} per run"
            plot_expected_best(selections, checked, os.path.join(plot_dir, "expected_best.png"), title)
            plot_trials_box(selections, checked, os.path.join(plot_dir, "trials_box.png"), title)


def run_comparison(config: str, out_dir: Optional[str] = None, variants: Optional[list[str]] = None,
                   seeds: Optional[list[int]] = None, parallel: Optional[int] = None, dry_run: bool = False,
                   stream: Optional[TextIO] = None, bars: Optional[bool] = None, wandb: bool = False,
                   trials: Optional[int] = None) -> ComparisonOutcome:
    """Run a comparison: check the config and every variant, run the runs that have not finished, and
    write ``results.csv``, ``results.md``, ``selected.json`` and ``plots/`` into ``out_dir``.

    Nothing runs until every check has passed (see :func:`~ganmods.compare.config.load_comparison` and
    :func:`~ganmods.compare.fairness.check_runs`). Runs whose folder holds a result of the same config are
    skipped, so repeating the command resumes an interrupted comparison. One comparison at a time uses an
    output folder (:class:`~ganmods.compare.lock.FolderLock`, held by this process and its workers).

    Args:
        config: The comparison config (YAML).
        out_dir: Output folder (default ``runs/compare/<name>``).
        variants: Only these variants.
        seeds: Only these seeds.
        parallel: Replaces the config's ``parallel``.
        dry_run: Check and print the plan, run nothing, write nothing.
        stream: Where progress goes (default ``sys.stderr``).
        bars: Progress bars (default: when ``stream`` is a terminal).
        wandb: Also log every run to wandb (offline; grouped by the comparison's name).
        trials: Replaces the config's ``search.trials``.

    Returns:
        What was skipped, run and failed.

    Raises:
        ConfigurationError: For bad input, before any run starts (also: ``out`` is a file, is read-only, or
            is in use by another comparison, whose pid the message names).
        Interrupted: On Ctrl-C.
        OSError: On a full disk (``ENOSPC``); finished runs are kept.
    """
    start = time.perf_counter()
    stream = stream or sys.stderr
    comparison = load_comparison(config, variants=variants, seeds=seeds, parallel=parallel, wandb=wandb,
                                 trials=trials)
    out_dir = out_dir or default_out(comparison)
    check_output_folder(out_dir, "out")
    runs = plan_runs(comparison, out_dir)
    checked = check_runs(comparison, runs)
    lock = FolderLock(out_dir)
    if not dry_run:
        lock.acquire()
    try:
        return _run_locked(comparison, config, out_dir, runs, checked, lock, dry_run, stream, bars, start)
    finally:
        lock.release()


def _run_locked(comparison: Comparison, config: str, out_dir: str, runs: list[RunSpec], checked: Checked,
                lock: FolderLock, dry_run: bool, stream: TextIO, bars: Optional[bool], start: float
                ) -> ComparisonOutcome:
    results = {r.key: res for r in runs if (res := read_result(r)) is not None}
    outcome = ComparisonOutcome(out_dir, runs, skipped=list(results), checked=checked)
    pending = [r for r in runs if r.key not in results]
    mode = "in this process" if comparison.parallel == 1 else f"{comparison.parallel} processes at a time"
    trials = f" × {comparison.search.trials} trials" if comparison.search.active else ""
    print(f"ganmods compare: {comparison.name}: {len(comparison.variants)} variants{trials} × "
          f"{len(comparison.seeds)} seeds = {len(runs)} runs of {comparison.budget.describe()}; {len(results)} "
          f"finished, {len(pending)} to run "
          f"({mode}); metrics {', '.join(checked.metrics)}; out {out_dir}", file=stream, flush=True)
    if dry_run:
        return outcome
    os.makedirs(out_dir, exist_ok=True)
    atomic_write(os.path.join(out_dir, "comparison.json"), json.dumps({
        "name": comparison.name, "config": os.path.abspath(config), "seeds": list(comparison.seeds),
        "budget": {comparison.budget.unit: comparison.budget.value}, "strict": comparison.strict,
        "overrides": list(comparison.overrides),
        "search": {"trials": comparison.search.trials, "seed": comparison.search.seed,
                   "space": comparison.search.space, "source": comparison.search.source},
        "metrics": list(checked.metrics), "rank_by": list(checked.rank_by), "deviations": checked.deviations,
        "variants": {v.name: {"source": v.source, "overrides": list(v.overrides), "config": v.config}
                     for v in comparison.variants}}, indent=1, default=str))

    def on_done(run: RunSpec, result: Optional[dict[str, Any]]) -> None:
        if result is None:
            outcome.failed.append(run.key)
            return
        results[run.key] = result
        outcome.ran.append(run.key)
        _write_reports(comparison, checked, runs, results, out_dir, plots=False)

    display = ProgressDisplay(len(runs), len(results), comparison.budget, stream=stream, bars=bars)
    try:
        if comparison.parallel == 1:
            run_sequential(pending, comparison.threads_per_run, display, on_done)
        else:
            run_parallel(pending, comparison.parallel, comparison.threads_per_run, display, on_done,
                         lock_fd=lock.fd)
    except BaseException:
        display.close()
        try:  # keep what finished; a second failure (the same full disk) must not hide the first
            _write_reports(comparison, checked, runs, results, out_dir, plots=False)
        except OSError:
            pass
        raise
    display.close()
    _write_reports(comparison, checked, runs, results, out_dir, plots=True)
    outcome.seconds = time.perf_counter() - start
    return outcome
