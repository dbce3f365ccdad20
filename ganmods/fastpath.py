"""Keeping the framework's work per training step small: per-pass caches, direct backward and optimizer-step
calls when no hook listens, and cheap updates of plain attributes."""

from __future__ import annotations

from typing import Any, Optional

from torch import Tensor, nn

from ganmods.precision import direct_backward_ok, direct_step_ok

__all__ = ["StepFastPath"]


class StepFastPath:
    """Mixin of :class:`~ganmods.GANModule` (placed before ``nn.Module`` in the class order).

    Once per training pass it lists the critic's parameters (the generator step freezes them every step)
    and decides whether ``loss.backward()`` may replace ``manual_backward``
    (:func:`ganmods.precision.direct_backward_ok`) and whether the wrapped optimizer's ``step()`` may
    replace the Lightning optimizer's (:func:`ganmods.precision.direct_step_ok`).
    """

    discriminator: nn.Module
    _critic_param_cache: Optional[list[nn.Parameter]] = None
    _direct_backward: bool = False
    _direct_step: bool = False

    def _critic_params(self) -> list[nn.Parameter]:
        cached = self.__dict__.get("_critic_param_cache")
        return cached if cached is not None else list(self.discriminator.parameters())

    def on_train_epoch_start(self) -> None:
        """Once per training pass: list the critic's parameters and decide whether backward passes may skip
        hook dispatch."""
        self._critic_param_cache = list(self.discriminator.parameters())
        self._direct_backward = direct_backward_ok(self.trainer, self)  # type: ignore[attr-defined]
        optimizers = self.trainer.strategy._lightning_optimizers  # type: ignore[attr-defined]
        self._direct_step = direct_step_ok(self.trainer, self) and all(  # type: ignore[attr-defined]
            hasattr(opt, "_on_before_step") and hasattr(opt, "_on_after_step") for opt in optimizers
        )

    def _backward(self, loss: Tensor) -> None:
        if self._direct_backward:
            loss.backward()
        else:
            self.manual_backward(loss)  # type: ignore[attr-defined]

    def _optimizer_step(self, optimizer: Any) -> None:
        """Step a Lightning optimizer: directly when :func:`~ganmods.precision.direct_step_ok` held at the
        start of the pass (still between the loop's step-counting callbacks), else through
        :class:`~ganmods.precision.SkippedSteps` and Lightning's dispatch."""
        if self._direct_step:
            optimizer._on_before_step()
            optimizer.optimizer.step()
            optimizer._on_after_step()
        else:
            self.skipped_steps.step(optimizer, self._grad_scaler, self.device)  # type: ignore[attr-defined]

    def on_train_end(self) -> None:
        """Drop the per-pass parameter list; back to ``manual_backward`` and Lightning's optimizer step."""
        self._critic_param_cache = None
        self._direct_backward = False
        self._direct_step = False

    def __setattr__(self, name: str, value: Any) -> None:
        """Set an attribute. A plain value (no tensor, no module) for an existing plain attribute skips
        ``nn.Module``'s registry checks: the loop updates its counters, and Lightning the current hook's name,
        dozens of times per step.

        Args:
            name: Attribute name.
            value: New value.
        """
        if name in self.__dict__ and not isinstance(value, (Tensor, nn.Module)):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
