"""A plot of generated 2-D samples over the data with the critic's contour, at every validation."""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

import lightning.pytorch as pl
import torch

from ganmods.callbacks.periodic import EveryNValidations, log_step
from ganmods.errors import check_positive_int
from ganmods.images import scatter_figure

__all__ = ["ToyPlot", "plot_toy"]


def plot_toy(
    real: Optional[torch.Tensor],
    fake: torch.Tensor,
    critic: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
    bounds: Optional[tuple[float, float, float, float]] = (-2.0, 2.0, -2.0, 2.0),
    title: str = "",
    resolution: int = 128,
) -> Any:
    """Draw real and generated 2-D points, over the critic's output as filled contours
    (:func:`ganmods.images.scatter_figure` with this argument order and these default bounds).

    Args:
        real: ``[N, 2]`` real points (or None).
        fake: ``[M, 2]`` generated points.
        critic: Optional callable mapping ``[K, 2]`` to ``[K]`` (or ``[K, 1]``) logits.
        bounds: ``(xmin, xmax, ymin, ymax)``.
        title: Figure title.
        resolution: Grid points per axis for the contour.

    Returns:
        A matplotlib ``Figure`` (the caller saves or closes it; :func:`ganmods.images.save_figure` does both).

    Raises:
        ConfigurationError: For points that are not ``[N, 2]`` or bad bounds (see ``scatter_figure``).
    """
    return scatter_figure(fake, real=real, critic=critic, bounds=bounds, title=title, resolution=resolution)


class ToyPlot(EveryNValidations):
    """After every validation, save a PNG of samples over the data and the critic's contour (as in the
    WGAN-GP paper's toy figure) and send it to the loggers that take images.

    Loggers get the image at Lightning's step (the axis of every other logged value). PNGs go to
    ``<log_dir>/plots/step_<generator step>.png`` (or ``<default_root_dir>/plots`` without a
    logger). Works with 2-D data only; on other data it does nothing.

    Args:
        n_samples: Generated (and real) points drawn per plot.
        seed: Seed of the fixed latents.
        every_n_validations: Plot every this many validations.

    Raises:
        ConfigurationError: If a count is not a positive integer.
    """

    def __init__(self, n_samples: int = 1000, seed: int = 0, every_n_validations: int = 1) -> None:
        self.n_samples = check_positive_int("n_samples", n_samples)
        self.seed = seed
        super().__init__(every_n_validations)
        self.last_path: Optional[str] = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Draw, save and log the plot on rank 0 (every rank takes part in resolving the log folder)."""
        datamodule = getattr(trainer, "datamodule", None)
        if trainer.sanity_checking or datamodule is None or tuple(getattr(datamodule, "data_shape", ())) != (2,):
            return
        log_dir = self._due_log_dir(trainer)  # every rank takes part (a collective under DDP)
        if log_dir is None:
            return
        import matplotlib.pyplot as plt

        step = int(getattr(pl_module, "generator_steps", trainer.global_step))
        fake = pl_module.sample(self.n_samples, seed=self.seed).cpu()
        real = datamodule.real_samples(self.n_samples, seed=self.seed)
        distribution = datamodule.distribution
        fig = plot_toy(
            real, fake, critic=pl_module.critic_score, bounds=distribution.bounds(),
            title=f"{type(pl_module).__name__} on {distribution.name}, generator step {step}",
        )
        out_dir = os.path.join(log_dir, "plots")
        os.makedirs(out_dir, exist_ok=True)
        self.last_path = os.path.join(out_dir, f"step_{step:07d}.png")
        fig.savefig(self.last_path)
        axis = log_step(trainer) if trainer.loggers else 0  # Lightning's step axis (the file keeps the generator step)
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(logger, "log_image"):
                logger.log_image(key="toy/samples", images=[self.last_path], step=axis)
            elif hasattr(experiment, "add_figure"):
                experiment.add_figure("toy/samples", fig, global_step=axis, close=False)
        plt.close(fig)
