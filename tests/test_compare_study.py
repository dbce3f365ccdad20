"""`ganmods compare` on Optuna: every run is one trial of the comparison's study, enqueued once however many
processes start together; storages are read with clear errors; a worker that dies leaves a trial that another
worker retries (from scratch, exactly), so that every run finishes once; local and external workers serve one
study; the results equal a single worker's."""

from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from ganmods.cli import main
from ganmods.compare import Interrupted, load_comparison, plan_runs, run_comparison, run_worker
from ganmods.compare.lock import RUN_LOCK_FILE, FolderLock, RunLock
from ganmods.compare.plan import RESULT_FILE
from ganmods.compare.runner import RunFailed, execute_run, prepare_run_dir
from ganmods.compare.schedule import WorkerPool, gpu_assignment
from ganmods.compare.study import (MAX_ATTEMPTS, STUDY_FILE, ComparisonStudy, StorageSpec, open_storage,
                                   parse_storage, study_name)
from ganmods.errors import ConfigurationError
from optuna.trial import TrialState
from tests.test_compare import _config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}


def _plan(tmp_path, **changes):
    comparison = load_comparison(_config(tmp_path, **changes))
    out = str(tmp_path / "out")
    return comparison, out, plan_runs(comparison, out)


def _study(tmp_path, runs, out, storage=None) -> ComparisonStudy:
    """One process's view of the study (its own storage object: its own Optuna worker id)."""
    return ComparisonStudy.open("tiny", runs, out, parse_storage(storage, out), "modes", True)


def _runs_of(config: str, out) -> list:
    return plan_runs(load_comparison(config), str(out))


def _finals_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all((isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k]))
                                        or a[k] == b[k] for k in a)


# ---------------------------------------------------------------- storages
def test_storages_are_read_without_opening_anything(tmp_path):
    out = str(tmp_path / "out")
    assert parse_storage(None, out) == StorageSpec("journal", os.path.join(out, STUDY_FILE))
    assert parse_storage(str(tmp_path / "s.journal"), out) == StorageSpec("journal", str(tmp_path / "s.journal"))
    assert parse_storage(f"journal:{tmp_path}/j", out).url == f"journal:{tmp_path}/j"
    assert parse_storage("sqlite:////abs/study.db", out) == StorageSpec("database", "sqlite:////abs/study.db")
    db = parse_storage("postgresql+psycopg2://bob:secret@db.lab/ganmods", out)
    assert db.kind == "database" and db.describe() == "the database postgresql+psycopg2://bob:***@db.lab/ganmods"
    assert parse_storage("mysql://u@h/d", out).url == "mysql://u@h/d"
    assert not os.path.exists(out)


@pytest.mark.parametrize("bad, message", [
    ("", r"storage must be a journal file \(PATH or journal:PATH\) or a database URL \(sqlite:///PATH, .*got ''"),
    ("redis://localhost:6379", "storage must be a journal file .* got 'redis://localhost:6379'"),
    ("sqlite://", "storage must be a database file every worker can open, sqlite:///PATH"),
    ("sqlite:///:memory:", "an in-memory database cannot be shared"),
    ("journal:", "storage must be a journal file"),
    ("FOLDER", "storage must be a journal file path, not a folder"),
    ("MISSING/x/study.journal", "storage must be a journal file in an existing folder"),
])
def test_a_bad_storage_is_refused_with_what_is_allowed(tmp_path, bad, message):
    bad = bad.replace("FOLDER", str(tmp_path)).replace("MISSING", str(tmp_path / "nope"))
    with pytest.raises(ConfigurationError, match=message):
        parse_storage(bad, str(tmp_path / "out"))


def test_a_bad_storage_fails_the_comparison_before_anything_is_written(tmp_path, capsys):
    config = _config(tmp_path, seeds=[0])
    assert main(["compare", "-c", config, "--out", str(tmp_path / "out"), "--storage", "redis://h"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganmods: error: storage must be a journal file")
    assert not (tmp_path / "out").exists()


def test_a_database_without_its_driver_is_one_clear_error(tmp_path):
    pytest.importorskip("sqlalchemy")
    try:
        import psycopg2  # noqa: F401
        pytest.skip("psycopg2 is installed")
    except ImportError:
        pass
    with pytest.raises(ConfigurationError, match="needs a database driver that is not installed"):
        open_storage(parse_storage("postgresql://u:p@localhost/db", str(tmp_path)))


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "workers must be an integer >= 1"),
    (["--workers", "2", "--parallel", "3"], r"parallel must be unset or equal to workers \(2; --parallel is an alias"),
    (["--study", "x"], "--study must be given with --worker only"),
])
def test_bad_worker_arguments_are_one_line(tmp_path, capsys, args, message):
    assert main(["compare", "-c", _config(tmp_path, seeds=[0]), "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganmods: error: ") and re.search(message, err[0]), err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- runs and trials
def test_every_run_is_one_trial_with_its_variant_trial_and_seed(tmp_path):
    comparison, out, runs = _plan(tmp_path, search={"trials": 2, "space": {"model.init_args.clip": None}})
    study = _study(tmp_path, runs, out)
    assert study.sync(retry_failed=True) == [run.key for run in runs]
    trials = study.trials()
    assert [t.user_attrs["run"] for t in trials] == [run.key for run in runs]  # in plan order: served in that order
    for trial, run in zip(trials, runs):
        assert trial.state == TrialState.WAITING
        assert trial.user_attrs == {"run": run.key, "fingerprint": run.fingerprint, "variant": run.variant,
                                    "trial": run.trial, "seed": run.seed, "attempt": 1}
        assert trial.system_attrs["fixed_params"] == {"variant": run.variant, "trial": run.trial, "seed": run.seed}
    assert study.name == study_name("tiny", runs, "modes") and study.study.direction.name == "MAXIMIZE"
    claim = study.claim()
    assert claim.run.key == runs[0].key and claim.trial.params == {"variant": "sgan", "trial": 0, "seed": 0}
    assert RunLock(runs[0].run_dir).acquire(blocking=False) is False  # the claim holds the run's lock
    assert RunLock(runs[0].run_dir).holder() == os.getpid()
    study.finish(claim, {"final": {"modes": 6.0, "hq": 0.5}, "status": "finished", "history": [1, 2]}, ran=True)
    claim.lock.release()
    done = study.trials()[0]
    assert done.state == TrialState.COMPLETE and done.value == 6.0 and done.user_attrs["outcome"] == "finished"
    assert done.user_attrs["result"] == {"final": {"modes": 6.0, "hq": 0.5}, "status": "finished"}  # no history
    assert study.value({"final": {"modes": math.nan}}) == -math.inf  # NaN: the worst, never Optuna's best
    assert study.states()[runs[0].key].status == "done" and study.states()[runs[1].key].status == "waiting"


def test_a_changed_plan_is_another_study(tmp_path):
    _, out, runs = _plan(tmp_path)
    _, _, longer = _plan(tmp_path, budget={"images": 640})
    assert study_name("tiny", runs, "modes") == study_name("tiny", plan_runs(load_comparison(_config(tmp_path)),
                                                                               str(tmp_path / "elsewhere")), "modes")
    assert study_name("tiny", runs, "modes") != study_name("tiny", longer, "modes")  # another budget
    assert study_name("tiny", runs, "modes") != study_name("tiny", runs[:2], "modes")  # other runs
    assert study_name("tiny", runs, "modes") != study_name("tiny", runs, "hq")  # another value


def test_enqueueing_is_idempotent_also_when_processes_start_together(tmp_path):
    _, out, runs = _plan(tmp_path)
    barrier, added, errors = threading.Barrier(4), [], []

    def start() -> None:  # each thread: its own storage object and lock descriptors, as a process has
        try:
            study = _study(tmp_path, runs, out)
            barrier.wait()
            added.extend(study.sync(retry_failed=True))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    study = _study(tmp_path, runs, out)
    assert sorted(added) == sorted(run.key for run in runs)  # each run enqueued by exactly one of them
    assert study.sync(retry_failed=True) == [] and study.sync(retry_failed=False) == []
    assert sorted(t.user_attrs["run"] for t in study.trials()) == sorted(run.key for run in runs)


def test_a_worker_that_gets_a_fresh_trial_leaves_no_run_behind(tmp_path, monkeypatch):
    _, out, runs = _plan(tmp_path, seeds=[0])
    study = _study(tmp_path, runs, out)
    study.sync(retry_failed=True)
    other = _study(tmp_path, runs, out)
    taken = [other.claim(), other.claim()]  # another worker took both runs
    answers = iter([1, 0])  # this worker saw one waiting run just before the other took it
    monkeypatch.setattr(study, "waiting", lambda: next(answers))
    assert study.claim() is None
    idle = [t for t in study.study.get_trials(deepcopy=False) if "run" not in t.user_attrs]
    assert len(idle) == 1 and idle[0].user_attrs == {"idle": True} and idle[0].state == TrialState.FAIL
    assert len(study.trials()) == 2 and all(t.state == TrialState.RUNNING for t in study.trials())
    for claim in taken:
        claim.lock.release()


# ---------------------------------------------------------------- dead workers
def test_a_dead_workers_trial_is_retried_once_and_a_live_ones_is_left_alone(tmp_path):
    _, out, runs = _plan(tmp_path, seeds=[0])
    study = _study(tmp_path, runs, out)
    study.sync(retry_failed=True)
    dead, alive = study.claim(), study.claim()
    dead.lock.release()  # what the kernel does when the worker holding it dies, even by kill -9
    other = _study(tmp_path, runs, out)
    assert other.reap() == [(dead.run.key, "retried")]
    assert other.reap() == []  # nothing twice: the retry is waiting, the dead trial failed
    trials = {t.number: t for t in other.trials()}
    assert trials[dead.trial.number].state == TrialState.FAIL
    assert trials[dead.trial.number].user_attrs["outcome"] == "abandoned"
    assert "its worker stopped during attempt 1" in trials[dead.trial.number].user_attrs["error"]
    assert trials[alive.trial.number].state == TrialState.RUNNING  # its lock is held: its worker is alive
    retry = other.claim()
    assert retry.run.key == dead.run.key and retry.trial.user_attrs["attempt"] == 2
    assert retry.trial.user_attrs["retry_of"] == dead.trial.number
    assert [s.status for s in other.states().values()] == ["running", "running"]
    retry.lock.release()
    alive.lock.release()


def test_a_run_abandoned_max_attempts_times_fails_and_a_new_invocation_retries_it(tmp_path):
    _, out, runs = _plan(tmp_path, seeds=[0], variants={"sgan": ["model.class_path=ganmods.SGAN"]})
    study = _study(tmp_path, runs, out)
    study.sync(retry_failed=True)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claim = study.claim()
        assert claim.trial.user_attrs["attempt"] == attempt
        claim.lock.release()
        assert study.reap() == [("sgan/s0", "retried" if attempt < MAX_ATTEMPTS else "abandoned")]
    state = study.states()["sgan/s0"]
    assert state.status == "failed" and f"{MAX_ATTEMPTS} attempts, not retried again" in state.error
    assert study.claim() is None
    assert study.sync(retry_failed=False) == []  # a joining worker does not retry what failed
    assert study.sync(retry_failed=True) == ["sgan/s0"]  # repeating the comparison does
    assert study.claim().trial.user_attrs["attempt"] == 1


def test_a_worker_that_died_after_writing_the_result_is_completed_not_rerun(tmp_path):
    _, out, runs = _plan(tmp_path, seeds=[0], variants={"sgan": ["model.class_path=ganmods.SGAN"]})
    study = _study(tmp_path, runs, out)
    study.sync(retry_failed=True)
    claim = study.claim()
    prepare_run_dir(claim.run)
    result = {"fingerprint": claim.run.fingerprint, "final": {"modes": 7.0}, "status": "finished"}
    (tmp_path / "out" / "runs" / "sgan" / "s0" / RESULT_FILE).write_text(json.dumps(result))
    claim.lock.release()  # died before telling the study
    assert _study(tmp_path, runs, out).reap() == [("sgan/s0", "finished")]
    (trial,) = study.trials()
    assert trial.state == TrialState.COMPLETE and trial.value == 7.0 and trial.user_attrs["outcome"] == "finished"
    assert study.claim() is None


def test_a_trial_failed_as_abandoned_before_its_worker_locked_it_is_left_to_its_retry(tmp_path):
    _, out, runs = _plan(tmp_path, seeds=[0], variants={"sgan": ["model.class_path=ganmods.SGAN"]})
    slow, fast = _study(tmp_path, runs, out), _study(tmp_path, runs, out)
    slow.sync(retry_failed=True)
    popped = slow.study.ask()  # the slow worker popped the run and has not locked it yet
    assert fast.reap() == [("sgan/s0", "retried")]  # meanwhile another found it running with a free lock
    claim = fast.claim()  # the retry
    assert claim.trial.number != popped.number and claim.trial.user_attrs["attempt"] == 2
    claim.lock.release()
    assert next(t for t in fast.study.get_trials() if t.number == popped.number).state == TrialState.FAIL


def test_the_run_lock_survives_emptying_the_folder_and_a_result_is_never_written_twice(tmp_path):
    _, out, runs = _plan(tmp_path, seeds=[0])
    run = runs[0]
    with RunLock(run.run_dir):
        (tmp_path / "out" / "runs" / "sgan" / "s0" / "stale.txt").write_text("x")
        prepare_run_dir(run)  # a new attempt empties the folder, but keeps the lock file it holds
        names = sorted(os.listdir(run.run_dir))
        assert names == [RUN_LOCK_FILE, "run.json"] and RunLock(run.run_dir).acquire(blocking=False) is False
    (tmp_path / "out" / "runs" / "sgan" / "s0" / RESULT_FILE).write_text("{}")
    with pytest.raises(RunFailed, match="has already finished .* it is not run twice"):
        execute_run(run)


HOLD_RUN = ("import sys, time; from ganmods.compare.lock import RunLock; RunLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(60)")


def test_a_run_lock_is_free_once_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_RUN, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=ENV)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert RunLock(str(tmp_path)).holder() == holder.pid
        assert RunLock(str(tmp_path)).acquire(blocking=False) is False
    finally:
        holder.kill()
        holder.wait()
    assert RunLock(str(tmp_path)).acquire(blocking=False) is True


# ---------------------------------------------------------------- workers
def test_the_display_says_when_a_runs_worker_died_without_counting_it_failed():
    from ganmods.compare import Budget
    from ganmods.compare.progress import ProgressDisplay

    display = ProgressDisplay(2, 0, Budget("images", 100), stream=io.StringIO(), bars=True)
    display.started("sgan/s0")
    display.note("sgan/s0", "its worker died; running it again")
    display.close()
    assert "sgan/s0: its worker died; running it again" in display.stream.getvalue()
    assert display.failed == 0 and display.done == 0


def test_gpus_are_one_per_worker_only_when_there_are_enough(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_assignment(2) == ["0", "1"] and gpu_assignment(4) == ["0", "1", "2", "3"]
    assert gpu_assignment(5) is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7,2,3")
    assert gpu_assignment(3) == ["5", "7", "2"]


def test_worker_processes_get_their_gpu_threads_and_parent(tmp_path):
    show = [sys.executable, "-c", "import os, sys, time; print(os.environ.get('CUDA_VISIBLE_DEVICES'), "
            "os.environ['OMP_NUM_THREADS'], sys.argv[1:]); time.sleep(3)"]
    pool = WorkerPool(2, show, 3, str(tmp_path / "logs"), gpus=["4", "6"])
    assert pool.fill(5) == 2 and pool.fill(1) == 0  # two slots
    pool.wait(timeout=60)
    assert sorted(status for _, status in pool.ended()) == [0, 0]
    logs = [(tmp_path / "logs" / f"worker-{slot}.log").read_text().strip() for slot in (0, 1)]
    assert logs == [f"4 3 ['--parent', '{os.getpid()}']", f"6 3 ['--parent', '{os.getpid()}']"]
    with pytest.raises(ConfigurationError, match="gpus must have one entry per worker"):
        WorkerPool(2, show, None, str(tmp_path), gpus=["0"])


def test_an_external_worker_serves_the_study_and_the_comparison_then_writes_the_reports(tmp_path, monkeypatch,
                                                                                         capsys):
    import ganmods.compare.schedule as schedule

    config = _config(tmp_path, budget={"images": 320})
    out = tmp_path / "out"
    real, started = schedule.execute_run, []

    def interrupted_at_the_second(run, *args, **kwargs):
        started.append(run.key)
        if len(started) == 2:
            raise KeyboardInterrupt
        return real(run, *args, **kwargs)

    monkeypatch.setattr(schedule, "execute_run", interrupted_at_the_second)
    with pytest.raises(Interrupted, match="wgan_gp/s0"):  # the comparison stops after its first run
        run_comparison(config, out_dir=str(out), stream=io.StringIO(), bars=False)
    monkeypatch.setattr(schedule, "execute_run", real)
    capsys.readouterr()
    assert main(["compare", "-c", config, "--out", str(out), "--worker", "--no-bars"]) == 0  # joins the study
    err = capsys.readouterr().err
    assert "ganmods compare --worker: tiny: 1 of 4 runs finished" in err
    assert "ganmods compare --worker: 2 run(s) finished while this worker served, 0 failed" in err
    states = _study(tmp_path, _runs_of(config, out), str(out)).states()
    assert {key: state.status for key, state in states.items()} == {
        "sgan/s0": "done", "wgan_gp/s0": "failed", "sgan/s1": "done", "wgan_gp/s1": "done"}  # it retried nothing
    assert states["wgan_gp/s0"].outcome == "interrupted"
    assert "1/4 runs finished" in (out / "results.md").read_text()  # the worker wrote no report
    assert (out / "runs" / "sgan" / "s1" / "output.log").is_file()  # a worker's runs write their output there
    FolderLock(str(out)).acquire(wait_dead=0).release()  # the worker did not keep the folder
    final = run_comparison(config, out_dir=str(out), stream=io.StringIO(), bars=False)
    assert final.ran == ["wgan_gp/s0"] and sorted(final.skipped) == ["sgan/s0", "sgan/s1", "wgan_gp/s1"]
    assert "4/4 runs finished" in (out / "results.md").read_text()
    finished = [t.user_attrs["run"] for t in _study(tmp_path, final.runs, str(out)).trials()
                if t.user_attrs.get("outcome") == "finished"]
    assert sorted(finished) == sorted(r.key for r in final.runs)  # every run trained to its end once


def test_workers_alone_serve_a_database_study_and_a_final_comparison_writes_the_reports(tmp_path):
    pytest.importorskip("sqlalchemy")
    config = _config(tmp_path, seeds=[0], budget={"images": 320})
    url, out = f"sqlite:///{tmp_path}/study.db", tmp_path / "out"
    dry = run_worker(config, out_dir=str(out), storage=url, stream=io.StringIO(), dry_run=True)
    assert dry.study is None and not out.exists() and not (tmp_path / "study.db").exists()
    worker = run_worker(config, out_dir=str(out), storage=url, stream=io.StringIO(), bars=False)  # the first worker
    assert sorted(worker.ran) == ["sgan/s0", "wgan_gp/s0"] and worker.study.startswith("tiny-")  # made the study
    assert not (out / "results.md").exists() and not (out / STUDY_FILE).exists()
    final = run_comparison(config, out_dir=str(out), stream=io.StringIO(), bars=False, storage=url)
    assert final.ran == [] and sorted(final.skipped) == ["sgan/s0", "wgan_gp/s0"] and final.study == worker.study
    assert "2/2 runs finished" in (out / "results.md").read_text()
    study = ComparisonStudy.join(final.study, final.runs, str(out), parse_storage(url, "."))
    assert [t.state for t in study.trials()] == [TrialState.COMPLETE] * 2
    assert json.loads((out / "comparison.json").read_text())["study"]["storage"] == url
    with sqlite3.connect(tmp_path / "study.db") as db:  # each run's worker beat its trial's heartbeat
        assert db.execute("SELECT COUNT(DISTINCT trial_id) FROM trial_heartbeats").fetchone()[0] == 2


# ---------------------------------------------------------------- several worker processes, one killed
def _compare(config, out, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ganmods", "compare", "-c", config, "--out", str(out), "--no-bars",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _training_run(out):
    """A run whose worker process is training it (progress written, no result yet): (run folder, worker pid)."""
    for progress in out.glob("runs/*/*/progress.json"):
        folder = progress.parent
        pid = RunLock(str(folder)).holder()
        if pid and pid != os.getpid() and not (folder / RESULT_FILE).exists():
            return folder, pid
    return None


def _result(out, key: str) -> dict:
    return json.loads((out / "runs" / key / RESULT_FILE).read_text())


@pytest.mark.slow  # a reference comparison, then 3+ worker processes that each import torch and Lightning: 23-58 s
# on the shared 2-core machine (over the ~20 s limit of the default suite)
def test_two_workers_with_one_killed_mid_run_finish_every_run_once_with_the_single_workers_results(tmp_path):
    import torch

    config = _config(tmp_path, seeds=[0, 1], budget={"images": 4800})
    reference = tmp_path / "reference"
    single = run_comparison(config, out_dir=str(reference), stream=io.StringIO(), bars=False, workers=1)
    keys = sorted(r.key for r in single.runs)
    out = tmp_path / "out"
    comparison = _compare(config, out, "--workers", "2")
    folder, victim = _wait(lambda: _training_run(out), 240, "a worker process training a run")
    os.kill(victim, signal.SIGKILL)
    killed_key = f"{folder.parent.name}/{folder.name}"
    assert not (folder / RESULT_FILE).exists()  # killed mid-run
    _, err = comparison.communicate(timeout=600)
    assert comparison.returncode == 0, err
    assert "its worker" in err and "Traceback" not in err
    study = ComparisonStudy.join(json.loads((out / "comparison.json").read_text())["study"]["name"],
                                 plan_runs(load_comparison(config), str(out)), str(out), parse_storage(None, str(out)))
    trials = study.trials()
    finished = sorted(t.user_attrs["run"] for t in trials if t.user_attrs.get("outcome") == "finished")
    assert finished == keys  # every run trained to its end exactly once
    abandoned = [t for t in trials if t.user_attrs.get("outcome") == "abandoned"]
    assert [t.user_attrs["run"] for t in abandoned] == [killed_key]
    retry = next(t for t in trials if t.user_attrs.get("retry_of") == abandoned[0].number)
    assert retry.state == TrialState.COMPLETE and retry.user_attrs["attempt"] == 2
    assert all(t.state == TrialState.COMPLETE for t in trials if t.user_attrs.get("outcome") != "abandoned")
    for key in keys:
        got, want = _result(out, key), _result(reference, key)
        assert _finals_equal(got["final"], want["final"]) and _finals_equal(got["test"], want["test"]), key
        assert got["batch_digest"] == want["batch_digest"] and got["init_digest"] == want["init_digest"]
        mine = torch.load(out / "runs" / key / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        theirs = torch.load(reference / "runs" / key / "checkpoints" / "last.ckpt", map_location="cpu",
                            weights_only=True)
        assert mine["state_dict"].keys() == theirs["state_dict"].keys()
        assert all(torch.equal(mine["state_dict"][k], theirs["state_dict"][k]) for k in mine["state_dict"]), key
    assert "4/4 runs finished" in (out / "results.md").read_text()
