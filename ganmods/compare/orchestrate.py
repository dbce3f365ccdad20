"""``run_comparison``: check everything, serve what is not finished through the comparison's study, write the
tables and plots; ``run_worker``: join a comparison's study as a worker (``ganmods compare ... --worker``)."""

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
from ganmods.compare.schedule import Monitor, WorkerPool, gpu_assignment, run_pool, serve
from ganmods.compare.study import ComparisonStudy, StorageSpec, parse_storage
from ganmods.errors import invalid
from ganmods.preflight import check_output_folder

__all__ = ["ComparisonOutcome", "default_out", "run_comparison", "run_worker", "worker_count"]


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
        study: The name of the comparison's Optuna study (None in a dry run).
        storage: Where the study is kept, in words.
    """

    out_dir: str
    runs: list[RunSpec]
    skipped: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    checked: Optional[Checked] = None
    seconds: float = 0.0
    study: Optional[str] = None
    storage: str = ""


def default_out(comparison: Comparison) -> str:
    """The default output folder, ``runs/compare/<name>``.

    Args:
        comparison: The comparison.

    Returns:
        The path.
    """
    return os.path.join("runs", "compare", comparison.name)


def worker_count(workers: Optional[int], parallel: Optional[int]) -> Optional[int]:
    """The local workers asked for: ``workers``, or its alias ``parallel`` (``None``: the config's ``parallel:``).

    Args:
        workers: ``--workers``.
        parallel: ``--parallel`` (an alias).

    Returns:
        The number, or None when neither is given.

    Raises:
        ConfigurationError: If the given value is not an integer >= 1, or both are given with different values.
    """
    for name, value in (("workers", workers), ("parallel", parallel)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise invalid(name, "an integer >= 1 (local worker processes; 1: runs in this process)", value)
    if workers is not None and parallel is not None and workers != parallel:
        raise invalid("parallel", f"unset or equal to workers ({workers}; --parallel is an alias of --workers)",
                      parallel)
    return workers if workers is not None else parallel


def _intro(comparison: Comparison, checked: Checked, n_done: int, n_runs: int, study: str = "",
           storage: str = "") -> list[str]:
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
    served = f" through the Optuna study `{study}` in {storage} (any worker joining it runs runs too)" if study else ""
    lines.append(f"Runs: {comparison.parallel} local worker(s){served}, {comparison.threads_per_run or 'default'} torch "
                 f"thread(s) each, on {os.cpu_count()} CPU core(s). Per-run rows: results.csv; selected trials: "
                 f"selected.json; curves and samples: plots/; each run's logs and checkpoints: {layout}.")
    return lines


def _write_reports(comparison: Comparison, checked: Checked, runs: list[RunSpec], results: dict[str, Any],
                   out_dir: str, plots: bool, study: str = "", storage: str = "") -> None:
    search = comparison.search
    selections = write_results(out_dir, f"Comparison `{comparison.name}`",
                               _intro(comparison, checked, len(results), len(runs), study, storage), runs, results,
                               checked, audit_batches(runs, results), search.space if search.active else None,
                               search.trials)
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


def _study_metric(checked: Checked) -> tuple[str, bool]:
    metric = checked.rank_by[0]
    return metric, bool(checked.directions.get(metric, True))


def _worker_command(comparison: Comparison, out_dir: str, spec: StorageSpec, study: str, threads: Optional[int],
                    variants: Optional[list[str]], seeds: Optional[list[int]], trials: Optional[int],
                    wandb: bool, images: Optional[int] = None) -> list[str]:
    """The command line of a local worker process: the same comparison and plan, joining ``study``."""
    cmd = [sys.executable, "-m", "ganmods", "compare", "-c", os.path.abspath(comparison.path), "--out",
           os.path.abspath(out_dir), "--storage", spec.url, "--worker", "--workers", "1", "--study", study, "--no-bars"]
    cmd += ["--threads", str(threads)] if threads else []
    cmd += ["--variants", *variants] if variants else []
    cmd += ["--seeds", *map(str, seeds)] if seeds else []
    cmd += ["--trials", str(trials)] if trials is not None else []
    cmd += ["--images", str(images)] if images is not None else []
    cmd += ["--wandb"] if wandb else []
    return cmd


def run_comparison(config: str, out_dir: Optional[str] = None, variants: Optional[list[str]] = None,
                   seeds: Optional[list[int]] = None, parallel: Optional[int] = None, dry_run: bool = False,
                   stream: Optional[TextIO] = None, bars: Optional[bool] = None, wandb: bool = False,
                   trials: Optional[int] = None, workers: Optional[int] = None,
                   storage: Optional[str] = None, images: Optional[int] = None) -> ComparisonOutcome:
    """Run a comparison: check the config and every variant, serve the runs that have not finished through the
    comparison's Optuna study (:mod:`~ganmods.compare.study`), and write ``results.csv``, ``results.md``,
    ``selected.json`` and ``plots/`` into ``out_dir`` once every run has finished or failed.

    Nothing runs until every check has passed (see :func:`~ganmods.compare.config.load_comparison` and
    :func:`~ganmods.compare.fairness.check_runs`). Runs whose folder holds a result of the same config are
    skipped, so repeating the command resumes an interrupted comparison (and retries the runs that failed).
    One comparison at a time uses an output folder (:class:`~ganmods.compare.lock.FolderLock`, held by this
    process and its local workers); workers started elsewhere with ``ganmods compare ... --worker`` may serve the
    same study, and this call waits for the runs they serve.

    Args:
        config: The comparison config (YAML).
        out_dir: Output folder (default ``runs/compare/<name>``).
        variants: Only these variants.
        seeds: Only these seeds.
        parallel: Alias of ``workers`` (the config's key is ``parallel:``).
        dry_run: Check and print the plan, run nothing, write nothing.
        stream: Where progress goes (default ``sys.stderr``).
        bars: Progress bars (default: when ``stream`` is a terminal).
        wandb: Also log every run to wandb (offline; grouped by the comparison's name).
        trials: Replaces the config's ``search.trials``.
        workers: Local worker processes (replaces the config's ``parallel:``; 1: the runs train in this process;
            N > 1: N processes, one GPU each when the machine has N).
        storage: The study's storage (:func:`~ganmods.compare.study.parse_storage`; default
            ``out_dir/study.journal``).
        images: Replaces the config's ``budget:`` by this many real images per run.

    Returns:
        What was skipped, run and failed.

    Raises:
        ConfigurationError: For bad input, before any run starts (also: ``out`` is a file, is read-only, or
            is in use by another comparison, whose pid the message names; a bad or unreachable storage).
        Interrupted: On Ctrl-C.
        OSError: On a full disk (``ENOSPC``); finished runs are kept.
    """
    start = time.perf_counter()
    stream = stream or sys.stderr
    count = worker_count(workers, parallel)
    comparison = load_comparison(config, variants=variants, seeds=seeds, parallel=count, wandb=wandb,
                                 trials=trials, images=images)
    out_dir = out_dir or default_out(comparison)
    check_output_folder(out_dir, "out")
    spec = parse_storage(storage, out_dir)
    runs = plan_runs(comparison, out_dir)
    checked = check_runs(comparison, runs)
    lock = FolderLock(out_dir)
    if not dry_run:
        lock.acquire()
    try:
        return _run_locked(comparison, out_dir, spec, runs, checked, lock, dry_run, stream, bars, start,
                           (variants, seeds, trials, wandb, images))
    finally:
        lock.release()


def _run_locked(comparison: Comparison, out_dir: str, spec: StorageSpec, runs: list[RunSpec], checked: Checked,
                lock: FolderLock, dry_run: bool, stream: TextIO, bars: Optional[bool], start: float,
                selection: tuple) -> ComparisonOutcome:
    results = {r.key: res for r in runs if (res := read_result(r)) is not None}
    outcome = ComparisonOutcome(out_dir, runs, skipped=list(results), checked=checked, storage=spec.describe())
    pending = [r for r in runs if r.key not in results]
    mode = "in this process" if comparison.parallel == 1 else f"{comparison.parallel} worker processes"
    trials = f" × {comparison.search.trials} trials" if comparison.search.active else ""
    print(f"ganmods compare: {comparison.name}: {len(comparison.variants)} variants{trials} × "
          f"{len(comparison.seeds)} seeds = {len(runs)} runs of {comparison.budget.describe()}; {len(results)} "
          f"finished, {len(pending)} to run "
          f"({mode}); metrics {', '.join(checked.metrics)}; study in {spec.describe()}; out {out_dir}", file=stream,
          flush=True)
    if dry_run:
        return outcome
    os.makedirs(out_dir, exist_ok=True)
    metric, maximize = _study_metric(checked)
    study = ComparisonStudy.open(comparison.name, runs, out_dir, spec, metric, maximize)
    outcome.study = study.name
    atomic_write(os.path.join(out_dir, "comparison.json"), json.dumps({
        "name": comparison.name, "config": os.path.abspath(comparison.path), "seeds": list(comparison.seeds),
        "budget": {comparison.budget.unit: comparison.budget.value}, "strict": comparison.strict,
        "overrides": list(comparison.overrides),
        "search": {"trials": comparison.search.trials, "seed": comparison.search.seed,
                   "space": comparison.search.space, "source": comparison.search.source},
        "metrics": list(checked.metrics), "rank_by": list(checked.rank_by), "deviations": checked.deviations,
        "study": {"name": study.name, "storage": spec.url, "metric": metric,
                  "direction": "maximize" if maximize else "minimize"},
        "variants": {v.name: {"source": v.source, "overrides": list(v.overrides), "config": v.config}
                     for v in comparison.variants}}, indent=1, default=str))
    study.sync(retry_failed=True)

    def write(plots: bool) -> None:
        _write_reports(comparison, checked, runs, results, out_dir, plots, study.name, spec.describe())

    def on_done(run: RunSpec, result: Optional[dict[str, Any]]) -> None:
        if result is None:
            outcome.failed.append(run.key)
            return
        results[run.key] = result
        outcome.ran.append(run.key)
        write(plots=False)

    display = ProgressDisplay(len(runs), len(results), comparison.budget, stream=stream, bars=bars)
    monitor = Monitor(study, display, set(results), on_done)
    try:
        if comparison.parallel == 1:
            while True:
                monitor.poll()
                serve(study, comparison.threads_per_run, monitor)
                monitor.poll()
                if monitor.all_ended():
                    break
                time.sleep(0.5)  # runs served by workers elsewhere: wait for them (or for their retries)
        else:
            command = _worker_command(comparison, out_dir, spec, study.name, comparison.threads_per_run, *selection)
            pool = WorkerPool(comparison.parallel, command, comparison.threads_per_run,
                              os.path.join(out_dir, "workers"), lock_fd=lock.fd,
                              gpus=gpu_assignment(comparison.parallel))
            run_pool(study, pool, monitor, until_all_ended=True)
    except BaseException:
        display.close()
        try:  # keep what finished; a second failure (the same full disk) must not hide the first
            write(plots=False)
        except OSError:
            pass
        raise
    display.close()
    write(plots=True)
    outcome.seconds = time.perf_counter() - start
    return outcome


def run_worker(config: str, out_dir: Optional[str] = None, variants: Optional[list[str]] = None,
               seeds: Optional[list[int]] = None, storage: Optional[str] = None, workers: Optional[int] = None,
               trials: Optional[int] = None, wandb: bool = False, stream: Optional[TextIO] = None,
               bars: Optional[bool] = None, dry_run: bool = False, study: Optional[str] = None,
               threads: Optional[int] = None, images: Optional[int] = None) -> ComparisonOutcome:
    """Serve a comparison's study as a worker (``ganmods compare -c CFG --out DIR --storage URL --worker``): run
    waiting runs (and retries of runs whose worker died) until none is left, without taking the output folder's
    lock and without writing the reports (the comparison, or a later ``ganmods compare`` of the same folder,
    writes them once every run has finished). The study is created and its runs enqueued when this worker is the
    first (a SLURM job array of workers needs no coordinator). Each run's output goes to its ``output.log``.

    Args:
        config: The comparison config (the same file, variants, seeds and trials as the comparison's).
        out_dir: The comparison's output folder (shared with every worker; default ``runs/compare/<name>``).
        variants: Only these variants.
        seeds: Only these seeds.
        storage: The study's storage (default ``out_dir/study.journal``).
        workers: Worker processes on this machine (1: in this process; default: the config's ``parallel:``).
        trials: Replaces ``search.trials``.
        wandb: Also log every run to wandb.
        stream: Where progress goes (default ``sys.stderr``).
        bars: Progress bars (default: when ``stream`` is a terminal).
        dry_run: Check and print the plan, run nothing.
        study: Join this existing study without checking the variants again (what a comparison's own local
            workers are given).
        threads: Torch threads per run (replaces the config's ``threads_per_run``).
        images: Replaces the config's ``budget:`` by this many real images per run.

    Returns:
        What had finished before (``skipped``), what this worker trained to its end (``ran``; with ``workers``
        > 1: what finished while its workers served, whoever ran it) and what failed (``failed``).

    Raises:
        ConfigurationError: For bad input, before any run starts.
        Interrupted: On Ctrl-C or ``SIGTERM``.
        OSError: On a full disk.
    """
    start = time.perf_counter()
    stream = stream or sys.stderr
    count = worker_count(workers, None)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise invalid("threads", "an integer >= 1", threads)
    comparison = load_comparison(config, variants=variants, seeds=seeds, parallel=count, wandb=wandb, trials=trials,
                                 images=images)
    out_dir = out_dir or default_out(comparison)
    check_output_folder(out_dir, "out")
    spec = parse_storage(storage, out_dir)
    runs = plan_runs(comparison, out_dir)
    checked = check_runs(comparison, runs) if study is None else None
    results = {r.key: res for r in runs if (res := read_result(r)) is not None}
    outcome = ComparisonOutcome(out_dir, runs, skipped=list(results), checked=checked, storage=spec.describe())
    threads = threads or comparison.threads_per_run
    print(f"ganmods compare --worker: {comparison.name}: {len(results)} of {len(runs)} runs finished; serving the "
          f"rest with {comparison.parallel} worker(s) of {threads or 'default'} thread(s) from {spec.describe()}",
          file=stream, flush=True)
    if dry_run:
        return outcome
    if checked is not None:
        metric, maximize = _study_metric(checked)
        served = ComparisonStudy.open(comparison.name, runs, out_dir, spec, metric, maximize)
        served.sync(retry_failed=False)
    else:
        served = ComparisonStudy.join(study, runs, out_dir, spec)
    outcome.study = served.name

    def on_done(run: RunSpec, result: Optional[dict[str, Any]]) -> None:
        (outcome.failed if result is None else outcome.ran).append(run.key)

    def on_failed(run: RunSpec, result: Optional[dict[str, Any]]) -> None:
        if result is None:
            outcome.failed.append(run.key)

    display = ProgressDisplay(len(runs), len(results), comparison.budget, stream=stream, bars=bars)
    try:
        if comparison.parallel == 1:  # ran: what serve trained (not the runs it found finished)
            outcome.ran = serve(served, threads, Monitor(served, display, set(results), on_failed),
                                log_to_run_dir=True)
        else:
            known = {key for key, state in served.states().items() if state.status in ("done", "failed")}
            monitor = Monitor(served, display, set(results) | known, on_done)
            command = _worker_command(comparison, out_dir, spec, served.name, threads, variants, seeds, trials, wandb,
                                      images)
            pool = WorkerPool(comparison.parallel, command, threads, os.path.join(out_dir, "workers",
                                                                                  f"{os.uname().nodename}-{os.getpid()}"),
                              gpus=gpu_assignment(comparison.parallel))
            run_pool(served, pool, monitor, until_all_ended=False)
    finally:
        display.close()
    outcome.seconds = time.perf_counter() - start
    return outcome
