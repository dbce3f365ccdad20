"""Counter-keyed randomness: the step's random numbers depend on (seed, rank, step) only."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch

import ganmods
from ganmods import SGAN, GANDataModule
from ganmods.randomness import STEP_STREAM, mix_seed
from tests.conftest import fast_trainer, tiny_nets


def test_mix_seed_spreads_nearby_inputs():
    seeds = {mix_seed(0, r, s) for r in range(4) for s in range(1000)}
    assert len(seeds) == 4000 and all(0 <= s < 2**63 for s in seeds)
    assert mix_seed(1, 0, 5) != mix_seed(0, 1, 5) and mix_seed(1, 0, 5) != mix_seed(1, 0, 6)


def _splitmix64(x: int) -> int:
    """splitmix64 (Steele, Lea & Flood 2014), written out here independently of the package."""
    mask = 2**64 - 1
    x = (x + 0x9E3779B97F4A7C15) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return x ^ (x >> 31)


def test_mix_seed_is_the_documented_splitmix64_chain():
    assert _splitmix64(0) == 0xE220A8397B1DCDAF  # the generator's published first output from state 0
    assert mix_seed(0) == 0xE220A8397B1DCDAF >> 1
    # chained: h <- splitmix64(h ^ part), the top 63 bits kept
    assert mix_seed(1, 0, 5) == _splitmix64(_splitmix64(_splitmix64(1) ^ 0) ^ 5) >> 1
    # pinned values (recorded runs depend on them): a change of the mixing must show up here
    assert mix_seed(1, 0, 5) == 1253017015675360983
    assert mix_seed(0, 1, 5) == 3249245338820676290
    assert mix_seed(7, STEP_STREAM, 0, 12) == 8729359964926278091
    assert mix_seed(-1) == mix_seed(2**64 - 1)  # parts are taken modulo 2**64


class _LatentSpy(torch.nn.Module):
    """A generator that records the latents of the critic steps (the calls made without autograd)."""

    def __init__(self, inner: torch.nn.Module, batch: int) -> None:
        super().__init__()
        self.inner, self.batch, self.latent_dim = inner, batch, inner.latent_dim
        self.critic_latents: list[torch.Tensor] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled() and z.shape[0] == self.batch:
            self.critic_latents.append(z.detach().clone())
        return self.inner(z)


def test_critic_step_k_draws_from_the_documented_step_seed(tmp_path):
    """Before critic step k the default generator is seeded with mix_seed(seed, STEP_STREAM, rank, k)."""
    torch.manual_seed(0)
    nets = tiny_nets()
    spy = _LatentSpy(nets["generator"], batch=8)
    model = SGAN(spy, nets["discriminator"], max_generator_steps=3)
    pl.seed_everything(7, verbose=False)
    fast_trainer(tmp_path).fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=5))
    assert len(spy.critic_latents) == 3
    for k, z in enumerate(spy.critic_latents):
        stream = torch.Generator().manual_seed(mix_seed(7, STEP_STREAM, 0, k))
        assert torch.equal(z, torch.randn(8, spy.latent_dim, generator=stream)), f"critic step {k}"


def _fit_weights(tmp_path, seed: int) -> list[torch.Tensor]:
    torch.manual_seed(0)  # the same initial networks for every seed
    model = SGAN(**tiny_nets(), max_generator_steps=3)
    pl.seed_everything(seed, verbose=False)
    fast_trainer(tmp_path).fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=5))
    return [p.detach().clone() for p in model.parameters()]


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    a, b, c = _fit_weights(tmp_path, 3), _fit_weights(tmp_path, 3), _fit_weights(tmp_path, 4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert any(not torch.equal(x, z) for x, z in zip(a, c))


def test_checkpoints_name_the_variant_class_and_hyperparameters_hold_only_construction_arguments(tmp_path):
    model = SGAN(**tiny_nets(), max_generator_steps=1)
    assert "_class_path" not in model.hparams and model.hparams["max_generator_steps"] == 1
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=GANDataModule("ring8", batch_size=8, batches_per_epoch=2))
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    raw = torch.load(tmp_path / "a.ckpt", map_location="cpu", weights_only=True)
    assert raw["ganmods"]["class_path"] == "ganmods.variants.SGAN"


def test_loading_for_inference_leaves_global_random_state_alone(tmp_path):
    model = SGAN(**tiny_nets(), max_generator_steps=2)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=5))
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    record = torch.load(tmp_path / "m.ckpt", weights_only=True)["ganmods"]["rng"]
    assert record["seed"] == model.rng_seed and set(record) == {"seed", "torch", "numpy", "python"}
    torch.manual_seed(123)
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    ganmods.load_checkpoint(tmp_path / "m.ckpt")
    assert not torch.equal(torch.random.get_rng_state(), record["torch"])  # not restored (building nets draws)
    assert np.array_equal(np.random.get_state()[1], before)
