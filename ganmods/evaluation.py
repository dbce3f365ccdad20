"""Validation and logging hooks of GANModule."""

from __future__ import annotations

import json
import os
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
        self._val_real_logits.append(real_logits.detach().float())

    def on_validation_epoch_start(self) -> None:
        """Reset the held-out critic statistics."""
        self._val_stats = []
        self._val_real_logits: list[Tensor] = []

    def on_validation_epoch_end(self) -> None:
        """Average the held-out critic statistics, evaluate the generator by the datamodule's protocol, and
        log the results (at the current generator step)."""
        metrics: dict[str, Any] = {}
        if self._val_stats:
            metrics["val/d_adv"] = torch.stack([s[0] for s in self._val_stats]).mean()
            divs = [s[1] for s in self._val_stats if s[1] is not None]
            if divs:
                metrics[f"val/{self.loss.divergence_name}_estimate"] = torch.stack(divs).mean()
        metrics.update(self._critic_gap())
        for key, value in metrics.items():
            self.log(key, value, logger=False)
        if not self.trainer.sanity_checking:
            evaluate = getattr(self.trainer.datamodule, "evaluate", None)
            if callable(evaluate):
                for key, value in evaluate(self).items():
                    metrics[f"val/{key}"] = value
                    self.log(f"val/{key}", float(value), logger=False)
                self._save_metric_provenance()
            self._log_metrics(metrics)

    def _save_metric_provenance(self) -> None:
        """Append how the image metric measured (extractor, weights hash, counts, split, resize) to
        ``<log_dir>/metric_provenance.jsonl``, one line per validation, beside the logged results."""
        metric = getattr(self.trainer.datamodule, "metric", None)
        log_dir = self.trainer.log_dir  # a collective under DDP: every rank asks
        record = getattr(metric, "provenance", None)
        if not self.trainer.is_global_zero or not log_dir or not isinstance(record, dict):
            return
        os.makedirs(log_dir, exist_ok=True)
        line = {"generator_steps": self.generator_steps, "images_seen": self.images_seen, **record}
        with open(os.path.join(log_dir, "metric_provenance.jsonl"), "a") as fh:
            fh.write(json.dumps(line, sort_keys=True, default=str) + "\n")

    @torch.no_grad()
    def _critic_gap(self) -> dict[str, Tensor]:
        """Critic overfitting check (WGAN-GP paper, §"meaningful loss curves"): the critic's mean output on
        training data minus its mean on held-out real data. Near 0 when the critic generalises; growing
        when it memorises the training set. Needs ``datamodule.train_reference(n)``."""
        reference = getattr(getattr(self.trainer, "datamodule", None), "train_reference", None)
        held_out = getattr(self, "_val_real_logits", [])
        if not callable(reference) or not held_out:
            return {}
        held = torch.cat(held_out)
        train = reference(held.numel()).to(self.device)
        train_mean = torch.cat([logits(self.discriminator(x)).float() for x in train.split(1024)]).mean()
        return {"val/critic_real_train": train_mean, "val/critic_real_heldout": held.mean(),
                "val/critic_gap": train_mean - held.mean()}

    def _log_metrics(self, metrics: dict[str, Any]) -> None:
        """Send metrics to every logger with the generator step as x-axis (plus the other counters)."""
        values = {k: float(v.detach()) if isinstance(v, Tensor) else float(v) for k, v in metrics.items()}
        values.update(
            {"counters/critic_steps": self.critic_steps, "counters/generator_steps": self.generator_steps,
             "counters/images_seen": self.images_seen}
        )
        for logger in self.loggers:
            if type(logger).__name__ == "WandbLogger" and not getattr(self, "_wandb_axes_defined", False):
                # dashboards may plot any metric against images seen (fair across n_critic and batch sizes)
                logger.experiment.define_metric("counters/images_seen")
                logger.experiment.define_metric("val/*", step_metric="counters/images_seen")
                self._wandb_axes_defined = True
            logger.log_metrics(values, step=self.generator_steps)

