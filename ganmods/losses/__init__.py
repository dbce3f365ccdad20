"""Adversarial losses, computed from raw critic outputs (logits), exactly as in docs/theory.md.

Each loss is a small object with ``discriminator_loss(real_logits, fake_logits)`` and
``generator_loss(fake_logits, real_logits)``, both returning scalar tensors, and ``divergence`` returning
the divergence its critic estimates (or ``None``). :data:`LOSSES` maps the public names to classes:
``saturating``, ``non_saturating``, ``wasserstein``, ``least_squares``, ``hinge``, ``rsgan``, ``rasgan``,
``ralsgan``, ``rahinge`` and the f-GAN losses ``fgan_<divergence>``.
"""

from ganmods.losses.base import LOSSES, AdversarialLoss, get_loss, register
from ganmods.losses.fgan import FGAN_DIVERGENCES, FGANLoss
from ganmods.losses.standard import (
    RSGAN,
    Hinge,
    LeastSquares,
    NonSaturating,
    RaHinge,
    RaLSGAN,
    RaSGAN,
    Saturating,
    Wasserstein,
)

__all__ = [
    "FGAN_DIVERGENCES",
    "LOSSES",
    "RSGAN",
    "AdversarialLoss",
    "FGANLoss",
    "Hinge",
    "LeastSquares",
    "NonSaturating",
    "RaHinge",
    "RaLSGAN",
    "RaSGAN",
    "Saturating",
    "Wasserstein",
    "get_loss",
    "register",
]
