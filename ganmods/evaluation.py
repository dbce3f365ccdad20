"""Validation and logging hooks of GANModule."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["EvaluationHooks", "logits"]


def logits(out: Tensor) -> Tensor:
    """Critic output ``[B]`` or ``[B, 1]`` as ``[B]``."""
    return out.squeeze(-1) if out.dim() == 2 and out.shape[-1] == 1 else out


class EvaluationHooks:
    """Mixin for :class:`~ganmods.GANModule`: held-out critic statistics, the datamodule's evaluation
    protocol at every validation, and logging against the generator step."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Critic statistics on held-out real data against fresh fakes.

        Args:
            batch: A held-out real batch.
            batch_idx: Index of the batch.
        """
        real = batch[0] if isinstance(batch, (list, tuple)) else batch
        seed = 10_000 + batch_idx
        fake = self.sample(real.shape[0], seed=seed)
        real_logits, fake_logits = logits(self.discriminator(real)), logits(self.discriminator(fake))
        d_adv = self.loss.discriminator_loss(real_logits, fake_logits)
        self._val_stats.append((d_adv.detach(), self.loss.divergence(real_logits, fake_logits, d_adv)))

    def on_validation_epoch_start(self) -> None:
        """Reset the held-out critic statistics."""
        self._val_stats = []

    def on_validation_epoch_end(self) -> None:
        """Average the held-out critic statistics, evaluate the generator by the datamodule's protocol, and
        log the results (at the current generator step)."""
        metrics: dict[str, Any] = {}
        if self._val_stats:
            metrics["val/d_adv"] = torch.stack([s[0] for s in self._val_stats]).mean()
            divs = [s[1] for s in self._val_stats if s[1] is not None]
            if divs:
                metrics[f"val/{self.loss.divergence_name}_estimate"] = torch.stack(divs).mean()
        for key, value in metrics.items():
            self.log(key, value, logger=False)
        if not self.trainer.sanity_checking:
            evaluate = getattr(self.trainer.datamodule, "evaluate", None)
            if callable(evaluate):
                for key, value in evaluate(self).items():
                    metrics[f"val/{key}"] = value
                    self.log(f"val/{key}", float(value), logger=False)
            self._log_metrics(metrics)


    def _log_metrics(self, metrics: dict[str, Any]) -> None:
        """Send metrics to every logger with the generator step as x-axis (plus the other counters)."""
        values = {k: float(v.detach()) if isinstance(v, Tensor) else float(v) for k, v in metrics.items()}
        values.update(
            {"counters/critic_steps": self.critic_steps, "counters/generator_steps": self.generator_steps,
             "counters/images_seen": self.images_seen}
        )
        for logger in self.loggers:
            logger.log_metrics(values, step=self.generator_steps)

