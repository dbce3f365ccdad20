"""The training progress bar of ``ganmods fit``: generator steps of the budget, images seen, G/D losses, run ETA.

The bar counts generator steps (the budget, ``max_generator_steps``) for the whole run rather than Lightning
batches per epoch, so its rate and ETA are those of the run. The losses come from ``trainer.callback_metrics``
(the values the module logged at the last logging step), read only when the bar refreshes: the module logs
nothing to the progress bar, which would make Lightning read the device after every batch.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar

__all__ = ["GANProgressBar", "human_count", "progress_values"]

#: Logged values shown in the bar, with their labels.
SHOWN = (("train/g_loss", "g_loss"), ("train/d_loss", "d_loss"))


def human_count(n: int) -> str:
    """A count in a few characters: ``950``, ``12.3k``, ``1.54M``.

    Args:
        n: A non-negative count.

    Returns:
        The count with a k / M / G suffix above a thousand.
    """
    for size, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= size:
            return f"{n / size:.3g}{suffix}"
    return str(int(n))


def progress_values(trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Union[str, int]]:
    """What the bar shows beside the step count: images seen and the latest logged G/D losses.

    Args:
        trainer: The trainer (its ``callback_metrics`` hold the last logged values).
        pl_module: The GAN module (its ``images_seen`` counter is read; a module without one shows none).

    Returns:
        Label -> text, e.g. ``{"images": "12.3k", "g_loss": "0.693", "d_loss": "1.39"}``.
    """
    values: dict[str, Union[str, int]] = {}
    images = getattr(pl_module, "images_seen", None)
    if images is not None:
        values["images"] = human_count(int(images))
    metrics = trainer.callback_metrics
    for key, label in SHOWN:
        if key in metrics:
            values[label] = f"{float(metrics[key]):.3g}"
    return values


class GANProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar counting generator steps of the run's budget (``max_generator_steps``), with images
    seen, the G and D losses and an ETA for the whole run. ``ganmods fit`` uses it unless the trainer has
    ``enable_progress_bar: false`` or another progress bar in ``callbacks``; from Python, pass it in
    ``Trainer(callbacks=[...])``.

    Args:
        refresh_rate: Refresh every this many Lightning batches (>= 1); the losses are read only then.
        process_position: As in Lightning's ``TQDMProgressBar``.
        leave: As in Lightning's ``TQDMProgressBar``.
    """

    def __init__(self, refresh_rate: int = 20, process_position: int = 0, leave: bool = False) -> None:
        from ganmods.errors import check_positive_int

        super().__init__(refresh_rate=check_positive_int("refresh_rate", refresh_rate), process_position=process_position,
                         leave=leave)
        self._run_bar_started = False

    @staticmethod
    def _budget(pl_module: pl.LightningModule) -> Optional[int]:
        return getattr(pl_module, "max_generator_steps", None)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start one bar for the run: total = the budget, starting at the module's generator steps (resume).

        Args:
            trainer: The trainer.
            pl_module: The GAN module.
        """
        super().on_train_start(trainer, pl_module)
        self._run_bar_started = False

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        """Keep the one run bar across epochs (Lightning's bar restarts every epoch).

        Args:
            trainer: The trainer.
            *args: The module (Lightning passes it).
        """
        pl_module = trainer.lightning_module
        if not self._run_bar_started or self._leave:
            super().on_train_epoch_start(trainer, *args)
            bar = self.train_progress_bar
            done = int(getattr(pl_module, "generator_steps", 0))
            bar.reset(total=self._budget(pl_module))
            bar.initial = done
            bar.n = done
            self._run_bar_started = True
        self.train_progress_bar.set_description("generator steps")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """Every ``refresh_rate`` batches: show the generator steps done and the latest values.

        Args:
            trainer: The trainer.
            pl_module: The GAN module.
            outputs: The step's outputs (unused).
            batch: The batch (unused).
            batch_idx: Index of the batch in the epoch.
        """
        bar = self.train_progress_bar
        if bar is None or bar.disable:
            return
        if (batch_idx + 1) % self.refresh_rate == 0 or trainer.should_stop:
            bar.n = int(getattr(pl_module, "generator_steps", batch_idx + 1))
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # refreshes

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Union[int, str, float]]:
        """The values shown beside the bar (:func:`progress_values`, plus Lightning's version number).

        Args:
            trainer: The trainer.
            pl_module: The GAN module.

        Returns:
            Label -> value.
        """
        items: dict[str, Union[int, str, float]] = dict(progress_values(trainer, pl_module))
        items.update({k: v for k, v in trainer.progress_bar_metrics.items()})
        return items
