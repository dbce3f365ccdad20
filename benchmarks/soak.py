"""Soak: ``kill -9`` of ``ganmods fit`` and of a two-worker comparison (``parallel: 2``, i.e. ``--workers 2``) at
random moments, each followed by a rerun, until the work is done; then every checkpoint must load, no process of
the soak may remain, and the final results must equal those of an uninterrupted run.

    python benchmarks/soak.py                 # 30 kills of fit, 10 of a comparison (<= 15 min on 2 cores)
    python benchmarks/soak.py --smoke         # 2 + 1 kills, smaller runs (about a minute)
    python benchmarks/soak.py --fit-kills 5 --compare-kills 0 --work /tmp/soak

``fit``: the toy SGAN config shrunk (32-unit networks, ``--fit-steps`` generator steps, a checkpoint every
20 critic steps). Each attempt resumes from ``last.ckpt`` when there is one; an attempt that finishes
before its kill is compared with the reference and the next attempt starts in a fresh folder. The final
``last.ckpt`` of every finished attempt must hold exactly the reference's tensors.

``compare``: two variants x two seeds on ring8 under ``--compare-images`` images per run, two local worker
processes serving the comparison's Optuna study. Each attempt reruns the same folder (finished runs are kept;
the trials of the killed attempt's workers are failed and retried) until one finishes; its ``result.json``
files must hold the reference's final scores, and its study must show every run trained to its end exactly
once (one trial with ``outcome: finished`` per run).

Prints one line per attempt and a summary; exits 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SGAN = os.path.join(ROOT, "configs", "toy", "sgan.yaml")


def _env() -> dict[str, str]:
    return {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}


def _fit_config(work: str) -> str:
    """The toy SGAN config shrunk for the soak, written once (a resume then gives only ``--ckpt_path``)."""
    with open(SGAN) as fh:
        config = yaml.safe_load(fh)
    init = config["model"]["init_args"]
    init["generator"]["init_args"]["hidden"] = init["discriminator"]["init_args"]["hidden"] = 32
    config["data"].update(batch_size=64, batches_per_epoch=20, val_size=128, eval_samples=256)
    config["trainer"].update(enable_progress_bar=False, callbacks=[])
    path = os.path.join(work, "fit.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(config, fh)
    return path


def _fit_args(out: str, steps: int) -> list[str]:
    work = os.path.dirname(out)
    return [sys.executable, "-m", "ganmods", "fit", "-c", os.path.join(work, "fit.yaml"),
            f"--model.init_args.max_generator_steps={steps}", f"--trainer.logger.init_args.save_dir={out}",
            "--trainer.logger.init_args.name=soak", "--trainer.logger.init_args.version=run"]


def _soak_processes(work: str) -> list[int]:
    """Live processes (not zombies) whose command line mentions the soak's folder."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (os.getpid(), os.getppid()):
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmdline = fh.read().decode(errors="replace")
            with open(f"/proc/{name}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if work in cmdline and state != "Z":
            found.append(int(name))
    return found


def _workers_of(pid: int) -> list[int]:
    """Local workers of the comparison ``pid`` (``ganmods compare ... --worker --parent <pid>``)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                args = fh.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "--worker" in args and "--parent" in args and args[args.index("--parent") + 1] == str(pid):
            found.append(int(name))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _no_strays(work: str, wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    while _soak_processes(work):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _loads(path: str) -> bool:
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        return isinstance(checkpoint, dict) and "state_dict" in checkpoint
    except Exception:  # noqa: BLE001 - any failure means a damaged file
        return False


def _all_checkpoints_load(folder: str) -> tuple[int, list[str]]:
    paths = [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if f.endswith(".ckpt")]
    return len(paths), [p for p in paths if not _loads(p)]


def _same_state(a: str, b: str) -> bool:
    import torch

    sa = torch.load(a, map_location="cpu", weights_only=True)["state_dict"]
    sb = torch.load(b, map_location="cpu", weights_only=True)["state_dict"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _run_until_killed(cmd: list[str], delay: float, log: str) -> tuple[Optional[int], int]:
    """Start ``cmd``; kill -9 it after ``delay`` seconds. Returns (exit status or None when killed, pid)."""
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_env(), cwd=ROOT)
        try:
            return proc.wait(timeout=delay), proc.pid
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, proc.pid


def soak_fit(work: str, kills: int, steps: int, rng: random.Random, report: dict[str, Any]) -> None:
    """The fit part (see the module docstring); fills ``report``."""
    _fit_config(work)
    ref_dir = os.path.join(work, "fit_reference")
    t0 = time.perf_counter()
    subprocess.run(_fit_args(ref_dir, steps), check=True, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    ref_s = time.perf_counter() - t0
    reference = os.path.join(ref_dir, "soak", "run", "checkpoints", "last.ckpt")
    report.update(fit_reference_s=round(ref_s, 1), fit_kills=0, fit_finished=0, fit_mismatches=0, fit_strays=0,
                  fit_bad_checkpoints=[], fit_checkpoints_checked=0)
    attempt, folder_no = 0, 0
    out = os.path.join(work, f"fit_{folder_no}")
    while report["fit_kills"] < kills or attempt == 0 or not os.path.isfile(os.path.join(out, "done")):
        attempt += 1
        last = os.path.join(out, "soak", "run", "checkpoints", "last.ckpt")
        cmd = _fit_args(out, steps) + ([f"--ckpt_path={last}"] if os.path.isfile(last) else [])
        delay = rng.uniform(0.5, ref_s) if report["fit_kills"] < kills else 3600.0
        status, _ = _run_until_killed(cmd, delay, os.path.join(work, "fit.log"))
        strays = not _no_strays(out)
        report["fit_strays"] += strays
        n, bad = _all_checkpoints_load(out)
        report["fit_checkpoints_checked"] += n
        report["fit_bad_checkpoints"] += bad
        if status is None:
            report["fit_kills"] += 1
            print(f"fit attempt {attempt}: killed after {delay:.1f} s; {n} checkpoint(s) load"
                  f"{', BAD: ' + ', '.join(bad) if bad else ''}{', STRAY PROCESS' if strays else ''}", flush=True)
            continue
        same = status == 0 and _same_state(last, reference)
        report["fit_finished"] += 1
        report["fit_mismatches"] += not same
        print(f"fit attempt {attempt}: finished (status {status}); final state "
              f"{'equals' if same else 'DIFFERS FROM'} the uninterrupted run's", flush=True)
        open(os.path.join(out, "done"), "w").close()
        if report["fit_kills"] < kills:
            folder_no += 1
            out = os.path.join(work, f"fit_{folder_no}")


def _compare_config(work: str, images: int) -> str:
    nets = {"generator": {"class_path": "ganmods.nets.MLPGenerator",
                          "init_args": {"latent_dim": 2, "out_dim": 2, "hidden": 16, "depth": 2}},
            "discriminator": {"class_path": "ganmods.nets.MLPCritic", "init_args": {"in_dim": 2, "hidden": 16,
                                                                                      "depth": 2}}}
    config = {"name": "soak", "seeds": [0, 1], "budget": {"images": images}, "parallel": 2, "strict": False,
              "shared": {"model": {"class_path": "ganmods.SGAN", "init_args": {"n_critic": 1, **nets}},
                         "data": {"dataset": "ring8", "batch_size": 32, "batches_per_epoch": 10, "val_size": 64,
                                  "eval_samples": 200},
                         "trainer": {"accelerator": "cpu", "devices": 1, "enable_model_summary": False}},
              "variants": {"sgan": [], "wgan_gp": ["model.class_path=ganmods.WGANGP", "model.init_args.gp_weight=0.1",
                                                    "model.init_args.n_critic=2"]}}
    path = os.path.join(work, "compare.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(config, fh)
    return path


def _finals(out: str) -> dict[str, Any]:
    finals = {}
    for variant in ("sgan", "wgan_gp"):
        for seed in (0, 1):
            try:
                with open(os.path.join(out, "runs", variant, f"s{seed}", "result.json")) as fh:
                    finals[f"{variant}/s{seed}"] = json.load(fh)["final"]
            except (OSError, ValueError, KeyError):
                finals[f"{variant}/s{seed}"] = None
    return finals


def _finished_twice(out: str) -> int:
    """Runs that the comparison's study shows trained to their end more than once (0 when all is well)."""
    from optuna.trial import TrialState

    from ganmods.compare import load_comparison, plan_runs
    from ganmods.compare.study import ComparisonStudy, parse_storage

    with open(os.path.join(out, "comparison.json")) as fh:
        name = json.load(fh)["study"]["name"]
    runs = plan_runs(load_comparison(os.path.join(os.path.dirname(out), "compare.yaml")), out)
    study = ComparisonStudy.join(name, runs, out, parse_storage(None, out))
    counts: dict[str, int] = {}
    for trial in study.trials(states=(TrialState.COMPLETE,)):
        if trial.user_attrs.get("outcome") == "finished":
            counts[trial.user_attrs["run"]] = counts.get(trial.user_attrs["run"], 0) + 1
    return sum(1 for run in runs if counts.get(run.key, 0) != 1)


def soak_compare(work: str, kills: int, images: int, rng: random.Random, report: dict[str, Any]) -> None:
    """The comparison part (see the module docstring); fills ``report``."""
    config = _compare_config(work, images)

    def cmd(out: str) -> list[str]:
        return [sys.executable, "-m", "ganmods", "compare", "-c", config, "--out", out, "--no-bars"]

    ref_dir = os.path.join(work, "compare_reference")
    t0 = time.perf_counter()
    subprocess.run(cmd(ref_dir), check=True, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    ref_s = time.perf_counter() - t0
    reference = _finals(ref_dir)
    report.update(compare_reference_s=round(ref_s, 1), compare_kills=0, compare_finished=0, compare_mismatches=0,
                  compare_strays=0, compare_orphaned_workers=0, compare_bad_checkpoints=[],
                  compare_not_finished_once=0)
    attempt, folder_no = 0, 0
    out = os.path.join(work, f"compare_{folder_no}")
    while report["compare_kills"] < kills or attempt == 0 or not os.path.isfile(os.path.join(out, "done")):
        attempt += 1
        delay = rng.uniform(1.0, ref_s) if report["compare_kills"] < kills else 3600.0
        with open(os.path.join(work, "compare.log"), "a") as log:
            proc = subprocess.Popen(cmd(out), stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=ROOT)
            workers: list[int] = []
            deadline = time.monotonic() + delay
            status = None
            while time.monotonic() < deadline:
                workers = sorted(set(workers) | set(_workers_of(proc.pid)))
                status = proc.poll()
                if status is not None:
                    break
                time.sleep(0.05)
            if status is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        strays = not _no_strays(out)
        give_up = time.monotonic() + 10.0
        while any(_alive(w) for w in workers) and time.monotonic() < give_up:
            time.sleep(0.1)
        orphans = [w for w in workers if _alive(w)]
        report["compare_strays"] += strays
        report["compare_orphaned_workers"] += len(orphans)
        n, bad = _all_checkpoints_load(out)
        report["compare_bad_checkpoints"] += bad
        if status is None:
            report["compare_kills"] += 1
            print(f"compare attempt {attempt}: killed after {delay:.1f} s with {len(workers)} worker(s) seen; "
                  f"{n} checkpoint(s) load{', BAD: ' + ', '.join(bad) if bad else ''}"
                  f"{', STRAY PROCESS' if strays else ''}", flush=True)
            continue
        finals = _finals(out)
        same = status == 0 and finals == reference
        twice = _finished_twice(out) if status == 0 else 0
        report["compare_finished"] += 1
        report["compare_mismatches"] += not same
        report["compare_not_finished_once"] += twice
        print(f"compare attempt {attempt}: finished (status {status}); final scores "
              f"{'equal' if same else 'DIFFER FROM'} the uninterrupted comparison's; "
              f"{'every run trained to its end once' if not twice else f'{twice} run(s) NOT trained exactly once'}",
              flush=True)
        open(os.path.join(out, "done"), "w").close()
        if report["compare_kills"] < kills:
            folder_no += 1
            out = os.path.join(work, f"compare_{folder_no}")


def main(argv: Optional[list[str]] = None) -> int:
    """Run the soak.

    Args:
        argv: Arguments (``None``: ``sys.argv[1:]``).

    Returns:
        0 when every check passed, 1 otherwise.
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit-kills", type=int, default=30)
    parser.add_argument("--compare-kills", type=int, default=10)
    parser.add_argument("--fit-steps", type=int, default=300, help="generator steps of each fit run")
    parser.add_argument("--compare-images", type=int, default=3200, help="real images per comparison run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--work", default=None, help="folder for the runs (default: a new temporary one, removed)")
    parser.add_argument("--smoke", action="store_true", help="2 fit kills, 1 comparison kill, small runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.fit_kills, args.compare_kills, args.fit_steps, args.compare_images = 2, 1, 100, 960
    for name in ("fit_kills", "compare_kills", "fit_steps", "compare_images"):
        if getattr(args, name) < (1 if name in ("fit_steps", "compare_images") else 0):
            parser.error(f"--{name.replace('_', '-')} must be an integer >= "
                         f"{1 if name in ('fit_steps', 'compare_images') else 0}; got {getattr(args, name)}.")
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="ganmods-soak-")
    os.makedirs(work, exist_ok=True)
    rng = random.Random(args.seed)
    report: dict[str, Any] = {"command": " ".join(["python", "benchmarks/soak.py", *(argv or sys.argv[1:])])}
    t0 = time.perf_counter()
    try:
        if args.fit_kills:
            soak_fit(work, args.fit_kills, args.fit_steps, rng, report)
        if args.compare_kills:
            soak_compare(work, args.compare_kills, args.compare_images, rng, report)
    finally:
        report["seconds"] = round(time.perf_counter() - t0, 1)
        report["strays_at_end"] = len(_soak_processes(work))
    ok = (report.get("fit_mismatches", 0) == 0 and report.get("fit_strays", 0) == 0
          and not report.get("fit_bad_checkpoints") and report.get("compare_mismatches", 0) == 0
          and report.get("compare_strays", 0) == 0 and report.get("compare_orphaned_workers", 0) == 0
          and report.get("compare_not_finished_once", 0) == 0
          and not report.get("compare_bad_checkpoints") and report["strays_at_end"] == 0)
    report["ok"] = ok
    print(json.dumps(report, indent=1), flush=True)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
