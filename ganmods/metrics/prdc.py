"""Precision, recall, density and coverage of generated samples in a feature space (THEORY §9).

Real features ``X`` (``N`` points) and fake features ``Y`` (``M`` points), Euclidean distances; ``r_k(x)`` is
the distance from a point to its ``k``-th nearest neighbour within its own set (the point itself excluded);
``B(x, r)`` is the closed ball ``{y : |y - x| <= r}``.

* Precision (Kynkäänniemi et al. 2019, ``k = 3``): the share of fake points inside ``B(X_i, r_k(X_i))`` for
  at least one real ``X_i`` (fake samples that look real).
* Recall (same paper): the share of real points inside ``B(Y_j, r_k(Y_j))`` for at least one fake ``Y_j``
  (real samples the generator reaches).
* Density (Naeem et al. 2020, ``k = 5``): ``(1 / (k M)) sum_j sum_i 1[Y_j in B(X_i, r_k(X_i))]``: how many
  real balls hold a fake point on average, divided by ``k``; about 1 when the two sets follow one
  distribution, above 1 when fakes crowd dense real regions. Unlike precision, it is not fooled by real
  outliers with large balls.
* Coverage (same paper): the share of real points whose ball ``B(X_i, r_k(X_i))`` holds at least one fake
  point.

Every value is higher-is-better (:data:`PRDC_HIGHER_IS_BETTER`). Naeem et al.'s reference implementation uses
one ``k`` for all four; with ``k = 5``, two identical 1000-d standard Gaussians, 10k vs 10k samples, it gives
precision 0.48, recall 0.47, density 1.06, coverage 0.97 (the distances in 1000 dimensions concentrate).

The distances are computed in chunks of ``chunk_size`` rows, so the memory is ``O(chunk_size * max(N, M))``
(10k x 10k in 1000-d: about 80 MB per chunk of 1000 rows in float64), on the device of the inputs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ganmods.errors import ConfigurationError, check_positive_int, invalid
from ganmods.metrics.protocol import MetricSpec

__all__ = ["PRDC_HIGHER_IS_BETTER", "PRDC_K_DC", "PRDC_K_PR", "PRDC_NAMES", "check_prdc_counts", "prdc", "with_prdc"]

#: The names :func:`prdc` returns, in order.
PRDC_NAMES = ("precision", "recall", "density", "coverage")
#: Direction of every name: all four are better when higher.
PRDC_HIGHER_IS_BETTER = {name: True for name in PRDC_NAMES}
#: Neighbours of the precision / recall balls in the evaluation protocols (Kynkäänniemi et al. 2019).
PRDC_K_PR = 3
#: Neighbours of the density / coverage balls in the evaluation protocols (Naeem et al. 2020).
PRDC_K_DC = 5


def with_prdc(spec: MetricSpec) -> MetricSpec:
    """``spec`` with the four PRDC names appended (higher is better, no reduction across processes: every
    process scores the same full sets); ``spec`` itself when it already declares them.

    Args:
        spec: A metric's declaration (:class:`~ganmods.metrics.protocol.MetricSpec`).

    Returns:
        The extended declaration; its ``main`` value is ``spec``'s.

    Example:
        >>> with_prdc(MetricSpec(("fid",), {"fid": False}, main="fid")).names
        ('fid', 'precision', 'recall', 'density', 'coverage')
    """
    if all(name in spec.names for name in PRDC_NAMES):
        return spec
    names = spec.names + tuple(n for n in PRDC_NAMES if n not in spec.names)
    return MetricSpec(names, {**spec.higher_is_better, **PRDC_HIGHER_IS_BETTER}, spec.main,
                      {**spec.reduce, **{name: "none" for name in PRDC_NAMES}})


def check_prdc_counts(n_real: int, n_fake: int, k_pr: int = PRDC_K_PR, k_dc: int = PRDC_K_DC,
                      name: str = "eval_samples") -> None:
    """Refuse sample counts too small for :func:`prdc` before any sample is drawn or feature extracted.

    Args:
        n_real: Real points (the reference).
        n_fake: Generated points.
        k_pr: Neighbours of the precision / recall balls (both sets need more points).
        k_dc: Neighbours of the density / coverage balls (the real set needs more points).
        name: The argument that sets the counts, for the message.

    Raises:
        ConfigurationError: If ``n_real <= max(k_pr, k_dc)`` or ``n_fake <= k_pr``, naming ``name`` and the way out
            (more samples, or ``prdc: false``).
    """
    need_real, need_fake = max(k_pr, k_dc) + 1, k_pr + 1
    if n_real < need_real or n_fake < need_fake:
        raise ConfigurationError(
            f"{name} must give at least {need_real} real and {need_fake} generated points to score precision / "
            f"recall (k = {k_pr}) and density / coverage (k = {k_dc}); got {n_real} real and {n_fake} generated. "
            "Score more samples, or pass prdc: false.")


def _check_k(name: str, k: Any, n: int, which: str) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n - 1:
        raise invalid(name, f"an integer in [1, {n - 1}] (below the {n} {which} points: the point itself is "
                      "not its own neighbour)", k)
    return k


def _kth_neighbour_distances(points: Tensor, ks: tuple[int, ...], chunk_size: int) -> list[Tensor]:
    """For each ``k`` in ``ks``: the distance of every point to its ``k``-th nearest other point."""
    largest = max(ks)
    out = [torch.empty(points.shape[0], dtype=points.dtype, device=points.device) for _ in ks]
    for start in range(0, points.shape[0], chunk_size):
        rows = points[start:start + chunk_size]
        dist = torch.cdist(rows, points)
        # the point itself is at distance 0 and sorts first among ties, so the k-th other point is entry k
        nearest = dist.topk(largest + 1, dim=1, largest=False).values
        for slot, k in enumerate(ks):
            out[slot][start:start + rows.shape[0]] = nearest[:, k]
    return out


def prdc(real: Tensor, fake: Tensor, k_pr: int = 3, k_dc: int = 5, chunk_size: int = 1024,
         dtype: torch.dtype = torch.float64, nonfinite_fake: str = "raise") -> dict[str, float]:
    """Precision and recall (``k_pr`` neighbours) and density and coverage (``k_dc`` neighbours) of ``fake``
    against ``real`` (definitions in the module docstring).

    Args:
        real: ``[N, D]`` real features.
        fake: ``[M, D]`` generated features.
        k_pr: Neighbours of the precision/recall balls (Kynkäänniemi et al.: 3), in ``[1, min(N, M) - 1]``.
        k_dc: Neighbours of the density/coverage balls (Naeem et al.: 5), in ``[1, N - 1]``.
        chunk_size: Rows of each distance block (an integer >= 1).
        dtype: Floating type of the distances (float64 by default: ties between equal distances stay exact;
            float32 halves the memory and time).
        nonfinite_fake: What a NaN or infinite value in ``fake`` gives: ``"raise"`` (an error) or ``"nan"`` (all
            four values NaN: what the evaluation protocols use, so that a diverged generator is scored as
            unmeasurable, not stopped with an error).

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as floats.

    Raises:
        ConfigurationError: If a set is not a finite ``[n, D]`` tensor (``fake`` only with
            ``nonfinite_fake="raise"``), the dimensions differ, a ``k`` is not below its set's size, or
            ``chunk_size``, ``dtype`` or ``nonfinite_fake`` is bad.

    Example:
        >>> x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])  # a set against itself: each ball holds k + 1 points
        >>> prdc(x, x, k_pr=1, k_dc=1)
        {'precision': 1.0, 'recall': 1.0, 'density': 2.0, 'coverage': 1.0}
    """
    for name, value in (("real", real), ("fake", fake)):
        if not isinstance(value, Tensor) or value.dim() != 2 or value.shape[0] == 0 or value.shape[1] == 0:
            raise invalid(name, "a [n, D] tensor of features with n, D >= 1",
                          tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__)
    if real.shape[1] != fake.shape[1]:
        raise ConfigurationError(f"real and fake must have the same feature dimension; got real "
                                 f"{tuple(real.shape)}, fake {tuple(fake.shape)}.")
    if dtype not in (torch.float32, torch.float64):
        raise invalid("dtype", "torch.float32 or torch.float64", dtype)
    if nonfinite_fake not in ("raise", "nan"):
        raise invalid("nonfinite_fake", "'raise' or 'nan'", nonfinite_fake)
    check_positive_int("chunk_size", chunk_size)
    n, m = real.shape[0], fake.shape[0]
    _check_k("k_pr", k_pr, n, "real")
    _check_k("k_pr", k_pr, m, "fake")
    _check_k("k_dc", k_dc, n, "real")
    real = real.detach().to(dtype)
    fake = fake.detach().to(dtype=dtype, device=real.device)
    for name, value in (("real", real), ("fake", fake)):
        if not bool(torch.isfinite(value).all()):
            if name == "fake" and nonfinite_fake == "nan":
                return dict.fromkeys(PRDC_NAMES, math.nan)
            raise invalid(name, "finite features", "a tensor with NaN or infinite values")

    real_pr, real_dc = _kth_neighbour_distances(real, (k_pr, k_dc), chunk_size)
    (fake_pr,) = _kth_neighbour_distances(fake, (k_pr,), chunk_size)
    fake_seen = torch.zeros(m, dtype=torch.bool, device=real.device)  # inside some real k_pr-ball
    real_reached = torch.zeros(n, dtype=torch.bool, device=real.device)  # inside some fake k_pr-ball
    real_covered = torch.zeros(n, dtype=torch.bool, device=real.device)  # its k_dc-ball holds a fake
    balls_holding = torch.zeros((), dtype=torch.float64, device=real.device)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        dist = torch.cdist(real[start:stop], fake)  # [chunk, M]
        fake_seen |= (dist <= real_pr[start:stop, None]).any(dim=0)
        real_reached[start:stop] = (dist <= fake_pr[None, :]).any(dim=1)
        inside_dc = dist <= real_dc[start:stop, None]
        real_covered[start:stop] = inside_dc.any(dim=1)
        balls_holding += inside_dc.sum(dtype=torch.float64)
    return {
        "precision": float(fake_seen.double().mean()),
        "recall": float(real_reached.double().mean()),
        "density": float(balls_holding) / (k_dc * m),
        "coverage": float(real_covered.double().mean()),
    }
