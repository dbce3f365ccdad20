"""Instance noise: Gaussian noise on every critic input, annealed over the generator steps."""

from __future__ import annotations

import torch
from torch import Tensor

from ganmods.errors import check_non_negative, invalid
from ganmods.regularizers.base import Regularizer

__all__ = ["NOISE_SCHEDULES", "InstanceNoise"]

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
        """Add ``σ_t``-scaled standard Gaussian noise to a batch.

        Args:
            x: A batch of critic inputs.
            generator_step: Generator steps taken so far (``t`` of the schedule).

        Returns:
            ``x + σ_t·ε``, or ``x`` itself when ``σ_t = 0``.
        """
        sigma = self.sigma_at(generator_step)
        return x + sigma * torch.randn_like(x) if sigma > 0 else x
