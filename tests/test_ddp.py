"""Two-process DDP on CPU (gloo): training completes, ranks end with identical parameters, draw
different latents, count images over all ranks, and the checkpoint loads (PITFALLS §10, §13, §14)."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import run_script

SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    warnings.filterwarnings("ignore")
    import torch, lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint
    from ganmods import WGANGP, GANDataModule
    from ganmods.callbacks import ToyPlot
    from ganmods.nets import MLPCritic, MLPGenerator

    torch.manual_seed(0)
    model = WGANGP(MLPGenerator(hidden=8), MLPCritic(hidden=8), gp_weight=0.1, max_generator_steps=4)
    latents = []
    model.generator.register_forward_pre_hook(
        lambda mod, args: latents.append(args[0].detach().clone()) if mod.training and args[0].shape[0] == 16 else None)
    data = GANDataModule(batch_size=16, batches_per_epoch=12, val_size=64, eval_samples=100)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_find_unused_parameters_true", max_epochs=-1,
                         logger=pl.loggers.CSVLogger(sys.argv[1]), enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[ModelCheckpoint(save_last=True, save_top_k=0), ToyPlot()])
    pl.seed_everything(0)
    trainer.fit(model, datamodule=data)
    params = float(sum(p.double().sum() for p in model.parameters()))
    line = (f"RANK {trainer.global_rank} params {params:.10f} latent {float(latents[0].sum()):.6f} "
            f"images {model.images_seen} gsteps {model.generator_steps}")
    # each rank writes its own file, then both wait: rank 0 exiting first must not cut rank 1 short
    with open(f"{sys.argv[1]}/rank{trainer.global_rank}.txt", "w") as f:
        f.write(line)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
    """
)


@pytest.mark.timeout(240)
def test_two_process_ddp_trains_in_lockstep(tmp_path):
    run_script(SCRIPT, tmp_path, str(tmp_path / "logs"))
    lines = sorted((tmp_path / "logs" / f"rank{r}.txt").read_text().split() for r in (0, 1))
    assert [line[1] for line in lines] == ["0", "1"]
    (r0, r1) = lines
    assert r0[3] == r1[3]  # identical parameters on both ranks after training
    assert r0[5] != r1[5]  # but each rank drew its own latents
    assert r0[7] == r1[7] == str(20 * 16 * 2)  # images seen count both ranks
    assert r0[9] == r1[9] == "4"
    import ganmods

    (ckpt,) = (tmp_path / "logs").rglob("last.ckpt")
    assert ganmods.load_checkpoint(ckpt).generator_steps == 4
