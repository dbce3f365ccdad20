"""Weight clipping of WGAN: clamp the critic's parameters after every critic optimizer step."""

from __future__ import annotations

import weakref

import torch
from torch import Tensor, nn

from ganmods.errors import check_non_negative
from ganmods.regularizers.base import Regularizer

__all__ = ["WeightClipping"]

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
        """Clamp every parameter of ``critic`` into ``[-clip, clip]`` in place.

        Args:
            critic: The critic network.
        """
        params = _PARAMETER_LISTS.get(critic)
        if params is None:  # list a critic's parameters once, not every step
            params = _PARAMETER_LISTS[critic] = list(critic.parameters())
        if params:  # one fused pass per bound over all parameters
            torch._foreach_clamp_min_(params, -self.clip)
            torch._foreach_clamp_max_(params, self.clip)
