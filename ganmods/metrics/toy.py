"""Mode-coverage metrics for 2-D Gaussian mixtures (the PacGAN / VEEGAN protocol, docs/theory.md §8)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganmods.errors import ConfigurationError, check_positive_int
from ganmods.metrics.protocol import MetricSpec

__all__ = ["ModeMetrics", "mode_metrics"]


def mode_metrics(samples: Tensor, centers: Tensor, std: float, min_count: int = 1) -> dict[str, float]:
    """Score generated 2-D samples against a Gaussian mixture with equal weights.

    A sample is *high quality* if it lies within ``3·std`` of its nearest centre. A mode is *captured* if
    at least ``min_count`` high-quality samples have it as nearest centre. The reverse KL is
    ``KL(p‖u)`` between the histogram ``p`` of high-quality samples over modes and the uniform ``u``
    (0 when every mode gets the same share, ``log K`` when one mode gets everything; NaN when no sample
    is high quality).

    Args:
        samples: ``[N, D]`` generated points.
        centers: ``[K, D]`` mixture centres.
        std: Standard deviation of each component.
        min_count: High-quality samples a mode needs to count as captured.

    Returns:
        ``{"modes": captured modes, "hq": fraction of high-quality samples in [0, 1],
        "reverse_kl": KL(p‖uniform)}``.

    Raises:
        ConfigurationError: If shapes disagree, ``std <= 0`` or ``min_count < 1``.
    """
    if samples.dim() != 2 or centers.dim() != 2 or samples.shape[1] != centers.shape[1]:
        raise ConfigurationError(
            f"samples must be [N, D] with D = centers' D; got samples {tuple(samples.shape)}, "
            f"centers {tuple(centers.shape)}."
        )
    if not std > 0:
        raise ConfigurationError(f"std must be > 0; got {std!r}.")
    check_positive_int("min_count", min_count)
    samples = samples.detach().double().cpu()
    centers = centers.detach().double().cpu()
    dist = torch.cdist(samples, centers)
    nearest_dist, nearest = dist.min(dim=1)
    hq = nearest_dist < 3 * std
    counts = torch.bincount(nearest[hq], minlength=centers.shape[0]).double()
    n_hq = counts.sum().item()
    if n_hq > 0:
        p = counts / n_hq
        nz = p > 0
        reverse_kl = float((p[nz] * (p[nz] * centers.shape[0]).log()).sum())
    else:
        reverse_kl = math.nan
    return {
        "modes": float((counts >= min_count).sum()),
        "hq": n_hq / max(samples.shape[0], 1),
        "reverse_kl": reverse_kl,
    }


class ModeMetrics:
    """The mode-coverage metric of the 2-D Gaussian mixtures as a metric object (see :func:`mode_metrics`).

    Declares (:mod:`ganmods.metrics.protocol`): ``modes`` and ``hq`` higher is better, ``reverse_kl``
    lower is better and the main (ranking) value; every process samples the same full set with the
    evaluation seed, so nothing is reduced across processes (``"none"``).

    Args:
        min_count: High-quality samples a mode needs to count as captured.

    Raises:
        ConfigurationError: If ``min_count`` is not an integer >= 1.

    Example:
        >>> ModeMetrics().score(torch.zeros(4, 2), torch.zeros(1, 2), 0.1)["modes"]
        1.0
    """

    #: Returned names, in order.
    names = ("modes", "hq", "reverse_kl")
    #: Direction of every name.
    higher_is_better = {"modes": True, "hq": True, "reverse_kl": False}
    #: The ranking value: it grows with every missed or over-weighted mode (``modes`` saturates early and
    #: ties; ``hq`` rewards collapse onto one mode).
    main = "reverse_kl"
    #: Cross-process reduction of every name.
    reduce = {"modes": "none", "hq": "none", "reverse_kl": "none"}

    def __init__(self, min_count: int = 1) -> None:
        self.min_count = check_positive_int("min_count", min_count)

    def spec(self, n_samples: int = 1) -> MetricSpec:
        """The declaration above (the same for every sample count).

        Args:
            n_samples: Generated samples scored (unused: the names carry no count).

        Returns:
            The :class:`~ganmods.metrics.protocol.MetricSpec`.
        """
        return MetricSpec(self.names, self.higher_is_better, self.main, self.reduce)

    def score(self, samples: Tensor, centers: Tensor, std: float) -> dict[str, float]:
        """Score ``samples`` against the mixture (:func:`mode_metrics` with this ``min_count``).

        Args:
            samples: ``[N, D]`` generated points.
            centers: ``[K, D]`` mixture centres.
            std: Standard deviation of each component.

        Returns:
            ``{"modes", "hq", "reverse_kl"}``.

        Raises:
            ConfigurationError: If shapes disagree or ``std <= 0``.
        """
        return mode_metrics(samples, centers, std, self.min_count)
