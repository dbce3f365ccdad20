"""Sampling from a GAN module: latents, samples (from the EMA generator when there is one), ``predict``."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from ganmods.errors import check_positive_int, invalid

__all__ = ["Sampling"]


class Sampling:
    """Mixin of :class:`~ganmods.GANModule`: drawing latents and generating samples.

    Uses the module's ``latent_dim``, ``latent_distribution``, ``generator``, ``ema_generator`` and ``device``.
    """

    latent_dim: int
    latent_distribution: str
    generator: Any
    ema_generator: Any
    device: torch.device

    def sample_latent(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """Draw ``n`` latent vectors ``[n, latent_dim]`` on this module's device.

        Args:
            n: Number of latents.
            generator: Optional random generator (for fixed latents).

        Returns:
            The latents.
        """
        shape = (n, self.latent_dim)
        if self.latent_distribution == "normal":
            return torch.randn(shape, device=self.device, generator=generator)
        return torch.rand(shape, device=self.device, generator=generator).mul_(2).sub_(1)

    @torch.no_grad()
    def sample(
        self, n: int, seed: Optional[int] = None, batch_size: int = 4096, rows: Optional[tuple[int, int]] = None
    ) -> Tensor:
        """Generate ``n`` samples in data space, from the EMA generator when EMA is on.

        Args:
            n: Number of samples (>= 1).
            seed: If given, the latents are drawn from a generator seeded with it (same seed, same
                samples), leaving the global random state untouched.
            batch_size: Generate in chunks of this size.
            rows: If given, ``(lo, hi)``: generate only samples ``lo..hi-1`` of the ``n`` (all ``n`` latents are
                drawn, so the rows are the same as in the full set; used to split evaluation over processes).

        Returns:
            ``[n, *data_shape]`` tensor (``[n, 2]`` for the toy data; ``[n, C, H, W]`` in ``[-1, 1]`` for
            images), on this module's device.

        Raises:
            ConfigurationError: If ``n`` or ``batch_size`` is not a positive integer, or ``rows`` is not a
                non-empty range within ``n``.
        """
        check_positive_int("n", n)
        check_positive_int("batch_size", batch_size)
        net = self.ema_generator.module if self.ema_generator is not None else self.generator
        rng = None
        if seed is not None:
            rng = torch.Generator(device=self.device).manual_seed(int(seed))
        was_training = net.training
        net.eval()
        try:
            z = self.sample_latent(n, generator=rng)
            if rows is not None:
                lo, hi = rows
                if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo < hi <= n):
                    raise invalid("rows", f"(lo, hi) with 0 <= lo < hi <= n = {n}", rows)
                z = z[lo:hi]
            return torch.cat([net(chunk) for chunk in z.split(batch_size)])
        finally:
            net.train(was_training)

    def forward(self, z: Tensor) -> Tensor:
        """Generate from latents with the training generator.

        Args:
            z: Latents ``[B, latent_dim]``.

        Returns:
            Samples ``[B, *data_shape]``.
        """
        return self.generator(z)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Samples for ``trainer.predict``, from the EMA generator when EMA is on.

        Args:
            batch: Latents ``[B, latent_dim]``, or an item of :class:`ganmods.generate.LatentSeeds` (then
                the samples are rows ``start:stop`` of ``sample(n, seed)``).
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            ``[B, *data_shape]`` samples.

        Raises:
            ConfigurationError: If ``batch`` is neither.
        """
        from ganmods.generate import batch_latents

        net = self.ema_generator.module if self.ema_generator is not None else self.generator
        return net(batch_latents(self, batch))
