"""Mixed precision with a gradient scaler (``16-mixed``): finding the scaler and counting skipped steps;
and when a backward pass may skip Lightning's hook dispatch.

Under ``16-mixed`` one ``GradScaler`` serves both optimizers: ``manual_backward`` scales the loss, and the
optimizer step is skipped (silently) when the unscaled gradients hold an inf or NaN, the scale then being
lowered. :class:`SkippedSteps` counts those skips so they can be logged (``train/skipped_steps``). The
gradient penalty's own inner gradient is scaled too (see :func:`ganmods.regularizers.gradient_penalty`).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch
from torch import Tensor

__all__ = ["BACKWARD_HOOKS", "SkippedSteps", "direct_backward_ok", "grad_scaler_of"]

#: The hooks ``manual_backward`` dispatches around ``loss.backward()`` (on the module and the callbacks).
BACKWARD_HOOKS = ("on_before_backward", "backward", "on_after_backward")


def _plain_single_process(trainer: Any) -> bool:
    from lightning.pytorch.plugins.precision import Precision
    from lightning.pytorch.profilers import PassThroughProfiler
    from lightning.pytorch.strategies import SingleDeviceStrategy

    return (
        type(trainer.precision_plugin) is Precision
        and type(trainer.strategy) is SingleDeviceStrategy
        and isinstance(trainer.profiler, PassThroughProfiler)
    )


def _nobody_listens(trainer: Any, module: Any, hooks: tuple[str, ...]) -> bool:
    import lightning.pytorch as pl
    from lightning.pytorch.utilities.model_helpers import is_overridden

    if any(is_overridden(hook, module, pl.LightningModule) for hook in hooks):
        return False
    cb_hooks = [h for h in hooks if hasattr(pl.Callback, h)]
    return not any(is_overridden(hook, cb, pl.Callback) for cb in trainer.callbacks for hook in cb_hooks)


def direct_backward_ok(trainer: Any, module: Any) -> bool:
    """Whether ``loss.backward()`` does exactly what ``module.manual_backward(loss)`` would.

    True for one process in full precision (Lightning's plain ``Precision`` plugin and
    ``SingleDeviceStrategy``), without a profiler, when neither the module nor any callback overrides a hook in
    :data:`BACKWARD_HOOKS`: then ``manual_backward`` only dispatches hooks that do nothing. Anything else
    (mixed precision, DDP, a profiler, a listening hook) needs ``manual_backward``.

    Args:
        trainer: The Lightning ``Trainer`` running ``module``.
        module: The ``LightningModule``.

    Returns:
        True when the direct call is equivalent.
    """
    return _plain_single_process(trainer) and _nobody_listens(trainer, module, BACKWARD_HOOKS)


def grad_scaler_of(trainer: Any) -> Optional[Any]:
    """The gradient scaler a trainer's precision plugin uses.

    Args:
        trainer: A Lightning ``Trainer`` (or None).

    Returns:
        The ``torch.amp.GradScaler`` under ``16-mixed``; None under ``32-true``, ``bf16-mixed`` and the rest.
    """
    plugin = getattr(trainer, "precision_plugin", None)
    return getattr(plugin, "scaler", None)


class SkippedSteps:
    """Counts optimizer steps that a gradient scaler skipped, with no device synchronisation per step.

    A step counts as skipped when the scaler's scale went down across it: ``GradScaler.update`` lowers the
    scale exactly when the step found non-finite gradients (growth only ever raises it).

    Args:
        start: The count so far (a resumed run continues its checkpoint's count).

    Example:
        >>> counter = SkippedSteps()
        >>> counter.total()
        0
    """

    def __init__(self, start: int = 0) -> None:
        self._count: Union[int, Tensor] = int(start)

    def step(self, optimizer: Any, scaler: Optional[Any], device: Union[str, torch.device] = "cpu") -> None:
        """Call ``optimizer.step()``; with a scaler, count the step if the scaler skipped it.

        Args:
            optimizer: The (Lightning) optimizer to step.
            scaler: The run's gradient scaler, or None (then this is just ``optimizer.step()``).
            device: Where the scale lives (the module's device).
        """
        if scaler is None:
            optimizer.step()
            return
        one = torch.ones((), device=device)
        before = scaler.scale(one)
        optimizer.step()
        self._count = self._count + (scaler.scale(one) < before).long()

    def total(self) -> int:
        """Skipped steps counted so far.

        Returns:
            The count (reading it synchronises with the device).
        """
        return int(self._count)
