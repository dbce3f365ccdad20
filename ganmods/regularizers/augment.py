"""Differentiable augmentation of critic inputs (Zhao et al. 2020, "Differentiable Augmentation for
Data-Efficient GAN Training").

A critic trained on a small dataset memorises it: its scores on the training images drift away from its
scores on everything else, and the generator follows a signal that no longer generalises. Augmenting
*every* critic input — real and fake, in the critic step and in the generator step — with the same
family of random, differentiable transforms keeps the critic from memorising while the generator is
still trained on un-augmented outputs (the gradient flows back through the transforms).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ganmods.errors import ConfigurationError, invalid
from ganmods.regularizers.base import Regularizer

__all__ = ["AUGMENT_POLICIES", "DiffAugment"]

#: The transform families, applied in this order when listed.
AUGMENT_POLICIES = ("color", "translation", "cutout")


def _fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise invalid(name, "a number in [0, 1]", value)
    return float(value)


class DiffAugment(Regularizer):
    """Random, differentiable augmentation of every critic input (images ``[B, C, H, W]``).

    Each sample draws its own transform:

    * ``color``: brightness ``+ (u − 0.5)``, saturation ``× 2u`` around the per-pixel channel mean,
      contrast ``× (u + 0.5)`` around the image mean (``u ~ U[0, 1)`` per sample and transform);
    * ``translation``: an integer shift of up to ``translation · H`` rows and ``translation · W`` columns
      each way, filling with ``fill``;
    * ``cutout``: a square hole of ``cutout · H`` by ``cutout · W`` pixels at a random centre, set to ``fill``.

    Args:
        policies: Transform families to apply, a subset of :data:`AUGMENT_POLICIES`.
        translation: Largest shift as a fraction of the image side.
        cutout: Hole side as a fraction of the image side.
        fill: Value written where a shift uncovers or a hole removes pixels (data are in [-1, 1]).

    Raises:
        ConfigurationError: On an unknown or repeated policy, an empty list, or fractions outside [0, 1].
    """

    name = "augment"

    def __init__(
        self,
        policies: Sequence[str] = ("translation", "cutout"),
        translation: float = 0.125,
        cutout: float = 0.5,
        fill: float = 0.0,
    ) -> None:
        if isinstance(policies, str) or not policies:
            raise invalid("policies", f"a non-empty list drawn from {list(AUGMENT_POLICIES)}", policies)
        unknown = [p for p in policies if p not in AUGMENT_POLICIES]
        if unknown or len(set(policies)) != len(policies):
            raise invalid("policies", f"distinct names from {list(AUGMENT_POLICIES)}", list(policies))
        self.policies = [p for p in AUGMENT_POLICIES if p in policies]
        self.translation = _fraction("translation", translation)
        self.cutout = _fraction("cutout", cutout)
        if isinstance(fill, bool) or not isinstance(fill, (int, float)):
            raise invalid("fill", "a number", fill)
        self.fill = float(fill)

    def check_input(self, shape: Sequence[int]) -> None:
        """Refuse critic inputs that are not images.

        Args:
            shape: Shape of a batch of critic inputs.

        Raises:
            ConfigurationError: Unless the shape is ``[B, C, H, W]``.
        """
        if len(shape) != 4:
            raise ConfigurationError(
                f"DiffAugment needs image critic inputs [B, C, H, W]; got shape {list(shape)}. "
                "Use InstanceNoise for non-image data."
            )

    def transform(self, x: Tensor, generator_step: int) -> Tensor:
        """Augment a batch; each sample draws its own transform.

        Args:
            x: Critic inputs ``[B, C, H, W]``.
            generator_step: Unused (the augmentation does not anneal).

        Returns:
            The augmented batch, differentiable with respect to ``x``.
        """
        for policy in self.policies:
            x = getattr(self, f"_{policy}")(x)
        return x

    @staticmethod
    def _uniform(x: Tensor) -> Tensor:
        return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)

    def _color(self, x: Tensor) -> Tensor:
        x = x + (self._uniform(x) - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (self._uniform(x) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * (self._uniform(x) + 0.5) + mean

    def _translation(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        sh, sw = int(h * self.translation + 0.5), int(w * self.translation + 0.5)
        if sh == 0 and sw == 0:
            return x
        dev = x.device
        dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=dev)
        dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=dev)
        rows = (torch.arange(h, device=dev).view(1, h, 1) + dy + 1).clamp(0, h + 1)
        cols = (torch.arange(w, device=dev).view(1, 1, w) + dx + 1).clamp(0, w + 1)
        padded = F.pad(x, (1, 1, 1, 1), value=self.fill)
        batch = torch.arange(b, device=dev).view(b, 1, 1)
        return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)

    def _cutout(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        ch, cw = int(h * self.cutout + 0.5), int(w * self.cutout + 0.5)
        if ch == 0 or cw == 0:
            return x
        dev = x.device
        cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=dev)
        cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=dev)
        rows = torch.arange(h, device=dev).view(1, h, 1)
        cols = torch.arange(w, device=dev).view(1, 1, w)
        inside = (rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch) & (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw)
        return x.masked_fill(inside.unsqueeze(1), self.fill)
