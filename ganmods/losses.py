"""Adversarial losses, computed from raw critic outputs (logits), exactly as in THEORY.md.

Each loss is a small object with ``discriminator_loss(real_logits, fake_logits)`` and
``generator_loss(fake_logits, real_logits)``, both returning scalar tensors, and ``divergence`` returning
the divergence its critic estimates (or ``None``). :data:`LOSSES` maps the public names to classes.
Adding a loss is one class here plus one :func:`register` line; the training loop does not change.

Example:
    >>> import torch
    >>> from ganmods.losses import LOSSES
    >>> loss = LOSSES["wasserstein"]()
    >>> float(loss.discriminator_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])))
    -2.0
"""

from __future__ import annotations

import math
from typing import Callable, Optional, TypeVar

import torch.nn.functional as F
from torch import Tensor

from ganmods.errors import ConfigurationError
from ganmods.spec import Recorded

__all__ = [
    "LOSSES",
    "AdversarialLoss",
    "Hinge",
    "LeastSquares",
    "NonSaturating",
    "RaHinge",
    "RaLSGAN",
    "RaSGAN",
    "RSGAN",
    "Saturating",
    "Wasserstein",
    "get_loss",
    "register",
]

LOSSES: dict[str, type["AdversarialLoss"]] = {}
_L = TypeVar("_L", bound=type)


def register(name: str) -> Callable[[_L], _L]:
    """Class decorator adding a loss class to :data:`LOSSES` under ``name``.

    Args:
        name: The public name (what YAML configs and ``get_loss`` accept).

    Returns:
        The decorator, which returns the class unchanged.

    Raises:
        ValueError: If ``name`` is already registered.
    """

    def decorator(cls: _L) -> _L:
        if name in LOSSES:
            raise ValueError(f"loss name {name!r} is already registered to {LOSSES[name].__name__}")
        LOSSES[name] = cls  # type: ignore[assignment]
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return decorator


def _mean(x: Tensor) -> Tensor:
    return x.float().mean()


def _flat(x: Tensor) -> Tensor:
    """Logits ``[B]`` or ``[B, 1]`` as float32 ``[B]`` (so paired differences never broadcast to ``[B, B]``)."""
    return x.float().reshape(x.shape[0], -1).squeeze(1) if x.dim() > 1 else x.float()


def _paired(real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, Tensor]:
    real, fake = _flat(real_logits), _flat(fake_logits)
    if real.shape != fake.shape:
        raise ConfigurationError(
            f"real and fake logits must pair up one to one ([B] or [B, 1] each, same B); "
            f"got {tuple(real_logits.shape)} and {tuple(fake_logits.shape)}."
        )
    return real, fake


class AdversarialLoss(Recorded):
    """Base class of adversarial losses.

    Subclasses implement :meth:`discriminator_loss` and :meth:`generator_loss`; relativistic losses set
    ``needs_real_logits = True`` so the loop recomputes the real logits (with the updated critic) in the
    generator step. Logits may be ``[B]`` or ``[B, 1]``; everything is computed in float32.
    """

    name: str = "custom"
    needs_real_logits: bool = False
    divergence_name: Optional[str] = None

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The critic's loss (to minimise).

        Args:
            real_logits: Critic outputs on real data, ``[B]`` or ``[B, 1]``.
            fake_logits: Critic outputs on generated data.

        Returns:
            A scalar float32 tensor.
        """
        raise NotImplementedError

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        """The generator's loss (to minimise).

        Args:
            fake_logits: Critic outputs on generated data (with graph to the generator).
            real_logits: Critic outputs on real data; required when ``needs_real_logits`` is true.

        Returns:
            A scalar float32 tensor.
        """
        raise NotImplementedError

    def divergence(self, real_logits: Tensor, fake_logits: Tensor, d_loss: Tensor) -> Optional[Tensor]:
        """The divergence the critic currently estimates, for logging (``None`` if the loss has none).

        Args:
            real_logits: Critic outputs on real data.
            fake_logits: Critic outputs on generated data.
            d_loss: The adversarial part of the critic loss on these logits.

        Returns:
            A scalar tensor or ``None``.
        """
        return None

    def _real(self, real_logits: Optional[Tensor]) -> Tensor:
        if real_logits is None:
            raise ConfigurationError(
                f"real_logits must be given to the generator loss of {self.name!r} (a relativistic loss); got None."
            )
        return real_logits


@register("saturating")
class Saturating(AdversarialLoss):
    """SGAN (Goodfellow et al. 2014) with the original minimax generator loss.

    D: ``E[sp(-C(xr))] + E[sp(C(xf))]``; G minimises ``-E[sp(C(xf))] = E[log(1 - D(xf))]``, whose gradient
    vanishes as the discriminator becomes confident (Arjovsky & Bottou 2017). The divergence estimate is
    ``JS = (log 4 - L_D) / 2``.
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
    """WGAN / WGAN-GP: critic ``E[C(xf)] - E[C(xr)]``, generator ``-E[C(xf)]``; estimate ``W = -L_D``."""

    divergence_name = "w"

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _mean(fake_logits) - _mean(real_logits)

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -_mean(fake_logits)

    def divergence(self, real_logits: Tensor, fake_logits: Tensor, d_loss: Tensor) -> Optional[Tensor]:
        return _mean(real_logits.detach()) - _mean(fake_logits.detach())


@register("least_squares")
class LeastSquares(AdversarialLoss):
    """LSGAN: D ``½E[(C(xr) - 1)²] + ½E[C(xf)²]``; G ``½E[(C(xf) - 1)²]``."""

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * _mean((real_logits.float() - 1) ** 2) + 0.5 * _mean(fake_logits.float() ** 2)

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return 0.5 * _mean((fake_logits.float() - 1) ** 2)


@register("hinge")
class Hinge(AdversarialLoss):
    """Hinge loss: D ``E[relu(1 - C(xr))] + E[relu(1 + C(xf))]``; G ``-E[C(xf)]``."""

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _mean(F.relu(1 - real_logits.float())) + _mean(F.relu(1 + fake_logits.float()))

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -_mean(fake_logits)


@register("rsgan")
class RSGAN(AdversarialLoss):
    """Relativistic SGAN (paired): D ``E[sp(-(C(xr) - C(xf)))]``; G ``E[sp(-(C(xf) - C(xr)))]``.

    Real and fake batches are paired element-wise, so they must have the same size.
    """

    needs_real_logits = True

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
    keeps its graph, so the real term gives G a gradient too.
    """

    needs_real_logits = True

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


def get_loss(loss: "str | AdversarialLoss") -> AdversarialLoss:
    """Resolve a loss name or instance.

    Args:
        loss: A name in :data:`LOSSES` or an :class:`AdversarialLoss` instance.

    Returns:
        An :class:`AdversarialLoss` instance.

    Raises:
        ConfigurationError: If the name is unknown (the message lists the valid names) or the object is
            not an :class:`AdversarialLoss`.
    """
    if isinstance(loss, AdversarialLoss):
        return loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ConfigurationError(f"loss must be one of {sorted(LOSSES)}; got {loss!r}.")
        return LOSSES[loss]()
    raise ConfigurationError(
        f"loss must be a loss name ({sorted(LOSSES)}) or an AdversarialLoss instance; got {type(loss).__name__}."
    )

