"""Training-health monitor: warnings for divergence and collapse signs.

Non-finite values are the module's business (:class:`~ganmods.GANModule` with ``stop_on_nonfinite`` stops
training on a NaN or infinite loss, penalty or parameter). :class:`HealthMonitor` adds, without stopping
training:

* **collapse** - the critic wins outright: over the last ``window`` logged values, every ``train/d_adv``
  is within ``critic_loss_eps`` of 0 while every ``train/g_loss`` is at least ``g_loss_factor`` times
  ``max(1, |g_ref|)``, ``g_ref`` being the median of the first ``window`` logged generator losses (not
  for a loss that declares ``offset_free`` (e.g. Wasserstein), whose loss levels carry an arbitrary critic
  offset; see the next check);
* **estimate blow-up** - for every logged ``train/<name>_estimate`` (``train/w_estimate`` for the
  Wasserstein loss): ``|latest| >= estimate_factor * max(|value window logs earlier|, estimate_floor)``;
* **modes drop** - ``val/modes`` (toy mixtures) at least ``modes_drop`` below its best so far;
* **diversity drop** - the mean pairwise distance of ``pl_module.sample(diversity_n, diversity_seed)``
  (fixed latents, computed at every validation, logged as ``health/diversity``) below
  ``diversity_fraction`` times its best so far; works for 2-D points and images alike.

Each condition warns once per episode (when it becomes true; it must clear before it warns again), with a
:class:`HealthWarning` naming the quantity, the generator step and the values, and is logged as a 0/1 flag
(``health/collapse``, ``health/estimate_blowup``, ``health/modes_drop``, ``health/diversity_drop``) against
the generator step whenever it is evaluated. "Logged values" are those the module reports
(:meth:`ganmods.GANModule.report`: training values whenever the trainer writes logs, validation metrics at
every validation): the monitor subscribes to them with :meth:`~ganmods.GANModule.add_listener` and its flags
are reported beside them, on the same step.

Under DDP every rank evaluates the same conditions on the same values (warnings on rank 0 only, no
collective).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any, Mapping, Optional

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from ganmods.errors import check_positive_int, invalid

__all__ = ["CONDITIONS", "HealthMonitor", "HealthWarning", "mean_pairwise_distance"]

#: The monitored conditions (flag ``health/<name>``).
CONDITIONS = ("collapse", "estimate_blowup", "modes_drop", "diversity_drop")


class HealthWarning(UserWarning):
    """A sign of divergence or collapse found by :class:`HealthMonitor` (filter it like any warning)."""


def mean_pairwise_distance(samples: Tensor) -> float:
    """Mean Euclidean distance between all pairs of distinct samples (each flattened).

    Args:
        samples: ``[n, ...]`` with ``n >= 2`` (``[n, 2]`` points or ``[n, C, H, W]`` images).

    Returns:
        The mean over the ``n (n - 1)`` ordered pairs, as a float (computed in float32 or wider).

    Raises:
        ConfigurationError: If fewer than 2 samples are given.
    """
    if samples.dim() < 1 or samples.shape[0] < 2:
        raise invalid("samples", "a tensor of at least 2 samples", list(samples.shape))
    flat = samples.detach().reshape(samples.shape[0], -1)
    flat = flat.float() if flat.dtype in (torch.float16, torch.bfloat16) or not flat.is_floating_point() else flat
    n = flat.shape[0]
    return float(torch.cdist(flat, flat).sum() / (n * (n - 1)))


def _positive(name: str, value: Any, above: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (above < value < math.inf):
        raise invalid(name, f"a finite number > {above:g}", value)
    return float(value)


def _fmt(values: Any) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


class HealthMonitor(pl.Callback):
    """Warn (once per episode) on divergence and collapse signs.

    See the module docstring of :mod:`ganmods.callbacks.health` for the exact conditions. On by default in
    ``ganmods fit``.

    Args:
        window: Logged values per condition window (>= 2).
        critic_loss_eps: Collapse: ``|train/d_adv|`` at most this is "near 0".
        g_loss_factor: Collapse: the generator loss has "exploded" at this multiple of ``max(1, |g_ref|)``.
        estimate_factor: Estimate blow-up: growth factor over ``window`` logged values (> 1).
        estimate_floor: Estimate blow-up: the earlier value counts as at least this (so growth from ~0 to
            a small value is not a blow-up).
        modes_drop: Modes drop: how far below its best ``val/modes`` must fall (> 0).
        diversity_n: Samples for the diversity check (>= 2; 0 turns the check off).
        diversity_seed: Seed of their fixed latents.
        diversity_fraction: Diversity drop: fraction of the best diversity, in (0, 1).

    Raises:
        ConfigurationError: On a bad argument (named, with what is allowed and what was given).

    Example:
        >>> monitor = HealthMonitor()
        >>> [monitor.observe({"val/modes": m}, step)["health/modes_drop"] for step, m in enumerate([8, 7, 6])]
        [0.0, 0.0, 1.0]
        >>> monitor.events[0][:2]
        ('modes_drop', 2)
    """

    def __init__(
        self,
        window: int = 5,
        critic_loss_eps: float = 0.01,
        g_loss_factor: float = 5.0,
        estimate_factor: float = 10.0,
        estimate_floor: float = 1.0,
        modes_drop: float = 2.0,
        diversity_n: int = 64,
        diversity_seed: int = 0,
        diversity_fraction: float = 0.5,
    ) -> None:
        self.window = check_positive_int("window", window, 2)
        self.critic_loss_eps = _positive("critic_loss_eps", critic_loss_eps)
        self.g_loss_factor = _positive("g_loss_factor", g_loss_factor, 1.0)
        self.estimate_factor = _positive("estimate_factor", estimate_factor, 1.0)
        self.estimate_floor = _positive("estimate_floor", estimate_floor)
        self.modes_drop = _positive("modes_drop", modes_drop)
        if diversity_n != 0:
            check_positive_int("diversity_n", diversity_n, 2)
        self.diversity_n = diversity_n
        if isinstance(diversity_seed, bool) or not isinstance(diversity_seed, int):
            raise invalid("diversity_seed", "an integer", diversity_seed)
        self.diversity_seed = diversity_seed
        if isinstance(diversity_fraction, bool) or not isinstance(diversity_fraction, (int, float)) or not (
            0 < diversity_fraction < 1
        ):
            raise invalid("diversity_fraction", "a number in (0, 1)", diversity_fraction)
        self.diversity_fraction = float(diversity_fraction)
        self._module: Optional[Any] = None
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget every observed value and episode (done when each fit is set up)."""
        self.history: dict[str, deque[float]] = {}
        self.g_early: list[float] = []
        self.best: dict[str, float] = {}
        self.active: dict[str, bool] = {c: False for c in CONDITIONS}
        self.events: list[tuple[str, int, str]] = []
        self._offset_free = False

    def state_dict(self) -> dict[str, Any]:
        """The observed values, bests and open episodes (saved in checkpoints, so a resumed run continues).

        Returns:
            A dict of plain data.
        """
        return {"history": {k: list(v) for k, v in self.history.items()}, "g_early": list(self.g_early),
                "best": dict(self.best), "active": dict(self.active)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned.

        Args:
            state_dict: The saved state.
        """
        self.history = {k: deque(v, maxlen=self.window + 1) for k, v in state_dict.get("history", {}).items()}
        self.g_early = list(state_dict.get("g_early", []))
        self.best = dict(state_dict.get("best", {}))
        self.active.update(state_dict.get("active", {}))

    # ------------------------------------------------------------------ the conditions
    def observe(self, metrics: Mapping[str, Any], step: int) -> dict[str, float]:
        """Feed logged values and evaluate every condition they bear on.

        Args:
            metrics: Logged name -> value (numbers or scalar tensors); unknown names are ignored.
            step: The generator step the values belong to.

        Returns:
            ``{"health/<condition>": 0.0 or 1.0}`` for each condition evaluated (to be logged).
        """
        values = {}
        for key, value in metrics.items():
            value = float(value.detach()) if isinstance(value, Tensor) else value
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                values[key] = float(value)
        for key, value in values.items():
            self.history.setdefault(key, deque(maxlen=self.window + 1)).append(value)
        flags: dict[str, float] = {}
        if "train/d_adv" in values and "train/g_loss" in values and not self._offset_free:
            if len(self.g_early) < self.window:
                self.g_early.append(values["train/g_loss"])
            self._update("collapse", self._collapse(), step, flags)
        for key in sorted(k for k in values if k.startswith("train/") and k.endswith("_estimate")):
            self._update("estimate_blowup", self._blowup(key), step, flags, key=key)
        for key, condition in (("val/modes", "modes_drop"), ("health/diversity", "diversity_drop")):
            if key in values:
                self._update(condition, self._dropped(key, values[key], condition), step, flags)
        return flags

    def _last(self, key: str, n: int) -> Optional[list[float]]:
        seq = list(self.history.get(key, ()))
        return seq[-n:] if len(seq) >= n else None

    def _collapse(self) -> Optional[str]:
        d, g = self._last("train/d_adv", self.window), self._last("train/g_loss", self.window)
        if d is None or g is None or len(self.g_early) < self.window:
            return None
        ref = statistics.median(self.g_early)
        threshold = self.g_loss_factor * max(1.0, abs(ref))
        if max(abs(v) for v in d) > self.critic_loss_eps or min(g) < threshold:
            return None
        return (f"critic loss near 0 while the generator loss explodes: train/d_adv {_fmt(d)} (all within "
                f"{self.critic_loss_eps:g} of 0), train/g_loss {_fmt(g)} (all >= {threshold:.4g} = "
                f"{self.g_loss_factor:g} x max(1, |{ref:.4g}|), the early median); the critic wins outright")

    def _blowup(self, key: str) -> Optional[str]:
        seq = self._last(key, self.window + 1)
        if seq is None:
            return None
        earlier, latest = seq[0], seq[-1]
        limit = self.estimate_factor * max(abs(earlier), self.estimate_floor)
        if abs(latest) < limit:
            return None
        return (f"{key} blew up: |{latest:.4g}| >= {self.estimate_factor:g} x max(|{earlier:.4g}|, "
                f"{self.estimate_floor:g}) over the last {self.window} logged values {_fmt(seq)}; lower the "
                f"learning rates or strengthen the critic's constraint")

    def _dropped(self, key: str, value: float, condition: str) -> Optional[str]:
        best = max(self.best.get(key, value), value)
        self.best[key] = best
        if condition == "modes_drop":
            if value > best - self.modes_drop:
                return None
            return f"val/modes fell to {value:g} from its best {best:g} (a drop of >= {self.modes_drop:g}): mode collapse sign"
        if value >= self.diversity_fraction * best:
            return None
        return (f"sample diversity health/diversity (mean pairwise distance of {self.diversity_n} fixed-latent "
                f"samples) fell to {value:.4g}, below {self.diversity_fraction:g} x its best {best:.4g}: mode "
                f"collapse sign")

    def _update(self, condition: str, problem: Optional[str], step: int, flags: dict[str, float],
                key: Optional[str] = None) -> None:
        name = condition if key is None else f"{condition}:{key}"
        was = self.active.get(name, False)
        self.active[name] = problem is not None
        if condition != name:  # per-key episodes; the flag is on while any key's episode is open
            self.active[condition] = any(v for k, v in self.active.items() if k.startswith(f"{condition}:"))
        flags[f"health/{condition}"] = float(self.active[condition])
        if problem is not None and not was:
            message = f"ganmods: health: {problem} (generator step {step})."
            self.events.append((condition, step, message))
            rank_zero_warn(message, category=HealthWarning)

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Start each fit afresh (a resumed fit then gets the saved state back).

        Args:
            trainer: The trainer.
            pl_module: The module.
            stage: The Lightning stage.
        """
        if stage == "fit":
            self.reset()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Subscribe to the values the module reports (:meth:`ganmods.GANModule.add_listener`).

        Args:
            trainer: The trainer.
            pl_module: The module (a :class:`~ganmods.GANModule`; other modules are not observed).
        """
        self._offset_free = bool(getattr(getattr(pl_module, "loss", None), "offset_free", False))
        if callable(getattr(pl_module, "add_listener", None)):
            pl_module.add_listener(self.listen)
            self._module = pl_module

    def listen(self, values: dict[str, Any], pl_module: Any) -> dict[str, float]:
        """The listener: observe reported values at the module's generator step and return the flags to report.

        Args:
            values: What the module reports.
            pl_module: The module.

        Returns:
            ``{"health/<condition>": 0.0 or 1.0}`` for each condition evaluated.
        """
        return self.observe(values, int(pl_module.generator_steps))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Unsubscribe (also on an exception, below).

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        if self._module is not None:
            self._module.remove_listener(self.listen)
            self._module = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """See :meth:`on_fit_end`.

        Args:
            trainer: The trainer.
            pl_module: The module.
            exception: The exception.
        """
        self.on_fit_end(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Measure the diversity of fixed-latent samples (every rank, the same value) and report it (the
        subscribed listener then checks it).

        Args:
            trainer: The trainer.
            pl_module: The module (a :class:`~ganmods.GANModule`; skipped otherwise).
        """
        if trainer.sanity_checking or not self.diversity_n or self._module is not pl_module:
            return
        diversity = mean_pairwise_distance(pl_module.sample(self.diversity_n, seed=self.diversity_seed))
        pl_module.report({"health/diversity": diversity})
