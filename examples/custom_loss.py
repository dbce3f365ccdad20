"""A new loss by subclassing: one small class, no change to the training loop.

    python examples/custom_loss.py     # trains it on ring8 for a few hundred steps and prints the score
"""

import lightning.pytorch as pl
import torch.nn.functional as F

import ganmods
from ganmods.losses import AdversarialLoss, register
from ganmods.nets import MLPCritic, MLPGenerator


@register("softplus_hinge")
class SoftplusHinge(AdversarialLoss):
    """A smooth hinge: D ``E[sp(1 - C(xr))] + E[sp(1 + C(xf))]``, G ``-E[C(xf)]``."""

    def discriminator_loss(self, real_logits, fake_logits):
        return F.softplus(1 - real_logits).mean() + F.softplus(1 + fake_logits).mean()

    def generator_loss(self, fake_logits, real_logits=None):
        return -fake_logits.mean()


if __name__ == "__main__":
    model = ganmods.GANModule(MLPGenerator(hidden=128), MLPCritic(hidden=128), loss="softplus_hinge", max_generator_steps=500)
    data = ganmods.GANDataModule("ring8", batches_per_epoch=500)
    pl.Trainer(max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False).fit(model, datamodule=data)
    print(data.evaluate(model))
