"""``python -m ganmods.compare.worker [--threads N]``: a worker process that runs comparison runs.

Used by ``ganmods compare`` when ``parallel > 1``. The worker reads one prepared run folder per line on
stdin (the ``run.json`` the parent wrote is inside), runs it with its output going to that folder's
``output.log``, and answers ``"<status> <folder>"`` on stdout (0: finished, 1: failed, 2: the disk is
full). It exits at the end of its input, and at once when its parent (the comparison) ends, however it
ends (:func:`~ganmods.compare.lock.die_with_parent`). One worker serves many runs, so torch and Lightning are imported once per worker, not
once per run; a run that kills its worker is reported failed and the parent starts a new worker.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Optional

from ganmods.compare.lock import die_with_parent, is_disk_full
from ganmods.compare.plan import RunSpec
from ganmods.compare.runner import execute_run

__all__ = ["run_logged", "worker_main"]


def run_logged(run_dir: str, threads: Optional[int]) -> int:
    """Run the prepared run in ``run_dir`` with stdout and stderr going to ``run_dir/output.log``.

    Args:
        run_dir: The run's folder (holding ``run.json``).
        threads: Torch threads.

    Returns:
        0 when the run finished, 1 when it failed (the traceback is in ``output.log``), 2 when the disk is
        full (the run's files may be incomplete).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        log = open(os.path.join(run_dir, "output.log"), "w")
    except OSError as err:
        return 2 if is_disk_full(err) else 1
    saved = os.dup(1), os.dup(2)
    with log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with open(os.path.join(run_dir, "run.json")) as fh:
                run = RunSpec.from_json(json.load(fh))
            execute_run(run, threads=threads)
            return 0
        except Exception as err:  # noqa: BLE001 - reported to the parent; the traceback stays in output.log
            if is_disk_full(err):
                return 2
            try:
                traceback.print_exc()
            except OSError:
                pass
            return 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except OSError:
                    pass
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def worker_main(argv: Optional[list[str]] = None) -> int:
    """Serve runs named on stdin until it closes (see the module docstring).

    Args:
        argv: Arguments (``None``: ``sys.argv[1:]``).

    Returns:
        0.
    """
    parser = argparse.ArgumentParser(description="Run prepared comparison runs named on stdin, one per line.")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--parent", type=int, default=None, help="end when this process (the comparison) ends")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    os.environ.setdefault("WANDB_SILENT", "true")
    channel = os.fdopen(os.dup(1), "w", buffering=1)  # answers go here, whatever a run prints
    for line in sys.stdin:
        run_dir = line.strip()
        if run_dir:
            status = run_logged(run_dir, args.threads)
            channel.write(f"{status} {run_dir}\n")
            channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
