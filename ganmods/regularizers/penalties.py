"""Penalties on the critic's input gradient: the WGAN-GP gradient penalty and R1 / R2.

All of them differentiate the critic output with respect to its input with ``create_graph=True`` (so the
penalty trains the critic), take norms over every non-batch dimension in float32, and, under a
``16-mixed`` gradient scaler, take that inner gradient of the *scaled* output (:func:`_input_gradient`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganmods.errors import ConfigurationError, check_non_negative, invalid
from ganmods.regularizers.base import Regularizer

__all__ = ["R1", "R2", "GradientPenalty", "gradient_penalty", "squared_gradient_penalty"]


def _input_gradient(critic: Callable[[Tensor], Tensor], x: Tensor, scaler: Optional[Any]) -> Tensor:
    """The float32 gradient of ``critic(x).sum()`` with respect to ``x``, with graph (``create_graph``).

    With a gradient ``scaler`` the gradient is taken of the scaled output, so small fp16 gradients do not
    underflow, and divided by the scale in float32. A critic that ignores its input gives zeros.

    Args:
        critic: Maps a batch to ``[B]`` or ``[B, 1]`` outputs.
        x: The points, a leaf with ``requires_grad=True``.
        scaler: A gradient scaler with ``scale(tensor)``, or None.

    Returns:
        The gradient, shaped like ``x``, in float32.
    """
    out = critic(x)
    if not out.requires_grad:  # the critic ignores its input: the gradient is zero
        return torch.zeros_like(x, dtype=torch.float32)
    if scaler is None:
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True, materialize_grads=True)
        return grad.float()
    total = out.float().sum()
    scale = scaler.scale(torch.ones((), device=total.device))
    (grad,) = torch.autograd.grad(total * scale, x, create_graph=True, materialize_grads=True)
    return grad.float() / scale


class _SkipOnOverflow(torch.autograd.Function):
    """Identity on a finite penalty; on overflow 0 forward and an infinite backward, so the gradient
    scaler finds non-finite gradients, skips the step and lowers its scale, while the loss stays finite."""

    @staticmethod
    def forward(ctx: Any, value: Tensor, overflow: Tensor) -> Tensor:
        ctx.save_for_backward(overflow)
        return torch.where(overflow, torch.zeros_like(value), value)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (overflow,) = ctx.saved_tensors
        return torch.where(overflow, torch.full_like(grad, float("inf")), grad), None


def _skip_on_overflow(value: Tensor, scaler: Optional[Any]) -> Tensor:
    return value if scaler is None else _SkipOnOverflow.apply(value, ~torch.isfinite(value))


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    one_sided: bool = False,
    target: float = 1.0,
    generator: Optional[torch.Generator] = None,
    scaler: Optional[Any] = None,
) -> tuple[Tensor, Tensor]:
    """WGAN-GP penalty ``E[(‖∇x̂ C(x̂)‖₂ − target)²]`` at ``x̂ = ε·xr + (1 − ε)·xf``, ε ~ U[0, 1] per sample.

    The norm is over all non-batch dimensions (any input rank), computed as ``sqrt(sum(g²) + 1e-12)`` in
    float32 so a zero gradient gives no NaN; the graph is kept (``create_graph=True``) so the penalty
    trains the critic.

    With a gradient ``scaler`` (``16-mixed``), the inner gradient is taken of the scaled critic output,
    so small fp16 gradients do not underflow, and divided by the scale in float32 before the norm. When
    that scaled gradient overflows, the penalty is returned as 0 with a non-finite backward, so the
    scaler skips the optimizer step and lowers its scale (as for any overflow); the returned norms are
    then non-finite.

    Args:
        critic: Maps a batch to ``[B]`` or ``[B, 1]`` outputs.
        real: Real batch ``[B, ...]``.
        fake: Fake batch of the same shape (detached here).
        one_sided: Penalise only norms above ``target``: ``max(0, ‖g‖ − target)²``.
        target: The target norm (1 for the 1-Lipschitz constraint).
        generator: Optional random generator for ε.
        scaler: A gradient scaler with ``scale(tensor)`` (``torch.amp.GradScaler``), or None.

    Returns:
        ``(penalty, grad_norms)``: the scalar mean penalty and the per-sample gradient norms ``[B]``.

    Raises:
        ConfigurationError: If ``real`` and ``fake`` shapes differ.
    """
    if real.shape != fake.shape:
        raise ConfigurationError(
            f"real and fake batches must have the same shape for the gradient penalty; "
            f"got {tuple(real.shape)} and {tuple(fake.shape)}."
        )
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    grad = _input_gradient(critic, x_hat, scaler)
    norms = (grad.flatten(1).pow(2).sum(1) + 1e-12).sqrt()
    gap = norms - target
    if one_sided:
        gap = F.relu(gap)
    return _skip_on_overflow(gap.pow(2).mean(), scaler), norms


def squared_gradient_penalty(
    critic: Callable[[Tensor], Tensor], x: Tensor, scaler: Optional[Any] = None
) -> tuple[Tensor, Tensor]:
    """The mean squared input-gradient norm ``E[‖∇x C(x)‖₂²]`` over a batch (the core of R1 and R2).

    The squared norm is ``sum(g²)`` over all non-batch dimensions (any input rank), in float32; the
    graph is kept (``create_graph=True``) so the value trains the critic; ``x`` itself is detached. A
    critic that ignores its input gives 0. Under a gradient ``scaler`` the inner gradient is scaled and
    an overflow is handled as in :func:`gradient_penalty`.

    Args:
        critic: Maps a batch to ``[B]`` or ``[B, 1]`` outputs.
        x: The points ``[B, ...]`` (the real batch for R1, the fake batch for R2).
        scaler: A gradient scaler with ``scale(tensor)`` (``torch.amp.GradScaler``), or None.

    Returns:
        ``(value, sq_norms)``: the scalar mean and the per-sample squared norms ``[B]``.

    Raises:
        ConfigurationError: If ``x`` has no batch dimension.
    """
    if x.dim() < 1:
        raise invalid("x", "a batch with a leading batch dimension", tuple(x.shape))
    points = x.detach().requires_grad_(True)
    sq_norms = _input_gradient(critic, points, scaler).flatten(1).pow(2).sum(1)
    return _skip_on_overflow(sq_norms.mean(), scaler), sq_norms


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise invalid(name, "a finite number > 0", value)
    return float(value)


class GradientPenalty(Regularizer):
    """Gradient penalty of WGAN-GP (Gulrajani et al. 2017), composable with any loss:
    ``λ · E[(‖∇x̂ C(x̂)‖₂ − target)²]`` (see :func:`gradient_penalty`).

    Args:
        weight: λ, the penalty weight (paper: 10; the 2-D toy experiments: 0.1).
        one_sided: Use ``max(0, ‖g‖ − 1)²`` instead of the two-sided ``(‖g‖ − 1)²``.
        target: Target gradient norm.
        every: Lazy interval: the loop computes the penalty on every ``every``-th critic step and
            multiplies it by ``every`` (see :class:`Regularizer`).

    Raises:
        ConfigurationError: If ``weight`` or ``target`` is negative or not a number, ``one_sided`` is not
            a bool, or ``every`` is not an integer >= 1.

    Example:
        >>> import torch
        >>> gp = GradientPenalty(weight=10.0)
        >>> critic = torch.nn.Linear(2, 1)
        >>> term, logs = gp.penalty(critic, torch.randn(4, 2), torch.randn(4, 2))
        >>> term.shape
        torch.Size([])
    """

    name = "gp"
    per_sample_gradients = True

    def __init__(self, weight: float = 10.0, one_sided: bool = False, target: float = 1.0, every: int = 1) -> None:
        self.weight = check_non_negative("gp_weight", weight)
        self.target = check_non_negative("target", target)
        if not isinstance(one_sided, bool):
            raise invalid("one_sided", "true or false", one_sided)
        self.one_sided = one_sided
        super().__init__(every=every)

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Optional[tuple[Tensor, dict[str, Tensor]]]:
        """``λ`` times the gradient penalty between ``real`` and ``fake``.

        Args:
            critic: The critic network.
            real: The real batch.
            fake: The fake batch (same shape).

        Returns:
            ``(term, logs)`` with logs ``gp`` (the unweighted penalty) and ``gp_grad_norm`` (mean norm).

        Raises:
            ConfigurationError: If ``real`` and ``fake`` shapes differ.
        """
        value, norms = gradient_penalty(
            critic, real, fake, one_sided=self.one_sided, target=self.target, scaler=self.grad_scaler
        )
        return self.weight * value, {"gp": value.detach(), "gp_grad_norm": norms.detach().mean()}


class _ZeroCenteredPenalty(Regularizer):
    """``γ/2 · E[‖∇x C(x)‖₂²]`` on one of the two batches (the shared body of :class:`R1` and :class:`R2`)."""

    per_sample_gradients = True

    def __init__(self, gamma: float = 10.0, every: int = 1) -> None:
        self.gamma = _check_positive("gamma", gamma)
        super().__init__(every=every)

    def _points(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Optional[tuple[Tensor, dict[str, Tensor]]]:
        """``γ/2`` times the mean squared input-gradient norm of the critic on the penalised batch.

        Args:
            critic: The critic network.
            real: The real batch.
            fake: The fake batch, detached from the generator.

        Returns:
            ``(term, logs)`` with the log ``<name>/grad_norm_sq``: the unweighted mean squared norm.
        """
        value, _ = squared_gradient_penalty(critic, self._points(real, fake), scaler=self.grad_scaler)
        return 0.5 * self.gamma * value, {f"{self.name}/grad_norm_sq": value.detach()}


class R1(_ZeroCenteredPenalty):
    """R1 penalty (Mescheder et al. 2018, "Which training methods for GANs do actually converge?") on the
    real batch: ``R1 = γ/2 · E_{x ~ p_data}[‖∇x C(x)‖₂²]``.

    The squared norm is over all non-batch dimensions (points, 1- or 3-channel images alike), in float32,
    with ``create_graph=True`` so the penalty trains the critic; a critic that ignores its input gives 0.
    It needs double backward through the critic (``per_sample_gradients``: no BatchNorm). Logs
    ``r1/grad_norm_sq``, the unweighted mean squared norm.

    Args:
        gamma: γ, the penalty weight (> 0; to switch the penalty off, leave it out of the list).
        every: Lazy interval: the loop computes the penalty on every ``every``-th critic step and
            multiplies it by ``every`` (StyleGAN2 uses 16; see :class:`Regularizer`).

    Raises:
        ConfigurationError: If ``gamma`` is not a finite number > 0 or ``every`` is not an integer >= 1.

    Example:
        >>> import torch
        >>> critic = torch.nn.Linear(2, 1, bias=False)
        >>> _ = torch.nn.init.constant_(critic.weight, 2.0)  # ‖∇x C‖² = 8 everywhere
        >>> term, logs = R1(gamma=1.0).penalty(critic, torch.randn(4, 2), torch.randn(4, 2))
        >>> round(float(term), 4)
        4.0
    """

    name = "r1"

    def _points(self, real: Tensor, fake: Tensor) -> Tensor:
        return real


class R2(_ZeroCenteredPenalty):
    """R2 penalty (Mescheder et al. 2018) on the fake batch: ``R2 = γ/2 · E_{x ~ p_G}[‖∇x C(x)‖₂²]``.

    As :class:`R1` (norm over all non-batch dimensions in float32, ``create_graph=True``, zero for a
    critic that ignores its input, no BatchNorm), but at the generator's samples, detached from the
    generator. Logs ``r2/grad_norm_sq``.

    Args:
        gamma: γ, the penalty weight (> 0; to switch the penalty off, leave it out of the list).
        every: Lazy interval: the loop computes the penalty on every ``every``-th critic step and
            multiplies it by ``every`` (see :class:`Regularizer`).

    Raises:
        ConfigurationError: If ``gamma`` is not a finite number > 0 or ``every`` is not an integer >= 1.
    """

    name = "r2"

    def _points(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake
