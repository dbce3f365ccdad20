"""One adversarial game of a training step: a critic and the real and fake inputs it compares.

:class:`~ganmods.GANModule` asks its hooks :meth:`~ganmods.GANModule.critic_games` and
:meth:`~ganmods.GANModule.generator_games` for the games of a step, then applies the same loss and the same
regularizers to each and sums them. The unconditional GAN plays one game (``D`` on ``x`` against ``G(z)``);
BiGAN plays one on joint inputs (``(x, E(x))`` against ``(G(z), z)``); CycleGAN plays two (``D_A`` and ``D_B``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from torch import Tensor, nn

__all__ = ["Game"]


@dataclass(frozen=True)
class Game:
    """A critic and the inputs it compares in one step.

    Args:
        critic: The critic network of this game (its raw logits are ``[B]`` or ``[B, 1]``).
        real: The critic's real-side input, after the regularizers' transforms. In the generator step it is
            only read when the loss compares against real logits (relativistic losses).
        fake: The critic's fake-side input, after the transforms; built without gradients in the critic step,
            with the generator's graph in the generator step.
        generated: In the generator step, the generator's output before the transforms (what a
            generator-side regularizer sees); ``None`` in the critic step.
        inputs: In the generator step, what the generator was given (the latents ``z``, or a source image).
    """

    critic: nn.Module
    real: Tensor
    fake: Tensor
    generated: Optional[Tensor] = None
    inputs: Optional[Tensor] = None
