"""A grid of generated images from fixed latents, saved and logged after every validation."""

from __future__ import annotations

import os
from typing import Optional

import lightning.pytorch as pl

from ganmods.callbacks.periodic import EveryNValidations, log_step
from ganmods.errors import check_positive_int, invalid
from ganmods.images import image_grid, write_png

__all__ = ["SampleGrid", "image_grid"]  # image_grid lives in ganmods.images; re-exported here


class SampleGrid(EveryNValidations):
    """After every validation (not during the sanity check), generate ``n`` images from fixed latents
    (``pl_module.sample(n, seed=seed)``, the EMA generator when EMA is on), tile them into a grid, save
    it as a PNG and send it to every logger that takes images.

    The PNG goes to ``<trainer.log_dir or default_root_dir>/<dirname>/step_<generator step:07d>.png``.
    Loggers: those with ``log_image`` (``WandbLogger``) get the PNG's path, those whose ``experiment``
    has ``add_image`` (``TensorBoardLogger``) get the ``uint8`` grid, at Lightning's step (the axis of every
    other logged value, :func:`~ganmods.callbacks.periodic.log_step`). Others are skipped. Only global rank 0 generates, writes and logs; every rank
    takes part in resolving ``trainer.log_dir`` (a collective under DDP).

    Non-image data is skipped without error (so one trainer configuration serves toy and image runs):
    nothing happens when the datamodule's ``data_shape`` is not 3-D (checked before generating), or when
    the samples are not ``[n, C, H, W]`` with 1 or 3 channels.

    Args:
        n: Images in the grid.
        nrow: Images per grid row.
        seed: Seed of the fixed latents (same seed, same latents at every validation).
        every_n_validations: Draw a grid at every this many validations (the first one included).
        dirname: Folder, under the log directory, for the PNGs.
        padding: Pixels between images in the grid.

    Raises:
        ConfigurationError: If a count is not a positive integer, ``padding`` is negative, ``seed`` is not
            an integer, or ``dirname`` is empty, absolute or leaves the log directory.

    Example:
        >>> from ganmods.callbacks import SampleGrid
        >>> SampleGrid(n=16, nrow=4).n
        16
    """

    def __init__(
        self,
        n: int = 64,
        nrow: int = 8,
        seed: int = 0,
        every_n_validations: int = 1,
        dirname: str = "samples",
        padding: int = 2,
    ) -> None:
        self.n = check_positive_int("n", n)
        self.nrow = check_positive_int("nrow", nrow)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid("seed", "an integer", seed)
        self.seed = seed
        super().__init__(every_n_validations)
        if (not isinstance(dirname, str) or not dirname or os.path.isabs(dirname)
                or os.pardir in dirname.replace("\\", "/").split("/")):
            raise invalid("dirname", "a non-empty relative folder name inside the log directory", dirname)
        self.dirname = dirname
        self.padding = check_positive_int("padding", padding, 0)
        self.last_path: Optional[str] = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Generate, save and log the grid on rank 0 (every rank takes part in resolving the log folder).

        Args:
            trainer: The trainer.
            pl_module: A :class:`~ganmods.GANModule` (anything with ``sample(n, seed)``).
        """
        if trainer.sanity_checking:
            return
        shape = getattr(getattr(trainer, "datamodule", None), "data_shape", None)
        if shape is not None and len(tuple(shape)) != 3:
            return
        log_dir = self._due_log_dir(trainer)  # every rank takes part (a collective under DDP)
        if log_dir is None:
            return
        images = pl_module.sample(self.n, seed=self.seed)
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            return
        grid = image_grid(images, nrow=self.nrow, padding=self.padding)
        step = int(getattr(pl_module, "generator_steps", trainer.global_step))
        out_dir = os.path.join(log_dir, self.dirname)
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, f"step_{step:07d}.png")
        write_png(grid, path)
        self.last_path = path
        axis = log_step(trainer) if trainer.loggers else 0  # Lightning's step axis (the file keeps the generator step)
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key="samples", images=[path], step=axis)
                continue
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_image"):
                experiment.add_image("samples", grid, global_step=axis, dataformats="CHW")
