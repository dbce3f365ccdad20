"""Shared test helpers: tiny networks and a fast CPU trainer."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from ganmods.nets import MLPCritic, MLPGenerator

os.environ.setdefault("WANDB_MODE", "disabled")
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
torch.set_num_threads(1)


def tiny_nets(hidden: int = 16, norm: str = "none") -> dict[str, Any]:
    """A small generator/critic pair for 2-D data."""
    return {
        "generator": MLPGenerator(latent_dim=2, out_dim=2, hidden=hidden, depth=2),
        "discriminator": MLPCritic(in_dim=2, hidden=hidden, depth=2, norm=norm),
    }


def fast_trainer(tmp_path: Any = None, **kwargs: Any) -> pl.Trainer:
    """A quiet CPU trainer for tests (no logger or checkpoints unless asked)."""
    defaults: dict[str, Any] = dict(
        accelerator="cpu", devices=1, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0, default_root_dir=str(tmp_path) if tmp_path else None,
    )
    defaults.update(kwargs)
    return pl.Trainer(**defaults)


@pytest.fixture
def nets() -> dict[str, Any]:
    """Tiny networks, fresh per test."""
    torch.manual_seed(0)
    return tiny_nets()


def run_script(source: str, tmp_path: Path, *args: str, timeout: int = 200) -> subprocess.CompletedProcess:
    """Run ``source`` as a Python script in a fresh process (one thread, wandb off, this checkout importable)
    with ``args``; fail the test with the end of its stderr unless it exits with 0."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = tmp_path / "script.py"
    script.write_text(source)
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="disabled", PYTHONPATH=root)
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=timeout,
                         env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    return out
