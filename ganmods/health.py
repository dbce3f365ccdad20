"""Checks of GANModule: networks and their combination before training, non-finite values during it."""

from __future__ import annotations

import math

from typing import Optional

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from ganmods.errors import ConfigurationError

__all__ = ["HealthChecks"]


class HealthChecks:
    """Mixin for :class:`~ganmods.GANModule`: set-up checks (shapes, BatchNorm with a penalty) and the
    non-finite check used by the training step."""

    def _check_no_batchnorm_with_penalty(self) -> None:
        penalised = [r for r in self.regularizers if r.per_sample_gradients]
        if not penalised:
            return
        bn = [n for n, m in self.discriminator.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if bn:
            raise ConfigurationError(
                f"discriminator must not contain BatchNorm when a gradient penalty is used (it couples the "
                f"samples of a batch and breaks the per-sample penalty); allowed: no normalisation, layer, "
                f"instance or spectral normalisation; got BatchNorm at {bn[0]!r}."
            )

    @torch.no_grad()
    def check_networks(self, data_shape: Optional[tuple[int, ...]] = None) -> None:
        """Run the generator and the critic on a batch of 2 and check the shapes.

        Args:
            data_shape: Expected shape of one data point (without batch), or ``None`` to skip that check.

        Raises:
            ConfigurationError: On a shape mismatch (both shapes are named).
        """
        modes = (self.generator.training, self.discriminator.training)
        self.generator.eval()
        self.discriminator.eval()
        try:
            z = self.sample_latent(2)
            try:
                fake = self.generator(z)
            except RuntimeError as err:
                raise ConfigurationError(
                    f"generator must accept latents of shape [B, latent_dim] = {list(z.shape)}; got an error: "
                    f"{str(err).splitlines()[0]}"
                ) from None
            if data_shape is not None and tuple(fake.shape[1:]) != tuple(data_shape):
                raise ConfigurationError(
                    f"generator output shape must equal the data shape {tuple(data_shape)} (per sample); "
                    f"got {tuple(fake.shape[1:])} (full output {tuple(fake.shape)})."
                )
            for reg in self.regularizers:
                reg.check_input(tuple(fake.shape))
            try:
                out = self.discriminator(fake)
            except RuntimeError as err:
                raise ConfigurationError(
                    f"discriminator must accept the generator's output of shape {list(fake.shape)}; got an error: "
                    f"{str(err).splitlines()[0]}"
                ) from None
            if not (out.shape == (2,) or out.shape == (2, 1)):
                raise ConfigurationError(
                    f"discriminator output must have shape [B] or [B, 1]; got {list(out.shape)} for B = 2."
                )
        finally:
            self.generator.train(modes[0])
            self.discriminator.train(modes[1])

    def _stop_if_nonfinite(self, values: dict[str, Tensor], total: Optional[Tensor] = None) -> bool:
        """Stop training (every rank) if any value (or ``total``) is NaN or infinite; the step is not taken.

        On one process, when ``total`` (a sum of the values) or the single value is finite, that one
        check suffices; otherwise the values are stacked and checked together to name the culprit. Under
        DDP the decision is reduced across ranks every call, so that every rank stops at the same step.
        """
        trainer = self._trainer
        multi = trainer is not None and trainer.world_size > 1
        if total is None and len(values) == 1:
            (total,) = values.values()
        if not multi and total is not None:
            # the common case, every step: one read of one number
            finite = math.isfinite(total.item()) if total.numel() == 1 else bool(torch.isfinite(total.detach()).all())
            if finite:
                return False
        if total is not None:
            values = {**values, "sum of the loss terms": total}
        finite = torch.isfinite(torch.stack([v.detach().float().reshape(()) for v in values.values()]))
        bad = not bool(finite.all())
        if multi:
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            return False
        names = [n for n, ok in zip(values, finite.tolist()) if not ok] or ["a value on another rank"]
        self.nonfinite_message = (
            f"non-finite {names[0]} at critic step {self.critic_steps}, generator step {self.generator_steps}: "
            f"training stopped before applying it; the last checkpoint holds the last finite state."
        )
        rank_zero_warn(f"ganmods: {self.nonfinite_message}")
        if trainer is not None:
            trainer.should_stop = True
        return True
