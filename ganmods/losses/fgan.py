"""f-GAN losses (Nowozin et al. 2016), THEORY.md §6: variational divergence minimisation.

The critic outputs ``v``; the output activation gives ``T = g_f(v)``. The critic maximises
``F = E_P[T(xr)] - E_Q[f*(T(xf))]``, a lower bound on ``D_f(P‖Q)``, so its loss is ``-F`` and ``F`` is the
divergence estimate. The generator maximises ``E_Q[g_f(v(xf))]`` (the paper's recommendation, default) or
minimises ``F`` (``saturating=True``). Each ``f*(g_f(v))`` is written in closed form, so it is finite for
every real ``v`` (no ``log`` of a non-positive number, no ``sqrt`` of a negative one).

With ``D_f(P‖Q) = ∫ q f(p/q)``, the rows estimate: ``kl`` KL(P‖Q); ``reverse_kl`` KL(Q‖P); ``pearson``
∫(p − q)²/q; ``neyman`` ∫(q − p)²/p; ``hellinger`` ∫(√p − √q)²; ``js`` ∫ p log(2p/(p+q)) + q log(2q/(p+q))
= 2·JS(P‖Q); ``gan`` 2·JS − log 4 (so ``-F`` is the SGAN critic loss); ``tv`` ½∫|p − q|.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ganmods.errors import invalid
from ganmods.losses.base import AdversarialLoss, _flat, register

__all__ = ["FGAN_DIVERGENCES", "FGANLoss"]

_LOG2 = math.log(2.0)

#: divergence -> (g_f(v), f*(g_f(v))), both as functions of the raw critic output v.
FGAN_DIVERGENCES: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "kl": (lambda v: v, lambda v: torch.exp(v - 1)),
    "reverse_kl": (lambda v: -torch.exp(-v), lambda v: v - 1),
    "pearson": (lambda v: v, lambda v: v * v / 4 + v),
    "neyman": (lambda v: 1 - torch.exp(-v), lambda v: 2 - 2 * torch.exp(-v / 2)),
    "hellinger": (lambda v: 1 - torch.exp(-v), lambda v: torch.expm1(v)),
    "js": (lambda v: _LOG2 - F.softplus(-v), lambda v: F.softplus(v) - _LOG2),
    "gan": (lambda v: -F.softplus(-v), lambda v: F.softplus(v)),
    "tv": (lambda v: 0.5 * torch.tanh(v), lambda v: 0.5 * torch.tanh(v)),
}


class FGANLoss(AdversarialLoss):
    """f-GAN loss for one f-divergence.

    Args:
        divergence: One of :data:`FGAN_DIVERGENCES` (``kl``, ``reverse_kl``, ``pearson``, ``neyman``,
            ``hellinger`` (squared Hellinger), ``js``, ``gan``, ``tv``).
        saturating: Generator minimises ``F`` (``-E_Q[f*(g_f(v))]``) instead of the default
            ``-E_Q[g_f(v)]``.

    Raises:
        ConfigurationError: If ``divergence`` is unknown.
    """

    divergence_name = "f"

    def __init__(self, divergence: str = "js", saturating: bool = False) -> None:
        if divergence not in FGAN_DIVERGENCES:
            raise invalid("divergence", f"one of {sorted(FGAN_DIVERGENCES)}", divergence)
        if not isinstance(saturating, bool):
            raise invalid("saturating", "true or false", saturating)
        self.divergence_kind = divergence
        self.saturating = saturating
        self._activation, self._conjugate = FGAN_DIVERGENCES[divergence]
        self.divergence_name = f"f_{divergence}"
        self.name = f"fgan_{divergence}"

    def variational_bound(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """``F = E_P[g_f(v(xr))] - E_Q[f*(g_f(v(xf)))]``, the lower bound on the divergence.

        Args:
            real_logits: Critic outputs ``v`` on real data.
            fake_logits: Critic outputs ``v`` on generated data.

        Returns:
            Scalar float32 tensor.
        """
        return self._activation(_flat(real_logits)).mean() - self._conjugate(_flat(fake_logits)).mean()

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return -self.variational_bound(real_logits, fake_logits)

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        fake = _flat(fake_logits)
        if self.saturating:
            return -self._conjugate(fake).mean()
        return -self._activation(fake).mean()

    def divergence(self, real_logits: Tensor, fake_logits: Tensor, d_loss: Tensor) -> Optional[Tensor]:
        return -d_loss.detach().float()


def _fgan_class(kind: str) -> type[FGANLoss]:
    def __init__(self: FGANLoss, saturating: bool = False) -> None:
        FGANLoss.__init__(self, kind, saturating)

    cls = type(f"FGAN_{kind}", (FGANLoss,), {"__init__": __init__, "__doc__": f"f-GAN loss for the {kind} divergence."})
    cls.__module__ = __name__
    cls.__qualname__ = cls.__name__
    return register(f"fgan_{kind}")(cls)


for _kind in FGAN_DIVERGENCES:
    globals()[f"FGAN_{_kind}"] = _fgan_class(_kind)
