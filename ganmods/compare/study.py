"""The comparison's Optuna study: every run (variant, trial, seed) is one Optuna trial, served by any worker.

One study per comparison and plan (:func:`study_name`: the comparison's name and a digest of its runs, so a
changed comparison never reuses a stale study) lives in a storage (:func:`parse_storage`):

* by default the journal file ``DIR/study.journal`` in the output folder (Optuna's ``JournalFileBackend``:
  appends under a file lock, safe for several processes and, on a shared file system, several machines);
* ``--storage PATH`` or ``journal:PATH``: a journal file elsewhere (e.g. on a network file system);
* ``--storage sqlite:///PATH | postgresql://... | mysql://...``: a database (Optuna's ``RDBStorage``, with
  heartbeats: a trial whose worker stopped beating is failed and retried by Optuna's own callback).

Each planned run is enqueued once as a ``WAITING`` trial (:meth:`ComparisonStudy.sync`, under a lock file
in the output folder, so processes starting together never enqueue a run twice) whose user attributes name
the run (``run``: ``variant[/t<trial>]/s<seed>``; ``fingerprint``; ``attempt``) and whose parameters are its
``variant``, ``trial`` and ``seed``. A worker takes one with ``study.ask()`` (:meth:`ComparisonStudy.claim`),
holds the run's :class:`~ganmods.compare.lock.RunLock` for the whole run, and tells the study the run's
validation score on the first ``rank_by`` metric (a non-finite score as the worst infinity) with the run's
result summary as user attributes. ``result.json`` in the run's folder stays the source of truth: the reports
are built from the folders, never from the study.

A worker that dies (even ``kill -9``) leaves a ``RUNNING`` trial whose run lock the kernel has dropped. A
worker looking for work (:meth:`ComparisonStudy.reap`) takes that lock, checks the trial is still running,
enqueues a retry of the same run (at most :data:`MAX_ATTEMPTS` attempts per invocation) and marks the dead
trial ``FAIL``; a run whose ``result.json`` is already there is told ``COMPLETE`` instead. A worker that takes
a run checks, under the run lock, that its trial is still its own and that the run has no result yet, so a run
is trained to its end once, whatever dies when. ``ask()`` creates a fresh trial when another worker took the
last waiting one first: such a trial gets the user attribute ``idle`` and is told ``FAIL`` at once; trials
without a ``run`` attribute are ignored everywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import socket
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from ganmods.compare.lock import RunLock
from ganmods.compare.plan import RunSpec, read_result
from ganmods.errors import ConfigurationError, invalid

__all__ = ["MAX_ATTEMPTS", "PLAN_LOCK_FILE", "STUDY_FILE", "Claim", "ComparisonStudy", "RunState", "StorageSpec",
           "parse_storage", "plan_digest", "result_summary", "study_name"]

#: The default storage: a journal file in the output folder.
STUDY_FILE = "study.journal"
#: Lock file in the output folder, held while runs are enqueued (so that no run is enqueued twice).
PLAN_LOCK_FILE = ".study.lock"
#: Attempts of one run within one invocation when its workers keep dying (the first and two retries).
MAX_ATTEMPTS = 3
#: Seconds between a worker's heartbeats in a database storage, and the silence after which its trial is stale.
HEARTBEAT_S, GRACE_S = 30, 120

_ALLOWED = ("a journal file (PATH or journal:PATH) or a database URL (sqlite:///PATH, postgresql://USER@HOST/DB, "
            "mysql://USER@HOST/DB)")
_DB_URL = re.compile(r"^(sqlite|postgresql|postgres|mysql|mariadb)(\+[A-Za-z0-9_]+)?://")
_SUMMARY = ("status", "final", "test", "final_raw", "test_raw", "generator_steps", "critic_steps", "images_seen",
            "train_s", "wall_clock_s", "batch_digest", "init_digest", "threads", "started")
_LIVE = (TrialState.WAITING, TrialState.RUNNING)


@dataclass(frozen=True)
class StorageSpec:
    """Where a comparison's study is kept.

    Args:
        kind: ``"journal"`` (a journal file) or ``"database"`` (an SQLAlchemy URL).
        target: The journal file's absolute path, or the database URL.
    """

    kind: str
    target: str

    @property
    def url(self) -> str:
        """The storage as ``--storage`` takes it (``journal:PATH`` or the database URL)."""
        return f"journal:{self.target}" if self.kind == "journal" else self.target

    def describe(self) -> str:
        """The storage in words, with a database password hidden.

        Returns:
            E.g. ``"the journal file /x/study.journal"``.
        """
        if self.kind == "journal":
            return f"the journal file {self.target}"
        hidden = re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", self.target)
        return f"the database {hidden}"


def parse_storage(storage: Optional[str], out_dir: str) -> StorageSpec:
    """Read ``--storage`` (nothing is opened or created).

    Args:
        storage: ``None`` (the journal file ``out_dir/study.journal``), a journal file path, ``journal:PATH``,
            or a database URL (``sqlite:///PATH``, ``postgresql://...``, ``mysql://...``, with an optional
            ``+driver``).
        out_dir: The comparison's output folder.

    Returns:
        The storage.

    Raises:
        ConfigurationError: For anything else: an empty value, another URL scheme, an in-memory SQLite
            database (workers cannot share it), a journal path that is a folder, or whose folder does not exist
            (outside the output folder, which is created).
    """
    if storage is None:
        return StorageSpec("journal", os.path.abspath(os.path.join(out_dir, STUDY_FILE)))
    if not isinstance(storage, str) or not storage.strip():
        raise invalid("storage", _ALLOWED, storage)
    text = storage.strip()
    if _DB_URL.match(text):
        if text.startswith("sqlite"):
            path = text.split("://", 1)[1]
            if not path.startswith("/") or path.strip("/") in ("", ":memory:"):
                raise invalid("storage", "a database file every worker can open, sqlite:///PATH (an in-memory "
                              "database cannot be shared)", storage)
        return StorageSpec("database", text)
    if "://" in text:
        raise invalid("storage", _ALLOWED, storage)
    path = text[len("journal:"):] if text.startswith("journal:") else text
    if not path:
        raise invalid("storage", _ALLOWED, storage)
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(path):
        raise invalid("storage", "a journal file path, not a folder", storage)
    folder, out = os.path.dirname(path), os.path.abspath(out_dir)
    if not os.path.isdir(folder) and os.path.commonpath([folder, out]) != out:
        raise invalid("storage", "a journal file in an existing folder (or in the output folder)", storage)
    return StorageSpec("journal", path)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Optuna's INFO lines and its experimental/heartbeat warnings silenced for the duration."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", message=".*Heartbeat of storage is supposed to be used with.*")
            warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
            yield
    finally:
        optuna.logging.set_verbosity(level)


def _retry_callback_kwargs() -> dict[str, Any]:
    """Optuna's stale-trial retry callback (named ``heartbeat_stale_trial_callback`` since Optuna 4.9)."""
    import inspect

    storages = optuna.storages
    callback = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
    if callback is not None and "heartbeat_stale_trial_callback" in inspect.signature(storages.RDBStorage).parameters:
        return {"heartbeat_stale_trial_callback": callback(max_retry=MAX_ATTEMPTS - 1)}
    return {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=MAX_ATTEMPTS - 1)}


def open_storage(spec: StorageSpec) -> optuna.storages.BaseStorage:
    """Open (and create when missing) the storage.

    Args:
        spec: From :func:`parse_storage`.

    Returns:
        An Optuna storage.

    Raises:
        ConfigurationError: If the journal file cannot be written, or the database cannot be opened (missing
            driver, unreachable server, bad credentials).
    """
    if spec.kind == "journal":
        try:
            os.makedirs(os.path.dirname(spec.target), exist_ok=True)
            return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(spec.target))
        except OSError as err:
            raise ConfigurationError(f"storage must be a journal file this process can write; {spec.describe()} "
                                     f"cannot be opened ({err.strerror or err}).") from err
    try:
        with _quiet():
            return optuna.storages.RDBStorage(spec.target, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                              **_retry_callback_kwargs())
    except ImportError as err:
        raise ConfigurationError(f"storage {spec.describe()} needs a database driver that is not installed ({err}); "
                                 "install it (e.g. psycopg2-binary for postgresql, PyMySQL for mysql+pymysql).") from err
    except Exception as err:  # noqa: BLE001 - SQLAlchemy's many connection errors, reworded as one line
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigurationError(f"storage must be a database this process can open; {spec.describe()} could not be "
                                 f"opened: {first}") from err


def plan_digest(runs: list[RunSpec], metric: str) -> str:
    """A digest of what a study serves: every run's key and fingerprint (not its folder), and the scored metric.

    Args:
        runs: The planned runs.
        metric: The metric the trials' values are (the first ``rank_by`` metric).

    Returns:
        12 hex digits.
    """
    text = json.dumps({"format": 1, "metric": metric, "runs": [[r.key, r.fingerprint] for r in runs]})
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def study_name(comparison: str, runs: list[RunSpec], metric: str) -> str:
    """The study of a comparison and plan: ``<name>-<plan digest>``.

    Args:
        comparison: The comparison's name.
        runs: Its planned runs.
        metric: The scored metric.

    Returns:
        The name.
    """
    return f"{comparison}-{plan_digest(runs, metric)}"


def result_summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a trial records of its run's ``result.json``: status, scores, counters, clocks and digests (not the
    history or the hyperparameters).

    Args:
        result: The run's result.

    Returns:
        The summary.
    """
    return {key: result[key] for key in _SUMMARY if key in result}


@dataclass
class Claim:
    """A run a worker has taken: its trial, and its run lock (held until the trial is told).

    Args:
        run: The run.
        trial: The Optuna trial (``RUNNING``).
        trial_id: The trial's id in the storage.
        lock: The run's lock, held.
    """

    run: RunSpec
    trial: optuna.Trial
    trial_id: int
    lock: RunLock


@dataclass(frozen=True)
class RunState:
    """Where one run stands in the study.

    Args:
        status: ``"waiting"``, ``"running"``, ``"done"`` (its latest trial is complete), ``"failed"`` (its latest
            trial failed and none is waiting or running) or ``"new"`` (no trial yet).
        trial: The number of the trial that decided the status (None for ``"new"``).
        outcome: That trial's ``outcome`` attribute (``finished``, ``already finished``, ``recorded``,
            ``failed``, ``interrupted``, ``abandoned``, ``disk full``), or ``""``.
        error: Its ``error`` attribute (one line), or ``""``.
    """

    status: str
    trial: Optional[int] = None
    outcome: str = ""
    error: str = ""


class ComparisonStudy:
    """One comparison's study and the runs it serves (see the module docstring). Build it with :meth:`open`
    (create or load, by a coordinator or an external worker) or :meth:`join` (an existing study, by a local
    worker process).

    Args:
        study: The Optuna study.
        storage: Its storage (the object given to Optuna).
        runs: The planned runs, in plan order.
        out_dir: The comparison's output folder.
        metric: The metric a trial's value is.
        maximize: Whether higher is better for it.
    """

    def __init__(self, study: optuna.Study, storage: optuna.storages.BaseStorage, runs: list[RunSpec], out_dir: str,
                 metric: str, maximize: bool) -> None:
        self.study = study
        self.storage = storage
        self.runs = {run.key: run for run in runs}
        self.order = [run.key for run in runs]
        self.out_dir = out_dir
        self.metric = metric
        self.maximize = maximize
        self._study_id = storage.get_study_id_from_name(study.study_name)
        variants = list(dict.fromkeys(run.variant for run in runs))
        seeds = list(dict.fromkeys(run.seed for run in runs))
        self._distributions: dict[str, BaseDistribution] = {
            "variant": CategoricalDistribution(variants), "seed": CategoricalDistribution(seeds),
            "trial": IntDistribution(0, max([run.trial for run in runs] or [0]))}

    @property
    def name(self) -> str:
        """The study's name."""
        return self.study.study_name

    @classmethod
    def open(cls, comparison: str, runs: list[RunSpec], out_dir: str, spec: StorageSpec, metric: str,
             maximize: bool) -> "ComparisonStudy":
        """Create the comparison's study in ``spec``, or load it when it exists (several processes may do this at
        once).

        Args:
            comparison: The comparison's name.
            runs: Its planned runs.
            out_dir: Its output folder.
            spec: The storage.
            metric: The first ``rank_by`` metric.
            maximize: Whether higher is better for it.

        Returns:
            The study (nothing enqueued yet: see :meth:`sync`).

        Raises:
            ConfigurationError: If the storage cannot be opened.
        """
        storage = open_storage(spec)
        name = study_name(comparison, runs, metric)
        with _quiet():
            study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                        direction="maximize" if maximize else "minimize")
        made = cls(study, storage, runs, out_dir, metric, maximize)
        if study.user_attrs.get("plan") != plan_digest(runs, metric):
            with made._plan_lock():
                for key, value in (("comparison", comparison), ("metric", metric), ("runs", len(runs)),
                                   ("plan", plan_digest(runs, metric))):
                    study.set_user_attr(key, value)
        return made

    @classmethod
    def join(cls, name: str, runs: list[RunSpec], out_dir: str, spec: StorageSpec) -> "ComparisonStudy":
        """Load an existing study of this plan (what a local worker process does).

        Args:
            name: The study's name.
            runs: The planned runs (as the worker planned them).
            out_dir: The output folder.
            spec: The storage.

        Returns:
            The study.

        Raises:
            ConfigurationError: If there is no such study, or its plan is not this one (the comparison's files
                changed since the study was made).
        """
        storage = open_storage(spec)
        try:
            with _quiet():
                study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise invalid("study", f"the name of a study in {spec.describe()}", name) from None
        metric = study.user_attrs.get("metric")
        if not isinstance(metric, str) or study.user_attrs.get("plan") != plan_digest(runs, metric):
            raise ConfigurationError(f"study must serve this comparison's runs; {name!r} in {spec.describe()} was made "
                                     "from other runs (did the comparison's files change since it started?).")
        return cls(study, storage, runs, out_dir, metric, study.direction == optuna.study.StudyDirection.MAXIMIZE)

    # ---------------------------------------------------------------- reading
    def trials(self, states: Optional[tuple[TrialState, ...]] = None) -> list[FrozenTrial]:
        """The study's trials that stand for one of its runs (idle and foreign trials left out), by number.

        Args:
            states: Only trials in these states (``None``: all).

        Returns:
            The trials (not copies: do not modify them).
        """
        found = self.storage.get_all_trials(self._study_id, deepcopy=False, states=states)
        return [t for t in found if t.user_attrs.get("run") in self.runs]

    def trials_of(self) -> dict[str, list[FrozenTrial]]:
        """Every run's trials, by number.

        Returns:
            Run key -> its trials (runs without a trial left out).
        """
        grouped: dict[str, list[FrozenTrial]] = {}
        for trial in self.trials():
            grouped.setdefault(trial.user_attrs["run"], []).append(trial)
        return grouped

    def states(self) -> dict[str, RunState]:
        """Where every run stands (see :class:`RunState`).

        Returns:
            Run key -> state, in plan order.
        """
        grouped = self.trials_of()
        found = {}
        for key in self.order:
            trials = grouped.get(key, [])
            live = [t for t in trials if t.state in _LIVE]
            if any(t.state == TrialState.RUNNING for t in live):
                decisive, status = next(t for t in live if t.state == TrialState.RUNNING), "running"
            elif live:
                decisive, status = live[0], "waiting"
            elif trials:
                decisive = trials[-1]
                status = "done" if decisive.state == TrialState.COMPLETE else "failed"
            else:
                found[key] = RunState("new")
                continue
            found[key] = RunState(status, decisive.number, str(decisive.user_attrs.get("outcome", "")),
                                  str(decisive.user_attrs.get("error", "")))
        return found

    def waiting(self) -> int:
        """How many runs wait for a worker.

        Returns:
            The number of waiting trials.
        """
        return len(self.trials(states=(TrialState.WAITING,)))

    def value(self, result: dict[str, Any]) -> float:
        """A trial's value: the run's validation score on :attr:`metric`; a missing or non-finite score is the worst
        infinity for the direction (Optuna refuses NaN; the run's ``result.json`` keeps the score as it was).

        Args:
            result: The run's result.

        Returns:
            The value.
        """
        worst = -math.inf if self.maximize else math.inf
        try:
            score = float((result.get("final") or {}).get(self.metric))
        except (TypeError, ValueError):
            return worst
        return score if math.isfinite(score) else worst

    # ---------------------------------------------------------------- writing
    @contextlib.contextmanager
    def _plan_lock(self) -> Iterator[None]:
        os.makedirs(self.out_dir, exist_ok=True)
        fd = os.open(os.path.join(self.out_dir, PLAN_LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _params(self, run: RunSpec) -> dict[str, Any]:
        return {"variant": run.variant, "trial": run.trial, "seed": run.seed}

    def _attrs(self, run: RunSpec, attempt: int, retry_of: Optional[int] = None) -> dict[str, Any]:
        attrs = {"run": run.key, "fingerprint": run.fingerprint, "variant": run.variant, "trial": run.trial,
                 "seed": run.seed, "attempt": attempt}
        if retry_of is not None:
            attrs["retry_of"] = retry_of
        return attrs

    def _enqueue(self, run: RunSpec, attempt: int, retry_of: Optional[int] = None) -> None:
        with _quiet():
            self.study.enqueue_trial(self._params(run), user_attrs=self._attrs(run, attempt, retry_of))

    def _trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self._study_id, number)

    def sync(self, retry_failed: bool) -> list[str]:
        """Enqueue every planned run that is neither finished nor waiting nor running; record runs finished in
        their folders but unknown to the study as complete trials (``outcome: recorded``). Holds the output
        folder's plan lock, so processes syncing at once enqueue each run once.

        Args:
            retry_failed: Also enqueue runs whose trials all failed, after failing the trials of dead workers
                with a fresh count of attempts (a coordinator starting: repeating the command retries what
                failed); False: only runs without any trial (an external worker joining).

        Returns:
            The keys of the runs enqueued.

        Raises:
            ConfigurationError: If a run folder holds a result of another config (:func:`read_result`).
        """
        added = []
        with self._plan_lock(), _quiet():
            if retry_failed:
                self.reap(fresh=True)
            grouped = self.trials_of()
            for key in self.order:
                run, trials = self.runs[key], grouped.get(key, [])
                live = any(t.state in _LIVE for t in trials)
                result = read_result(run)
                if result is not None:
                    if not live and not any(t.state == TrialState.COMPLETE for t in trials):
                        self.study.add_trial(optuna.trial.create_trial(
                            state=TrialState.COMPLETE, value=self.value(result), params=self._params(run),
                            distributions=self._distributions,
                            user_attrs={**self._attrs(run, 1), "outcome": "recorded",
                                        "result": result_summary(result)}))
                    continue
                if live or (trials and not retry_failed):
                    continue
                self._enqueue(run, 1)
                added.append(key)
        return added

    def claim(self) -> Optional[Claim]:
        """Take the next run to do: first fail and re-enqueue trials of dead workers (:meth:`reap`), then pop the
        first waiting trial and take its run's lock (waiting while another process holds it).

        Returns:
            The claim (its trial ``RUNNING`` and its run lock held), or None when no run waits.
        """
        self.reap()
        while self.waiting():
            with _quiet():
                trial = self.study.ask()
            key = trial.user_attrs.get("run")
            if key not in self.runs:  # a fresh trial: another worker took the last waiting one first
                with _quiet(), contextlib.suppress(UpdateFinishedTrialError):
                    trial.set_user_attr("idle", True)
                    self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                continue
            run = self.runs[key]
            lock = RunLock(run.run_dir)
            lock.acquire()
            try:
                trial_id = self._trial_id(trial.number)
                if self.storage.get_trial(trial_id).state != TrialState.RUNNING:
                    lock.release()  # failed as abandoned between ask() and the lock: its retry does the run
                    continue
                with _quiet():
                    trial.suggest_categorical("variant", self._distributions["variant"].choices)
                    trial.suggest_int("trial", self._distributions["trial"].low, self._distributions["trial"].high)
                    trial.suggest_categorical("seed", self._distributions["seed"].choices)
                    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
            except BaseException:
                lock.release()
                raise
            return Claim(run, trial, trial_id, lock)
        return None

    def finish(self, claim: Claim, result: dict[str, Any], ran: bool) -> None:
        """Tell the study that the claimed run has its result (call it before releasing the run lock).

        Args:
            claim: The claim.
            result: The run's result.
            ran: Whether this worker trained the run (``outcome: finished``) or found it finished
                (``outcome: already finished``).
        """
        with _quiet(), contextlib.suppress(UpdateFinishedTrialError):
            claim.trial.set_user_attr("outcome", "finished" if ran else "already finished")
            claim.trial.set_user_attr("result", result_summary(result))
            self.study.tell(claim.trial, self.value(result), skip_if_finished=True)

    def fail(self, claim: Claim, outcome: str, error: str) -> None:
        """Tell the study that the claimed run ended without a result (writing to a full disk may fail too: that
        failure is ignored, the trial is then retried as abandoned).

        Args:
            claim: The claim.
            outcome: ``"failed"``, ``"interrupted"`` or ``"disk full"``.
            error: One line saying why.
        """
        with _quiet(), contextlib.suppress(UpdateFinishedTrialError, OSError):
            claim.trial.set_user_attr("outcome", outcome)
            claim.trial.set_user_attr("error", error.strip().splitlines()[0][:500] if error.strip() else outcome)
            self.study.tell(claim.trial, state=TrialState.FAIL, skip_if_finished=True)

    def reap(self, fresh: bool = False) -> list[tuple[str, str]]:
        """Deal with the running trials whose worker is gone (run lock free): tell ``COMPLETE`` those whose run
        has its ``result.json``, else enqueue a retry of the run (unless it already had :data:`MAX_ATTEMPTS`
        attempts) and fail the trial (``outcome: abandoned``). In a database storage, trials whose heartbeat
        stopped are first failed and retried by Optuna.

        Args:
            fresh: Count the retries' attempts from 1 again (a new invocation of the comparison).

        Returns:
            ``(run key, "finished" | "retried" | "abandoned")`` for each trial dealt with.

        Raises:
            ConfigurationError: If a run folder holds a result of another config.
        """
        events: list[tuple[str, str]] = []
        with _quiet():
            optuna.storages.fail_stale_trials(self.study)
            for trial in self.trials(states=(TrialState.RUNNING,)):
                run = self.runs[trial.user_attrs["run"]]
                lock = RunLock(run.run_dir)
                if not lock.acquire(blocking=False):
                    continue  # its worker is alive
                try:
                    trial_id = self._trial_id(trial.number)
                    if self.storage.get_trial(trial_id).state != TrialState.RUNNING:
                        continue  # dealt with meanwhile
                    result = read_result(run)
                    with contextlib.suppress(UpdateFinishedTrialError):
                        if result is not None:  # its worker died after writing the result, before telling
                            self.storage.set_trial_user_attr(trial_id, "outcome", "finished")
                            self.storage.set_trial_user_attr(trial_id, "result", result_summary(result))
                            self.study.tell(trial.number, self.value(result), skip_if_finished=True)
                            events.append((run.key, "finished"))
                            continue
                        attempt = int(trial.user_attrs.get("attempt", 1))
                        again = fresh or attempt < MAX_ATTEMPTS
                        if again:  # before failing it, so that the run never looks failed for good meanwhile
                            self._enqueue(run, 1 if fresh else attempt + 1, retry_of=trial.number)
                        self.storage.set_trial_user_attr(trial_id, "outcome", "abandoned")
                        self.storage.set_trial_user_attr(
                            trial_id, "error", f"its worker stopped during attempt {attempt} (died, killed or "
                            "interrupted)" + ("" if again else f"; {MAX_ATTEMPTS} attempts, not retried again"))
                        self.study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
                        events.append((run.key, "retried" if again else "abandoned"))
                finally:
                    lock.release()
        return events

    @contextlib.contextmanager
    def heartbeat(self, claim: Claim) -> Iterator[None]:
        """Beat the claimed trial's heartbeat while the run trains (database storages; a no-op for journals).

        Args:
            claim: The claim.
        """
        storage = self.storage
        if not isinstance(storage, optuna.storages.RDBStorage) or storage.get_heartbeat_interval() is None:
            yield
            return
        interval = storage.get_heartbeat_interval()
        stop = threading.Event()

        def beat() -> None:
            while True:
                with contextlib.suppress(Exception):  # a missed beat is retried; a long silence fails the trial
                    storage.record_heartbeat(claim.trial_id)
                if stop.wait(interval):
                    return

        thread = threading.Thread(target=beat, daemon=True, name="ganmods-study-heartbeat")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
