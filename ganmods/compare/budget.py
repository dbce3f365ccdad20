"""One training budget for every run of a comparison: generator steps, images shown, or seconds.

``budget: {generator_steps: N}`` sets every variant's ``max_generator_steps`` to ``N`` (the module stops
itself). ``budget: {images: N}`` stops a run once the critic has seen ``images_seen >= N`` real samples
(checked after every critic step, so a run stops at the first multiple of the batch size reaching ``N``);
variants with ``n_critic = 5`` then make a fifth of the generator steps of ``n_critic = 1`` variants, which
is the usual fair unit across critic schedules. ``budget: {seconds: S}`` stops a run once ``S`` seconds of
*training* wall-clock have passed (validation and the final evaluation are not counted). A seconds budget
depends on the machine and its load, so such a comparison is **not reproducible**; the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import lightning.pytorch as pl

from ganmods.errors import ConfigurationError, invalid

__all__ = ["BUDGET_UNITS", "Budget", "BudgetStop"]

#: The budget units, each a key of ``budget:``.
BUDGET_UNITS = ("generator_steps", "images", "seconds")


@dataclass(frozen=True)
class Budget:
    """A training budget: one unit and a positive amount.

    Args:
        unit: One of :data:`BUDGET_UNITS`.
        value: Positive integer for ``generator_steps`` and ``images``; positive finite number of seconds.

    Raises:
        ConfigurationError: For an unknown unit or a value that is not positive.
    """

    unit: str
    value: float

    def __post_init__(self) -> None:
        if self.unit not in BUDGET_UNITS:
            raise invalid("budget", f"one of {list(BUDGET_UNITS)} as its key", self.unit)
        v = self.value
        if self.unit == "seconds":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v < math.inf):
                raise invalid(f"budget.{self.unit}", "a finite number of seconds > 0", v)
        elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise invalid(f"budget.{self.unit}", "an integer >= 1", v)

    @classmethod
    def from_config(cls, raw: Any) -> "Budget":
        """Read ``budget:`` from a comparison config.

        Args:
            raw: A mapping with exactly one key of :data:`BUDGET_UNITS`.

        Returns:
            The budget.

        Raises:
            ConfigurationError: If ``raw`` is not such a mapping (no key, several units, an unknown unit) or
                its value is not positive.
        """
        allowed = f"a mapping with exactly one of {list(BUDGET_UNITS)} (e.g. {{images: 640000}})"
        if not isinstance(raw, dict) or len(raw) != 1:
            raise invalid("budget", allowed, raw)
        (unit, value), = raw.items()
        if unit not in BUDGET_UNITS:
            raise invalid("budget", allowed, raw)
        return cls(unit, value)

    @property
    def reproducible(self) -> bool:
        """False for a seconds budget (where a run stops depends on the machine and its load)."""
        return self.unit != "seconds"

    @property
    def max_generator_steps(self) -> Optional[int]:
        """What the runs' ``max_generator_steps`` is set to: the budget in generator steps, else None (then
        :class:`BudgetStop` stops the runs).

        Returns:
            The step budget, or None.
        """
        return int(self.value) if self.unit == "generator_steps" else None

    @property
    def checked_per_step(self) -> bool:
        """True when the module itself stops at the budget (a generator-step budget, checked after every critic
        step, so several critic steps may share a Lightning batch); False when the budget is checked between
        Lightning batches (images, seconds).

        Returns:
            Whether grouped critic steps (``steps_per_batch`` > 1) keep the budget exact.
        """
        return self.unit == "generator_steps"

    def describe(self) -> str:
        """The budget in words, e.g. ``"640000 images"``.

        Returns:
            The description.
        """
        return f"{self.value:g} {self.unit.replace('_', ' ')}"

    def fraction(self, generator_steps: int, images_seen: int, train_seconds: float) -> float:
        """How much of the budget a run has spent, in ``[0, 1]``.

        Args:
            generator_steps: The run's generator steps.
            images_seen: Real samples the critic has seen.
            train_seconds: Training wall-clock so far.

        Returns:
            The spent fraction (capped at 1).
        """
        spent = {"generator_steps": generator_steps, "images": images_seen, "seconds": train_seconds}[self.unit]
        return min(1.0, float(spent) / float(self.value))


class BudgetStop(pl.Callback):
    """Stops training when an ``images`` or ``seconds`` budget is spent (``generator_steps`` budgets are
    enforced by the module's own ``max_generator_steps``).

    Args:
        budget: The budget.
        train_seconds: A function returning the run's training wall-clock so far (seconds budgets).

    Raises:
        ConfigurationError: If ``budget`` is not a :class:`Budget`.
    """

    def __init__(self, budget: Budget, train_seconds: Any = None) -> None:
        if not isinstance(budget, Budget):
            raise invalid("budget", "a Budget", budget)
        if budget.unit == "seconds" and not callable(train_seconds):
            raise ConfigurationError("train_seconds must be a function for a seconds budget; got None.")
        self.budget = budget
        self.train_seconds = train_seconds

    def spent(self, pl_module: pl.LightningModule) -> bool:
        """Whether the budget is spent.

        Args:
            pl_module: A :class:`~ganmods.GANModule`.

        Returns:
            True once ``images_seen`` (or the training seconds) reached the budget.
        """
        if self.budget.unit == "images":
            return int(pl_module.images_seen) >= self.budget.value
        if self.budget.unit == "seconds":
            return float(self.train_seconds()) >= self.budget.value
        return False

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """Ask the trainer to stop (after a last validation) once the budget is spent."""
        if self.spent(pl_module):
            trainer.should_stop = True
