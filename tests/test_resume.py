"""Exact resume: N generator steps straight through == N/2, stop, resume from the checkpoint, N/2 more."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import lightning.pytorch as pl
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint

from ganmods import SGAN, WGAN, WGANGP, GANDataModule, RaGAN
from ganmods.cli import main
from ganmods.module import COUNTERS
from tests.conftest import fast_trainer, tiny_nets

VARIANTS: dict[str, Callable[..., Any]] = {
    "sgan": lambda **kw: SGAN(**kw),
    "wgan_clip": lambda **kw: WGAN(**kw, n_critic=3),
    "wgan_gp": lambda **kw: WGANGP(**kw, n_critic=3, gp_weight=1.0),
    "rasgan": lambda **kw: RaGAN(**kw, kind="rasgan"),
}


def _fit(make: Callable[..., Any], steps: int, root: Path, ckpt: Any = None) -> tuple[Any, pl.Trainer]:
    pl.seed_everything(0, verbose=False)
    torch.manual_seed(0)
    model = make(
        **tiny_nets(),
        max_generator_steps=steps,
        ema_decay=0.9,
        scheduler_d=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.9),
        scheduler_g=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.9),
    )
    # 7 batches per epoch: the stop falls mid-epoch, and validation runs between steps
    data = GANDataModule(batch_size=16, batches_per_epoch=7, val_size=32, eval_samples=64)
    trainer = fast_trainer(
        root, enable_checkpointing=True, callbacks=[ModelCheckpoint(dirpath=root, save_last=True, save_top_k=0)],
        limit_val_batches=None, num_sanity_val_steps=2,
    )
    trainer.fit(model, datamodule=data, ckpt_path=ckpt)
    return model, trainer


def _assert_same_state(a: tuple[Any, pl.Trainer], b: tuple[Any, pl.Trainer]) -> None:
    (ma, ta), (mb, tb) = a, b
    sa, sb = ma.state_dict(), mb.state_dict()
    assert sa.keys() == sb.keys()
    assert any(k.startswith("ema_generator.") for k in sa)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{key} differs after resume"
    assert [getattr(ma, k) for k in COUNTERS] == [getattr(mb, k) for k in COUNTERS]
    for oa, ob in zip(ta.optimizers, tb.optimizers):
        for pa, pb in zip(oa.state_dict()["state"].values(), ob.state_dict()["state"].values()):
            for key in pa:
                assert torch.equal(torch.as_tensor(pa[key]), torch.as_tensor(pb[key]))
    for la, lb in zip(ta.lr_scheduler_configs, tb.lr_scheduler_configs):
        assert la.scheduler.state_dict() == lb.scheduler.state_dict()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_resume_is_exact(variant, tmp_path):
    make = VARIANTS[variant]
    straight = _fit(make, 10, tmp_path / "straight")
    _fit(make, 5, tmp_path / "half")
    resumed = _fit(make, 10, tmp_path / "resumed", ckpt=tmp_path / "half" / "last.ckpt")
    assert straight[0].generator_steps == resumed[0].generator_steps == 10
    _assert_same_state(straight, resumed)


def test_resume_is_not_a_restart(tmp_path):
    """A control for the test above: resuming from a different point must give different parameters."""
    straight = _fit(VARIANTS["sgan"], 10, tmp_path / "straight")
    _fit(VARIANTS["sgan"], 4, tmp_path / "half")
    resumed = _fit(VARIANTS["sgan"], 11, tmp_path / "resumed", ckpt=tmp_path / "half" / "last.ckpt")
    assert not torch.equal(straight[0].generator.net[0].weight, resumed[0].generator.net[0].weight)


def _cli_config(tmp_path: Path, name: str) -> Path:
    config = {
        "seed_everything": 3,
        "model": {
            "class_path": "ganmods.WGANGP",
            "init_args": {
                "max_generator_steps": 6, "n_critic": 2, "gp_weight": 0.5, "ema_decay": 0.9,
                "generator": {"class_path": "ganmods.nets.MLPGenerator", "init_args": {"latent_dim": 2, "hidden": 16, "depth": 2}},
                "discriminator": {"class_path": "ganmods.nets.MLPCritic", "init_args": {"hidden": 16, "depth": 2}},
            },
        },
        "data": {"batch_size": 16, "batches_per_epoch": 5, "val_size": 32, "eval_samples": 64},
        "trainer": {
            "accelerator": "cpu", "max_epochs": -1, "enable_progress_bar": False, "enable_model_summary": False,
            "default_root_dir": str(tmp_path / name), "logger": False,
            # a mid-run checkpoint after 3 of the 6 generator steps (9 optimizer steps: 6 critic + 3 generator)
            "callbacks": [{
                "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                "init_args": {"dirpath": str(tmp_path / name / "mid"), "filename": "{step}", "every_n_train_steps": 9,
                              "save_top_k": -1},
            }],
        },
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_resume_through_the_cli(tmp_path):
    """An interrupted run resumed from a mid-run checkpoint with ``--ckpt_path`` ends where an uninterrupted
    run ends (the command line restores the model's hyperparameters from the checkpoint)."""
    assert main(["fit", "-c", str(_cli_config(tmp_path, "straight"))]) == 0
    mid = tmp_path / "straight" / "mid" / "step=9.ckpt"
    assert torch.load(mid, weights_only=True)["ganmods"]["counters"]["generator_steps"] == 3
    assert main(["fit", "-c", str(_cli_config(tmp_path, "resumed")), "--ckpt_path", str(mid)]) == 0
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert a["ganmods"]["class_path"] == b["ganmods"]["class_path"] == "ganmods.variants.WGANGP"
    assert a["ganmods"]["counters"] == b["ganmods"]["counters"]
    assert a["ganmods"]["counters"]["generator_steps"] == 6
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key


def test_resuming_a_finished_run_takes_no_step(tmp_path):
    _fit(VARIANTS["sgan"], 4, tmp_path / "done")
    again, _ = _fit(VARIANTS["sgan"], 4, tmp_path / "again", ckpt=tmp_path / "done" / "last.ckpt")
    assert (again.generator_steps, again.critic_steps) == (4, 4)
