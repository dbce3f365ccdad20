"""Mode-coverage metrics for 2-D Gaussian mixtures (the PacGAN / VEEGAN protocol, THEORY.md §8)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganmods.errors import ConfigurationError, check_positive_int

__all__ = ["mode_metrics"]


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
