"""Checkpoint hooks of GANModule: loop counters and the construction record used by ``load_checkpoint``."""

from __future__ import annotations

from typing import Any, Optional

from ganmods.errors import ConfigurationError
from ganmods.precision import SkippedSteps
from ganmods.spec import NotRecordable, to_spec

__all__ = ["COUNTERS", "CheckpointHooks"]

#: The loop counters saved in every checkpoint.
COUNTERS = ("critic_steps", "generator_steps", "images_seen", "critic_steps_since_generator")


def _cli_config() -> Optional[dict[str, Any]]:
    """The model's config when LightningCLI is instantiating it (class specs of its arguments), else None."""
    try:
        from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
    except ImportError:  # pragma: no cover - older/newer Lightning without the context variable
        return None
    return _given_hyperparameters.get()


class CheckpointHooks:
    """Mixin for :class:`~ganmods.GANModule`: saves and restores the loop counters and the construction
    record (class and arguments as plain data)."""

    def _plain_hparams(self) -> dict[str, Any]:
        """The construction arguments as plain data: recorded ganmods objects become class specs; other
        objects (a user's network, an optimizer factory) use the command line's config when the module was
        built by ``ganmods fit``, and are left out otherwise."""
        record = getattr(self, "_init_record", None)
        if record is None:
            return {}
        given = _cli_config() or {}
        out: dict[str, Any] = {}
        for key, value in record[1].items():
            try:
                out[key] = to_spec(value)
            except NotRecordable:
                if isinstance(given.get(key), dict):
                    out[key] = given[key]
        return out

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the loop counters, the optimizer steps a ``16-mixed`` scaler skipped, and the construction
        record (see :func:`ganmods.load_checkpoint`).

        Args:
            checkpoint: The checkpoint dict being written.
        """
        checkpoint["ganmods"] = {
            "counters": {k: int(getattr(self, k)) for k in COUNTERS},
            "class_path": f"{type(self).__module__}.{type(self).__qualname__}",
            "init_args": self._construction,
            "data_shape": getattr(getattr(self._trainer, "datamodule", None), "data_shape", None)
            if self._trainer is not None else None,
            "rng": self._rng_record(),
            "skipped_steps": self.skipped_steps.total(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the loop counters and the skipped-step count; when resuming a fit, also the base seed of the step stream and the
        global random states (torch, numpy, python). Loading for inference leaves global state alone.

        Args:
            checkpoint: The checkpoint dict being loaded.

        Raises:
            ConfigurationError: If the checkpoint was not written by a ganmods module.
        """
        state = checkpoint.get("ganmods")
        if state is None:
            raise ConfigurationError("checkpoint must be written by a ganmods module; got one without 'ganmods' state.")
        for key in COUNTERS:
            setattr(self, key, int(state["counters"][key]))
        self.skipped_steps = SkippedSteps(int(state.get("skipped_steps", 0)))
        if self._trainer is not None:  # resuming a fit: continue the random streams exactly
            self._restore_rng(state.get("rng"))


