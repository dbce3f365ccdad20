"""Regularizers: small objects the loop calls at fixed points of the critic step.

* :meth:`Regularizer.penalty` — a term added to the critic loss (gradient penalty);
* :meth:`Regularizer.after_critic_step` — runs after every critic optimizer step (weight clipping);
* :meth:`Regularizer.transform` — transforms critic inputs, real and fake alike (instance noise).

They compose as a list, so "RaSGAN + GP" is one extra line of YAML.
"""

from __future__ import annotations

import weakref

from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganmods.errors import ConfigurationError, check_non_negative, invalid
from ganmods.spec import Recorded

__all__ = ["NOISE_SCHEDULES", "GradientPenalty", "InstanceNoise", "Regularizer", "WeightClipping", "gradient_penalty"]


class Regularizer(Recorded):
    """Base class: every hook is a no-op. ``name`` prefixes what the regularizer logs."""

    name: str = "reg"
    #: True if :meth:`penalty` needs double backward through the critic (no BatchNorm allowed).
    per_sample_gradients: bool = False
    #: The gradient scaler of a ``16-mixed`` run (set by the module when fitting starts), else None.
    grad_scaler: Optional[Any] = None

    def use_scaler(self, scaler: Optional[Any]) -> None:
        """Set (or, with None, clear) :attr:`grad_scaler`; the module calls this when fitting starts.

        Args:
            scaler: The run's gradient scaler (``16-mixed``), or None.
        """
        if scaler is None:
            self.__dict__.pop("grad_scaler", None)
        else:
            self.grad_scaler = scaler

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Optional[tuple[Tensor, dict[str, Tensor]]]:
        """A term to add to the critic loss.

        Args:
            critic: The critic network.
            real: The real batch (after :meth:`transform`).
            fake: The fake batch, detached from the generator (after :meth:`transform`).

        Returns:
            ``(term, logs)`` where ``term`` is the weighted scalar added to the loss and ``logs`` maps names
            to detached scalars worth logging; or ``None`` for no term.
        """
        return None

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Check the shape of a batch of critic inputs before training starts (no-op by default).

        Args:
            shape: Shape of a batch of critic inputs (the generator's output in the dry run).

        Raises:
            ConfigurationError: If the regularizer cannot handle such inputs.
        """

    def after_critic_step(self, critic: nn.Module) -> None:
        """Runs after every critic optimizer step.

        Args:
            critic: The critic network.
        """

    def transform(self, x: Tensor, generator_step: int) -> Tensor:
        """Transforms a critic input (real or fake, in both the critic and the generator step).

        Args:
            x: A batch of critic inputs.
            generator_step: Generator steps taken so far (for schedules).

        Returns:
            The transformed batch.
        """
        return x


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
    out = critic(x_hat)
    if not out.requires_grad:  # the critic ignores its input: the gradient is zero
        grad = torch.zeros_like(x_hat)
    elif scaler is None:
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True, materialize_grads=True)
    else:
        total = out.float().sum()
        scale = scaler.scale(torch.ones((), device=total.device))
        (grad,) = torch.autograd.grad(total * scale, x_hat, create_graph=True, materialize_grads=True)
        grad = grad.float() / scale
    norms = (grad.float().flatten(1).pow(2).sum(1) + 1e-12).sqrt()
    gap = norms - target
    if one_sided:
        gap = F.relu(gap)
    value = gap.pow(2).mean()
    if scaler is not None:
        value = _SkipOnOverflow.apply(value, ~torch.isfinite(value))
    return value, norms


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


class GradientPenalty(Regularizer):
    """Gradient penalty of WGAN-GP (Gulrajani et al. 2017), composable with any loss.

    Args:
        weight: λ, the penalty weight (paper: 10; the 2-D toy experiments: 0.1).
        one_sided: Use ``max(0, ‖g‖ − 1)²`` instead of the two-sided ``(‖g‖ − 1)²``.
        target: Target gradient norm.

    Raises:
        ConfigurationError: If ``weight`` or ``target`` is negative or not a number.

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

    def __init__(self, weight: float = 10.0, one_sided: bool = False, target: float = 1.0) -> None:
        self.weight = check_non_negative("gp_weight", weight)
        self.target = check_non_negative("target", target)
        if not isinstance(one_sided, bool):
            raise invalid("one_sided", "true or false", one_sided)
        self.one_sided = one_sided

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Optional[tuple[Tensor, dict[str, Tensor]]]:
        value, norms = gradient_penalty(
            critic, real, fake, one_sided=self.one_sided, target=self.target, scaler=self.grad_scaler
        )
        return self.weight * value, {"gp": value.detach(), "gp_grad_norm": norms.detach().mean()}


#: Each clipped critic's parameter list, dropped with the critic.
_PARAMETER_LISTS: "weakref.WeakKeyDictionary[nn.Module, list[Tensor]]" = weakref.WeakKeyDictionary()


class WeightClipping(Regularizer):
    """Weight clipping of WGAN (Arjovsky et al. 2017): clamp every critic parameter into ``[-clip, clip]``
    after every critic optimizer step.

    Args:
        clip: The clipping constant ``c`` (paper: 0.01).

    Raises:
        ConfigurationError: If ``clip`` is negative or not a number.
    """

    name = "clip"

    def __init__(self, clip: float = 0.01) -> None:
        self.clip = check_non_negative("clip", clip)

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        params = _PARAMETER_LISTS.get(critic)
        if params is None:  # list a critic's parameters once, not every step
            params = _PARAMETER_LISTS[critic] = list(critic.parameters())
        if params:  # one fused pass per bound over all parameters
            torch._foreach_clamp_min_(params, -self.clip)
            torch._foreach_clamp_max_(params, self.clip)


#: Annealing schedules of :class:`InstanceNoise`.
NOISE_SCHEDULES = ("constant", "linear", "exponential")


class InstanceNoise(Regularizer):
    """Instance noise (Arjovsky & Bottou 2017; Sønderby et al. 2016): add ``σ_t·ε``, ``ε ~ N(0, I)``, to
    *both* real and fake critic inputs, in the critic and the generator step, so the supports overlap.

    ``σ_t`` follows the generator step ``t``: ``constant`` keeps ``sigma``; ``linear`` falls to 0 at
    ``anneal_steps``; ``exponential`` is ``sigma · 0.01^(t / anneal_steps)`` and 0 from ``anneal_steps``
    on.

    Args:
        sigma: Initial noise standard deviation ``σ_0``.
        schedule: One of :data:`NOISE_SCHEDULES`.
        anneal_steps: Generator steps over which the noise anneals to 0 (ignored by ``constant``).

    Raises:
        ConfigurationError: On a negative ``sigma``, an unknown schedule, or ``anneal_steps < 1`` with an
            annealing schedule.
    """

    name = "noise"

    def __init__(self, sigma: float = 0.1, schedule: str = "linear", anneal_steps: int = 1000) -> None:
        self.sigma = check_non_negative("sigma", sigma)
        if schedule not in NOISE_SCHEDULES:
            raise invalid("schedule", f"one of {list(NOISE_SCHEDULES)}", schedule)
        self.schedule = schedule
        if schedule != "constant" and (isinstance(anneal_steps, bool) or not isinstance(anneal_steps, int) or anneal_steps < 1):
            raise invalid("anneal_steps", "an integer >= 1", anneal_steps)
        self.anneal_steps = anneal_steps

    def sigma_at(self, generator_step: int) -> float:
        """The noise standard deviation at a generator step.

        Args:
            generator_step: Generator steps taken so far.

        Returns:
            ``σ_t``.
        """
        if self.schedule == "constant":
            return self.sigma
        frac = generator_step / self.anneal_steps
        if frac >= 1:
            return 0.0
        if self.schedule == "linear":
            return self.sigma * (1 - frac)
        return self.sigma * 0.01**frac

    def transform(self, x: Tensor, generator_step: int) -> Tensor:
        sigma = self.sigma_at(generator_step)
        return x + sigma * torch.randn_like(x) if sigma > 0 else x
