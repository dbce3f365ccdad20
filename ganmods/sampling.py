"""Latents and predict batches: what ``GANModule.sample`` and ``GANModule.predict_step`` draw from.

Stateless helpers only: :func:`draw_latents` draws ``n`` latents of a distribution; :class:`LatentSeeds` describes
the latents of ``sample(n, seed)`` in batches for ``trainer.predict``; :func:`batch_latents` turns such a batch
(or plain latents) into latents on the module's device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Optional

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ganmods.errors import ConfigurationError, check_positive_int, invalid

__all__ = ["LATENT_DISTRIBUTIONS", "LatentSeeds", "batch_latents", "draw_latents"]

#: Latent distributions: standard normal, or uniform on [-1, 1].
LATENT_DISTRIBUTIONS = ("normal", "uniform")


def draw_latents(
    n: int, latent_dim: int, distribution: str, device: torch.device, generator: Optional[torch.Generator] = None
) -> Tensor:
    """Draw ``n`` latent vectors ``[n, latent_dim]``.

    Args:
        n: Number of latents.
        latent_dim: Size of one latent.
        distribution: ``"normal"`` (standard normal) or ``"uniform"`` (on [-1, 1]).
        device: Where to draw them.
        generator: Optional random generator (for fixed latents); the device's default one otherwise.

    Returns:
        The latents.

    Raises:
        ConfigurationError: If ``distribution`` is not one of :data:`LATENT_DISTRIBUTIONS`.
    """
    shape = (n, latent_dim)
    if distribution == "normal":
        return torch.randn(shape, device=device, generator=generator)
    if distribution == "uniform":
        return torch.rand(shape, device=device, generator=generator).mul_(2).sub_(1)
    raise invalid("distribution", f"one of {list(LATENT_DISTRIBUTIONS)}", distribution)


class LatentSeeds(Dataset):
    """The latents of ``module.sample(n, seed)`` in batches, for ``trainer.predict``.

    Each item is one batch, ``{"n": n, "seed": seed, "start": a, "stop": b}``; ``GANModule.predict_step``
    turns it into rows ``a:b`` of the latents ``sample(n, seed)`` draws, so the concatenated predictions
    equal ``sample(n, seed)`` (whatever the latent size or distribution, which the module knows).

    Args:
        n: Number of samples (>= 1).
        seed: Seed of the latents (an integer).
        batch_size: Samples per batch (>= 1).

    Raises:
        ConfigurationError: If ``n`` or ``batch_size`` is not a positive integer or ``seed`` not an integer.

    Example:
        >>> seeds = LatentSeeds(n=10, seed=3, batch_size=4)
        >>> len(seeds), seeds[2]
        (3, {'n': 10, 'seed': 3, 'start': 8, 'stop': 10})
    """

    def __init__(self, n: int, seed: int = 0, batch_size: int = 256) -> None:
        self.n = check_positive_int("n", n)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigurationError(f"seed must be an integer; got {seed!r}.")
        self.seed = seed
        self.batch_size = check_positive_int("batch_size", batch_size)

    def __len__(self) -> int:
        """Number of batches."""
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index: int) -> dict[str, int]:
        """Batch ``index`` as ``{"n", "seed", "start", "stop"}``.

        Args:
            index: Batch index in ``[0, len)``.

        Returns:
            The batch description.

        Raises:
            IndexError: Past the last batch.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        start = index * self.batch_size
        return {"n": self.n, "seed": self.seed, "start": start, "stop": min(self.n, start + self.batch_size)}

    def dataloader(self, **kwargs: Any) -> DataLoader:
        """A loader that yields the batches in order (``batch_size=None``: each item is a batch).

        Args:
            **kwargs: Further ``DataLoader`` arguments (e.g. ``num_workers``).

        Returns:
            The loader.
        """
        return DataLoader(self, batch_size=None, shuffle=False, **kwargs)


_LATENT_CACHE: dict[tuple[Any, ...], Tensor] = {}


def batch_latents(module: Any, batch: Any) -> Tensor:
    """The latents a predict batch stands for (used by ``GANModule.predict_step``).

    Args:
        module: A :class:`~ganmods.GANModule`.
        batch: Latents ``[B, latent_dim]`` (moved to the module's device), or an item of
            :class:`LatentSeeds` (rows ``start:stop`` of the latents ``sample(n, seed)`` draws; the full
            draw is kept for the following batches until the last one is served).

    Returns:
        ``[B, latent_dim]`` latents on the module's device.

    Raises:
        ConfigurationError: If ``batch`` is neither, or its latent size is wrong.
    """
    if isinstance(batch, Tensor):
        if not batch.is_floating_point() or batch.dim() != 2 or batch.shape[1] != module.latent_dim:
            raise ConfigurationError(
                f"batch must be float latents [B, {module.latent_dim}] or an item of LatentSeeds; got a "
                f"{batch.dtype} tensor of shape {list(batch.shape)}."
            )
        return batch.to(module.device)
    keys = ("n", "seed", "start", "stop")
    if not isinstance(batch, Mapping) or any(not isinstance(batch.get(k), int) for k in keys) or not (
        0 <= batch["start"] < batch["stop"] <= batch["n"]
    ):
        shown = dict(batch) if isinstance(batch, Mapping) else type(batch).__name__
        raise ConfigurationError(
            f"batch must be float latents [B, {module.latent_dim}] or an item of LatentSeeds "
            f"({{'n', 'seed', 'start', 'stop'}} with 0 <= start < stop <= n); got {shown!r}."
        )
    key = (batch["n"], batch["seed"], module.latent_dim, module.latent_distribution, str(module.device))
    if key not in _LATENT_CACHE:
        _LATENT_CACHE.clear()
        rng = torch.Generator(device=module.device).manual_seed(int(batch["seed"]))
        _LATENT_CACHE[key] = module.sample_latent(batch["n"], generator=rng)
    z = _LATENT_CACHE[key][batch["start"] : batch["stop"]]
    if batch["stop"] == batch["n"]:  # the last batch: let the draw go
        _LATENT_CACHE.pop(key)
    return z
