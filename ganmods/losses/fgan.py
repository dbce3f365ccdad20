"""f-GAN losses (Nowozin et al. 2016), docs/theory.md §6: variational divergence minimisation.

The critic outputs ``v``; the output activation gives ``T = g_f(v)``. The critic maximises
``F = E_P[T(xr)] - E_Q[f*(T(xf))]``, a lower bound on ``D_f(P‖Q)``, so its loss is ``-F`` and ``F`` is the
divergence estimate. The generator maximises ``E_Q[g_f(v(xf))]`` (the paper's recommendation, default) or
minimises ``F`` (``saturating=True``).

With ``D_f(P‖Q) = ∫ q f(p/q)``, the rows estimate: ``kl`` KL(P‖Q); ``reverse_kl`` KL(Q‖P); ``pearson``
∫(p − q)²/q; ``neyman`` ∫(q − p)²/p; ``hellinger`` ∫(√p − √q)²; ``js`` ∫ p log(2p/(p+q)) + q log(2q/(p+q))
= 2·JS(P‖Q); ``gan`` 2·JS − log 4 (so ``-F`` is the SGAN critic loss); ``tv`` ½∫|p − q|.

Numerics. Each ``f*(g_f(v))`` is written in closed form as a function of ``v``, so no row has a domain
restriction left (no ``log`` of a non-positive number, no ``sqrt`` of a negative one): every term is
finite for every real ``v``. The forms are chosen to be accurate in float32:

* ``1 − exp(−v)`` is ``−expm1(−v)`` and ``2 − 2·exp(−v/2)`` is ``−2·expm1(−v/2)`` (no cancellation near 0);
* the Jensen–Shannon terms ``log 2 − sp(−v)`` and ``sp(v) − log 2`` are ``−log1p(expm1(−v)/2)`` and
  ``log1p(expm1(v)/2)`` where the ``expm1`` cannot overflow (accurate near 0), softplus beyond;
* Pearson's ``v²/4 + v`` is ``v·(v/4 + 1)`` (accurate near its root ``v = −4``).

Terms that grow without bound leave float32 for large critic outputs: ``exp(v − 1)`` (``kl``) and
``exp(−v)`` (inside ``reverse_kl``, ``neyman``, ``hellinger``) beyond a few dozen, Pearson's quadratic
beyond about 1e19, and the terms linear in ``v`` (``v``, ``v − 1``, softplus) only at about 3e38, but
there a difference of two such means already overflows. Such a term ``h`` is evaluated exactly while
it stays below about 1e30 (``exp`` arguments up to ``±69``, Pearson ``|v| <= 2e15``, linear terms
``|v| <= 1e30``) and continued beyond that bound ``b`` by its logarithmic extension
``h(b) + h'(b)·log1p(|v − b|)``: same value and slope at ``b``, monotone in the same direction, growing
only logarithmically, so every term stays below about 1e32 over the whole float32 range and the losses,
the divergence estimate and their gradients are finite for every float32 critic output (with a
non-zero gradient still pushing the critic back). Critic outputs past the bounds only occur in a run
that has already diverged; nothing below the bounds is changed. Batch means are taken as ``sum(x / B)``.

Not offset-free (``offset_free = False``): every activation ``g_f`` pins the level of ``v``.
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
#: Largest ``exp`` argument evaluated exactly: ``e^69 ≈ 9.3e29``.
_EXP_BOUND = 69.0
#: Largest ``|v|`` at which Pearson's conjugate is evaluated exactly: ``(2e15)²/4 = 1e30``.
_PEARSON_BOUND = 2e15
#: Largest ``|v|`` at which terms linear in ``v`` are evaluated exactly.
_LINEAR_BOUND = 1e30
#: Below this (for ``v``), the Jensen–Shannon terms use softplus; above it ``expm1`` cannot overflow.
_JS_SWITCH = 20.0


def _extended(
    h: Callable[[Tensor], Tensor], lo: Optional[float] = None, hi: Optional[float] = None
) -> Callable[[Tensor], Tensor]:
    """``h`` evaluated exactly on ``[lo, hi]`` and continued logarithmically beyond (see the module notes).

    Args:
        h: An elementwise function, finite with a finite derivative on ``[lo, hi]``.
        lo: Lower bound (``None``: no continuation below).
        hi: Upper bound (``None``: no continuation above).

    Returns:
        The elementwise function ``v -> h(min(max(v, lo), hi)) + h'(hi)·log1p(relu(v − hi))
        − h'(lo)·log1p(relu(lo − v))``: equal to ``h`` on ``[lo, hi]``, with the same value and slope at
        the bounds, finite for every float32 ``v``.
    """

    def slope(b: float) -> float:
        x = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(h(x), x)
        return float(grad)

    slope_lo = None if lo is None else slope(lo)
    slope_hi = None if hi is None else slope(hi)

    def f(v: Tensor) -> Tensor:
        inner = v  # v limited to [lo, hi] with a gradient of 1 up to and including the bounds (unlike clamp)
        if hi is not None:
            inner = torch.where(inner > hi, torch.full_like(inner, hi), inner)
        if lo is not None:
            inner = torch.where(inner < lo, torch.full_like(inner, lo), inner)
        out = h(inner)
        if hi is not None:
            out = out + slope_hi * torch.log1p(F.relu(v - hi))
        if lo is not None:
            out = out - slope_lo * torch.log1p(F.relu(lo - v))
        return out

    return f


def _js_activation(v: Tensor) -> Tensor:
    """``log 2 − sp(−v)``, accurate near ``v = 0`` and finite everywhere."""
    near = -torch.log1p(torch.expm1(-v.clamp(min=-_JS_SWITCH)) / 2)  # clamp: the unused branch stays finite
    return torch.where(v > -_JS_SWITCH, near, _LOG2 - F.softplus(-v))


def _js_conjugate(v: Tensor) -> Tensor:
    """``sp(v) − log 2``, which is ``−g(−v)`` for the activation ``g(v) = log 2 − sp(−v)``; accurate near 0."""
    return -_js_activation(-v)


def _neg_expm1_neg(v: Tensor) -> Tensor:
    return -torch.expm1(-v)


_B = _LINEAR_BOUND

#: divergence -> (g_f(v), f*(g_f(v))), both as elementwise functions of the raw critic output v.
FGAN_DIVERGENCES: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "kl": (_extended(lambda v: v, lo=-_B, hi=_B), _extended(lambda v: torch.exp(v - 1), hi=_EXP_BOUND + 1)),
    "reverse_kl": (_extended(lambda v: -torch.exp(-v), lo=-_EXP_BOUND), _extended(lambda v: v - 1, lo=-_B, hi=_B)),
    "pearson": (
        _extended(lambda v: v, lo=-_B, hi=_B),
        _extended(lambda v: v * (0.25 * v + 1), lo=-_PEARSON_BOUND, hi=_PEARSON_BOUND),
    ),
    "neyman": (
        _extended(_neg_expm1_neg, lo=-_EXP_BOUND),
        _extended(lambda v: -2 * torch.expm1(-v / 2), lo=-2 * _EXP_BOUND),
    ),
    "hellinger": (_extended(_neg_expm1_neg, lo=-_EXP_BOUND), _extended(torch.expm1, hi=_EXP_BOUND)),
    "js": (_extended(_js_activation, lo=-_B), _extended(_js_conjugate, hi=_B)),
    "gan": (_extended(lambda v: -F.softplus(-v), lo=-_B), _extended(F.softplus, hi=_B)),
    "tv": (lambda v: 0.5 * torch.tanh(v), lambda v: 0.5 * torch.tanh(v)),
}


def _safe_mean(x: Tensor) -> Tensor:
    """Batch mean as ``sum(x / B)``: cannot overflow where every element is finite."""
    return (x / x.numel()).sum()


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
        return _safe_mean(self._activation(_flat(real_logits))) - _safe_mean(self._conjugate(_flat(fake_logits)))

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return -self.variational_bound(real_logits, fake_logits)

    def generator_loss(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        fake = _flat(fake_logits)
        if self.saturating:
            return -_safe_mean(self._conjugate(fake))
        return -_safe_mean(self._activation(fake))

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
