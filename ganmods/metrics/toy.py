"""Mode-coverage metrics for 2-D Gaussian mixtures (the PacGAN / VEEGAN protocol, docs/theory.md §8)."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.metrics.prdc import prdc, with_prdc
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

    With ``prdc=True`` it also returns ``precision``, ``recall``, ``density`` and ``coverage``
    (:func:`~ganmods.metrics.prdc.prdc`, all higher is better) in the plane: against the ``reference`` points given
    to :meth:`score` (what :class:`~ganmods.data.GANDataModule` does: the real points of the split scored, see
    :mod:`ganmods.data.splits`), else against as many real points as samples drawn from the mixture with a
    generator seeded by ``reference_seed`` (the same reference for every run).

    Args:
        min_count: High-quality samples a mode needs to count as captured.
        prdc: Also compute precision, recall (``k_pr`` neighbours), density and coverage (``k_dc``). Off by
            default for the object itself; :class:`~ganmods.data.GANDataModule` turns it on for the mixtures
            (its ``prdc`` argument).
        k_pr: Neighbours of the precision/recall balls (Kynkäänniemi et al.: 3).
        k_dc: Neighbours of the density/coverage balls (Naeem et al.: 5).
        reference_seed: Seed of the real reference points.

    Raises:
        ConfigurationError: If ``min_count``, ``k_pr`` or ``k_dc`` is not an integer >= 1, ``prdc`` is not a
            bool, or ``reference_seed`` is not an integer >= 0.

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

    def __init__(self, min_count: int = 1, prdc: bool = False, k_pr: int = 3, k_dc: int = 5,
                 reference_seed: int = 0) -> None:
        self.min_count = check_positive_int("min_count", min_count)
        if not isinstance(prdc, bool):
            raise invalid("prdc", "true or false", prdc)
        self.prdc = prdc
        self.k_pr = check_positive_int("k_pr", k_pr)
        self.k_dc = check_positive_int("k_dc", k_dc)
        self.reference_seed = check_positive_int("reference_seed", reference_seed, minimum=0)

    def spec(self, n_samples: int = 1) -> MetricSpec:
        """The declaration above (the same for every sample count).

        Args:
            n_samples: Generated samples scored (unused: the names carry no count).

        Returns:
            The :class:`~ganmods.metrics.protocol.MetricSpec` (with the four PRDC names when ``prdc``).
        """
        spec = MetricSpec(self.names, self.higher_is_better, self.main, self.reduce)
        return with_prdc(spec) if self.prdc else spec

    def score(self, samples: Tensor, centers: Tensor, std: float,
              reference: Optional[Tensor] = None) -> dict[str, float]:
        """Score ``samples`` against the mixture (:func:`mode_metrics` with this ``min_count``).

        Args:
            samples: ``[N, D]`` generated points.
            centers: ``[K, D]`` mixture centres.
            std: Standard deviation of each component.
            reference: With ``prdc``: ``[M, D]`` real points the PRDC values are computed against (``None``: ``N``
                points drawn from the mixture with ``reference_seed``). Must be ``None`` without ``prdc``.

        Returns:
            ``{"modes", "hq", "reverse_kl"}``, and ``{"precision", "recall", "density", "coverage"}`` with
            ``prdc`` (all four NaN when a sample is NaN or infinite: a diverged generator is unmeasurable, as its
            ``reverse_kl`` is NaN when no sample is of high quality).

        Raises:
            ConfigurationError: If shapes disagree or ``std <= 0``; with ``prdc``, if there are not more samples
                (and reference points) than ``k_pr`` and ``k_dc``; a ``reference`` given without ``prdc``.
        """
        if reference is not None and not self.prdc:
            raise invalid("reference", "None when prdc is off (the reference only serves precision, recall, "
                          "density and coverage)", type(reference).__name__)
        values = mode_metrics(samples, centers, std, self.min_count)
        if self.prdc:
            if reference is None:
                n = samples.shape[0]
                generator = torch.Generator().manual_seed(self.reference_seed)
                centers = centers.detach().double().cpu()
                mode = torch.randint(centers.shape[0], (n,), generator=generator)
                reference = centers[mode] + std * torch.randn(n, centers.shape[1], generator=generator,
                                                              dtype=torch.float64)
            values.update(prdc(reference.detach().double().cpu(), samples.detach().double().cpu(), self.k_pr,
                               self.k_dc, nonfinite_fake="nan"))
        return values
