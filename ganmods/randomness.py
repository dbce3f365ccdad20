"""Counter-keyed randomness: every training step's random numbers follow from (seed, rank, step).

Before each critic step the module reseeds the default random generator of its device with
:func:`step_seed` ``(seed, rank, critic_step)`` (:func:`seed_step`). Latents, gradient-penalty ε, instance
noise and anything else drawn from the default generator during that step are then a function of the step
alone, so

* a run stopped after any step and resumed from its checkpoint continues bit for bit as if it had not
  stopped (nothing Lightning does between steps, such as iterating a data loader or validating, can
  shift the stream);
* every DDP rank draws its own latents and ε (the rank is part of the key).

Reseeding the CPU generator costs about a microsecond, so this is cheap enough to do every step. Everything
here is a function: the module owns the base seed and calls these.
"""

from __future__ import annotations

import random
from typing import Any, Optional

import numpy as np
import torch

__all__ = ["DATA_STREAM", "STEP_STREAM", "mix_seed", "restore_rng", "rng_record", "seed_step", "step_seed"]

#: Tags that keep the training-step stream and the real-data stream apart even when their seeds are
#: equal (both default to 0): without them a step's latents would repeat the draws of its real batch.
STEP_STREAM = 0x5EED_57E9
DATA_STREAM = 0x5EED_DA7A

_MASK = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def mix_seed(*parts: int) -> int:
    """Combine integers into one well-spread 63-bit seed (splitmix64 chained over the parts).

    Args:
        *parts: Integers (seed, rank, step, ...), each taken modulo 2**64.

    Returns:
        A seed in ``[0, 2**63)``; nearby inputs give unrelated outputs.

    Example:
        >>> mix_seed(0, 0, 1) != mix_seed(0, 0, 2)
        True
    """
    h = 0
    for p in parts:
        h = _splitmix64(h ^ (int(p) & _MASK))
    return h >> 1


def step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of critic step ``step`` on process ``rank`` of a run with base seed ``seed``.

    Args:
        seed: The run's base seed.
        rank: The global rank of the process.
        step: The critic step (0-based count of critic steps done before it).

    Returns:
        ``mix_seed(seed, STEP_STREAM, rank, step)``.
    """
    return mix_seed(seed, STEP_STREAM, rank, step)


def seed_step(seed: int, rank: int, step: int, device: torch.device) -> None:
    """Reseed the default generator of the CPU (and of ``device`` when it is a GPU) for one critic step.

    Args:
        seed: The run's base seed.
        rank: The global rank of the process.
        step: The critic step.
        device: The module's device.
    """
    value = step_seed(seed, rank, step)
    torch.random.default_generator.manual_seed(value)
    if device.type == "cuda":
        torch.cuda.default_generators[device.index or 0].manual_seed(value)


def _numpy_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}


def _set_numpy_state(state: dict[str, Any]) -> None:
    keys = np.asarray(state["keys"], dtype=np.uint32)
    np.random.set_state((state["name"], keys, state["pos"], state["has_gauss"], state["cached"]))


def _python_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _set_python_state(state: list[Any]) -> None:
    random.setstate((state[0], tuple(state[1]), state[2]))


def rng_record(seed: Optional[int]) -> dict[str, Any]:
    """The base seed and the global random states (torch CPU, numpy, python) as checkpointable data.

    Args:
        seed: The run's base seed (or None before fitting).

    Returns:
        ``{"seed", "torch", "numpy", "python"}`` (loadable with ``torch.load(weights_only=True)``).
    """
    return {"seed": seed, "torch": torch.random.get_rng_state(), "numpy": _numpy_state(), "python": _python_state()}


def restore_rng(record: Optional[dict[str, Any]]) -> Optional[int]:
    """Restore the global random states saved by :func:`rng_record`.

    Args:
        record: What :func:`rng_record` returned (None or empty: nothing to restore).

    Returns:
        The saved base seed (None when there was none).
    """
    if not record:
        return None
    if "torch" in record:
        torch.random.set_rng_state(record["torch"].cpu())
    if "numpy" in record:
        _set_numpy_state(record["numpy"])
    if "python" in record:
        _set_python_state(record["python"])
    return record.get("seed")
