"""``last.ckpt`` and ``best.ckpt`` side by side, never holding a non-finite state."""

from __future__ import annotations

import os
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from ganmods.checkpoint_io import AtomicCheckpointIO
from ganmods.errors import invalid
from ganmods.finite import first_nonfinite

__all__ = ["GANCheckpoint", "main_metric", "nonfinite_message"]


def main_metric(datamodule: Any) -> Optional[tuple[str, str]]:
    """The logged metric that ranks checkpoints for a datamodule, and whether lower or higher is better.

    * toy Gaussian mixtures (``ring8``, ``grid25``): ``("val/reverse_kl", "min")`` - the KL divergence of
      the high-quality samples' mode histogram from uniform; it grows with every missed or over-weighted
      mode (``val/modes`` saturates early and ties; ``val/hq`` rewards collapse onto one mode);
    * image data with :class:`~ganmods.metrics.ImageMetrics`: ``("val/fid_<n>", "min")``, ``<n>`` the
      datamodule's ``eval_samples`` as the metric names it (e.g. ``val/fid_2.5k``);
    * anything else (``swissroll``, images without a metric or with another metric, no datamodule): None.

    The name and the direction are the datamodule's metric's own declaration (``datamodule.metric_spec``:
    its ``main`` value and ``higher_is_better``), not guessed from the name.

    Args:
        datamodule: The trainer's datamodule, or None.

    Returns:
        ``(key, mode)`` or None.
    """
    spec = getattr(datamodule, "metric_spec", None)
    if spec is None or spec.main is None:
        return None
    return (f"val/{spec.main}", spec.direction(spec.main))


def nonfinite_message(filepath: str, step: int, entry: Optional[str], earlier: bool) -> str:
    """The warning given when a checkpoint is not written because the model holds non-finite values.

    Args:
        filepath: The checkpoint not written.
        step: The generator step.
        entry: The first non-finite state entry (``None``: found on another rank).
        earlier: Whether the file already holds an earlier (finite) state.

    Returns:
        One line: the file keeps the last finite state, or, when nothing was saved yet, why there is no
        checkpoint and how to get one.
    """
    head = (f"ganmods: {filepath} not written at generator step {step}: the model holds non-finite values "
            f"({entry or 'on another rank'}); ")
    if earlier:
        return head + "the file keeps the last finite state saved."
    return head + ("no checkpoint exists: training diverged before the first save (checkpoints are written after "
                   "each validation or epoch). Keep stop_on_nonfinite true, lower the learning rates, or save "
                   "more often (GANCheckpoint every_n_train_steps).")


def _nonfinite_entry(pl_module: pl.LightningModule) -> Optional[str]:
    # one read from the device for the whole state, not one per entry
    return first_nonfinite({name: tensor for name, tensor in pl_module.state_dict().items()
                            if torch.is_tensor(tensor) and tensor.is_floating_point()})


class GANCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` with three ganmods rules (on by default in ``ganmods fit``):

    * ``monitor="auto"`` resolves, at set-up, the datamodule's main metric (:func:`main_metric`) and keeps
      the best checkpoint by it as ``best.ckpt``; without such a metric only ``last.ckpt`` is written;
    * ``last.ckpt`` is written after every validation (or training epoch when there is none) and when
      training ends, whenever the state changed since the last save, so a crash loses at most one epoch;
    * a state holding a NaN or infinite parameter or buffer is never written: the file keeps the last
      finite state saved, and a warning names the first bad entry (every rank takes the decision
      together under DDP); when nothing was saved before (a run with ``stop_on_nonfinite=False`` that
      diverged before its first save), the warning says that no checkpoint exists and why;
    * files are written atomically: when the trainer uses Lightning's default ``TorchCheckpointIO``, set-up
      replaces it with :class:`~ganmods.checkpoint_io.AtomicCheckpointIO`, so a full disk never truncates
      the previous ``last.ckpt``/``best.ckpt`` (a ``CheckpointIO`` of your own is left as it is).

    Args:
        dirpath: Folder for the files (default: ``<log_dir>/checkpoints``).
        filename: Name of the best checkpoint, without ``.ckpt``.
        monitor: ``"auto"``, a logged metric's name, or None (no best checkpoint).
        mode: ``"auto"`` (with ``monitor="auto"``: the metric's own direction; otherwise ``"min"``),
            ``"min"`` or ``"max"``.
        save_last: Write ``last.ckpt``.
        **kwargs: Further ``ModelCheckpoint`` arguments.

    Raises:
        ConfigurationError: If ``mode`` is not ``"auto"``, ``"min"`` or ``"max"``.

    Example:
        >>> from ganmods import GANDataModule
        >>> ckpt = GANCheckpoint()
        >>> ckpt.resolve(GANDataModule("ring8"))
        ('val/reverse_kl', 'min')
    """

    def __init__(
        self,
        dirpath: Optional[str] = None,
        filename: str = "best",
        monitor: Optional[str] = "auto",
        mode: str = "auto",
        save_last: bool = True,
        **kwargs: Any,
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise invalid("mode", "'auto', 'min' or 'max'", mode)
        self._auto_monitor = monitor == "auto"
        self._auto_mode = mode == "auto"
        chosen = None if self._auto_monitor else monitor
        kwargs.setdefault("save_top_k", 1 if chosen or self._auto_monitor else 0)
        self._requested_top_k = kwargs["save_top_k"]
        super().__init__(dirpath=dirpath, filename=filename, monitor=chosen, mode="min" if self._auto_mode else mode,
                         save_last=save_last, **kwargs)
        self._refused: set[str] = set()

    def resolve(self, datamodule: Any) -> Optional[tuple[str, str]]:
        """Set ``monitor`` and ``mode`` from the datamodule when they are ``"auto"``.

        Args:
            datamodule: The trainer's datamodule, or None.

        Returns:
            The resolved ``(monitor, mode)``, or None when there is nothing to monitor.
        """
        if self._auto_monitor:
            found = main_metric(datamodule)
            self.monitor = found[0] if found else None
            mode = found[1] if found and self._auto_mode else self.mode
            self._set_mode(mode)
            self.save_top_k = self._requested_top_k if found else 0
        return (self.monitor, self.mode) if self.monitor else None

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        self.kth_value = torch.tensor(torch.inf if mode == "min" else -torch.inf)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Write atomically (see above), resolve the monitored metric, then Lightning's set-up (folder
        resolution, a collective).

        Args:
            trainer: The trainer.
            pl_module: The module.
            stage: The Lightning stage.
        """
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        resolved = self.resolve(getattr(trainer, "datamodule", None))
        if self._auto_monitor and stage == "fit":
            rank_zero_info(f"ganmods: best.ckpt ranks by {resolved[0]} ({resolved[1]})" if resolved
                           else "ganmods: no metric to rank checkpoints by; only last.ckpt is kept")
        super().setup(trainer, pl_module, stage)

    # ------------------------------------------------------------------ when last.ckpt is written
    def _save_last_if_new(self, trainer: pl.Trainer) -> None:
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Lightning's epoch-end save, then ``last.ckpt`` when no validation follows.

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_new(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Lightning's validation-end save (the best checkpoint), then ``last.ckpt``.

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        super().on_validation_end(trainer, pl_module)
        if not trainer.sanity_checking and not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_new(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write ``last.ckpt`` with the final state (unless it was just written).

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        self._save_last_if_new(trainer)

    def _save_topk_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict[str, Any]) -> None:
        if self.monitor is not None and self.monitor not in monitor_candidates:
            # before the first validation there is nothing to rank by; after it, say so once (no crash)
            if trainer.fit_loop.epoch_loop.val_loop._has_run and "missing" not in self._refused:
                self._refused.add("missing")
                rank_zero_warn(f"ganmods: best checkpoint not updated: {self.monitor} was not logged at validation.")
            return
        super()._save_topk_checkpoint(trainer, monitor_candidates)

    # ------------------------------------------------------------------ never a non-finite state
    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        bad = _nonfinite_entry(trainer.lightning_module)
        refuse = bad is not None
        if trainer.world_size > 1:  # every rank takes part in this save: decide together
            refuse = trainer.strategy.reduce_boolean_decision(refuse, all=False)
        if not refuse:
            super()._save_checkpoint(trainer, filepath)
            return
        if filepath not in self._refused:
            self._refused.add(filepath)
            step = getattr(trainer.lightning_module, "generator_steps", trainer.global_step)
            rank_zero_warn(nonfinite_message(filepath, step, bad, os.path.exists(filepath)))
