"""The core adversarial losses from logits: SGAN, WGAN, least squares, hinge and the relativistic family."""

from __future__ import annotations

import math
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from ganmods.losses.base import AdversarialLoss, _flat, _mean, _paired, register

__all__ = ["Hinge", "LeastSquares", "NonSaturating", "RaHinge", "RaLSGAN", "RaSGAN", "RSGAN", "Saturating", "Wasserstein"]


@register("saturating")
class Saturating(AdversarialLoss):
    """SGAN (Goodfellow et al. 2014) with the original minimax generator loss.

    D: ``E[sp(-C(xr))] + E[sp(C(xf))]``; G minimises ``-E[sp(C(xf))] = E[log(1 - D(xf))]``, whose gradient
    vanishes as the discriminator becomes confident (Arjovsky & Bottou 2017). The divergence estimate is
    ``JS = (log 4 - L_D) / 2``. Not offset-free: the sigmoid pins the logit level (a logit of 0 means
    "equally likely real or fake"), so ``C + c`` is a different discriminator.
    """

    divergence_name = "js"

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _mean(F.softplus(-real_logits.float())) + _mean(F.softplus(fake_logits.float()))

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -_mean(F.softplus(fake_logits.float()))

    def divergence(self, real_logits: Tensor, fake_logits: Tensor, d_loss: Tensor) -> Optional[Tensor]:
        return (math.log(4.0) - d_loss.detach().float()) / 2


@register("non_saturating")
class NonSaturating(Saturating):
    """SGAN with the non-saturating ``-log D`` generator loss ``E[sp(-C(xf))]`` (same critic loss)."""

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return _mean(F.softplus(-fake_logits.float()))


@register("wasserstein")
class Wasserstein(AdversarialLoss):
    """WGAN / WGAN-GP: critic ``E[C(xf)] - E[C(xr)]``, generator ``-E[C(xf)]``; estimate ``W = -L_D``.

    Offset-free: with ``C + c`` the critic loss is unchanged and the generator loss moves by ``-c``, so
    the gradients are the same and the generator loss level (unlike ``W``) means nothing on its own.
    """

    divergence_name = "w"
    offset_free = True

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _mean(fake_logits) - _mean(real_logits)

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -_mean(fake_logits)

    def divergence(self, real_logits: Tensor, fake_logits: Tensor, d_loss: Tensor) -> Optional[Tensor]:
        return _mean(real_logits.detach()) - _mean(fake_logits.detach())


@register("least_squares")
class LeastSquares(AdversarialLoss):
    """LSGAN: D ``½E[(C(xr) - 1)²] + ½E[C(xf)²]``; G ``½E[(C(xf) - 1)²]``.

    Not offset-free: the regression targets 1 (real) and 0 (fake) pin the logit level; with ``C + c`` the
    losses change by terms proportional to ``c·C``, so the gradients change.
    """

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * _mean((real_logits.float() - 1) ** 2) + 0.5 * _mean(fake_logits.float() ** 2)

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return 0.5 * _mean((fake_logits.float() - 1) ** 2)


@register("hinge")
class Hinge(AdversarialLoss):
    """Hinge loss: D ``E[relu(1 - C(xr))] + E[relu(1 + C(xf))]``; G ``-E[C(xf)]``.

    Not offset-free: the margins at ``C = ±1`` pin the logit level; with ``C + c`` other samples fall
    inside the margins, so the critic loss and its gradient change (the generator loss alone would only
    shift by ``-c``).
    """

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _mean(F.relu(1 - real_logits.float())) + _mean(F.relu(1 + fake_logits.float()))

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -_mean(fake_logits)


@register("rsgan")
class RSGAN(AdversarialLoss):
    """Relativistic SGAN (paired): D ``E[sp(-(C(xr) - C(xf)))]``; G ``E[sp(-(C(xf) - C(xr)))]``.

    Real and fake batches are paired element-wise, so they must have the same size. Offset-free with a
    zero change: both losses see only differences ``C(xr) - C(xf)``, in which a constant added to ``C``
    cancels; the losses keep their meaning (``log 2`` when the critic cannot tell), the raw logits do not.
    """

    needs_real_logits = True
    offset_free = True

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real, fake = _paired(real_logits, fake_logits)
        return _mean(F.softplus(-(real - fake)))

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        real, fake = _paired(self._real(real_logits), fake_logits)
        return _mean(F.softplus(-(fake - real)))


class _RelativisticAverage(AdversarialLoss):
    """Relativistic average losses: ``D̃r = C(xr) - E[C(xf)]``, ``D̃f = C(xf) - E[C(xr)]``.

    Subclasses give the per-sample terms of the critic (``_d_terms``) and of the generator (``_g_terms``)
    as functions of ``(D̃r, D̃f)``; each loss is the mean of its two terms. The fake mean inside ``D̃r``
    keeps its graph, so the real term gives G a gradient too. Offset-free with a zero change: a constant
    added to ``C`` cancels in ``D̃r`` and ``D̃f``, so the losses are exactly unchanged (their levels stay
    meaningful; the raw logits' level does not).
    """

    needs_real_logits = True
    offset_free = True

    def _d_terms(self, dr: Tensor, df: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _g_terms(self, dr: Tensor, df: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    @staticmethod
    def _relative(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
        real, fake = _flat(real_logits), _flat(fake_logits)
        return real - fake.mean(), fake - real.mean()

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        a, b = self._d_terms(*self._relative(real_logits, fake_logits))
        return 0.5 * (a.mean() + b.mean())

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        a, b = self._g_terms(*self._relative(self._real(real_logits), fake_logits))
        return 0.5 * (a.mean() + b.mean())


@register("rasgan")
class RaSGAN(_RelativisticAverage):
    """RaSGAN: D ``½(E[sp(-D̃r)] + E[sp(D̃f)])``; G ``½(E[sp(D̃r)] + E[sp(-D̃f)])``."""

    def _d_terms(self, dr: Tensor, df: Tensor) -> tuple[Tensor, Tensor]:
        return F.softplus(-dr), F.softplus(df)

    def _g_terms(self, dr: Tensor, df: Tensor) -> tuple[Tensor, Tensor]:
        return F.softplus(dr), F.softplus(-df)


@register("ralsgan")
class RaLSGAN(_RelativisticAverage):
    """RaLSGAN: D ``½(E[(D̃r - 1)²] + E[(D̃f + 1)²])``; G ``½(E[(D̃r + 1)²] + E[(D̃f - 1)²])``."""

    def _d_terms(self, dr: Tensor, df: Tensor) -> tuple[Tensor, Tensor]:
        return (dr - 1) ** 2, (df + 1) ** 2

    def _g_terms(self, dr: Tensor, df: Tensor) -> tuple[Tensor, Tensor]:
        return (dr + 1) ** 2, (df - 1) ** 2


@register("rahinge")
class RaHinge(_RelativisticAverage):
    """RaHinge: D ``½(E[relu(1 - D̃r)] + E[relu(1 + D̃f)])``; G ``½(E[relu(1 + D̃r)] + E[relu(1 - D̃f)])``."""

    def _d_terms(self, dr: Tensor, df: Tensor) -> tuple[Tensor, Tensor]:
        return F.relu(1 - dr), F.relu(1 + df)

    def _g_terms(self, dr: Tensor, df: Tensor) -> tuple[Tensor, Tensor]:
        return F.relu(1 + dr), F.relu(1 - df)
