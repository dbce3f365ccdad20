"""2-D toy distributions: ``ring8``, ``grid25`` (PacGAN constants) and ``swissroll``."""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor

from ganmods.errors import ConfigurationError, check_non_negative, check_positive_int
from ganmods.metrics.toy import mode_metrics

__all__ = ["TOY_DATASETS", "GaussianMixture", "SwissRoll", "make_toy"]


class GaussianMixture:
    """Equal-weight mixture of isotropic 2-D Gaussians with known centres, scored by :func:`mode_metrics`.

    Args:
        centers: ``[K, 2]`` centres.
        std: Standard deviation of every component.
        name: Dataset name (for messages and plots).
    """

    def __init__(self, centers: Tensor, std: float, name: str = "mixture") -> None:
        self.centers = centers.float()
        self.std = float(std)
        self.name = name

    @property
    def num_modes(self) -> int:
        """Number of mixture components."""
        return int(self.centers.shape[0])

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """Draw ``n`` points ``[n, 2]``.

        Args:
            n: Number of points.
            generator: Random generator (for reproducible data order).

        Returns:
            The points.
        """
        idx = torch.randint(self.num_modes, (n,), generator=generator)
        return self.centers[idx] + self.std * torch.randn(n, 2, generator=generator)

    def evaluate(self, samples: Tensor) -> dict[str, float]:
        """Modes captured, high-quality fraction and reverse KL of ``samples`` (see :func:`mode_metrics`).

        Args:
            samples: ``[N, 2]`` generated points.

        Returns:
            The metrics.
        """
        return mode_metrics(samples, self.centers, self.std)

    def bounds(self) -> tuple[float, float, float, float]:
        """Plot limits ``(xmin, xmax, ymin, ymax)`` with a margin around the centres."""
        lo, hi = self.centers.min(0).values, self.centers.max(0).values
        margin = 0.5 * float((hi - lo).max()) + 10 * self.std
        return (float(lo[0]) - margin / 2, float(hi[0]) + margin / 2, float(lo[1]) - margin / 2,
                float(hi[1]) + margin / 2)


class SwissRoll:
    """The 2-D swiss roll of the WGAN-GP toy experiments (scikit-learn's curve, scaled by 1/7.5).

    Args:
        noise: Standard deviation of the Gaussian noise added to the curve (before scaling).
    """

    name = "swissroll"

    def __init__(self, noise: float = 0.25) -> None:
        self.noise = check_non_negative("noise", noise)

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """Draw ``n`` points ``[n, 2]`` (see :meth:`GaussianMixture.sample`)."""
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
        pts = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
        pts = pts + self.noise * torch.randn(n, 2, generator=generator)
        return pts / 7.5

    def evaluate(self, samples: Tensor) -> dict[str, float]:
        """No mode metric exists for a continuous curve: returns an empty dict.

        Args:
            samples: ``[N, 2]`` generated points (unused).

        Returns:
            ``{}``.
        """
        return {}

    def bounds(self) -> tuple[float, float, float, float]:
        """Plot limits ``(xmin, xmax, ymin, ymax)``."""
        return (-2.5, 2.5, -2.5, 2.5)


def _ring(num_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    check_positive_int("num_modes", num_modes)
    angles = torch.arange(num_modes, dtype=torch.float64) * 2 * math.pi / num_modes
    centers = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(centers, _positive("std", std), f"ring{num_modes}")


def _grid(size: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    check_positive_int("size", size)
    axis = (torch.arange(size, dtype=torch.float64) - (size - 1) / 2) * spacing
    centers = torch.cartesian_prod(axis, axis)
    return GaussianMixture(centers, _positive("std", std), f"grid{size * size}")


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigurationError(f"{name} must be a finite number > 0; got {value!r}.")
    return float(value)


#: Toy dataset names and their factories (keyword options pass through ``dataset_options``).
TOY_DATASETS: dict[str, Callable[..., "GaussianMixture | SwissRoll"]] = {
    "ring8": _ring,
    "grid25": _grid,
    "swissroll": SwissRoll,
}


def make_toy(name: str, **options: float) -> "GaussianMixture | SwissRoll":
    """Build a toy distribution by name.

    Args:
        name: One of :data:`TOY_DATASETS`.
        **options: Constructor options: ``ring8`` takes ``num_modes``, ``radius``, ``std``; ``grid25``
            takes ``size``, ``spacing``, ``std``; ``swissroll`` takes ``noise``.

    Returns:
        The distribution.

    Raises:
        ConfigurationError: If the name or an option is unknown or invalid.
    """
    if name not in TOY_DATASETS:
        raise ConfigurationError(f"dataset must be one of {sorted(TOY_DATASETS)}; got {name!r}.")
    try:
        return TOY_DATASETS[name](**options)
    except TypeError as err:
        raise ConfigurationError(f"dataset_options for {name!r}: {err}") from None
