"""benchmarks/soak.py --smoke: two kill -9s of `ganmods fit` and one of a two-worker comparison, each followed by
a rerun; every checkpoint loads, no process remains, the results equal uninterrupted runs, and the comparison's
study shows every run trained to its end exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow  # five fits and four comparisons in subprocesses: a few minutes on a busy 2-core machine
@pytest.mark.timeout(900)
def test_soak_smoke_passes(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "soak.py"), "--smoke", "--work",
                           str(tmp_path)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "WANDB_MODE": "disabled"})
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert done.returncode == 0 and report["ok"], done.stdout + done.stderr
    assert report["fit_kills"] == 2 and report["compare_kills"] == 1
    assert report["fit_mismatches"] == report["compare_mismatches"] == report["compare_not_finished_once"] == 0
    assert report["fit_finished"] >= 1 and report["compare_finished"] >= 1 and report["strays_at_end"] == 0


def test_soak_refuses_negative_counts():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "soak.py"), "--fit-kills", "-1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--fit-kills must be an integer >= 0; got -1." in done.stderr
