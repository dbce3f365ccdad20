"""Finding NaN and infinite values without reading the device every step.

The training loop adds ``0 * value`` of every loss and penalty to a per-name accumulator on the device
(:func:`accumulate`): the accumulator stays 0 while every value is finite and becomes NaN, for good, as soon as
one is not (``0 * inf`` and ``0 * nan`` are NaN). Reading the accumulators (:func:`first_nonfinite`) is the
only host synchronisation, and the loop does it only when it reads values anyway (when the trainer writes
logs) and when training ends.
"""

from __future__ import annotations

from typing import Mapping, MutableMapping, Optional

import torch
from torch import Tensor

__all__ = ["accumulate", "first_nonfinite"]


def accumulate(flags: MutableMapping[str, Tensor], values: Mapping[str, Tensor]) -> None:
    """Fold the finiteness of ``values`` into ``flags`` (in place, on the values' device, no sync).

    Args:
        flags: Name -> scalar accumulator (0 while finite, NaN once a non-finite value was seen); missing
            names are added.
        values: Name -> tensor (any shape) to check.
    """
    for name, value in values.items():
        zero = value.detach().float().sum() * 0.0
        previous = flags.get(name)
        flags[name] = zero if previous is None else previous + zero


def first_nonfinite(values: Mapping[str, Tensor]) -> Optional[str]:
    """The name of the first value that holds a NaN or an infinity (one read from the device).

    Args:
        values: Name -> tensor (any shape).

    Returns:
        The first such name in the mapping's order, or None when every value is finite.

    Example:
        >>> first_nonfinite({"a": torch.tensor(1.0), "b": torch.tensor([0.0, float("nan")])})
        'b'
    """
    if not values:
        return None
    finite = torch.stack([torch.isfinite(v.detach()).all() for v in values.values()]).tolist()
    return next((name for name, ok in zip(values, finite) if not ok), None)
