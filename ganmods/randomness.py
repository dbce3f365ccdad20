"""Counter-keyed randomness: every training step's random numbers follow from (seed, rank, step).

Before each critic step the module reseeds the default random generator of its device from
``mix(seed, rank, critic_step)``. Latents, gradient-penalty ε, instance noise and anything else drawn
from the default generator during that step are then a function of the step alone, so

* a run stopped after any step and resumed from its checkpoint continues bit for bit as if it had not
  stopped (nothing Lightning does between steps, such as iterating a data loader or validating, can
  shift the stream);
* every DDP rank draws its own latents and ε (the rank is part of the key).

Reseeding the CPU generator costs about a microsecond, so this is cheap enough to do every step.
"""

from __future__ import annotations

import random
from typing import Any, Optional

import numpy as np
import torch

__all__ = ["DATA_STREAM", "STEP_STREAM", "StepSeeding", "mix_seed"]

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


class StepSeeding:
    """Mixin for :class:`~ganmods.GANModule`: reseeds the device's default generator before each step and
    keeps the base seed and the global random states (torch, numpy, python) in checkpoints."""

    #: Base seed of the step stream; taken from ``torch.initial_seed()`` (set by ``seed_everything``)
    #: when fitting starts, or restored from a checkpoint.
    rng_seed: Optional[int] = None

    def _init_rng_seed(self) -> None:
        if self.rng_seed is None:
            self.rng_seed = int(torch.initial_seed())

    def _seed_step(self, step: int) -> None:
        """Reseed the default generator(s) of this module's device for ``step``."""
        seed = mix_seed(self.rng_seed or 0, STEP_STREAM, self._global_rank, step)
        torch.random.default_generator.manual_seed(seed)
        device = self.device
        if device.type == "cuda":
            torch.cuda.default_generators[device.index or 0].manual_seed(seed)

    @property
    def _global_rank(self) -> int:
        trainer = getattr(self, "_trainer", None)
        return int(trainer.global_rank) if trainer is not None else 0

    def _rng_record(self) -> dict[str, Any]:
        return {
            "seed": self.rng_seed,
            "torch": torch.random.get_rng_state(),
            "numpy": _numpy_state(),
            "python": _python_state(),
        }

    def _restore_rng(self, record: Optional[dict[str, Any]]) -> None:
        if not record:
            return
        self.rng_seed = record.get("seed")
        if "torch" in record:
            torch.random.set_rng_state(record["torch"].cpu())
        if "numpy" in record:
            _set_numpy_state(record["numpy"])
        if "python" in record:
            _set_python_state(record["python"])
