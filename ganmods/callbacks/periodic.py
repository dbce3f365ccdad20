"""The shared timing of callbacks that draw something every n-th validation."""

from __future__ import annotations

from typing import Optional

import lightning.pytorch as pl

from ganmods.errors import check_positive_int

__all__ = ["EveryNValidations", "log_step"]


def log_step(trainer: pl.Trainer) -> int:
    """Lightning's step axis now: the step its loggers give the values logged at this moment (the index of the
    current training batch, across epochs), so images land beside the scalars logged with them.

    Args:
        trainer: The trainer.

    Returns:
        The step.
    """
    return int(trainer.fit_loop.epoch_loop.total_batch_idx)


class EveryNValidations(pl.Callback):
    """Base of callbacks that act at every ``every_n_validations``-th validation, on rank 0, in the log folder.

    Args:
        every_n_validations: Act at every this many validations (the first one included).

    Raises:
        ConfigurationError: If ``every_n_validations`` is not an integer >= 1.
    """

    def __init__(self, every_n_validations: int = 1) -> None:
        self.every_n_validations = check_positive_int("every_n_validations", every_n_validations)
        self._count = 0

    def _due_log_dir(self, trainer: pl.Trainer) -> Optional[str]:
        """Count this validation; when it is due, return the log folder on rank 0, else None.

        Every rank must call this when due: ``trainer.log_dir`` is a collective under DDP.

        Args:
            trainer: The trainer.

        Returns:
            The folder to write into (rank 0, due validation), else None (also under ``fast_dev_run``, which
            has no log folder: nothing is written into the working folder).
        """
        if trainer.fast_dev_run:
            return None
        self._count += 1
        if (self._count - 1) % self.every_n_validations:
            return None
        log_dir = trainer.log_dir or trainer.default_root_dir
        return log_dir if trainer.global_rank == 0 else None
