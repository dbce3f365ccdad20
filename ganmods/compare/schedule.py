"""Serving a comparison's runs from its study (:mod:`ganmods.compare.study`), in this process or in worker processes.

* :func:`serve`: one worker's loop. It claims a run (a waiting trial, or a retry of one whose worker died),
  trains it (:func:`~ganmods.compare.runner.execute_run`, from an emptied folder) while holding the run's lock,
  tells the study, and goes on until no run waits. ``ganmods compare`` with one worker (``--workers 1``, the
  default) serves in its own process; every worker process (``ganmods compare ... --worker``) serves too, with
  each run's output going to ``RUN_DIR/output.log``.
* :class:`WorkerPool`: ``--workers N`` starts ``N`` local worker processes (``ganmods compare ... --worker``
  joining the comparison's study), with ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set to the threads per run
  (so ``N × T`` threads in all; on a 2-core machine ``--workers 2`` with one thread each) and, when the
  machine has at least ``N`` GPUs, ``CUDA_VISIBLE_DEVICES`` set to one GPU each. Workers end with the process
  that started them, even when it is killed (``kill -9``): see :func:`~ganmods.compare.lock.kill_with_parent`
  and :func:`~ganmods.compare.lock.die_with_parent`. A worker that dies is replaced; its run is retried.
* :class:`Monitor`: follows the study (and the running runs' ``progress.json``) for the progress display, the
  table written after each finished run, and the end of the comparison: every run finished or failed.

A failed run does not stop the others; an interrupt (Ctrl-C, or ``SIGTERM`` to the comparison) stops every
worker of this machine (their trials are told ``FAIL``, finished runs are kept) and the next ``ganmods
compare`` runs the unfinished ones again. A full disk ends the comparison (``OSError`` with ``ENOSPC``;
``ganmods compare`` prints it as one line).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterator, Optional

from ganmods.compare.lock import is_disk_full, kill_with_parent
from ganmods.compare.plan import RunSpec, read_result
from ganmods.compare.progress import ProgressDisplay
from ganmods.compare.runner import execute_run, prepare_run_dir
from ganmods.compare.study import ComparisonStudy, RunState
from ganmods.errors import ConfigurationError

__all__ = ["Interrupted", "Monitor", "ServeEvents", "WorkerPool", "gpu_assignment", "request_stop", "run_pool",
           "serve"]


class Interrupted(Exception):
    """The comparison was interrupted (Ctrl-C or ``SIGTERM``); finished runs are kept."""


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


class ServeEvents:
    """What :func:`serve` reports about the runs it serves (every method a no-op here; :class:`Monitor` shows them)."""

    def started(self, run: RunSpec) -> None:
        """A run started training.

        Args:
            run: The run.
        """

    def progress(self, run: RunSpec, state: dict[str, Any]) -> None:
        """A running run's progress.

        Args:
            run: The run.
            state: Its progress (``fraction``, ``generator_steps``, ``images_seen``, ``train_s``).
        """

    def finished(self, run: RunSpec, result: dict[str, Any]) -> None:
        """A run has its result (trained now, or found finished).

        Args:
            run: The run.
            result: Its result.
        """

    def failed(self, run: RunSpec, error: str, interrupted: bool = False) -> None:
        """A run ended without a result.

        Args:
            run: The run.
            error: Why (one line).
            interrupted: Whether the comparison is being interrupted (then the run is not counted as failed).
        """


@contextlib.contextmanager
def _output_to(path: str) -> Iterator[None]:
    """This process's stdout and stderr (file descriptors 1 and 2) go to ``path`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "a") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(OSError):
                        stream.flush()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _train(run: RunSpec, threads: Optional[int], progress: Optional[Callable[[dict[str, Any]], None]],
           log_to_run_dir: bool) -> dict[str, Any]:
    if not log_to_run_dir:
        return execute_run(run, threads, progress=progress)
    with _output_to(os.path.join(run.run_dir, "output.log")):
        try:
            return execute_run(run, threads, progress=progress)
        except Exception:
            with contextlib.suppress(OSError):
                traceback.print_exc()
            raise


def _disk_full_message(err: BaseException) -> str:
    current: Optional[BaseException] = err
    while current is not None:
        if isinstance(current, OSError) and getattr(current, "filename", None):
            return f"the disk is full writing {current.filename}"
        current = current.__cause__ or current.__context__
    return "the disk is full"


def serve(study: ComparisonStudy, threads: Optional[int] = None, events: Optional[ServeEvents] = None,
          log_to_run_dir: bool = False) -> list[str]:
    """Serve runs from the study in this process until none waits (see the module docstring).

    Args:
        study: The comparison's study.
        threads: Torch threads per run (``None``: unchanged).
        events: Told about each run (``None``: nobody).
        log_to_run_dir: Send each run's stdout and stderr to its ``output.log`` (worker processes).

    Returns:
        The keys of the runs this call trained to their end.

    Raises:
        Interrupted: On Ctrl-C or ``SIGTERM`` (the current run's trial is told ``FAIL``; it runs again next time).
        OSError: When the disk is full (likewise).
    """
    events = events or ServeEvents()
    done: list[str] = []
    try:
        while not _STOP.is_set():
            claim = study.claim()
            if claim is None:
                return done
            run = claim.run
            try:
                result = read_result(run)
                if result is not None:  # finished by an attempt whose worker died before telling
                    study.finish(claim, result, ran=False)
                    events.finished(run, result)
                    continue
                prepare_run_dir(run)
                events.started(run)
                try:
                    with study.heartbeat(claim):
                        result = _train(run, threads, lambda state, run=run: events.progress(run, state),
                                        log_to_run_dir)
                except (KeyboardInterrupt, SystemExit) as exc:
                    study.fail(claim, "interrupted", "interrupted")
                    events.failed(run, "interrupted", interrupted=True)
                    raise Interrupted(run.key) from exc
                except Exception as exc:  # noqa: BLE001 - one failed run must not stop the comparison
                    if _STOP.is_set():
                        study.fail(claim, "interrupted", "interrupted")
                        events.failed(run, "interrupted", interrupted=True)
                        raise Interrupted(run.key) from exc
                    if is_disk_full(exc):
                        study.fail(claim, "disk full", _disk_full_message(exc))
                        events.failed(run, "the disk is full")
                        raise
                    error = f"{type(exc).__name__}: {exc}"
                    try:
                        with open(os.path.join(run.run_dir, "error.txt"), "w") as fh:
                            fh.write(traceback.format_exc())
                    except OSError as err:
                        if is_disk_full(err):
                            study.fail(claim, "disk full", _disk_full_message(err))
                            events.failed(run, "the disk is full")
                            raise err from None
                    study.fail(claim, "failed", error)
                    events.failed(run, f"{error} (see {run.run_dir}/error.txt)")
                    continue
                study.finish(claim, result, ran=True)  # before the run lock is released
                done.append(run.key)
                events.finished(run, result)
            finally:
                claim.lock.release()
        raise Interrupted("stopping")
    except KeyboardInterrupt as exc:  # while waiting for a run's lock or the storage
        raise Interrupted("interrupted") from exc


def _progress_file(run: RunSpec) -> Optional[dict[str, Any]]:
    try:
        with open(os.path.join(run.run_dir, "progress.json")) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


class Monitor(ServeEvents):
    """Follows every run of a study for the progress display and the caller (see the module docstring).

    Fed directly by :func:`serve` in this process (it is a :class:`ServeEvents`), and by :meth:`poll` for runs
    served elsewhere (local worker processes, other machines).

    Args:
        study: The comparison's study.
        display: The progress display.
        finished: Keys of the runs finished before this invocation.
        on_done: Called once per run that finishes (its result) or fails (``None``) during this invocation.
    """

    def __init__(self, study: ComparisonStudy, display: ProgressDisplay, finished: set[str],
                 on_done: Callable[[RunSpec, Optional[dict[str, Any]]], None]) -> None:
        self.study = study
        self.display = display
        self.on_done = on_done
        self.status = {key: "done" if key in finished else "new" for key in study.order}

    def _set(self, run: RunSpec, status: str, result: Optional[dict[str, Any]] = None, error: str = "") -> None:
        before = self.status[run.key]
        if before == status:
            return
        self.status[run.key] = status
        if status == "running":
            self.display.started(run.key)
        elif status == "done":
            self.display.finished(run.key, result)
            self.on_done(run, result)
        elif status == "failed":
            self.display.finished(run.key, None, error)
            self.on_done(run, None)
        elif status == "interrupted":
            self.display.finished(run.key, None, "interrupted")
        elif status == "waiting" and before == "running":
            self.display.note(run.key, "its worker stopped before the end; it will run again")

    def started(self, run: RunSpec) -> None:
        """See :class:`ServeEvents`.

        Args:
            run: The run.
        """
        self._set(run, "running")

    def progress(self, run: RunSpec, state: dict[str, Any]) -> None:
        """See :class:`ServeEvents`.

        Args:
            run: The run.
            state: Its progress.
        """
        self.display.update(run.key, state)

    def finished(self, run: RunSpec, result: dict[str, Any]) -> None:
        """See :class:`ServeEvents`.

        Args:
            run: The run.
            result: Its result.
        """
        self._set(run, "done", result)

    def failed(self, run: RunSpec, error: str, interrupted: bool = False) -> None:
        """See :class:`ServeEvents`.

        Args:
            run: The run.
            error: Why.
            interrupted: Whether the comparison is being interrupted.
        """
        self._set(run, "interrupted" if interrupted else "failed", error=error)

    def poll(self) -> None:
        """Read the study and the running runs' progress; report what changed.

        Raises:
            OSError: ``ENOSPC`` when a worker found the disk full (the comparison ends).
        """
        states: dict[str, RunState] = self.study.states()
        for key, state in states.items():
            run = self.study.runs[key]
            if self.status[key] == "done" or state.status == "new":
                continue
            if state.status == "done":
                result = read_result(run)
                if result is not None:
                    self._set(run, "done", result)
                    continue
                self._set(run, "failed", error=f"its trial is complete but {run.run_dir}/result.json is missing")
            elif state.status == "failed":
                if state.outcome == "disk full":
                    self._set(run, "failed", error="the disk is full")
                    where = state.error.partition(" writing ")[2] or None
                    raise OSError(errno.ENOSPC, "No space left on device", where)
                if self.status[key] != "interrupted":
                    self._set(run, "failed", error=state.error or state.outcome or "failed")
            else:
                self._set(run, state.status)
        for key, status in self.status.items():
            if status == "running":
                progress = _progress_file(self.study.runs[key])
                if progress is not None:
                    self.display.update(key, progress)

    def note(self, events: list[tuple[str, str]]) -> None:
        """Show what :meth:`~ganmods.compare.study.ComparisonStudy.reap` did.

        Args:
            events: Its ``(run key, what)`` pairs.
        """
        for key, what in events:
            if what == "retried":
                self.display.note(key, "its worker died; running it again")

    def all_ended(self) -> bool:
        """Whether every run is finished or failed.

        Returns:
            True when nothing is waiting or running.
        """
        return all(status in ("done", "failed") for status in self.status.values())


def gpu_assignment(workers: int) -> Optional[list[str]]:
    """One GPU per local worker, when the machine has at least ``workers`` of them.

    Args:
        workers: Local worker processes.

    Returns:
        The ``CUDA_VISIBLE_DEVICES`` value of each worker (the visible devices in order, respecting an
        existing ``CUDA_VISIBLE_DEVICES``), or None when there are fewer GPUs than workers (the variable is then
        left as it is).
    """
    try:
        import torch

        count = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no CUDA runtime: no GPUs
        return None
    if count < workers:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [part.strip() for part in visible.split(",") if part.strip()] if visible else [str(i) for i in range(count)]
    return ids[:workers] if len(ids) >= workers else None


def _package_root() -> str:
    import ganmods

    return os.path.dirname(os.path.dirname(os.path.abspath(ganmods.__file__)))


class WorkerPool:
    """Local worker processes, one per slot (see the module docstring).

    Args:
        size: Worker processes at most.
        command: The worker command line (``ganmods compare ... --worker``), without ``--parent``.
        threads: Threads per worker (``OMP_NUM_THREADS``/``MKL_NUM_THREADS``; ``None``: unchanged).
        log_dir: Each worker's own stdout and stderr go to ``log_dir/worker-<slot>.log``.
        lock_fd: The output folder's lock (:class:`~ganmods.compare.lock.FolderLock`), shared with the workers so
            the folder stays locked until the last of them has ended.
        gpus: ``CUDA_VISIBLE_DEVICES`` per slot (:func:`gpu_assignment`), or None.

    Raises:
        ConfigurationError: If ``size`` is not an integer >= 1, or ``gpus`` does not have one entry per slot.
    """

    def __init__(self, size: int, command: list[str], threads: Optional[int], log_dir: str,
                 lock_fd: Optional[int] = None, gpus: Optional[list[str]] = None) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigurationError(f"size must be an integer >= 1; got {size!r}.")
        if gpus is not None and len(gpus) != size:
            raise ConfigurationError(f"gpus must have one entry per worker ({size}); got {gpus!r}.")
        self.size, self.command, self.threads, self.log_dir = size, list(command), threads, log_dir
        self.lock_fd, self.gpus = lock_fd, gpus
        self.procs: dict[int, subprocess.Popen] = {}
        self.started = 0

    def _env(self, slot: int) -> dict[str, str]:
        env = dict(os.environ)
        if self.threads:
            env.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        if self.gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot]
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH", "")) if p)
        env.setdefault("WANDB_SILENT", "true")
        return env

    def alive(self) -> list[int]:
        """The slots whose worker is running.

        Returns:
            Slots.
        """
        return [slot for slot, proc in self.procs.items() if proc.poll() is None]

    def fill(self, count: int) -> int:
        """Start workers in free slots.

        Args:
            count: Workers wanted at most.

        Returns:
            How many were started.
        """
        free = [slot for slot in range(self.size) if slot not in self.alive()][:max(0, count)]
        os.makedirs(self.log_dir, exist_ok=True)
        for slot in free:
            with open(os.path.join(self.log_dir, f"worker-{slot}.log"), "a") as log:
                self.procs[slot] = subprocess.Popen(
                    [*self.command, "--parent", str(os.getpid())], stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, env=self._env(slot), cwd=os.getcwd(),
                    pass_fds=(self.lock_fd,) if self.lock_fd is not None else (),
                    preexec_fn=kill_with_parent() if sys.platform.startswith("linux") else None)
            self.started += 1
        return len(free)

    def ended(self) -> list[tuple[int, int]]:
        """Workers that have exited since the last call (their slots become free).

        Returns:
            ``(slot, exit status)`` pairs (a negative status: killed by that signal).
        """
        gone = [(slot, proc.returncode) for slot, proc in self.procs.items() if proc.poll() is not None]
        for slot, _ in gone:
            del self.procs[slot]
        return gone

    def stop(self, grace: float = 10.0) -> None:
        """Stop every worker: ``SIGTERM`` (a worker tells its trial ``FAIL`` and exits), then ``SIGKILL`` after
        ``grace`` seconds.

        Args:
            grace: Seconds to wait for them.
        """
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the workers to exit by themselves (nothing left to claim).

        Args:
            timeout: Seconds.
        """
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))


def _last_line(path: str) -> str:
    try:
        with open(path) as fh:
            lines = [line.strip() for line in fh if line.strip()]
    except OSError:
        return "no output"
    return lines[-1] if lines else "no output"


def run_pool(study: ComparisonStudy, pool: WorkerPool, monitor: Monitor, until_all_ended: bool = True,
             poll: float = 0.5) -> None:
    """Keep up to ``pool.size`` local workers serving the study while runs wait.

    Args:
        study: The comparison's study.
        pool: The worker processes.
        monitor: Follows the runs.
        until_all_ended: Return when every run is finished or failed, waiting for runs served elsewhere (the
            comparison), or as soon as no run waits and no local worker is left (an external worker).
        poll: Seconds between looks at the study.

    Raises:
        Interrupted: On Ctrl-C or ``SIGTERM`` (the workers are stopped; their runs will run again next time).
        OSError: ``ENOSPC`` when a worker found the disk full (every worker is stopped).
        ConfigurationError: When a worker refuses its arguments (status 2; its log's last line says why).
        RuntimeError: When workers keep dying (more than twice the runs plus the workers): see their logs.
    """
    deaths = 0
    next_reap = 0.0
    try:
        while True:
            if time.monotonic() >= next_reap:
                monitor.note(study.reap())
                next_reap = time.monotonic() + 4 * poll
            monitor.poll()
            for slot, status in pool.ended():
                log = os.path.join(pool.log_dir, f"worker-{slot}.log")
                if status == 2:
                    raise ConfigurationError(f"a worker refused to start: {_last_line(log)} (see {log})")
                if status not in (0, 1):
                    deaths += 1
                    if deaths > 2 * (len(study.order) + pool.size):
                        raise RuntimeError(f"worker processes keep dying (last: status {status}); see {log}")
                    next_reap = 0.0  # its run is abandoned: retry it now
            waiting = study.waiting()
            if waiting and len(pool.alive()) < pool.size:
                pool.fill(min(pool.size - len(pool.alive()), waiting))
            if until_all_ended and monitor.all_ended():
                break
            if not until_all_ended and not waiting and not pool.alive():
                break
            time.sleep(poll)
        pool.wait(timeout=30.0)
    except KeyboardInterrupt as exc:
        for key, status in monitor.status.items():
            if status == "running":
                monitor.display.finished(key, None, "interrupted")
        raise Interrupted("interrupted") from exc
    finally:  # whatever ended the loop (an error, a full disk), no worker outlives it
        pool.stop()
