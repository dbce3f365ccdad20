"""Comparisons under stress: one comparison per output folder, workers that die with their parent, a rerun
after ``kill -9`` that finishes with the same results, and a full disk that ends a comparison with one line."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ganmods.cli import main
from ganmods.compare.lock import LOCK_FILE, FolderLock, die_with_parent, is_disk_full, lock_holder
from ganmods.errors import ConfigurationError
from tests.test_compare import _config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": ROOT}


def _children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(name))
    return found


def _workers_of(pid: int) -> list[int]:
    """Live local workers started by the comparison ``pid`` (``ganmods compare ... --worker --parent <pid>``)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                args = fh.read().decode(errors="replace").split("\0")
            with open(f"/proc/{name}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "--worker" in args and "--parent" in args and args[args.index("--parent") + 1] == str(pid) \
                and state != "Z":
            found.append(int(name))
    return found


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


HOLD = "import sys, time; from ganmods.compare.lock import FolderLock; FolderLock(sys.argv[1]).acquire(); " \
       "print('held', flush=True); time.sleep(60)"


# ---------------------------------------------------------------- the folder lock
def test_lock_names_its_holder_and_a_killed_holder_does_not_keep_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_holder(str(tmp_path)) == holder.pid
        with pytest.raises(ConfigurationError, match=f"in use by the comparison with pid {holder.pid} "):
            FolderLock(str(tmp_path)).acquire(wait_dead=0)
    finally:
        holder.kill()
        holder.wait()
    with FolderLock(str(tmp_path)) as lock:  # kill -9 released it
        assert lock.held and lock_holder(str(tmp_path)) == os.getpid()
    assert not lock.held and (tmp_path / LOCK_FILE).is_file()


def test_lock_inside_one_process_is_exclusive_too(tmp_path):
    with FolderLock(str(tmp_path)):
        with pytest.raises(ConfigurationError, match=f"pid {os.getpid()} "):
            FolderLock(str(tmp_path)).acquire(wait_dead=0)
    FolderLock(str(tmp_path)).acquire().release()


def test_is_disk_full_follows_the_cause_chain():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("while saving") from inner
    except RuntimeError as outer:
        assert is_disk_full(outer)
    assert not is_disk_full(OSError(errno.EACCES, "denied"))
    assert not is_disk_full(ValueError("x"))


def test_die_with_parent_refuses_a_bad_interval():
    with pytest.raises(ConfigurationError, match="interval must be a number > 0; got 0"):
        die_with_parent(interval=0)


CHILD = ("import os, sys, time; from ganmods.compare.lock import die_with_parent; die_with_parent(int(sys.argv[1]), "
         "interval=0.2); print(os.getpid(), flush=True); time.sleep(60)")
MIDDLE = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', sys.argv[1], str(__import__('os')"
          ".getpid())], stdout=sys.stdout); time.sleep(60)")


def test_a_worker_dies_when_its_parent_is_killed(tmp_path):
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE, CHILD], stdout=subprocess.PIPE, text=True, env=ENV)
    child = int(middle.stdout.readline())
    assert child in _children_of(middle.pid)
    middle.kill()
    middle.wait()
    _wait(lambda: not _alive(child), 10, "the orphaned child to end")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------- through `ganmods compare`
def _compare(config, out, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ganmods", "compare", "-c", config, "--out", str(out),
                             "--no-bars", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _last_err_line(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


# a budget long enough that the comparison is still training when the signal arrives, on any machine
LONG = {"images": 960_000}


def test_a_second_comparison_on_the_same_folder_is_refused_with_the_holders_pid(tmp_path, capsys):
    config = _config(tmp_path, seeds=[0], budget=LONG)
    out = tmp_path / "out"
    first = _compare(config, out)
    try:
        _wait(lambda: lock_holder(str(out)) == first.pid, 120, "the first comparison to lock its folder")
        code = main(["compare", "-c", config, "--out", str(out), "--no-bars"])
        err = _last_err_line(capsys)
        assert code == 2
        assert err[-1].startswith("ganmods: error: out must be a folder no other comparison is using; got ")
        assert f"in use by the comparison with pid {first.pid} " in err[-1]
        assert not any("Traceback" in ln for ln in err)
    finally:
        first.send_signal(signal.SIGTERM)  # the refused one changed nothing: the first stops as usual
        _, first_err = first.communicate(timeout=120)
    assert first.returncode in (0, 130), first_err
    assert "Traceback" not in first_err


@pytest.mark.parametrize("bad", ["file", "read-only"])
def test_compare_out_at_a_file_or_a_read_only_folder_is_one_line(bad, tmp_path, capsys, monkeypatch):
    config = _config(tmp_path, seeds=[0])
    target = tmp_path / "target"
    if bad == "file":
        target.write_text("keep")
        fragment = "out must be a folder (or a path where one can be created); got "
    else:
        target.mkdir()
        target.chmod(0o555)
        if os.geteuid() == 0:  # root writes anywhere: simulate what a user without the permission sees
            import ganmods.preflight as preflight

            monkeypatch.setattr(preflight, "_writable", lambda path: os.path.abspath(path) != str(target))
        fragment = "out must be a writable folder; got "
    assert main(["compare", "-c", config, "--out", str(target), "--no-bars"]) == 2
    err = _last_err_line(capsys)
    assert err[-1].startswith(f"ganmods: error: {fragment}") and str(target) in err[-1], err[-1]
    assert not any("Traceback" in ln for ln in err)
    assert (target.read_text() == "keep") if bad == "file" else list(target.iterdir()) == []


def _results(out) -> dict[str, dict]:
    return {f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text())
            for p in out.glob("runs/*/*/result.json")}


@pytest.mark.slow  # three comparisons with worker processes: ~1 min on a busy 2-core machine
def test_kill_9_of_a_parallel_comparison_leaves_no_worker_and_a_rerun_gives_the_same_results(tmp_path):
    config = _config(tmp_path, seeds=[0])
    reference = tmp_path / "reference"
    assert main(["compare", "-c", config, "--out", str(reference), "--no-bars", "--parallel", "1"]) == 0
    out = tmp_path / "out"
    victim = _compare(config, out, "--parallel", "2")
    _wait(lambda: len(_workers_of(victim.pid)) == 2 and len(list(out.glob("runs/*/*/output.log"))) == 2, 180,
          "two workers busy with runs")
    workers = _workers_of(victim.pid)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    _wait(lambda: not any(_alive(w) for w in workers), 10, "the workers to end with their parent")
    assert main(["compare", "-c", config, "--out", str(out), "--no-bars", "--parallel", "2"]) == 0
    got, want = _results(out), _results(reference)
    assert sorted(got) == sorted(want) == ["sgan/s0", "wgan_gp/s0"]
    for key in want:
        assert got[key]["final"] == want[key]["final"] and got[key]["batch_digest"] == want[key]["batch_digest"]


def test_sigterm_of_a_parallel_comparison_stops_its_workers(tmp_path):
    config = _config(tmp_path, seeds=[0], budget=LONG)
    out = tmp_path / "out"
    victim = _compare(config, out, "--parallel", "2")
    _wait(lambda: len(_workers_of(victim.pid)) == 2, 180, "two workers")
    workers = _workers_of(victim.pid)
    victim.send_signal(signal.SIGTERM)
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == 130, err
    assert "interrupted; finished runs are kept" in err and "Traceback" not in err
    assert not any(_alive(w) for w in workers)


# ---------------------------------------------------------------- a full disk
def test_a_full_disk_during_a_comparison_ends_it_with_one_line(tmp_path, monkeypatch, capsys):
    import ganmods.compare.schedule as schedule

    def full(run, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", os.path.join(run.run_dir, "checkpoints", "last.ckpt"))

    real_open = open

    def no_error_file(path, *args, **kwargs):  # writing the error file would fail too
        if str(path).endswith("error.txt"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(schedule, "execute_run", full)
    monkeypatch.setattr("builtins.open", no_error_file)
    config = _config(tmp_path, seeds=[0])
    code = main(["compare", "-c", config, "--out", str(tmp_path / "out"), "--no-bars"])
    monkeypatch.setattr("builtins.open", real_open)
    err = _last_err_line(capsys)
    assert code == 1
    assert not any("Traceback" in ln for ln in err)
    errors = [ln for ln in err if "error" in ln.lower()]
    assert len(errors) == 1 and errors[0].startswith("ganmods compare: error: the disk is full writing ")
    assert "last.ckpt" in errors[0]
    assert not (tmp_path / "out" / "runs" / "sgan" / "s0" / "error.txt").exists()
    assert not list((tmp_path / "out").rglob("*.tmp.*"))
    FolderLock(str(tmp_path / "out")).acquire(wait_dead=0).release()  # the lock was released


def test_a_worker_that_finds_the_disk_full_tells_the_study_and_its_comparison_ends(tmp_path, monkeypatch):
    import ganmods.compare.schedule as schedule
    from ganmods.compare import load_comparison, plan_runs
    from ganmods.compare.progress import ProgressDisplay
    from ganmods.compare.schedule import Monitor, serve
    from ganmods.compare.study import ComparisonStudy, parse_storage

    comparison = load_comparison(_config(tmp_path, seeds=[0]))
    out = str(tmp_path / "out")
    runs = plan_runs(comparison, out)
    study = ComparisonStudy.open("tiny", runs, out, parse_storage(None, out), "modes", True)
    study.sync(retry_failed=True)
    checkpoint = os.path.join(runs[0].run_dir, "checkpoints", "last.ckpt")

    def full(run, *args, **kwargs):
        os.write(1, b"training output\n")  # what a run prints reaches file descriptor 1
        raise OSError(errno.ENOSPC, "No space left on device", checkpoint)

    monkeypatch.setattr(schedule, "execute_run", full)
    with pytest.raises(OSError) as raised:  # a worker process: the run's output goes to its output.log
        serve(study, log_to_run_dir=True)
    assert raised.value.errno == errno.ENOSPC
    assert "training output" in (tmp_path / "out" / "runs" / "sgan" / "s0" / "output.log").read_text()
    state = study.states()["sgan/s0"]
    assert (state.status, state.outcome, state.error) == ("failed", "disk full", f"the disk is full writing {checkpoint}")
    display = ProgressDisplay(len(runs), 0, comparison.budget, stream=io.StringIO(), bars=False)
    with pytest.raises(OSError) as seen:  # the comparison following that worker ends with the same error
        Monitor(study, display, set(), lambda run, result: None).poll()
    assert seen.value.errno == errno.ENOSPC and seen.value.filename == checkpoint


def test_atomic_write_leaves_no_temporary_file_on_a_full_disk(tmp_path, monkeypatch):
    from ganmods.compare.recorder import atomic_write

    target = tmp_path / "results.md"
    target.write_text("good")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        atomic_write(str(target), "new")
    assert target.read_text() == "good" and [p.name for p in tmp_path.iterdir()] == ["results.md"]


def test_a_child_started_with_kill_with_parent_dies_with_it():
    from ganmods.compare.lock import kill_with_parent  # noqa: F401 - used in the middle process

    middle_code = ("import subprocess, sys, time; from ganmods.compare.lock import kill_with_parent; "
                   "p = subprocess.Popen([sys.executable, '-c', 'import os, time; print(os.getpid(), flush=True); "
                   "time.sleep(60)'], stdout=sys.stdout, preexec_fn=kill_with_parent()); time.sleep(60)")
    middle = subprocess.Popen([sys.executable, "-c", middle_code], stdout=subprocess.PIPE, text=True, env=ENV)
    child = int(middle.stdout.readline())
    assert _alive(child)
    middle.kill()
    middle.wait()
    _wait(lambda: not _alive(child), 5, "the child to end with its parent")


def test_sigterm_of_a_sequential_comparison_stops_it(tmp_path):
    config = _config(tmp_path, seeds=[0], budget=LONG)
    out = tmp_path / "out"
    victim = _compare(config, out, "--parallel", "1")
    _wait(lambda: list(out.glob("runs/*/*/run.json")), 180, "the first run to start")
    time.sleep(1.0)
    victim.send_signal(signal.SIGTERM)
    _, err = victim.communicate(timeout=120)
    assert victim.returncode == 130, err
    assert "interrupted; finished runs are kept" in err and "Traceback" not in err
    assert len(list(out.glob("runs/*/*/result.json"))) < 2  # it did not go on with the next run


def test_an_interrupt_while_the_reports_are_written_is_the_same_one_line(tmp_path, monkeypatch, capsys):
    import ganmods.compare.orchestrate as orchestrate

    def interrupted_while_writing(*args, **kwargs):
        raise KeyboardInterrupt("signal 15")  # what the SIGTERM handler raises outside a run

    monkeypatch.setattr(orchestrate, "run_comparison", interrupted_while_writing)
    assert main(["compare", "-c", _config(tmp_path, seeds=[0]), "--out", str(tmp_path / "out"), "--no-bars"]) == 130
    err = _last_err_line(capsys)
    assert err[-1] == "ganmods compare: interrupted; finished runs are kept, repeat the command to resume."
