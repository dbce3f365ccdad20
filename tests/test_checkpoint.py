"""load_checkpoint: any variant, built in Python or by the CLI; clear errors for unusable files."""

from __future__ import annotations

import pytest
import torch

import ganmods
from ganmods import SGAN, WGAN, WGANGP, GANDataModule, RaGAN
from ganmods.errors import ConfigurationError
from tests.conftest import fast_trainer, tiny_nets


@pytest.mark.parametrize(
    "make",
    [
        lambda n: SGAN(**n, saturating=True, ema_decay=0.9),
        lambda n: WGAN(**n, clip=0.02),
        lambda n: WGANGP(**n, gp_weight=0.5),
        lambda n: RaGAN(**n, kind="rahinge", gp_weight=1.0),
    ],
)
def test_python_built_modules_round_trip(make, tmp_path):
    torch.manual_seed(0)
    model = make(dict(tiny_nets(), max_generator_steps=2))
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=20))
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    loaded = ganmods.load_checkpoint(path)
    assert type(loaded) is type(model)
    assert loaded.loss.name == model.loss.name
    assert [vars(r) for r in loaded.regularizers] == [vars(r) for r in model.regularizers]
    assert (loaded.critic_steps, loaded.generator_steps) == (model.critic_steps, model.generator_steps)
    assert torch.equal(loaded.sample(5, seed=1), model.sample(5, seed=1))


def test_unrecordable_network_needs_to_be_passed(tmp_path):
    gen = torch.nn.Sequential(torch.nn.Linear(2, 2))
    model = SGAN(gen, tiny_nets()["discriminator"], latent_dim=2, max_generator_steps=1)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=5))
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    with pytest.raises(ConfigurationError, match="generator must be passed"):
        ganmods.load_checkpoint(tmp_path / "m.ckpt")
    loaded = ganmods.load_checkpoint(tmp_path / "m.ckpt", generator=torch.nn.Sequential(torch.nn.Linear(2, 2)))
    assert torch.equal(loaded.generator[0].weight, gen[0].weight)


def test_missing_truncated_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="no such file"):
        ganmods.load_checkpoint(tmp_path / "nope.ckpt")
    model = SGAN(**tiny_nets(), max_generator_steps=1)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, datamodule=GANDataModule(batch_size=8, batches_per_epoch=5))
    trainer.save_checkpoint(tmp_path / "ok.ckpt")
    data = (tmp_path / "ok.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigurationError, match="could not be read"):
        ganmods.load_checkpoint(tmp_path / "cut.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(ConfigurationError, match="no ganmods record"):
        ganmods.load_checkpoint(tmp_path / "foreign.ckpt")
