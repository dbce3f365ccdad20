"""``ganmods compare -c CONFIG.yaml [--out DIR]``: variants × seeds under one budget, a table and plots.

    ganmods compare -c configs/compare/ring8.yaml --out runs/compare/ring8     # run (or resume) it
    ganmods compare -c configs/compare/ring8.yaml --dry-run                    # check and show the plan
    ganmods compare -c configs/compare/ring8.yaml --variants sgan wgan_gp --seeds 0 --workers 1
    ganmods compare -c configs/compare/ring8.yaml --wandb                      # + wandb, one group per comparison
    ganmods compare -c configs/compare/ring8.yaml --trials 1                   # no search: each variant's config
    ganmods compare -c configs/compare/ring8.yaml --workers 4                  # 4 local workers (one GPU each)
    ganmods compare -c compare/ring8 --out /shared/ring8 --storage /shared/ring8.journal --worker   # join, elsewhere

Every run is a trial of the comparison's Optuna study (default storage: OUT/study.journal): workers on other
machines join it with --worker and the same --out and --storage (docs/distributed_compare.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Optional

from ganmods.compare.lock import die_with_parent, is_disk_full
from ganmods.compare.schedule import Interrupted, request_stop
from ganmods.errors import ConfigurationError

__all__ = ["compare_main"]


def compare_main(argv: Optional[list[str]] = None) -> int:
    """Entry point of ``ganmods compare``.

    Args:
        argv: Arguments after ``compare`` (``None``: ``sys.argv[2:]``).

    Returns:
        0 when every run has finished (with ``--worker``: when every run this worker took has), 1 when some
        failed or the disk filled up (one line says so), 130 when interrupted by Ctrl-C or ``SIGTERM``
        (finished runs are kept, workers stopped: repeat the command to resume).

    Raises:
        ConfigurationError: For bad input, before any run starts (``ganmods`` prints it as one line).
    """
    from ganmods.compare.orchestrate import run_comparison, run_worker

    parser = argparse.ArgumentParser(prog="ganmods compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="comparison config (YAML; see configs/compare/)")
    parser.add_argument("--out", default=None, help="output folder (default runs/compare/<name>)")
    parser.add_argument("--variants", nargs="+", default=None, help="run only these variants")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="run only these seeds")
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes, one GPU each when the machine has that many (replaces the "
                             "config's parallel:); 1: the runs train in this process")
    parser.add_argument("--parallel", type=int, default=None, help="alias of --workers")
    parser.add_argument("--storage", default=None,
                        help="where the comparison's Optuna study lives: a journal file (PATH or journal:PATH; "
                             "default OUT/study.journal) or a database URL (sqlite:///PATH, postgresql://..., "
                             "mysql://...); workers on several machines share it")
    parser.add_argument("--worker", action="store_true",
                        help="join the comparison's study as a worker: run waiting runs until none is left, without "
                             "locking OUT or writing the reports (a plain `ganmods compare` writes them)")
    parser.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)  # a local worker's comparison
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--study", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per variant (replaces the config's search.trials; 1: no search)")
    parser.add_argument("--images", type=int, default=None,
                        help="real images shown to the critic per run (replaces the config's budget)")
    parser.add_argument("--wandb", action="store_true",
                        help="also log to wandb, offline (runs grouped by the comparison's name; `wandb sync` uploads)")
    parser.add_argument("--dry-run", action="store_true", help="check everything and print the plan; run nothing")
    parser.add_argument("--no-bars", action="store_true", help="plain progress lines even on a terminal")
    args = parser.parse_args(sys.argv[2:] if argv is None else argv)
    given = [name for name in ("parent", "threads", "study") if getattr(args, name) is not None]
    if given and not args.worker:
        raise ConfigurationError(f"--{given[0]} must be given with --worker only (it is set by the comparison for its "
                                 f"own workers); got --{given[0]} {getattr(args, given[0])!r} without --worker.")
    if args.parent is not None:
        die_with_parent(args.parent)
    os.environ.setdefault("WANDB_SILENT", "true")
    previous = _stop_on_sigterm()
    bars = False if args.no_bars else None
    try:
        if args.worker:
            from ganmods.compare.orchestrate import worker_count

            outcome = run_worker(args.config, out_dir=args.out, variants=args.variants, seeds=args.seeds,
                                 storage=args.storage, workers=worker_count(args.workers, args.parallel),
                                 trials=args.trials, wandb=args.wandb, bars=bars, dry_run=args.dry_run,
                                 study=args.study, threads=args.threads, images=args.images)
        else:
            outcome = run_comparison(args.config, out_dir=args.out, variants=args.variants, seeds=args.seeds,
                                     parallel=args.parallel, workers=args.workers, storage=args.storage,
                                     dry_run=args.dry_run, bars=bars, wandb=args.wandb, trials=args.trials,
                                     images=args.images)
    except (Interrupted, KeyboardInterrupt):  # a signal while the reports are written lands here too
        print("ganmods compare: interrupted; finished runs are kept, repeat the command to resume.", file=sys.stderr)
        return 130
    except OSError as err:
        if not is_disk_full(err):
            raise
        where = f" writing {err.filename}" if getattr(err, "filename", None) else ""
        print(f"ganmods compare: error: the disk is full{where}; finished runs are kept, free some space and repeat "
              "the command to resume.", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if args.dry_run:
        return 0
    if args.worker:
        print(f"ganmods compare --worker: {len(outcome.ran)} run(s) finished while this worker served, "
              f"{len(outcome.failed)} failed, in {outcome.seconds:.0f} s (study {outcome.study} in {outcome.storage}). Reports: "
              f"`ganmods compare -c {args.config} --out {outcome.out_dir}"
              f"{' --storage ' + args.storage if args.storage else ''}` once every run has finished.", file=sys.stderr)
        return 1 if outcome.failed else 0
    out = outcome.out_dir
    print(f"ganmods compare: {len(outcome.ran)} run(s) finished now, {len(outcome.skipped)} already finished, "
          f"{len(outcome.failed)} failed, in {outcome.seconds:.0f} s. Results: {os.path.join(out, 'results.md')}, "
          f"{os.path.join(out, 'results.csv')}, {os.path.join(out, 'selected.json')}, plots in "
          f"{os.path.join(out, 'plots')}", file=sys.stderr)
    if outcome.failed:
        print(f"ganmods compare: failed: {', '.join(outcome.failed)}; repeat the command to run them again.",
              file=sys.stderr)
        return 1
    return 0


def _raise_interrupt(signum: int, frame: object) -> None:
    request_stop()
    raise KeyboardInterrupt(f"signal {signum}")


def _stop_on_sigterm() -> Optional[object]:
    """Treat ``SIGTERM`` like Ctrl-C (workers stopped, finished runs kept); returns the previous handler, or
    None when not in the main thread (no handler installed)."""
    request_stop(False)
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        return None
