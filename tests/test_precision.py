"""bf16-mixed on CPU: the penalty stays in fp32 and matches fp32 on fixed weights; training runs."""

from __future__ import annotations

import torch

from ganmods import WGANGP, GANDataModule
from ganmods.nets import MLPCritic
from ganmods.regularizers import gradient_penalty
from tests.conftest import fast_trainer, tiny_nets


def test_gradient_penalty_under_bf16_autocast_matches_fp32():
    torch.manual_seed(0)
    critic = MLPCritic(hidden=256)
    real, fake = torch.randn(256, 2), torch.randn(256, 2)
    p32, _ = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pbf, norms = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert pbf.dtype == torch.float32 and norms.dtype == torch.float32
    assert abs(float(pbf) / float(p32) - 1) < 1e-2


def test_bf16_mixed_training_runs_with_fp32_losses(tmp_path):
    torch.manual_seed(0)
    model = WGANGP(**tiny_nets(), gp_weight=0.1, max_generator_steps=5, log_interval=1)
    seen = []
    original = model.loss.discriminator_loss
    model.loss.discriminator_loss = lambda r, f: seen.append(original(r, f)) or seen[-1]
    fast_trainer(tmp_path, precision="bf16-mixed").fit(model, datamodule=GANDataModule(batch_size=16, batches_per_epoch=30))
    assert model.generator_steps == 5
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in seen)
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())
