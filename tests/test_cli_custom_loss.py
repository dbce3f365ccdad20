"""A user's own loss, defined in the user's importable module, from YAML: it trains, and its checkpoint works in
`generate`, `predict` and `ganmods.load_checkpoint`."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import yaml
from torch import Tensor
from torch.nn import functional as F

import ganmods
from ganmods.cli import main
from ganmods.losses import AdversarialLoss
from tests.test_cli_commands import tiny


class ScaledSoftplusLoss(AdversarialLoss):
    """A user's loss: the non-saturating loss with a temperature (lives in the user's own module)."""

    name = "scaled_softplus"

    def __init__(self, temperature: float = 2.0) -> None:
        self.temperature = temperature

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        t = self.temperature
        return (F.softplus(-real_logits.float() / t).mean() + F.softplus(fake_logits.float() / t).mean()) * t

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return F.softplus(-fake_logits.float() / self.temperature).mean() * self.temperature


def test_custom_loss_from_yaml_trains_and_its_checkpoint_samples(tmp_path):
    extra = tmp_path / "loss.yaml"
    extra.write_text(yaml.safe_dump({"model": {"class_path": "ganmods.GANModule", "init_args": {
        "loss": {"class_path": "tests.test_cli_custom_loss.ScaledSoftplusLoss", "init_args": {"temperature": 3.0}}}}}))
    assert main(["fit", "-c", "toy/sgan", "-c", str(extra), *tiny(tmp_path, "custom", steps=2)]) == 0
    ckpt = tmp_path / "custom" / "version_0" / "checkpoints" / "last.ckpt"
    module = ganmods.load_checkpoint(str(ckpt))
    assert isinstance(module.loss, ScaledSoftplusLoss) and module.loss.temperature == 3.0
    assert main(["generate", "--ckpt", str(ckpt), "--n", "4", "--out", str(tmp_path / "g.npy")]) == 0
    assert np.load(tmp_path / "g.npy").shape == (4, 2)
    assert main(["predict", "-c", "toy/sgan", "-c", str(extra), *tiny(tmp_path, "p"), "--ckpt_path", str(ckpt),
                 "--n", "4", "--out", str(tmp_path / "pred")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "pred" / "samples.npy"), module.sample(4, seed=0).numpy(), atol=1e-6)


def test_custom_loss_values_differ_from_the_builtin():
    """Control: the custom loss is really used (temperature 3 differs from the built-in non-saturating loss)."""
    real, fake = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.0])
    builtin = ganmods.losses.get_loss("non_saturating").discriminator_loss(real, fake)
    assert not torch.isclose(ScaledSoftplusLoss(3.0).discriminator_loss(real, fake), builtin)
    expected = 3.0 * ((np.log1p(np.exp(-1 / 3)) + np.log1p(np.exp(2 / 3))) / 2 + (np.log1p(np.exp(0.5 / 3)) + np.log(2)) / 2)
    assert float(ScaledSoftplusLoss(3.0).discriminator_loss(real, fake)) == np.float32(expected)
