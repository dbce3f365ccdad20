"""Running the pending runs: one after another in this process, or as parallel worker processes.

In parallel mode ``parallel`` worker processes (``python -m ganmods.compare.worker --threads T``, with
``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set to ``T`` as well, so ``parallel × T`` threads in all; on a
2-core machine ``parallel: 2`` with one thread each) take the pending runs one after another, each run's
output going to ``RUN_DIR/output.log``. The parent follows each run through its ``progress.json``. A
failed run does not stop the others; an interrupt (Ctrl-C, or ``SIGTERM`` to the comparison) stops every
run, and the next ``ganmods compare`` starts the unfinished ones again. Workers end with their parent
even when it is killed (``kill -9``): see :func:`~ganmods.compare.lock.die_with_parent`. A full disk ends
the comparison (``OSError`` with ``ENOSPC``, raised here; ``ganmods compare`` prints it as one line).
"""

from __future__ import annotations

import errno
import json
import os
import queue
import subprocess
import sys
import threading
import traceback
from typing import Any, Callable, Optional

from ganmods.compare.lock import is_disk_full, kill_with_parent
from ganmods.compare.plan import RunSpec, read_result
from ganmods.compare.progress import ProgressDisplay
from ganmods.compare.runner import execute_run, prepare_run_dir

__all__ = ["Interrupted", "request_stop", "run_parallel", "run_sequential"]

OnDone = Callable[[RunSpec, Optional[dict[str, Any]]], None]


class Interrupted(Exception):
    """The comparison was interrupted (Ctrl-C); finished runs are kept."""


_STOP = threading.Event()


def request_stop(stop: bool = True) -> None:
    """Mark the comparison as stopping (a ``SIGTERM`` arrived), or clear the mark.

    A run that fails while the mark is set ends the comparison with :class:`Interrupted` instead of counting
    as failed (Lightning turns the interrupt inside ``trainer.fit`` into an interrupted run).

    Args:
        stop: Set (True) or clear (False) the mark.
    """
    if stop:
        _STOP.set()
    else:
        _STOP.clear()


def run_sequential(runs: list[RunSpec], threads: Optional[int], display: ProgressDisplay, on_done: OnDone) -> None:
    """Run each run in this process, in order.

    Args:
        runs: The pending runs.
        threads: Torch threads per run (``None``: unchanged).
        display: The progress display.
        on_done: Called after each run with its result (``None`` when it failed).

    Raises:
        Interrupted: On Ctrl-C (the current run is abandoned and will run again next time).
        OSError: When the disk is full (the run is abandoned and will run again next time).
    """
    for run in runs:
        prepare_run_dir(run)
        display.started(run.key)
        try:
            result = execute_run(run, threads, progress=lambda state, key=run.key: display.update(key, state))
        except (KeyboardInterrupt, SystemExit) as exc:
            display.finished(run.key, None, "interrupted")
            raise Interrupted(run.key) from exc
        except Exception as exc:  # noqa: BLE001 - one failed run must not stop the comparison
            if _STOP.is_set():
                display.finished(run.key, None, "interrupted")
                raise Interrupted(run.key) from exc
            if is_disk_full(exc):
                display.finished(run.key, None, "the disk is full")
                raise
            try:
                with open(os.path.join(run.run_dir, "error.txt"), "w") as fh:
                    fh.write(traceback.format_exc())
            except OSError as err:
                if is_disk_full(err):
                    display.finished(run.key, None, "the disk is full")
                    raise err from None
            display.finished(run.key, None, f"{type(exc).__name__}: {exc} (see {run.run_dir}/error.txt)")
            on_done(run, None)
            continue
        display.finished(run.key, result)
        on_done(run, result)


def _package_root() -> str:
    import ganmods

    return os.path.dirname(os.path.dirname(os.path.abspath(ganmods.__file__)))


class _Worker:
    """One worker process (:mod:`ganmods.compare.worker`) and the run it is busy with."""

    def __init__(self, index: int, threads: Optional[int], log_dir: str, events: "queue.Queue",
                 lock_fd: Optional[int] = None) -> None:
        env = dict(os.environ)
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH", "")) if p)
        env.setdefault("WANDB_SILENT", "true")
        cmd = [sys.executable, "-m", "ganmods.compare.worker", "--parent", str(os.getpid())]
        cmd += ["--threads", str(threads)] if threads else []
        os.makedirs(log_dir, exist_ok=True)
        # the folder's lock travels with the worker: the folder stays locked until the last worker has ended
        with open(os.path.join(log_dir, f"worker-{index}.log"), "a") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                                         cwd=os.getcwd(), text=True, bufsize=1,
                                         pass_fds=(lock_fd,) if lock_fd is not None else (),
                                         preexec_fn=kill_with_parent() if sys.platform.startswith("linux") else None)
        self.run: Optional[RunSpec] = None
        threading.Thread(target=self._read, args=(events,), daemon=True).start()

    def _read(self, events: "queue.Queue") -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            events.put((self, line.strip()))
        events.put((self, None))

    def assign(self, run: RunSpec) -> None:
        assert self.proc.stdin is not None
        self.run = run
        self.proc.stdin.write(run.run_dir + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def kill(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _last_line(run: RunSpec) -> str:
    try:
        with open(os.path.join(run.run_dir, "output.log")) as fh:
            lines = [ln.strip() for ln in fh if ln.strip()]
    except OSError:
        return "no output"
    return (lines[-1] if lines else "no output") + f" (see {run.run_dir}/output.log)"


def _progress(run: RunSpec) -> Optional[dict[str, Any]]:
    try:
        with open(os.path.join(run.run_dir, "progress.json")) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def run_parallel(runs: list[RunSpec], parallel: int, threads: Optional[int], display: ProgressDisplay,
                 on_done: OnDone, poll: float = 0.5, lock_fd: Optional[int] = None) -> None:
    """Run up to ``parallel`` runs at once, in ``parallel`` worker processes that each take the next
    pending run when they finish one.

    Args:
        runs: The pending runs.
        parallel: Worker processes.
        threads: Torch threads per worker.
        display: The progress display.
        on_done: Called after each run with its result (``None`` when it failed).
        poll: Seconds between progress updates.
        lock_fd: The output folder's lock (:class:`~ganmods.compare.lock.FolderLock`), shared with the workers.

    Raises:
        Interrupted: On Ctrl-C (the workers are terminated; their runs will run again next time).
        OSError: When a worker reports a full disk (every worker is stopped).
    """
    if not runs:
        return
    pending = list(runs)
    log_dir = os.path.dirname(os.path.dirname(runs[0].run_dir))
    events: queue.Queue = queue.Queue()
    count = 0

    def next_run(worker: _Worker) -> None:
        if pending:
            run = pending.pop(0)
            prepare_run_dir(run)
            display.started(run.key)
            worker.assign(run)
        else:
            worker.close()

    def finish(worker: _Worker, ok: bool, why: str) -> None:
        run, worker.run = worker.run, None
        assert run is not None
        if why == "disk full":
            display.finished(run.key, None, "the disk is full")
            raise OSError(errno.ENOSPC, "No space left on device", run.run_dir)
        result = read_result(run) if ok else None
        display.finished(run.key, result, "" if result else why or _last_line(run))
        on_done(run, result)

    workers: list[_Worker] = []
    try:
        for _ in range(min(parallel, len(pending))):
            workers.append(_Worker(count, threads, log_dir, events, lock_fd))
            count += 1
            next_run(workers[-1])
        while any(w.run is not None for w in workers):
            try:
                worker, line = events.get(timeout=poll)
            except queue.Empty:
                for w in workers:
                    state = _progress(w.run) if w.run is not None else None
                    if state is not None:
                        display.update(w.run.key, state)
                continue
            if worker.run is None:
                continue
            if line is None:  # the worker died during its run: report it, start a fresh worker
                worker.proc.wait()
                finish(worker, False, f"worker exited with status {worker.proc.returncode}: {_last_line(worker.run)}")
                workers.remove(worker)
                if pending:
                    workers.append(_Worker(count, threads, log_dir, events, lock_fd))
                    count += 1
                    next_run(workers[-1])
                continue
            status, _, path = line.partition(" ")
            if path == worker.run.run_dir and status in ("0", "1", "2"):
                finish(worker, status == "0", "disk full" if status == "2" else "")
                next_run(worker)
        for w in workers:
            w.close()
            w.proc.wait()
    except KeyboardInterrupt as exc:
        busy = [w.run.key for w in workers if w.run is not None]
        for w in workers:
            w.kill()
            if w.run is not None:
                display.finished(w.run.key, None, "interrupted")
        raise Interrupted(", ".join(busy)) from exc
    finally:  # whatever ended the loop (an error, a full disk), no worker outlives it
        for w in workers:
            w.close()
            w.kill()
