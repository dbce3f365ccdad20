"""wandb through the command line (offline, read back from the run's files): every run its own folder, the
whole effective config in the run config, config.yaml saved with the run."""

from __future__ import annotations

import glob
import os

import pytest
import yaml

from ganmods.cli import main
from tests.test_cli_commands import tiny


@pytest.fixture
def offline(monkeypatch, tmp_path):
    import wandb

    wandb.finish()  # a run an earlier test left open would be reused by WandbLogger
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")


def test_runs_sharing_a_save_dir_keep_their_own_files(offline, tmp_path):
    save = tmp_path / "shared"
    for seed in (0, 1):
        args = ["fit", "-c", "toy/sgan", "-c", "loggers/wandb", *tiny(tmp_path, steps=2)[:-3],
                f"--trainer.logger.init_args.save_dir={save}", "--trainer.enable_progress_bar=false",
                f"--seed_everything={seed}"]
        assert main(args) == 0
    configs = sorted(glob.glob(str(save / "ganmods" / "*" / "config.yaml")))
    assert len(configs) == 2  # one folder per run: <save_dir>/<project>/<run id>
    assert sorted(yaml.safe_load(open(c))["seed_everything"] for c in configs) == [0, 1]
    for config in configs:
        run_dir = os.path.dirname(config)
        assert os.path.isfile(os.path.join(run_dir, "checkpoints", "last.ckpt"))
        assert glob.glob(os.path.join(run_dir, "plots", "*.png"))
        assert not os.path.exists(save / "config.yaml")
        run_id = os.path.basename(run_dir)
        (files,) = glob.glob(str(save / "wandb" / f"offline-run-*-{run_id}" / "files"))
        with open(os.path.join(files, "ganmods_config.yaml")) as fh:
            assert fh.read() == open(config).read()
        (record,) = glob.glob(str(save / "wandb" / f"offline-run-*-{run_id}" / "*.wandb"))
        data = open(record, "rb").read()
        # the run config: the variant class, loss, optimizer, data, seed and trainer entries
        for needle in (b"ganmods.SGAN", b"non_saturating", b"torch.optim.Adam", b"batch_size", b"seed_everything",
                       b"max_epochs", b"ring8", b"variant"):
            assert needle in data, needle
        # the charts' x-axis: every train/val/health chart is defined against the images seen (define_metric)
        for needle in (b"train/*", b"val/*", b"health/*", b"counters/images_seen"):
            assert needle in data, needle
