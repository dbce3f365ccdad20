"""Counter-keyed randomness: the step's random numbers depend on (seed, rank, step) only."""

from __future__ import annotations

import numpy as np
import torch

import ganmods
from ganmods import SGAN, GANDataModule
from ganmods.randomness import mix_seed
from tests.conftest import fast_trainer, tiny_nets


def test_mix_seed_spreads_nearby_inputs():
    seeds = {mix_seed(0, r, s) for r in range(4) for s in range(1000)}
    assert len(seeds) == 4000 and all(0 <= s < 2**63 for s in seeds)
    assert mix_seed(1, 0, 5) == mix_seed(1, 0, 5) and mix_seed(1, 0, 5) != mix_seed(0, 1, 5)


def test_step_seeding_makes_latents_a_function_of_the_step():
    model = SGAN(**tiny_nets())
    model.rng_seed = 7
    model._seed_step(12)
    a = model.sample_latent(5)
    torch.randn(100)  # anything drawn in between does not matter
    model._seed_step(12)
    assert torch.equal(model.sample_latent(5), a)
    model._seed_step(13)
    assert not torch.equal(model.sample_latent(5), a)


def test_hyperparameters_name_the_variant_class():
    assert SGAN(**tiny_nets()).hparams["_class_path"] == "ganmods.variants.SGAN"


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
